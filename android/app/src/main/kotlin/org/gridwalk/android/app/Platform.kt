// The Android ends of presentation's and ui's hooks: saved state over SavedStateHandle, strings
// from resources by name, thumbnails through BitmapFactory, and the system camera writing into
// app-private storage.
package org.gridwalk.android.app

import android.annotation.SuppressLint
import android.content.Context
import android.location.LocationManager
import android.graphics.BitmapFactory
import android.net.Uri
import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.graphics.asImageBitmap
import androidx.core.content.FileProvider
import androidx.lifecycle.SavedStateHandle
import java.io.File
import java.util.UUID
import org.gridwalk.android.presentation.SavedState
import org.gridwalk.core.GeoPoint
import org.gridwalk.android.ui.Str
import org.gridwalk.android.ui.Strings
import org.gridwalk.android.ui.Thumbnails

class HandleSavedState(private val handle: SavedStateHandle) : SavedState {
    override fun get(key: String): String? = handle[key]
    override fun set(key: String, value: String?) {
        if (value == null) handle.remove<String>(key) else handle[key] = value
    }
}

class AndroidStrings(private val context: Context) : Strings {
    override val languageTag: String = context.resources.configuration.locales[0].toLanguageTag()

    override fun get(key: Str): String {
        // Str's names are the resource names of ui/src/main/res/values*/strings.xml.
        val id = context.resources.getIdentifier(key.name, "string", context.packageName)
        return if (id != 0) context.getString(id) else key.name
    }
}

object AndroidThumbnails : Thumbnails {
    override fun load(path: String): ImageBitmap? = BitmapFactory.decodeFile(path)?.asImageBitmap()
}

/** The GPS provider's latest fix (WGS-84, what the core expects), if it has one and the app
 *  may read it (no permission: none, and today's list shows no distances). */
@SuppressLint("MissingPermission") // A SecurityException without it is caught.
fun lastGpsFix(context: Context): GeoPoint? = try {
    context.getSystemService(LocationManager::class.java).getLastKnownLocation(LocationManager.GPS_PROVIDER)
        ?.let { GeoPoint(it.latitude, it.longitude) }
} catch (e: SecurityException) {
    null
}

/** A new app-private file for the camera app to write into, and its shareable URI. */
class CameraTarget(context: Context) {
    val file: File = File(context.container.cameraDir, "${UUID.randomUUID()}.jpg")
    val uri: Uri = FileProvider.getUriForFile(context, context.packageName + ".photos", file)
}
