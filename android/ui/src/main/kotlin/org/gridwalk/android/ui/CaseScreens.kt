// Cases: the draft (category → sub-type, urgency, description, photos, place, submit; saved as
// the worker goes), the list with the verification tasks first, and one case with its timeline
// and the on-site verification (after-photos, fixed / not fixed).
package org.gridwalk.android.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.ExperimentalLayoutApi
import androidx.compose.foundation.layout.FlowRow
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import org.gridwalk.android.presentation.CaseDraftEvent
import org.gridwalk.android.presentation.CaseDraftState
import org.gridwalk.android.presentation.CaseEvent
import org.gridwalk.android.presentation.CaseRow
import org.gridwalk.android.presentation.CaseState
import org.gridwalk.android.presentation.CasesEvent
import org.gridwalk.android.presentation.CasesState
import org.gridwalk.core.Urgency

@OptIn(ExperimentalLayoutApi::class)
@Composable
fun CaseDraftScreen(
    state: CaseDraftState,
    onEvent: (CaseDraftEvent) -> Unit,
    onTakePhoto: () -> Unit,
    onLocate: () -> Unit,
    onBack: () -> Unit,
) {
    val s = LocalStrings.current
    val e = state.fieldErrors
    ScreenFrame(s[Str.case_title], onBack) {
        ErrorBanner(state.error)
        if (state.draftId != null) Text(s[Str.case_draft_saved], color = GridwalkColors.Ok)
        SectionTitle(s[Str.case_category])
        Choices(state.categories, state.categories.firstOrNull { it.code == state.category }, { s.label(it.labelZh, it.labelEn) }) {
            onEvent(CaseDraftEvent.CategoryChosen(it.code))
        }
        if (state.subTypes.isNotEmpty()) {
            SectionTitle(s[Str.case_sub_type])
            Choices(state.subTypes, state.subTypes.firstOrNull { it.code == state.typeCode }, { s.label(it.labelZh, it.labelEn) }) {
                onEvent(CaseDraftEvent.SubTypeChosen(it.code))
            }
        }
        e["type_code"]?.let { Text(s.pick(it.message), color = MaterialTheme.colorScheme.error) }
        SectionTitle(s[Str.case_urgency])
        Choices(Urgency.entries, state.urgency, { s.label(it.labelZh(), it.labelEn()) }) { onEvent(CaseDraftEvent.UrgencyChosen(it)) }
        Field(
            s[Str.case_description], state.description, { onEvent(CaseDraftEvent.DescriptionChanged(it)) }, e["description"],
            hint = s[Str.case_description_hint], minLines = 4,
        )
        Field(s[Str.case_address], state.address, { onEvent(CaseDraftEvent.AddressChanged(it)) }, e["address"])
        Text(
            s[Str.case_location] + "：" + (state.location?.let { s.format(Str.case_location_at, it.lat, it.lng) } ?: s[Str.case_location_none]),
            style = MaterialTheme.typography.bodyLarge,
        )
        e["location"]?.let { Text(s.pick(it.message), color = MaterialTheme.colorScheme.error) }
        SecondButton(s[Str.case_locate], onLocate, Modifier.fillMaxWidth())
        SectionTitle(s[Str.case_photos])
        FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            for (p in state.photos) Thumbnail(p.thumbPath, s[Str.case_photos])
        }
        e["photo"]?.let { Text(s.pick(it.message), color = MaterialTheme.colorScheme.error) }
        SecondButton(s[Str.case_take_photo], onTakePhoto, Modifier.fillMaxWidth())
        BigButton(s[Str.case_submit], { onEvent(CaseDraftEvent.Submit) }, enabled = !state.busy)
        if (state.draftId != null) SecondButton(s[Str.case_discard], { onEvent(CaseDraftEvent.Discard) })
    }
}

