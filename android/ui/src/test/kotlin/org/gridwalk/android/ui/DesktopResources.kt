// The desktop side of the platform hooks the screens use: `Strings` read straight from
// res/values*/strings.xml (the files the Android build compiles into R), and thumbnails decoded
// with Skia. Only the desktop tests use these; the app has its Android versions.
package org.gridwalk.android.ui

import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.graphics.toComposeImageBitmap
import java.io.File
import javax.xml.parsers.DocumentBuilderFactory
import org.jetbrains.skia.Image
import org.w3c.dom.Element

class XmlStrings(override val languageTag: String) : Strings {
    val values: Map<String, String> = load(if (languageTag.startsWith("zh")) "res/values/strings.xml" else "res/values-en/strings.xml")

    override fun get(key: Str): String = values[key.name] ?: error("string ${key.name} missing for $languageTag")

    companion object {
        fun load(resource: String): Map<String, String> {
            val stream = XmlStrings::class.java.classLoader.getResourceAsStream(resource)
                ?: error("$resource is not on the class path")
            val doc = stream.use { DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(it) }
            val nodes = doc.getElementsByTagName("string")
            return (0 until nodes.length).associate { i ->
                val e = nodes.item(i) as Element
                e.getAttribute("name") to unescape(e.textContent)
            }
        }

        /** Android's string-resource escapes. */
        private fun unescape(v: String) = v.replace("\\'", "'").replace("\\\"", "\"").replace("\\n", "\n")
    }
}

object SkiaThumbnails : Thumbnails {
    override fun load(path: String): ImageBitmap? =
        File(path).takeIf { it.isFile }?.let { Image.makeFromEncoded(it.readBytes()).toComposeImageBitmap() }
}
