// Today (今日待办): each line says what and where, how overdue and how far; tapping it goes
// and does it. The bottom row reaches the other sections.
package org.gridwalk.android.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import org.gridwalk.android.presentation.Destination
import org.gridwalk.android.presentation.TodayEvent
import org.gridwalk.android.presentation.TodayRow
import org.gridwalk.android.presentation.TodayState
import org.gridwalk.core.Priority
import org.gridwalk.core.TodayKind

@Composable
fun TodayScreen(state: TodayState, onEvent: (TodayEvent) -> Unit, onNavigate: (Destination) -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(s[Str.today_title] + "  " + state.day) {
        ErrorBanner(state.error) { onEvent(TodayEvent.Refresh()) }
        if (state.loading && state.rows.isEmpty()) Text(s[Str.loading], style = MaterialTheme.typography.bodyLarge)
        if (!state.loading && state.rows.isEmpty()) Text(s[Str.today_empty], style = MaterialTheme.typography.bodyLarge)
        for (row in state.rows) TodayLine(row) { onEvent(TodayEvent.Act(row)) }
        SectionRow(onNavigate)
    }
}

@Composable
private fun TodayLine(row: TodayRow, onAct: () -> Unit) {
    val s = LocalStrings.current
    ListLine(onAct) {
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalAlignment = Alignment.CenterVertically) {
            Badge(kindLabel(row.kind), if (row.priority == Priority.URGENT || row.priority == Priority.HIGH) GridwalkColors.Danger else GridwalkColors.Primary)
            if (row.overdueDays > 0) Badge(s.format(Str.today_overdue_days, row.overdueDays), GridwalkColors.Danger)
            row.distanceM?.let { Text(Formats.distance(s, it), style = MaterialTheme.typography.labelMedium) }
        }
        Text(row.title, style = MaterialTheme.typography.titleMedium)
        if (row.detail.isNotBlank()) Text(row.detail, style = MaterialTheme.typography.bodyMedium)
    }
}

@Composable
private fun kindLabel(kind: TodayKind): String {
    val s = LocalStrings.current
    return when (kind) {
        TodayKind.TASK -> s[Str.today_kind_task]
        TodayKind.VISIT_DUE -> s[Str.today_kind_visit_due]
        TodayKind.VERIFY_CASE -> s[Str.today_kind_verify_case]
        TodayKind.PATROL -> s[Str.today_kind_patrol]
        TodayKind.DRAFT_CASE -> s[Str.today_kind_draft_case]
    }
}

/** The sections, as big buttons (the app's bottom navigation on small screens). */
@Composable
fun SectionRow(onNavigate: (Destination) -> Unit) {
    val s = LocalStrings.current
    Divider()
    Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
        SecondButton(s[Str.nav_households], { onNavigate(Destination.Households) }, Modifier.weight(1f))
        SecondButton(s[Str.nav_patrol], { onNavigate(Destination.Patrol) }, Modifier.weight(1f))
        SecondButton(s[Str.nav_cases], { onNavigate(Destination.Cases) }, Modifier.weight(1f))
    }
    Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
        SecondButton(s[Str.nav_sync], { onNavigate(Destination.Sync) }, Modifier.weight(1f))
        SecondButton(s[Str.nav_stats], { onNavigate(Destination.Stats) }, Modifier.weight(1f))
    }
}
