// Where the screens get their words: a `Strings` provided through composition. The app
// provides one over Android resources (app/ AndroidStrings); the desktop tests provide one that
// reads the same res/values*/strings.xml files. Texts that come from the core (vocabulary labels,
// error messages) are bilingual values, picked here by the same language.
package org.gridwalk.android.ui

import androidx.compose.runtime.staticCompositionLocalOf
import org.gridwalk.android.presentation.Bilingual

interface Strings {
    /** BCP 47 tag of the language shown (`zh-CN`, `en`). */
    val languageTag: String

    operator fun get(key: Str): String

    /** The resource with Android-style `%1$d` arguments filled in. */
    fun format(key: Str, vararg args: Any): String = String.format(java.util.Locale.ROOT, get(key), *args)

    /** The core's text in the shown language. */
    fun pick(text: Bilingual): String = text.pick(languageTag)

    /** A vocabulary label from the core in the shown language. */
    fun label(zh: String, en: String): String = if (languageTag.startsWith("zh")) zh else en
}

val LocalStrings = staticCompositionLocalOf<Strings> { error("no Strings provided") }
