// Patrol (巡查): start, live distance / time / fixes with the track drawn, stop. The numbers come
// from the store (the recorder writes every fix there), so the screen shows the same patrol
// after the app is killed and reopened; the platform calls `Refresh` while the screen is shown.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import org.gridwalk.core.GeoPoint
import org.gridwalk.core.Patrol

data class PatrolState(
    val grids: List<GridChoice> = emptyList(),
    val gridCode: String? = null,
    val running: Boolean = false,
    val patrolId: String? = null,
    val startedAtMs: Long? = null,
    val distanceM: Double = 0.0,
    val durationS: Long = 0,
    val fixes: Long = 0,
    val track: List<GeoPoint> = emptyList(),
    /** The patrol just stopped: whether it counts toward today's quota. */
    val lastFinished: FinishedPatrol? = null,
    val notes: String = "",
    val busy: Boolean = false,
    val error: UiError? = null,
)

data class GridChoice(val code: String, val name: String)

data class FinishedPatrol(val id: String, val distanceM: Double, val durationS: Long, val counts: Boolean)

sealed interface PatrolEvent {
    data class GridChosen(val code: String) : PatrolEvent
    data class NotesChanged(val text: String) : PatrolEvent
    data object Start : PatrolEvent
    data object Stop : PatrolEvent
    /** Re-read distance, time, fixes and track (the platform sends it every second or so). */
    data object Refresh : PatrolEvent
}

class PatrolViewModel(
    private val repo: GridwalkRepository,
    private val tracking: PatrolTracking,
    private val saved: SavedState,
    scope: CoroutineScope,
) : ScreenModel<PatrolState, PatrolEvent>(PatrolState(notes = saved[K_NOTES] ?: ""), scope) {
    init {
        launch {
            repo.call { s -> s.myGrids().map { GridChoice(it.code, it.name) } }
                .onOk { grids ->
                    update { st -> st.copy(grids = grids, gridCode = st.gridCode ?: saved[K_GRID] ?: grids.firstOrNull()?.code) }
                }
                .onFailed { e -> update { it.copy(error = e) } }
            tracking.resume()
                .onOk { p -> if (p != null) show(p) }
                .onFailed { e -> update { it.copy(error = e) } }
        }
    }

    override fun onEvent(event: PatrolEvent) {
        when (event) {
            is PatrolEvent.GridChosen -> {
                saved[K_GRID] = event.code
                update { it.copy(gridCode = event.code) }
            }
            is PatrolEvent.NotesChanged -> {
                saved[K_NOTES] = event.text
                update { it.copy(notes = event.text) }
            }
            PatrolEvent.Start -> start()
            PatrolEvent.Stop -> stop()
            PatrolEvent.Refresh -> refresh()
        }
    }

    private fun start() {
        val s = state.value
        val grid = s.gridCode ?: return
        if (s.running || s.busy) return
        update { it.copy(busy = true, error = null, lastFinished = null) }
        launch {
            tracking.start(grid)
                .onOk { p -> show(p) }
                .onFailed { e -> update { it.copy(error = e) } }
            update { it.copy(busy = false) }
        }
    }

    private fun stop() {
        if (!state.value.running || state.value.busy) return
        update { it.copy(busy = true) }
        launch {
            tracking.stop(state.value.notes.trim().ifEmpty { null })
                .onOk { p ->
                    saved[K_NOTES] = null
                    update {
                        it.copy(
                            running = false, busy = false, notes = "",
                            distanceM = p?.distanceM ?: it.distanceM, durationS = p?.durationS ?: it.durationS,
                            lastFinished = p?.let { f -> FinishedPatrol(f.id, f.distanceM, f.durationS, f.counts) },
                        )
                    }
                }
                .onFailed { e -> update { it.copy(busy = false, error = e) } }
        }
    }

    private fun refresh() {
        val id = state.value.patrolId ?: return
        launch {
            repo.call { s -> s.getPatrol(id) }.onOk { p -> show(p) }.onFailed { e -> update { it.copy(error = e) } }
        }
    }

    private suspend fun show(p: Patrol) {
        val track = repo.call { s -> s.trackOf(p.id).map { GeoPoint(it.lat, it.lng) } }.valueOrNull()
        update {
            it.copy(
                running = p.endedAtMs == null, patrolId = p.id, gridCode = p.gridCode,
                startedAtMs = p.startedAtMs, distanceM = p.distanceM, durationS = p.durationS,
                fixes = p.pointCount, track = track ?: it.track,
            )
        }
    }

    companion object {
        private const val K_GRID = "patrol.grid"
        private const val K_NOTES = "patrol.notes"
    }
}
