// Work statistics (工作统计) for the day, week or month the worker picks: visits by mode,
// households visited, patrols that count (and the ones too short), cases by category — as the
// core counts them, in the worker's calendar.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import org.gridwalk.core.Period
import org.gridwalk.core.VisitMode
import org.gridwalk.core.WorkStats
import org.gridwalk.core.caseTypes

data class StatsState(
    val period: Period = Period.DAY,
    val firstDay: String = "",
    val lastDay: String = "",
    val visits: Long = 0,
    val visitsByMode: Map<VisitMode, Long> = emptyMap(),
    val householdsVisited: Long = 0,
    val patrols: Long = 0,
    val patrolsTooShort: Long = 0,
    val patrolMinutes: Long = 0,
    val patrolKm: Double = 0.0,
    val cases: Long = 0,
    /** Case counts by category, with the category's name. */
    val casesByCategory: List<CategoryCount> = emptyList(),
    val loading: Boolean = true,
    val error: UiError? = null,
)

data class CategoryCount(val code: String, val label: Bilingual, val count: Long)

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
            repo.call { store ->
                val stats = store.stats(period, null)
                val modes = VisitMode.entries.associateBy { it.code() }
                val categories = caseTypes().filter { it.code.length == 2 }.associate { it.code to Bilingual(it.labelZh, it.labelEn) }
                Triple(stats, modes, categories)
            }
                .onOk { (s, modes, categories) -> update { show(it, s, modes, categories) } }
                .onFailed { e -> update { it.copy(loading = false, error = e) } }
        }
    }

    private fun show(st: StatsState, s: WorkStats, modes: Map<String, VisitMode>, categories: Map<String, Bilingual>) = st.copy(
        period = s.period, firstDay = s.firstDay, lastDay = s.lastDay, visits = s.visitsTotal.toLong(),
        visitsByMode = s.visitsByMode.mapNotNull { (code, n) -> modes[code]?.let { it to n.toLong() } }.toMap(),
        householdsVisited = s.householdsVisited.toLong(), patrols = s.patrols.toLong(),
        patrolsTooShort = s.patrolsTooShort.toLong(), patrolMinutes = s.patrolSeconds / 60,
        patrolKm = s.patrolDistanceM / 1000.0, cases = s.casesTotal.toLong(),
        casesByCategory = s.casesByCategory.toSortedMap().map { (code, n) ->
            CategoryCount(code, categories[code] ?: Bilingual(code, code), n.toLong())
        },
        loading = false, error = null,
    )

    companion object {
        private const val K_PERIOD = "stats.period"
    }
}
