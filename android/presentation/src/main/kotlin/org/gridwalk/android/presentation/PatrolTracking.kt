// The running patrol's GPS hookup, held for the whole process (by the app's container), not
// by a screen: the platform's location source (on Android a foreground service on the GPS
// provider) feeds the core's `PatrolRecorder`, which writes every fix to the store. The patrol
// itself lives in the store; after the process was killed, `resume()` finds it there
// (`activePatrol`) and attaches a new source.
package org.gridwalk.android.presentation

import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.gridwalk.core.LocationSource
import org.gridwalk.core.Patrol
import org.gridwalk.core.PatrolRecorder

/** Makes a platform location source for a patrol (Android: starts the foreground service). */
fun interface LocationFeed {
    fun newSource(): LocationSource
}

class PatrolTracking(private val repo: GridwalkRepository, private val feed: LocationFeed) {
    private val lock = Mutex()
    @Volatile private var recorder: PatrolRecorder? = null

    /** Starts a patrol of [gridCode] fed by a new location source. */
    suspend fun start(gridCode: String): Outcome<Patrol> = lock.withLock {
        repo.call { store ->
            val r = store.recordPatrol(gridCode, feed.newSource())
            recorder = r
            r.patrol()
        }
    }

    /** The running patrol, with GPS attached again if this process has not done so yet. */
    suspend fun resume(): Outcome<Patrol?> = lock.withLock {
        repo.call { store ->
            val active = store.activePatrol()
            if (active != null && recorder?.patrolId() != active.id) {
                recorder = store.attachLocationSource(active.id, feed.newSource())
            }
            active
        }
    }

    /** Ends the running patrol (stopping its source) and returns it as saved. */
    suspend fun stop(notes: String?): Outcome<Patrol?> = lock.withLock {
        repo.call { store ->
            val r = recorder
            val ended = if (r != null) {
                r.finish(notes)
            } else {
                store.activePatrol()?.let { store.stopPatrol(it.id, notes) }
            }
            recorder = null
            ended
        }
    }
}
