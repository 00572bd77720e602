// The resident form (人口信息): the ID number is checked as it is typed (by the core's rules,
// through `checkIdNumber`), gender and birth date are filled from a valid one, and every refusal
// lands on the field it belongs to. What is typed is kept in saved state until it is saved,
// so a killed app brings the half-filled form back; once saved, the resident is in the store.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import org.gridwalk.core.Gender
import org.gridwalk.core.Relation
import org.gridwalk.core.Residency
import org.gridwalk.core.ResidentInput
import org.gridwalk.core.ResidentPatch
import org.gridwalk.core.SpecialGroup

data class ResidentFormState(
    val householdId: String,
    /** Absent for a new resident. */
    val residentId: String? = null,
    val name: String = "",
    val idNumber: String = "",
    /** When editing: the stored number, masked (type a new one to change it). */
    val storedIdNumberMasked: String? = null,
    val phone: String = "",
    val relation: Relation = Relation.HEAD,
    val residency: Residency = Residency.REGISTERED,
    val gender: Gender? = null,
    val birthDate: String = "",
    /** Gender and birth date come from a valid ID number and cannot be typed over. */
    val derivedFromIdNumber: Boolean = false,
    val specialGroups: Set<SpecialGroup> = emptySet(),
    val notes: String = "",
    /** Refusals by the core's field name (`name`, `id_number`, `phone`, `birth_date`, …). */
    val fieldErrors: Map<String, UiError> = emptyMap(),
    val error: UiError? = null,
    val saving: Boolean = false,
    val savedResidentId: String? = null,
    val navigateTo: Destination? = null,
)

sealed interface ResidentFormEvent {
    data class NameChanged(val text: String) : ResidentFormEvent
    data class IdNumberChanged(val text: String) : ResidentFormEvent
    data class PhoneChanged(val text: String) : ResidentFormEvent
    data class RelationChosen(val relation: Relation) : ResidentFormEvent
    data class ResidencyChosen(val residency: Residency) : ResidentFormEvent
    data class GenderChosen(val gender: Gender) : ResidentFormEvent
    data class BirthDateChanged(val text: String) : ResidentFormEvent
    data class SpecialGroupToggled(val group: SpecialGroup) : ResidentFormEvent
    data class NotesChanged(val text: String) : ResidentFormEvent
    data object Save : ResidentFormEvent
    data object NavigationDone : ResidentFormEvent
}

