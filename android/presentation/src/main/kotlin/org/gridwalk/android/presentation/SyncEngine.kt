// One sync run at a time for the whole process: push, pull, then upload photos, with progress
// published as a `StateFlow` (the sync screen and the platform's progress notification both
// read it) and cancellation through the core's `CancelHandle`. On Android the WorkManager worker
// calls `runOnce` and `cancel` (from onStopped); the sync screen asks a `SyncScheduler`.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.gridwalk.core.CancelHandle
import org.gridwalk.core.SyncPhase
import org.gridwalk.core.SyncProgress
import org.gridwalk.core.SyncProgressListener

/** What a finished run did. */
data class SyncSummary(
    val pushed: Long,
    val rejected: Long,
    val conflicts: Long,
    val pulled: Long,
    val photosUploaded: Long,
    val photosFailed: Long,
)

/** The run as the screens see it. */
data class SyncRun(
    val running: Boolean = false,
    val phase: SyncPhase? = null,
    val done: Long = 0,
    val total: Long? = null,
    val bytes: Long = 0,
    val bytesTotal: Long? = null,
    /** Every progress report of the current (or last) run, counted. */
    val reports: Int = 0,
    val lastSummary: SyncSummary? = null,
    val lastError: UiError? = null,
    /** Runs finished in this process (successful or not): a screen waiting for "the next
     *  result" compares it. */
    val finishedRuns: Int = 0,
)

class SyncEngine(private val repo: GridwalkRepository) {
    private val mutableRun = MutableStateFlow(SyncRun())
    val run: StateFlow<SyncRun> = mutableRun.asStateFlow()
    @Volatile private var cancelHandle: CancelHandle? = null

    private val listener = object : SyncProgressListener {
        override fun onProgress(progress: SyncProgress) {
            mutableRun.update {
                it.copy(
                    phase = progress.phase, done = progress.done.toLong(), total = progress.total?.toLong(),
                    bytes = progress.bytes.toLong(), bytesTotal = progress.bytesTotal?.toLong(),
                    reports = it.reports + 1,
                )
            }
        }
    }

    /** Syncs and uploads photos now. A run already going makes this one fail with the core's
     *  `NOT_ALLOWED_NOW` (`running:sync`) — nothing is lost either way. */
    suspend fun runOnce(): Outcome<SyncSummary> {
        mutableRun.update { SyncRun(running = true, lastSummary = it.lastSummary, finishedRuns = it.finishedRuns) }
        val outcome = repo.call { store ->
            val handle = CancelHandle()
            cancelHandle = handle
            try {
                val report = store.sync(listener, handle)
                val upload = store.uploadPhotos(listener, handle)
                SyncSummary(
                    pushed = report.pushed.toLong(), rejected = report.rejected.toLong(),
                    conflicts = report.conflicts.toLong(), pulled = report.pulled.toLong(),
                    photosUploaded = (upload.uploaded + upload.alreadyOnServer).toLong(),
                    photosFailed = upload.failed.toLong(),
                )
            } finally {
                cancelHandle = null
                handle.close()
            }
        }
        mutableRun.update {
            when (outcome) {
                is Outcome.Ok -> it.copy(running = false, lastSummary = outcome.value, lastError = null, finishedRuns = it.finishedRuns + 1)
                is Outcome.Failed -> it.copy(running = false, lastError = outcome.error, finishedRuns = it.finishedRuns + 1)
            }
        }
        return outcome
    }

    /** Asks the running sync to stop at its next safe point (what finished is kept). */
    fun cancel() {
        cancelHandle?.cancel()
    }
}

/** How the sync screen asks for a sync: on Android a one-off WorkManager request (network
 *  constraint, backoff); elsewhere `InProcessSyncScheduler`. */
interface SyncScheduler {
    fun syncNow()
    fun cancel()
}

/** Runs the engine in a coroutine scope of this process (tests, desktop previews). */
class InProcessSyncScheduler(private val engine: SyncEngine, private val scope: CoroutineScope) : SyncScheduler {
    private var job: Job? = null

    override fun syncNow() {
        if (job?.isActive == true) return
        job = scope.launch { engine.runOnce() }
    }

    override fun cancel() = engine.cancel()
}