@Composable
fun CasesScreen(state: CasesState, onEvent: (CasesEvent) -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(s[Str.cases_title], onBack) {
        ErrorBanner(state.error) { onEvent(CasesEvent.Refresh) }
        BigButton(s[Str.cases_new], { onEvent(CasesEvent.NewCase) })
        if (state.toVerify.isNotEmpty()) {
            SectionTitle(s[Str.cases_to_verify])
            for (c in state.toVerify) CaseLine(c) { onEvent(CasesEvent.Open(c.id)) }
        }
        SectionTitle(s[Str.cases_all])
        if (state.cases.isEmpty() && !state.loading) Text(s[Str.cases_empty])
        for (c in state.cases) CaseLine(c) { onEvent(CasesEvent.Open(c.id)) }
    }
}

@Composable
private fun CaseLine(c: CaseRow, onOpen: () -> Unit) {
    val s = LocalStrings.current
    ListLine(onOpen) {
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalAlignment = Alignment.CenterVertically) {
            Badge(s.label(c.status.labelZh(), c.status.labelEn()), GridwalkColors.Primary)
            if (c.urgency != Urgency.NORMAL) Badge(s.label(c.urgency.labelZh(), c.urgency.labelEn()), GridwalkColors.Danger)
            SyncBadge(c.syncStatus)
        }
        Text(s.pick(c.typeLabel), style = MaterialTheme.typography.titleMedium)
        if (c.description.isNotBlank()) Text(c.description, style = MaterialTheme.typography.bodyMedium, maxLines = 2)
    }
}

@OptIn(ExperimentalLayoutApi::class)
@Composable
fun CaseScreen(state: CaseState, onEvent: (CaseEvent) -> Unit, onTakeAfterPhoto: () -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    val c = state.case
    ScreenFrame(c?.let { s.pick(it.typeLabel) } ?: s[Str.loading], onBack) {
        ErrorBanner(state.error) { onEvent(CaseEvent.Refresh) }
        if (c != null) {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Badge(s.label(c.status.labelZh(), c.status.labelEn()), GridwalkColors.Primary)
                SyncBadge(c.syncStatus)
            }
            Text(c.description, style = MaterialTheme.typography.bodyLarge)
            state.address?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
        }
        FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            for (p in state.photos) Thumbnail(p.thumbPath, s[Str.case_photos])
        }
        if (state.canVerify) {
            SectionTitle(s[Str.case_verify_title])
            Text(s.format(Str.case_after_photos, state.afterPhotoPaths.size), style = MaterialTheme.typography.bodyLarge)
            state.fieldErrors["after_photos"]?.let { Text(s.pick(it.message), color = MaterialTheme.colorScheme.error) }
            SecondButton(s[Str.case_after_photo], onTakeAfterPhoto, Modifier.fillMaxWidth())
            Field(s[Str.case_verify_note], state.note, { onEvent(CaseEvent.NoteChanged(it)) }, state.fieldErrors["note"], minLines = 3)
            BigButton(s[Str.case_confirm], { onEvent(CaseEvent.Confirm) }, enabled = !state.busy)
            BigButton(s[Str.case_reject], { onEvent(CaseEvent.Reject) }, enabled = !state.busy, danger = true)
        }
        if (state.verificationSent) Text(s[Str.case_verification_sent], color = GridwalkColors.Ok, style = MaterialTheme.typography.bodyLarge)
        SectionTitle(s[Str.case_detail_timeline])
        for (t in state.timeline) {
            ListLine(null) {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalAlignment = Alignment.CenterVertically) {
                    Text(Formats.dateTime(t.atMs), style = MaterialTheme.typography.labelLarge)
                    Text(s.label(t.kind.labelZh(), t.kind.labelEn()), style = MaterialTheme.typography.bodyLarge)
                    t.status?.let { Badge(s.label(it.labelZh(), it.labelEn()), GridwalkColors.Primary) }
                }
                t.note?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
            }
        }
    }
}
