// Sync (同步): when the phone last synced, how many records wait to go, the running sync's
// progress, the conflicts the worker chooses between, and the "needs attention" list (changes
// the server refused) with retry / discard. Everything shown is read from the store after each
// run; the progress comes from the process's `SyncEngine`.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import org.gridwalk.core.AttentionItem
import org.gridwalk.core.Conflict
import org.gridwalk.core.ConflictChoice
import org.gridwalk.core.SyncPhase

data class ConflictRow(
    val id: String,
    val entity: String,
    val field: String,
    /** The value the record holds now. */
    val keptText: String,
    /** The value that was overwritten. */
    val lostText: String,
)

data class AttentionRow(
    val changeId: String,
    val entity: String,
    val op: String,
    val code: String,
    val message: String,
    val field: String?,
    val attempts: Long,
)

data class SyncState(
    val signedIn: Boolean = false,
    val lastSyncMs: Long? = null,
    /** Records not on the server yet (never sent or changed since). */
    val pendingCount: Long = 0,
    val running: Boolean = false,
    val phase: SyncPhase? = null,
    val done: Long = 0,
    val total: Long? = null,
    val bytes: Long = 0,
    val bytesTotal: Long? = null,
    val lastSummary: SyncSummary? = null,
    /** Sync runs finished since the app started. */
    val finishedRuns: Int = 0,
    val conflicts: List<ConflictRow> = emptyList(),
    val attention: List<AttentionRow> = emptyList(),
    val error: UiError? = null,
)

sealed interface SyncEvent {
    data object SyncNow : SyncEvent
    data object Cancel : SyncEvent
    data object Refresh : SyncEvent
    /** Keep the value the record holds. */
    data class KeepCurrent(val conflictId: String) : SyncEvent
    /** Put back the value that was overwritten. */
    data class TakeOther(val conflictId: String) : SyncEvent
    data class Retry(val changeId: String) : SyncEvent
    data class Discard(val changeId: String) : SyncEvent
}

class SyncViewModel(
    private val repo: GridwalkRepository,
    private val engine: SyncEngine,
    private val scheduler: SyncScheduler,
    scope: CoroutineScope,
) : ScreenModel<SyncState, SyncEvent>(SyncState(), scope) {
    init {
        load()
        launch {
            var wasRunning = false
            engine.run.collect { run ->
                update {
                    it.copy(
                        running = run.running, phase = run.phase, done = run.done, total = run.total,
                        bytes = run.bytes, bytesTotal = run.bytesTotal, lastSummary = run.lastSummary,
                        finishedRuns = run.finishedRuns,
                        error = run.lastError ?: it.error.takeUnless { run.running },
                    )
                }
                if (wasRunning && !run.running) load()
                wasRunning = run.running
            }
        }
    }

    override fun onEvent(event: SyncEvent) {
        when (event) {
            SyncEvent.SyncNow -> {
                update { it.copy(error = null) }
                scheduler.syncNow()
            }
            SyncEvent.Cancel -> scheduler.cancel()
            SyncEvent.Refresh -> load()
            is SyncEvent.KeepCurrent -> act { it.resolveConflict(event.conflictId, ConflictChoice.Keep) }
            is SyncEvent.TakeOther -> act { it.resolveConflict(event.conflictId, ConflictChoice.TakeLost) }
            is SyncEvent.Retry -> act { it.retryAttention(event.changeId) }
            is SyncEvent.Discard -> act { it.discardAttention(event.changeId) }
        }
    }

    private fun act(block: (org.gridwalk.core.GridwalkStore) -> Unit) = launch {
        repo.call(block).onOk { load() }.onFailed { e -> update { it.copy(error = e) } }
    }

    private fun load() = launch {
        repo.call { s ->
            val pending = s.syncStatusCounts().sumOf { it.local + it.pending }
            Loaded(s.session() != null, s.lastSyncMs(), pending, s.conflicts(true), s.attention())
        }
            .onOk { l ->
                update {
                    it.copy(
                        signedIn = l.signedIn, lastSyncMs = l.lastSyncMs, pendingCount = l.pending,
                        conflicts = l.conflicts.map(::conflictRow), attention = l.attention.map(::attentionRow),
                    )
                }
            }
            .onFailed { e -> update { it.copy(error = e) } }
    }

    private class Loaded(
        val signedIn: Boolean,
        val lastSyncMs: Long?,
        val pending: Long,
        val conflicts: List<Conflict>,
        val attention: List<AttentionItem>,
    )

    private fun conflictRow(c: Conflict) = ConflictRow(c.id, c.entity, c.field, c.keptValueText, c.lostValueText)

    private fun attentionRow(a: AttentionItem) =
        AttentionRow(a.changeId, a.entity, a.op, a.code, a.serverMessage, a.field, a.attempts)
}
