// A visit (走访): how (in person, phone, message), what was found, notes; "not at home" (未遇)
// is one tap that logs the visit at once. The choice and the notes being typed are kept in
// saved state until the visit is saved in the store.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import org.gridwalk.core.VisitInput
import org.gridwalk.core.VisitMode
import org.gridwalk.core.VisitOutcome

data class VisitState(
    val householdId: String,
    val addressLine: String = "",
    val mode: VisitMode = VisitMode.IN_PERSON,
    val outcome: VisitOutcome = VisitOutcome.FINE,
    val notes: String = "",
    val fieldErrors: Map<String, UiError> = emptyMap(),
    val error: UiError? = null,
    val saving: Boolean = false,
    val savedVisitId: String? = null,
    val navigateTo: Destination? = null,
)

sealed interface VisitEvent {
    data class ModeChosen(val mode: VisitMode) : VisitEvent
    data class OutcomeChosen(val outcome: VisitOutcome) : VisitEvent
    data class NotesChanged(val text: String) : VisitEvent
    data object Save : VisitEvent
    /** One tap: went there, nobody home. */
    data object NotAtHome : VisitEvent
    data object NavigationDone : VisitEvent
}

class VisitViewModel(
    private val repo: GridwalkRepository,
    private val saved: SavedState,
    householdId: String,
    scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
) : ScreenModel<VisitState, VisitEvent>(
    VisitState(
        householdId = householdId,
        mode = saved[K_MODE]?.let { n -> VisitMode.entries.firstOrNull { it.name == n } } ?: VisitMode.IN_PERSON,
        outcome = saved[K_OUTCOME]?.let { n -> VisitOutcome.entries.firstOrNull { it.name == n } } ?: VisitOutcome.FINE,
        notes = saved[K_NOTES] ?: "",
    ),
    scope,
) {
    init {
        launch {
            repo.call { it.getHousehold(householdId) }
                .onOk { h -> update { it.copy(addressLine = h.addressLine) } }
                .onFailed { e -> update { it.copy(error = e) } }
        }
    }

    override fun onEvent(event: VisitEvent) {
        when (event) {
            is VisitEvent.ModeChosen -> {
                saved[K_MODE] = event.mode.name
                update { it.copy(mode = event.mode, fieldErrors = it.fieldErrors - "mode") }
            }
            is VisitEvent.OutcomeChosen -> {
                saved[K_OUTCOME] = event.outcome.name
                update { it.copy(outcome = event.outcome, fieldErrors = it.fieldErrors - "outcome") }
            }
            is VisitEvent.NotesChanged -> {
                saved[K_NOTES] = event.text
                update { it.copy(notes = event.text, fieldErrors = it.fieldErrors - "notes") }
            }
            VisitEvent.Save -> state.value.let { save(it.mode, it.outcome, it.notes) }
            VisitEvent.NotAtHome -> save(VisitMode.NOT_AT_HOME, VisitOutcome.NO_CONTACT, state.value.notes)
            VisitEvent.NavigationDone -> update { it.copy(navigateTo = null) }
        }
    }

    private fun save(mode: VisitMode, outcome: VisitOutcome, notes: String) {
        val s = state.value
        if (s.saving) return
        update { it.copy(saving = true, error = null) }
        launch {
            repo.call {
                it.logVisit(
                    VisitInput(
                        householdId = s.householdId, visitedAtMs = clock(), mode = mode, outcome = outcome,
                        notes = notes.trim().ifEmpty { null },
                    )
                )
            }
                .onOk { v ->
                    saved[K_MODE] = null
                    saved[K_OUTCOME] = null
                    saved[K_NOTES] = null
                    update {
                        it.copy(saving = false, savedVisitId = v.id, mode = mode, outcome = outcome,
                            navigateTo = Destination.Household(s.householdId))
                    }
                }
                .onFailed { e ->
                    update {
                        if (e.field != null) it.copy(saving = false, fieldErrors = it.fieldErrors + (e.field to e))
                        else it.copy(saving = false, error = e)
                    }
                }
        }
    }

    companion object {
        private const val K_MODE = "visit.mode"
        private const val K_OUTCOME = "visit.outcome"
        private const val K_NOTES = "visit.notes"
    }
}
