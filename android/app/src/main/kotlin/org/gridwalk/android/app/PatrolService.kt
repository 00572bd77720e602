// The patrol's GPS feed: a foreground service (it survives screen-off) on the platform
// LocationManager's GPS provider — no Play services, which most phones sold in China lack.
// Fixes go straight to the core's PatrolRecorder, which writes each one to the store.
package org.gridwalk.android.app

import android.annotation.SuppressLint
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.Service
import android.content.Context
import android.content.Intent
import android.content.pm.ServiceInfo
import android.location.Location
import android.location.LocationListener
import android.location.LocationManager
import android.os.Build
import android.os.IBinder
import android.os.HandlerThread
import androidx.core.app.NotificationCompat
import androidx.core.app.ServiceCompat
import java.util.concurrent.atomic.AtomicReference
import org.gridwalk.android.presentation.LocationFeed
import org.gridwalk.core.LocationFix
import org.gridwalk.core.LocationSource
import org.gridwalk.core.PatrolRecorder

/** Hands each patrol a source that runs [PatrolService]; the recorder reaches the service here. */
class ServiceLocationFeed(private val context: Context) : LocationFeed {
    val recorder = AtomicReference<PatrolRecorder?>(null)

    override fun newSource(): LocationSource = object : LocationSource {
        override fun start(recorder: PatrolRecorder) {
            this@ServiceLocationFeed.recorder.set(recorder)
            val intent = Intent(context, PatrolService::class.java)
            if (Build.VERSION.SDK_INT >= 26) context.startForegroundService(intent) else context.startService(intent)
        }

        override fun stop() {
            recorder.set(null)
            context.stopService(Intent(context, PatrolService::class.java))
        }
    }
}

class PatrolService : Service(), LocationListener {
    private val feed get() = container.locationFeed
    /** Fixes arrive, and are written to the store, on this thread — never the main one. */
    private val gpsThread = HandlerThread("patrol-gps").also { it.start() }

    override fun onBind(intent: Intent?): IBinder? = null

    @SuppressLint("MissingPermission") // The patrol screen asks for ACCESS_FINE_LOCATION first.
    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        val nm = getSystemService(NotificationManager::class.java)
        nm.createNotificationChannel(NotificationChannel(CHANNEL, getString(org.gridwalk.android.ui.R.string.patrol_title), NotificationManager.IMPORTANCE_LOW))
        val n = NotificationCompat.Builder(this, CHANNEL)
            .setSmallIcon(android.R.drawable.ic_menu_mylocation)
            .setContentTitle(getString(org.gridwalk.android.ui.R.string.patrol_title))
            .setContentText(getString(org.gridwalk.android.ui.R.string.patrol_running))
            .setOngoing(true)
            .build()
        ServiceCompat.startForeground(
            this, NOTIFICATION_ID, n,
            if (Build.VERSION.SDK_INT >= 29) ServiceInfo.FOREGROUND_SERVICE_TYPE_LOCATION else 0,
        )
        val lm = getSystemService(LocationManager::class.java)
        lm.removeUpdates(this)
        lm.requestLocationUpdates(LocationManager.GPS_PROVIDER, 2_000L, 0f, this, gpsThread.looper)
        return START_STICKY
    }

    override fun onLocationChanged(location: Location) {
        val recorder = feed.recorder.get() ?: return
        val fix = LocationFix(
            lat = location.latitude, lng = location.longitude,
            accuracyM = if (location.hasAccuracy()) location.accuracy.toDouble() else null,
            atMs = location.time,
        )
        // A skipped fix (unusable) is counted by the core; a closed store ends the feed.
        runCatching { recorder.record(fix) }.onFailure { stopSelf() }
    }

    override fun onDestroy() {
        getSystemService(LocationManager::class.java).removeUpdates(this)
        gpsThread.quitSafely()
        super.onDestroy()
    }

    private companion object {
        const val CHANNEL = "patrol"
        const val NOTIFICATION_ID = 1002
    }
}
