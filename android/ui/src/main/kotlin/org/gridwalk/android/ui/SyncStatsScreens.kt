// Sync: last sync, what waits to go, the run's progress with cancel, conflicts to choose
// between, and the "needs attention" list with retry / discard. Stats: day / week / month.
package org.gridwalk.android.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import org.gridwalk.android.presentation.StatsEvent
import org.gridwalk.android.presentation.StatsState
import org.gridwalk.android.presentation.SyncEvent
import org.gridwalk.android.presentation.SyncState
import org.gridwalk.core.Period
import org.gridwalk.core.SyncPhase

@Composable
fun SyncScreen(state: SyncState, onEvent: (SyncEvent) -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(s[Str.sync_title], onBack) {
        ErrorBanner(state.error) { onEvent(SyncEvent.SyncNow) }
        Text(
            state.lastSyncMs?.let { s.format(Str.sync_last, Formats.dateTime(it)) } ?: s[Str.sync_never],
            style = MaterialTheme.typography.titleMedium,
        )
        Text(s.format(Str.sync_pending, state.pendingCount), style = MaterialTheme.typography.bodyLarge)
        if (state.running) {
            val phase = when (state.phase) {
                SyncPhase.PUSH -> s[Str.sync_phase_push]
                SyncPhase.PULL -> s[Str.sync_phase_pull]
                SyncPhase.UPLOAD -> s[Str.sync_phase_upload]
                SyncPhase.DONE -> s[Str.sync_phase_done]
                null -> s[Str.loading]
            }
            Text(phase + (state.total?.let { "  " + s.format(Str.sync_progress, state.done, it) } ?: ""), style = MaterialTheme.typography.bodyLarge)
            val total = state.total
            if (total != null && total > 0) {
                LinearProgressIndicator(progress = { (state.done.toFloat() / total).coerceIn(0f, 1f) }, modifier = Modifier.fillMaxWidth())
            } else {
                LinearProgressIndicator(Modifier.fillMaxWidth())
            }
            SecondButton(s[Str.sync_cancel], { onEvent(SyncEvent.Cancel) }, Modifier.fillMaxWidth())
        } else {
            state.lastSummary?.let {
                Text(s.format(Str.sync_result, it.pushed, it.pulled, it.photosUploaded), style = MaterialTheme.typography.bodyLarge)
            }
            BigButton(s[Str.sync_now], { onEvent(SyncEvent.SyncNow) })
        }
        if (state.conflicts.isNotEmpty()) {
            SectionTitle(s[Str.sync_conflicts])
            for (c in state.conflicts) {
                ListLine(null) {
                    Text(Formats.entity(s, c.entity) + " · " + Formats.field(s, c.field), style = MaterialTheme.typography.titleMedium)
                    Text(s[Str.sync_conflict_current] + "：" + c.keptText, style = MaterialTheme.typography.bodyLarge)
                    Text(s[Str.sync_conflict_other] + "：" + c.lostText, style = MaterialTheme.typography.bodyLarge)
                    Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        SecondButton(s[Str.sync_keep_current], { onEvent(SyncEvent.KeepCurrent(c.id)) }, Modifier.weight(1f))
                        SecondButton(s[Str.sync_take_other], { onEvent(SyncEvent.TakeOther(c.id)) }, Modifier.weight(1f))
                    }
                }
            }
        }
        SectionTitle(s[Str.sync_attention])
        if (state.attention.isEmpty()) Text(s[Str.sync_all_done], style = MaterialTheme.typography.bodyLarge)
        for (a in state.attention) {
            ListLine(null) {
                Text(
                    Formats.entity(s, a.entity) + " · " + Formats.op(s, a.op) + (a.field?.let { " · " + Formats.field(s, it) } ?: ""),
                    style = MaterialTheme.typography.titleMedium,
                )
                Text(a.message, style = MaterialTheme.typography.bodyMedium)
                Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    SecondButton(s[Str.sync_retry], { onEvent(SyncEvent.Retry(a.changeId)) }, Modifier.weight(1f))
                    SecondButton(s[Str.sync_discard], { onEvent(SyncEvent.Discard(a.changeId)) }, Modifier.weight(1f))
                }
            }
        }
    }
}

@Composable
fun StatsScreen(state: StatsState, onEvent: (StatsEvent) -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(s[Str.stats_title], onBack) {
        ErrorBanner(state.error) { onEvent(StatsEvent.Refresh) }
        Choices(Period.entries, state.period, {
            when (it) {
                Period.DAY -> s[Str.stats_day]
                Period.WEEK -> s[Str.stats_week]
                Period.MONTH -> s[Str.stats_month]
            }
        }) { onEvent(StatsEvent.PeriodChosen(it)) }
        if (state.firstDay.isNotEmpty()) Text(s.format(Str.stats_range, state.firstDay, state.lastDay), style = MaterialTheme.typography.titleMedium)
        StatLine(s[Str.stats_visits], state.visits.toString())
        for ((mode, n) in state.visitsByMode.entries.sortedBy { it.key.ordinal }) {
            StatLine("  · " + s.label(mode.labelZh(), mode.labelEn()), n.toString())
        }
        StatLine(s[Str.stats_households_visited], state.householdsVisited.toString())
        StatLine(s[Str.stats_patrols], state.patrols.toString())
        StatLine(s[Str.stats_patrols_short], state.patrolsTooShort.toString())
        Text(s.format(Str.stats_patrol_time, state.patrolMinutes) + "，" + s.format(Str.stats_patrol_km, state.patrolKm), style = MaterialTheme.typography.bodyLarge)
        StatLine(s[Str.stats_cases], state.cases.toString())
        for (c in state.casesByCategory) StatLine("  · " + s.pick(c.label), c.count.toString())
    }
}

@Composable
private fun StatLine(label: String, value: String) {
    Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.SpaceBetween) {
        Text(label, style = MaterialTheme.typography.bodyLarge)
        Text(value, style = MaterialTheme.typography.titleLarge)
    }
}
