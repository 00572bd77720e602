// Households (户籍台账): search by any fragment of a name, address, phone or ID number, or
// browse building → unit → floor, optionally only one care tier. The search text and the
// browse position are kept in saved state; the households come from the store every time.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import org.gridwalk.core.CareTier
import org.gridwalk.core.Household
import org.gridwalk.core.HouseholdFilter
import org.gridwalk.core.SearchHit
import org.gridwalk.core.SyncStatus

data class HouseholdRow(
    val id: String,
    val addressLine: String,
    val careTier: CareTier,
    val syncStatus: SyncStatus,
)

data class SearchRow(
    /** `household` or `resident`. */
    val kind: String,
    val id: String,
    val householdId: String,
    val title: String,
    val address: String,
    val active: Boolean,
)

data class HouseholdsState(
    val query: String = "",
    val hits: List<SearchRow> = emptyList(),
    val searching: Boolean = false,
    val careTier: CareTier? = null,
    val buildings: List<String> = emptyList(),
    val building: String? = null,
    val units: List<String> = emptyList(),
    val unit: String? = null,
    val floors: List<Int> = emptyList(),
    val floor: Int? = null,
    /** The households at the chosen building / unit / floor (all of the building's when no
     *  unit or floor is chosen). */
    val households: List<HouseholdRow> = emptyList(),
    val loading: Boolean = true,
    val error: UiError? = null,
    val navigateTo: Destination? = null,
)

sealed interface HouseholdsEvent {
    data class SearchTyped(val text: String) : HouseholdsEvent
    data class CareTierChosen(val tier: CareTier?) : HouseholdsEvent
    data class BuildingChosen(val building: String?) : HouseholdsEvent
    data class UnitChosen(val unit: String?) : HouseholdsEvent
    data class FloorChosen(val floor: Int?) : HouseholdsEvent
    data class Open(val householdId: String) : HouseholdsEvent
    data object Refresh : HouseholdsEvent
    data object NavigationDone : HouseholdsEvent
}

class HouseholdsViewModel(
    private val repo: GridwalkRepository,
    private val saved: SavedState,
    scope: CoroutineScope,
    /** Wait after a keystroke before searching (typing fast runs one search). */
    private val searchDelayMs: Long = 250,
) : ScreenModel<HouseholdsState, HouseholdsEvent>(
    HouseholdsState(
        query = saved[KEY_QUERY] ?: "",
        careTier = saved[KEY_TIER]?.let { t -> CareTier.entries.firstOrNull { it.name == t } },
        building = saved[KEY_BUILDING],
        unit = saved[KEY_UNIT],
        floor = saved[KEY_FLOOR]?.toIntOrNull(),
    ),
    scope,
) {
    private var all: List<Household> = emptyList()
    private var searchJob: Job? = null

    init {
        load()
        if (state.value.query.isNotBlank()) search(state.value.query, immediately = true)
    }

    override fun onEvent(event: HouseholdsEvent) {
        when (event) {
            is HouseholdsEvent.SearchTyped -> {
                saved[KEY_QUERY] = event.text
                update { it.copy(query = event.text) }
                search(event.text, immediately = false)
            }
            is HouseholdsEvent.CareTierChosen -> {
                saved[KEY_TIER] = event.tier?.name
                update { it.copy(careTier = event.tier) }
                load()
            }
            is HouseholdsEvent.BuildingChosen -> {
                saved[KEY_BUILDING] = event.building
                saved[KEY_UNIT] = null
                saved[KEY_FLOOR] = null
                update { it.copy(building = event.building, unit = null, floor = null) }
                regroup()
            }
            is HouseholdsEvent.UnitChosen -> {
                saved[KEY_UNIT] = event.unit
                saved[KEY_FLOOR] = null
                update { it.copy(unit = event.unit, floor = null) }
                regroup()
            }
            is HouseholdsEvent.FloorChosen -> {
                saved[KEY_FLOOR] = event.floor?.toString()
                update { it.copy(floor = event.floor) }
                regroup()
            }
            is HouseholdsEvent.Open -> update { it.copy(navigateTo = Destination.Household(event.householdId)) }
            HouseholdsEvent.Refresh -> load()
            HouseholdsEvent.NavigationDone -> update { it.copy(navigateTo = null) }
        }
    }

    private fun search(text: String, immediately: Boolean) {
        searchJob?.cancel()
        if (text.isBlank()) {
            update { it.copy(hits = emptyList(), searching = false) }
            return
        }
        update { it.copy(searching = true) }
        searchJob = launch {
            if (!immediately) delay(searchDelayMs)
            repo.call { it.search(text.trim(), 50u) }
                .onOk { hits -> update { it.copy(hits = hits.map(::searchRow), searching = false, error = null) } }
                .onFailed { e -> update { it.copy(searching = false, error = e) } }
        }
    }

    private fun load() {
        update { it.copy(loading = true) }
        val tier = state.value.careTier
        launch {
            repo.call { it.listHouseholds(HouseholdFilter(careTier = tier)) }
                .onOk { list ->
                    all = list
                    update { it.copy(loading = false, error = null) }
                    regroup()
                }
                .onFailed { e -> update { it.copy(loading = false, error = e) } }
        }
    }

    /** Buildings → units → floors of the loaded households, and the ones at the position. */
    private fun regroup() {
        val s = state.value
        val buildings = all.map { it.address.building }.distinct().sortedWith(naturalOrder)
        val building = s.building?.takeIf { it in buildings }
        val inBuilding = all.filter { it.address.building == building }
        val units = inBuilding.mapNotNull { it.address.unit }.distinct().sortedWith(naturalOrder)
        val unit = s.unit?.takeIf { it in units }
        val inUnit = if (unit == null) inBuilding else inBuilding.filter { it.address.unit == unit }
        val floors = inUnit.mapNotNull { it.address.floor }.distinct().sorted()
        val floor = s.floor?.takeIf { it in floors }
        val here = if (floor == null) inUnit else inUnit.filter { it.address.floor == floor }
        update {
            it.copy(
                buildings = buildings, building = building, units = units, unit = unit,
                floors = floors, floor = floor,
                households = here.sortedWith(compareBy(naturalOrder) { h -> h.addressLine }).map(::householdRow),
            )
        }
    }

    private fun householdRow(h: Household) = HouseholdRow(h.id, h.addressLine, h.careTier, h.syncStatus)

    private fun searchRow(h: SearchHit) = SearchRow(h.kind, h.id, h.householdId, h.title, h.address, h.active)

    companion object {
        const val KEY_QUERY = "households.query"
        const val KEY_TIER = "households.tier"
        const val KEY_BUILDING = "households.building"
        const val KEY_UNIT = "households.unit"
        const val KEY_FLOOR = "households.floor"

        /** "2栋" before "10栋": digit runs compare by value. */
        val naturalOrder: Comparator<String> = Comparator { a, b ->
            val re = Regex("\\d+|\\D+")
            val pa = re.findAll(a).map { it.value }.toList()
            val pb = re.findAll(b).map { it.value }.toList()
            for (i in 0 until minOf(pa.size, pb.size)) {
                val x = pa[i]
                val y = pb[i]
                val c = if (x[0].isDigit() && y[0].isDigit()) {
                    x.trimStart('0').length.compareTo(y.trimStart('0').length)
                        .takeIf { it != 0 } ?: x.trimStart('0').compareTo(y.trimStart('0'))
                } else {
                    x.compareTo(y)
                }
                if (c != 0) return@Comparator c
            }
            pa.size.compareTo(pb.size)
        }
    }
}
