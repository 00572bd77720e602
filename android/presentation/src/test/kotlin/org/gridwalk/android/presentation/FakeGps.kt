// A location feed like the app's foreground service: a platform thread delivering fixes to the
// core's PatrolRecorder at walking pace (~1 m every 150 ms), then waiting to be stopped.
package org.gridwalk.android.presentation

import java.util.concurrent.CopyOnWriteArrayList
import org.gridwalk.core.LocationFix
import org.gridwalk.core.LocationSource
import org.gridwalk.core.PatrolRecorder

class FakeGps(private val fixes: Int = 8, private val startLat: Double = 37.7800) : LocationFeed {
    val sources = CopyOnWriteArrayList<Source>()

    override fun newSource(): LocationSource = Source().also { sources.add(it) }

    inner class Source : LocationSource {
        @Volatile var thread: Thread? = null
        @Volatile var stopped = false
        val kept = CopyOnWriteArrayList<Boolean>()

        override fun start(recorder: PatrolRecorder) {
            thread = Thread {
                for (i in 0 until fixes) {
                    if (stopped) break
                    Thread.sleep(150)
                    val fix = LocationFix(
                        lat = startLat + i * 0.00001, lng = 107.4000, accuracyM = 5.0,
                        atMs = System.currentTimeMillis(),
                    )
                    // A store closed under the feed (the process is going away) ends it.
                    val ok = runCatching { recorder.record(fix) }
                    if (ok.isFailure) break
                    kept.add(ok.getOrThrow())
                }
            }.also { it.start() }
        }

        override fun stop() {
            stopped = true
        }
    }
}