class ResidentFormViewModel(
    private val repo: GridwalkRepository,
    private val saved: SavedState,
    householdId: String,
    residentId: String?,
    scope: CoroutineScope,
) : ScreenModel<ResidentFormState, ResidentFormEvent>(restore(saved, householdId, residentId), scope) {
    private var checkJob: Job? = null

    init {
        val s = state.value
        if (s.residentId != null && saved[K_LOADED] == null) loadForEdit(s.residentId)
        if (s.idNumber.isNotBlank()) checkIdNumber(s.idNumber)
    }

    override fun onEvent(event: ResidentFormEvent) {
        when (event) {
            is ResidentFormEvent.NameChanged -> edit("name") { it.copy(name = event.text) }
            is ResidentFormEvent.IdNumberChanged -> {
                edit("id_number") { it.copy(idNumber = event.text) }
                checkIdNumber(event.text)
            }
            is ResidentFormEvent.PhoneChanged -> edit("phone") { it.copy(phone = event.text) }
            is ResidentFormEvent.RelationChosen -> edit("relation") { it.copy(relation = event.relation) }
            is ResidentFormEvent.ResidencyChosen -> edit("residency") { it.copy(residency = event.residency) }
            is ResidentFormEvent.GenderChosen ->
                if (!state.value.derivedFromIdNumber) edit("gender") { it.copy(gender = event.gender) }
            is ResidentFormEvent.BirthDateChanged ->
                if (!state.value.derivedFromIdNumber) edit("birth_date") { it.copy(birthDate = event.text) }
            is ResidentFormEvent.SpecialGroupToggled -> edit("special_groups") {
                val g = it.specialGroups
                it.copy(specialGroups = if (event.group in g) g - event.group else g + event.group)
            }
            is ResidentFormEvent.NotesChanged -> edit("notes") { it.copy(notes = event.text) }
            ResidentFormEvent.Save -> save()
            ResidentFormEvent.NavigationDone -> update { it.copy(navigateTo = null) }
        }
    }

    /** Applies a change, clears that field's error and keeps the draft in saved state. */
    private fun edit(field: String, f: (ResidentFormState) -> ResidentFormState) {
        update { f(it).copy(fieldErrors = it.fieldErrors - field, error = null) }
        persist(state.value)
    }

    private fun checkIdNumber(text: String) {
        checkJob?.cancel()
        val typed = text.trim()
        if (typed.length < 18) {
            // Still typing: no error yet, and nothing derived from a number that is not there.
            update {
                if (it.derivedFromIdNumber) it.copy(derivedFromIdNumber = false, gender = null, birthDate = "")
                else it
            }
            persist(state.value)
            return
        }
        checkJob = launch {
            repo.call { it.checkIdNumber(typed) }
                .onOk { info ->
                    update {
                        it.copy(
                            gender = info.gender, birthDate = info.birthDate, derivedFromIdNumber = true,
                            fieldErrors = it.fieldErrors - "id_number" - "gender" - "birth_date",
                        )
                    }
                }
                .onFailed { e ->
                    update {
                        val errors = if (e.field != null) it.fieldErrors + (e.field to e) else it.fieldErrors
                        val cleared = if (it.derivedFromIdNumber) it.copy(gender = null, birthDate = "") else it
                        cleared.copy(derivedFromIdNumber = false, fieldErrors = errors, error = if (e.field == null) e else null)
                    }
                }
            persist(state.value)
        }
    }

    private fun loadForEdit(residentId: String) = launch {
        repo.call { it.getResident(residentId) }
            .onOk { r ->
                update {
                    it.copy(
                        name = r.name, storedIdNumberMasked = Masking.idNumber(r.idNumber),
                        phone = r.phone ?: "", relation = r.relation, residency = r.residency,
                        gender = r.gender, birthDate = r.birthDate ?: "",
                        specialGroups = r.specialGroups.toSet(), notes = r.notes ?: "",
                    )
                }
                saved[K_LOADED] = "1"
                persist(state.value)
            }
            .onFailed { e -> update { it.copy(error = e) } }
    }

    private fun save() {
        val s = state.value
        if (s.saving) return
        update { it.copy(saving = true, error = null) }
        launch {
            val idNumber = s.idNumber.trim().ifEmpty { null }
            val birth = s.birthDate.trim().ifEmpty { null }
            val derived = s.derivedFromIdNumber
            val outcome = if (s.residentId == null) {
                repo.call {
                    it.addResident(
                        ResidentInput(
                            householdId = s.householdId, name = s.name.trim(), relation = s.relation,
                            residency = s.residency, idNumber = idNumber,
                            phone = s.phone.trim().ifEmpty { null },
                            // From the ID number the core derives both; typed only without one.
                            gender = if (derived) null else s.gender,
                            birthDate = if (derived) null else birth,
                            specialGroups = s.specialGroups.toList(), notes = s.notes.trim().ifEmpty { null },
                        )
                    )
                }
            } else {
                repo.call {
                    it.updateResident(
                        s.residentId,
                        ResidentPatch(
                            name = s.name.trim(), idNumber = idNumber,
                            phone = s.phone.trim().ifEmpty { null }, clearPhone = s.phone.isBlank(),
                            gender = if (derived || idNumber != null) null else s.gender,
                            birthDate = if (derived || idNumber != null) null else birth,
                            relation = s.relation, residency = s.residency,
                            specialGroups = s.specialGroups.toList(),
                            notes = s.notes.trim().ifEmpty { null }, clearNotes = s.notes.isBlank(),
                        ),
                    )
                }
            }
            outcome
                .onOk { r ->
                    clearSaved()
                    update {
                        it.copy(saving = false, savedResidentId = r.id, fieldErrors = emptyMap(),
                            navigateTo = Destination.Household(r.householdId))
                    }
                }
                .onFailed { e ->
                    update {
                        if (e.field != null) it.copy(saving = false, fieldErrors = it.fieldErrors + (formField(e.field) to e))
                        else it.copy(saving = false, error = e)
                    }
                }
        }
    }

    private fun persist(s: ResidentFormState) {
        saved[K_NAME] = s.name
        saved[K_ID] = s.idNumber
        saved[K_PHONE] = s.phone
        saved[K_RELATION] = s.relation.name
        saved[K_RESIDENCY] = s.residency.name
        saved[K_GENDER] = s.gender?.name
        saved[K_BIRTH] = s.birthDate
        saved[K_GROUPS] = s.specialGroups.joinToString(",") { it.name }
        saved[K_NOTES] = s.notes
        saved[K_STORED_ID] = s.storedIdNumberMasked
    }

    private fun clearSaved() {
        for (k in listOf(K_NAME, K_ID, K_PHONE, K_RELATION, K_RESIDENCY, K_GENDER, K_BIRTH, K_GROUPS, K_NOTES, K_LOADED, K_STORED_ID)) {
            saved[k] = null
        }
    }

    companion object {
        private const val K_NAME = "resident.name"
        private const val K_ID = "resident.id_number"
        private const val K_PHONE = "resident.phone"
        private const val K_RELATION = "resident.relation"
        private const val K_RESIDENCY = "resident.residency"
        private const val K_GENDER = "resident.gender"
        private const val K_BIRTH = "resident.birth_date"
        private const val K_GROUPS = "resident.special_groups"
        private const val K_NOTES = "resident.notes"
        private const val K_LOADED = "resident.loaded"
        private const val K_STORED_ID = "resident.stored_id_masked"

        /** Nested core fields (`special_groups[1]`) belong to the form field they start with. */
        fun formField(field: String): String = field.substringBefore('[').substringBefore('.')

        private fun restore(saved: SavedState, householdId: String, residentId: String?) = ResidentFormState(
            householdId = householdId,
            residentId = residentId,
            name = saved[K_NAME] ?: "",
            idNumber = saved[K_ID] ?: "",
            storedIdNumberMasked = saved[K_STORED_ID],
            phone = saved[K_PHONE] ?: "",
            relation = saved[K_RELATION]?.let { n -> Relation.entries.firstOrNull { it.name == n } } ?: Relation.HEAD,
            residency = saved[K_RESIDENCY]?.let { n -> Residency.entries.firstOrNull { it.name == n } }
                ?: Residency.REGISTERED,
            gender = saved[K_GENDER]?.let { n -> Gender.entries.firstOrNull { it.name == n } },
            birthDate = saved[K_BIRTH] ?: "",
            specialGroups = saved[K_GROUPS]?.split(',')?.mapNotNull { n -> SpecialGroup.entries.firstOrNull { it.name == n } }
                ?.toSet() ?: emptySet(),
            notes = saved[K_NOTES] ?: "",
        )
    }
}
