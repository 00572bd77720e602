// Work statistics (工作统计) for the day, week or month the worker picks: visits by mode,
// households visited, patrols that count (and the ones too short), cases by category — as the
// core counts them, in the worker's calendar.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import org.gridwalk.core.Period
import org.gridwalk.core.WorkStats

data class StatsState(
    val period: Period = Period.DAY,
    val firstDay: String = "",
    val lastDay: String = "",
    val visits: Long = 0,
    /** Visit counts by mode code (`in_person`, `phone`, …). */
    val visitsByMode: Map<String, Long> = emptyMap(),
    val householdsVisited: Long = 0,
    val patrols: Long = 0,
    val patrolsTooShort: Long = 0,
    val patrolMinutes: Long = 0,
    val patrolKm: Double = 0.0,
    val cases: Long = 0,
    /** Case counts by category code (`01` … `06`). */
    val casesByCategory: Map<String, Long> = emptyMap(),
    val loading: Boolean = true,
    val error: UiError? = null,
)

sealed interface StatsEvent {
    data class PeriodChosen(val period: Period) : StatsEvent
    data object Refresh : StatsEvent
}

class StatsViewModel(
    private val repo: GridwalkRepository,
    private val saved: SavedState,
    scope: CoroutineScope,
) : ScreenModel<StatsState, StatsEvent>(
    StatsState(period = saved[K_PERIOD]?.let { n -> Period.entries.firstOrNull { it.name == n } } ?: Period.DAY),
    scope,
) {
    init {
        load()
    }

    override fun onEvent(event: StatsEvent) {
        when (event) {
            is StatsEvent.PeriodChosen -> {
                saved[K_PERIOD] = event.period.name
                update { it.copy(period = event.period) }
                load()
            }
            StatsEvent.Refresh -> load()
        }
    }

    private fun load() {
        val period = state.value.period
        update { it.copy(loading = true) }
        launch {
            repo.call { it.stats(period, null) }
                .onOk { s -> update { show(it, s) } }
                .onFailed { e -> update { it.copy(loading = false, error = e) } }
        }
    }

    private fun show(st: StatsState, s: WorkStats) = st.copy(
        period = s.period, firstDay = s.firstDay, lastDay = s.lastDay, visits = s.visitsTotal.toLong(),
        visitsByMode = s.visitsByMode.mapValues { it.value.toLong() },
        householdsVisited = s.householdsVisited.toLong(), patrols = s.patrols.toLong(),
        patrolsTooShort = s.patrolsTooShort.toLong(), patrolMinutes = s.patrolSeconds / 60,
        patrolKm = s.patrolDistanceM / 1000.0, cases = s.casesTotal.toLong(),
        casesByCategory = s.casesByCategory.mapValues { it.value.toLong() }, loading = false, error = null,
    )

    companion object {
        private const val K_PERIOD = "stats.period"
    }
}
