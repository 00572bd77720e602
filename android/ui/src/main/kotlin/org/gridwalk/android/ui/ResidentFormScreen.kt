// The resident form: the ID number field shows its error as it is typed; gender and birth date
// fill from a valid number and are then read-only; every refusal shows under its own field.
package org.gridwalk.android.ui

import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import org.gridwalk.android.presentation.ResidentFormEvent
import org.gridwalk.android.presentation.ResidentFormState
import org.gridwalk.core.Gender
import org.gridwalk.core.Relation
import org.gridwalk.core.Residency
import org.gridwalk.core.SpecialGroup

@Composable
fun ResidentFormScreen(state: ResidentFormState, onEvent: (ResidentFormEvent) -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    val e = state.fieldErrors
    ScreenFrame(if (state.residentId == null) s[Str.resident_title_new] else s[Str.resident_title_edit], onBack) {
        ErrorBanner(state.error)
        Field(s[Str.resident_name], state.name, { onEvent(ResidentFormEvent.NameChanged(it)) }, e["name"])
        Field(
            s[Str.resident_id_number], state.idNumber, { onEvent(ResidentFormEvent.IdNumberChanged(it)) }, e["id_number"],
            hint = state.storedIdNumberMasked?.let { s.format(Str.resident_id_stored, it) } ?: s[Str.resident_id_number_hint],
        )
        SectionTitle(s[Str.resident_gender])
        Choices(Gender.entries, state.gender, { s.label(it.labelZh(), it.labelEn()) }) { onEvent(ResidentFormEvent.GenderChosen(it)) }
        e["gender"]?.let { Text(s.pick(it.message), color = MaterialTheme.colorScheme.error) }
        Field(
            s[Str.resident_birth_date], state.birthDate, { onEvent(ResidentFormEvent.BirthDateChanged(it)) }, e["birth_date"],
            hint = if (state.derivedFromIdNumber) s[Str.resident_from_id_number] else null, enabled = !state.derivedFromIdNumber,
        )
        Field(s[Str.resident_phone], state.phone, { onEvent(ResidentFormEvent.PhoneChanged(it)) }, e["phone"])
        SectionTitle(s[Str.resident_relation])
        Choices(Relation.entries, state.relation, { s.label(it.labelZh(), it.labelEn()) }) { onEvent(ResidentFormEvent.RelationChosen(it)) }
        SectionTitle(s[Str.resident_residency])
        Choices(Residency.entries, state.residency, { s.label(it.labelZh(), it.labelEn()) }) { onEvent(ResidentFormEvent.ResidencyChosen(it)) }
        SectionTitle(s[Str.resident_special_groups])
        Toggles(SpecialGroup.entries, state.specialGroups, { s.label(it.labelZh(), it.labelEn()) }) {
            onEvent(ResidentFormEvent.SpecialGroupToggled(it))
        }
        Field(s[Str.resident_notes], state.notes, { onEvent(ResidentFormEvent.NotesChanged(it)) }, e["notes"], minLines = 2)
        BigButton(s[Str.resident_save], { onEvent(ResidentFormEvent.Save) }, enabled = !state.saving)
    }
}
