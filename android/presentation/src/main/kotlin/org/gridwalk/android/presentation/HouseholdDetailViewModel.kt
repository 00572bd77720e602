// A household (户): its address and care tier, the residents (masked), the visits, and each
// record's sync badge, all read from the store.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import org.gridwalk.core.CareTier
import org.gridwalk.core.Gender
import org.gridwalk.core.HousingType
import org.gridwalk.core.Relation
import org.gridwalk.core.Resident
import org.gridwalk.core.SyncStatus
import org.gridwalk.core.Visit
import org.gridwalk.core.VisitMode
import org.gridwalk.core.VisitOutcome

data class ResidentRow(
    val id: String,
    val name: String,
    val relation: Relation,
    val gender: Gender?,
    val birthDate: String?,
    /** Masked (`640323********1235`). */
    val idNumberMasked: String?,
    val phoneMasked: String?,
    val syncStatus: SyncStatus,
)

data class VisitRow(
    val id: String,
    val visitedAtMs: Long,
    val mode: VisitMode,
    val outcome: VisitOutcome,
    val notes: String?,
    val syncStatus: SyncStatus,
)

data class HouseholdDetailState(
    val householdId: String,
    val addressLine: String = "",
    val careTier: CareTier? = null,
    val housingType: HousingType? = null,
    val syncStatus: SyncStatus? = null,
    val residents: List<ResidentRow> = emptyList(),
    val visits: List<VisitRow> = emptyList(),
    val loading: Boolean = true,
    val error: UiError? = null,
    val navigateTo: Destination? = null,
)

sealed interface HouseholdDetailEvent {
    data object Refresh : HouseholdDetailEvent
    data object AddResident : HouseholdDetailEvent
    data class EditResident(val residentId: String) : HouseholdDetailEvent
    data object LogVisit : HouseholdDetailEvent
    data object NavigationDone : HouseholdDetailEvent
}

class HouseholdDetailViewModel(
    private val repo: GridwalkRepository,
    householdId: String,
    scope: CoroutineScope,
) : ScreenModel<HouseholdDetailState, HouseholdDetailEvent>(HouseholdDetailState(householdId), scope) {
    init {
        load()
    }

    override fun onEvent(event: HouseholdDetailEvent) {
        val id = state.value.householdId
        when (event) {
            HouseholdDetailEvent.Refresh -> load()
            HouseholdDetailEvent.AddResident -> update { it.copy(navigateTo = Destination.ResidentForm(id)) }
            is HouseholdDetailEvent.EditResident ->
                update { it.copy(navigateTo = Destination.ResidentForm(id, event.residentId)) }
            HouseholdDetailEvent.LogVisit -> update { it.copy(navigateTo = Destination.Visit(id)) }
            HouseholdDetailEvent.NavigationDone -> update { it.copy(navigateTo = null) }
        }
    }

    private fun load() {
        val id = state.value.householdId
        launch {
            repo.call { s -> Triple(s.getHousehold(id), s.residentsOf(id, false), s.visitsOf(id)) }
                .onOk { (h, residents, visits) ->
                    update {
                        it.copy(
                            addressLine = h.addressLine, careTier = h.careTier, housingType = h.housingType,
                            syncStatus = h.syncStatus, residents = residents.map(::residentRow),
                            visits = visits.sortedByDescending { v -> v.visitedAtMs }.map(::visitRow),
                            loading = false, error = null,
                        )
                    }
                }
                .onFailed { e -> update { it.copy(loading = false, error = e) } }
        }
    }

    private fun residentRow(r: Resident) = ResidentRow(
        id = r.id, name = r.name, relation = r.relation, gender = r.gender, birthDate = r.birthDate,
        idNumberMasked = Masking.idNumber(r.idNumber), phoneMasked = Masking.phone(r.phone),
        syncStatus = r.syncStatus,
    )

    private fun visitRow(v: Visit) = VisitRow(v.id, v.visitedAtMs, v.mode, v.outcome, v.notes, v.syncStatus)
}
