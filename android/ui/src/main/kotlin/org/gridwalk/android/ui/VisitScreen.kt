// A visit: "nobody home" is the first and biggest button (one tap logs it); otherwise how, what
// was found and notes in a large field that voice input can fill.
package org.gridwalk.android.ui

import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import org.gridwalk.android.presentation.VisitEvent
import org.gridwalk.android.presentation.VisitState
import org.gridwalk.core.VisitMode
import org.gridwalk.core.VisitOutcome

@Composable
fun VisitScreen(state: VisitState, onEvent: (VisitEvent) -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(s[Str.visit_title], onBack) {
        Text(state.addressLine, style = MaterialTheme.typography.titleMedium)
        ErrorBanner(state.error)
        BigButton(s[Str.visit_not_at_home], { onEvent(VisitEvent.NotAtHome) }, enabled = !state.saving)
        Divider()
        SectionTitle(s[Str.visit_mode])
        Choices(VisitMode.entries.filter { it != VisitMode.NOT_AT_HOME }, state.mode, { s.label(it.labelZh(), it.labelEn()) }) {
            onEvent(VisitEvent.ModeChosen(it))
        }
        SectionTitle(s[Str.visit_outcome])
        Choices(VisitOutcome.entries, state.outcome, { s.label(it.labelZh(), it.labelEn()) }) { onEvent(VisitEvent.OutcomeChosen(it)) }
        Field(s[Str.visit_notes], state.notes, { onEvent(VisitEvent.NotesChanged(it)) }, state.fieldErrors["notes"], minLines = 4)
        BigButton(s[Str.visit_save], { onEvent(VisitEvent.Save) }, enabled = !state.saving)
    }
}
