// Residents' ID numbers and phones are masked on every screen (PIPL Art. 28: sensitive
// personal information). The rule is the CLI's: an ID number keeps its region (first six) and
// last four, a phone its first three and last four. Screens never receive the full values
// except a form the worker is typing into.
package org.gridwalk.android.presentation

object Masking {
    fun idNumber(v: String?): String? = v?.let { keep(it, head = 6, tail = 4) }

    fun phone(v: String?): String? = v?.let { keep(it, head = 3, tail = 4) }

    private fun keep(v: String, head: Int, tail: Int): String {
        if (v.length < head + tail) return "*".repeat(v.length)
        return v.take(head) + "*".repeat(v.length - head - tail) + v.takeLast(tail)
    }
}
