// How numbers and times read on the screens: distances in metres or kilometres, durations as
// h:mm:ss, instants in the worker's time zone (java.time: Android API 26+ and the desktop alike).
package org.gridwalk.android.ui

import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter

object Formats {
    fun distance(s: Strings, metres: Double): String =
        if (metres < 1000) s.format(Str.today_distance_m, metres.toInt()) else s.format(Str.today_distance_km, metres / 1000)

    fun duration(seconds: Long): String {
        val h = seconds / 3600
        val m = (seconds % 3600) / 60
        val sec = seconds % 60
        return if (h > 0) "%d:%02d:%02d".format(h, m, sec) else "%02d:%02d".format(m, sec)
    }

    /** A record kind of the sync screen (`household`, `case_event`, …) in the worker's words. */
    fun entity(s: Strings, entity: String): String =
        Str.entries.firstOrNull { it.name == "entity_$entity" }?.let { s[it] } ?: entity

    /** `create` / `update`. */
    fun op(s: Strings, op: String): String = Str.entries.firstOrNull { it.name == "op_$op" }?.let { s[it] } ?: op

    /** A record field (`address.room` → 地址) in the worker's words, when the app has a name for it. */
    fun field(s: Strings, field: String): String {
        val head = field.substringBefore('.').substringBefore('[')
        return Str.entries.firstOrNull { it.name == "field_$head" }?.let { s[it] } ?: field
    }

    private val dateTime = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")

    fun dateTime(ms: Long, zone: ZoneId = ZoneId.systemDefault()): String =
        dateTime.format(Instant.ofEpochMilli(ms).atZone(zone))
}
