// Patrol: pick the grid, start; while it runs, distance, time and fixes in big numbers and the
// track drawn; stop. Whether the finished patrol counts toward today is said plainly.
package org.gridwalk.android.ui

import androidx.compose.foundation.Canvas
import androidx.compose.foundation.border
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Path
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.unit.dp
import org.gridwalk.android.presentation.PatrolEvent
import org.gridwalk.android.presentation.PatrolState
import org.gridwalk.core.GeoPoint

@Composable
fun PatrolScreen(state: PatrolState, onEvent: (PatrolEvent) -> Unit, onBack: () -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(s[Str.patrol_title], onBack) {
        ErrorBanner(state.error)
        if (!state.running) {
            SectionTitle(s[Str.patrol_grid])
            Choices(state.grids, state.grids.firstOrNull { it.code == state.gridCode }, { it.name }) {
                onEvent(PatrolEvent.GridChosen(it.code))
            }
        }
        Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.SpaceBetween) {
            Figure(s[Str.patrol_distance], Formats.distance(s, state.distanceM))
            Figure(s[Str.patrol_time], Formats.duration(state.durationS))
            Figure(s[Str.patrol_fixes], state.fixes.toString())
        }
        Track(state.track, Modifier.fillMaxWidth().height(260.dp).semantics { contentDescription = "track" })
        if (state.running) {
            Text(s[Str.patrol_running], style = MaterialTheme.typography.bodyLarge, color = GridwalkColors.Ok)
            Field(s[Str.patrol_notes], state.notes, { onEvent(PatrolEvent.NotesChanged(it)) }, minLines = 2)
            BigButton(s[Str.patrol_stop], { onEvent(PatrolEvent.Stop) }, enabled = !state.busy, danger = true)
        } else {
            state.lastFinished?.let {
                Text(
                    if (it.counts) s[Str.patrol_finished_counts] else s[Str.patrol_finished_short],
                    style = MaterialTheme.typography.bodyLarge,
                    color = if (it.counts) GridwalkColors.Ok else GridwalkColors.Warning,
                )
            }
            BigButton(s[Str.patrol_start], { onEvent(PatrolEvent.Start) }, enabled = !state.busy && state.gridCode != null)
        }
    }
}

@Composable
private fun Figure(label: String, value: String) {
    Column {
        Text(label, style = MaterialTheme.typography.labelMedium)
        Text(value, style = MaterialTheme.typography.headlineSmall)
    }
}

/** The track as a line scaled to fit, north up (no map tiles: nothing to download offline). */
@Composable
fun Track(points: List<GeoPoint>, modifier: Modifier) {
    Canvas(modifier.border(2.dp, GridwalkColors.Ink).padding(12.dp)) {
        if (points.isEmpty()) return@Canvas
        val minLat = points.minOf { it.lat }
        val maxLat = points.maxOf { it.lat }
        val minLng = points.minOf { it.lng }
        val maxLng = points.maxOf { it.lng }
        val span = maxOf(maxLat - minLat, maxLng - minLng, 1e-6)
        fun at(p: GeoPoint) = Offset(
            ((p.lng - minLng) / span * size.minDimension).toFloat(),
            (size.height - (p.lat - minLat) / span * size.minDimension).toFloat(),
        )
        val path = Path()
        points.forEachIndexed { i, p -> at(p).let { if (i == 0) path.moveTo(it.x, it.y) else path.lineTo(it.x, it.y) } }
        drawPath(path, GridwalkColors.Primary, style = Stroke(width = 6f))
        drawCircle(GridwalkColors.Ok, 12f, at(points.first()))
        drawCircle(GridwalkColors.Danger, 12f, at(points.last()))
    }
}
