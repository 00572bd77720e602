// Pieces every screen uses: the screen frame with its title and back button, big buttons,
// choice chips, text fields that show their error underneath, the sync badge, the overdue
// badge, the error banner, and photo thumbnails (decoded by the platform's `Thumbnails`).
package org.gridwalk.android.ui

import androidx.compose.foundation.Image
import androidx.compose.foundation.background
import androidx.compose.foundation.border
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.ExperimentalLayoutApi
import androidx.compose.foundation.layout.FlowRow
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.heightIn
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.FilterChip
import androidx.compose.material3.FilterChipDefaults
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.staticCompositionLocalOf
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.ImageBitmap
import androidx.compose.ui.layout.ContentScale
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import org.gridwalk.android.presentation.UiError
import org.gridwalk.core.SyncStatus

/** Decodes a thumbnail file the core wrote (platform code: BitmapFactory on Android). */
fun interface Thumbnails {
    fun load(path: String): ImageBitmap?
}

val LocalThumbnails = staticCompositionLocalOf<Thumbnails> { Thumbnails { null } }

/** A screen: a title bar (with a back button when [onBack] is given) over scrolling content. */
@Composable
fun ScreenFrame(
    title: String,
    onBack: (() -> Unit)? = null,
    scroll: Boolean = true,
    content: @Composable () -> Unit,
) {
    val s = LocalStrings.current
    Column(Modifier.fillMaxSize().background(MaterialTheme.colorScheme.background)) {
        Row(
            Modifier.fillMaxWidth().background(MaterialTheme.colorScheme.primary).heightIn(min = TouchTarget)
                .padding(horizontal = 8.dp),
            verticalAlignment = Alignment.CenterVertically,
        ) {
            if (onBack != null) {
                OutlinedButton(
                    onClick = onBack, modifier = Modifier.heightIn(min = TouchTarget),
                    colors = ButtonDefaults.outlinedButtonColors(contentColor = MaterialTheme.colorScheme.onPrimary),
                ) { Text("‹ " + s[Str.back]) }
                Spacer(Modifier.size(8.dp))
            }
            Text(
                title, style = MaterialTheme.typography.titleLarge, color = MaterialTheme.colorScheme.onPrimary,
                modifier = Modifier.padding(vertical = 12.dp, horizontal = 8.dp),
            )
        }
        val body = Modifier.fillMaxWidth().padding(16.dp)
        Column(
            if (scroll) body.verticalScroll(rememberScrollState()) else body,
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) { content() }
    }
}

@Composable
fun BigButton(text: String, onClick: () -> Unit, modifier: Modifier = Modifier, enabled: Boolean = true, danger: Boolean = false) {
    Button(
        onClick = onClick, enabled = enabled,
        modifier = modifier.fillMaxWidth().heightIn(min = 64.dp),
        colors = if (danger) ButtonDefaults.buttonColors(containerColor = MaterialTheme.colorScheme.error)
        else ButtonDefaults.buttonColors(),
        shape = RoundedCornerShape(10.dp),
    ) { Text(text, style = MaterialTheme.typography.labelLarge) }
}

@Composable
fun SecondButton(text: String, onClick: () -> Unit, modifier: Modifier = Modifier, enabled: Boolean = true) {
    OutlinedButton(
        onClick = onClick, enabled = enabled, modifier = modifier.heightIn(min = TouchTarget),
        shape = RoundedCornerShape(10.dp),
    ) { Text(text, style = MaterialTheme.typography.labelLarge) }
}

@Composable
fun SectionTitle(text: String) {
    Text(text, style = MaterialTheme.typography.titleMedium, modifier = Modifier.padding(top = 8.dp))
}

/** One choice among a few, as large chips that wrap onto more lines. */
@OptIn(ExperimentalLayoutApi::class)
@Composable
fun <T> Choices(options: List<T>, selected: T?, label: (T) -> String, onChoose: (T) -> Unit) {
    FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
        for (o in options) {
            FilterChip(
                selected = o == selected, onClick = { onChoose(o) },
                label = { Text(label(o), style = MaterialTheme.typography.bodyLarge) },
                modifier = Modifier.heightIn(min = TouchTarget), colors = chipColors(),
            )
        }
    }
}

/** A chosen chip is filled in the primary colour: unmistakable in sunlight. */
@Composable
private fun chipColors() = FilterChipDefaults.filterChipColors(
    selectedContainerColor = MaterialTheme.colorScheme.primary,
    selectedLabelColor = MaterialTheme.colorScheme.onPrimary,
    labelColor = MaterialTheme.colorScheme.onSurface,
)

/** Several of a few, as large chips that each toggle. */
@OptIn(ExperimentalLayoutApi::class)
@Composable
fun <T> Toggles(options: List<T>, selected: Set<T>, label: (T) -> String, onToggle: (T) -> Unit) {
    FlowRow(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
        for (o in options) {
            FilterChip(
                selected = o in selected, onClick = { onToggle(o) },
                label = { Text(label(o), style = MaterialTheme.typography.bodyLarge) },
                modifier = Modifier.heightIn(min = TouchTarget), colors = chipColors(),
            )
        }
    }
}

/** A text field with its label and, under it, the error for that field. */
@Composable
fun Field(
    label: String,
    value: String,
    onChange: (String) -> Unit,
    error: UiError? = null,
    hint: String? = null,
    minLines: Int = 1,
    enabled: Boolean = true,
    secret: Boolean = false,
) {
    val s = LocalStrings.current
    OutlinedTextField(
        value = value, onValueChange = onChange, enabled = enabled, minLines = minLines,
        label = { Text(label) }, isError = error != null,
        modifier = Modifier.fillMaxWidth().semantics { contentDescription = label },
        textStyle = MaterialTheme.typography.bodyLarge,
        visualTransformation = if (secret) androidx.compose.ui.text.input.PasswordVisualTransformation()
        else androidx.compose.ui.text.input.VisualTransformation.None,
        supportingText = when {
            error != null -> {
                { Text(s.pick(error.message), color = MaterialTheme.colorScheme.error, fontWeight = FontWeight.SemiBold, style = MaterialTheme.typography.bodyMedium) }
            }
            hint != null -> { { Text(hint, style = MaterialTheme.typography.bodyMedium) } }
            else -> null
        },
    )
}

@Composable
fun SyncBadge(status: SyncStatus?) {
    if (status == null) return
    val s = LocalStrings.current
    val (text, color) = when (status) {
        SyncStatus.LOCAL_ONLY -> s[Str.sync_badge_local] to GridwalkColors.Warning
        SyncStatus.PENDING -> s[Str.sync_badge_pending] to GridwalkColors.Warning
        SyncStatus.SYNCED -> s[Str.sync_badge_synced] to GridwalkColors.Ok
        SyncStatus.NEEDS_ATTENTION -> s[Str.sync_badge_attention] to GridwalkColors.Danger
    }
    Badge(text, color)
}

@Composable
fun Badge(text: String, color: Color) {
    Text(
        text, color = color, style = MaterialTheme.typography.labelMedium,
        modifier = Modifier.border(2.dp, color, RoundedCornerShape(6.dp)).padding(horizontal = 8.dp, vertical = 2.dp),
    )
}

@Composable
fun ErrorBanner(error: UiError?, onRetry: (() -> Unit)? = null) {
    if (error == null) return
    val s = LocalStrings.current
    Surface(color = MaterialTheme.colorScheme.error, shape = RoundedCornerShape(8.dp), modifier = Modifier.fillMaxWidth()) {
        Row(Modifier.padding(12.dp), verticalAlignment = Alignment.CenterVertically) {
            Text(s.pick(error.message), color = MaterialTheme.colorScheme.onError, style = MaterialTheme.typography.bodyLarge,
                modifier = Modifier.weight(1f))
            if (onRetry != null) SecondButton(s[Str.error_retry], onRetry)
        }
    }
}

/** A tappable list line: the whole line is the touch target. */
@Composable
fun ListLine(onClick: (() -> Unit)?, content: @Composable () -> Unit) {
    Surface(
        onClick = onClick ?: {}, enabled = onClick != null,
        color = MaterialTheme.colorScheme.surfaceVariant, shape = RoundedCornerShape(10.dp),
        modifier = Modifier.fillMaxWidth().heightIn(min = 64.dp),
    ) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) { content() }
    }
}

@Composable
fun Thumbnail(path: String?, description: String) {
    val bitmap = path?.let { LocalThumbnails.current.load(it) }
    Box(Modifier.size(96.dp).border(2.dp, GridwalkColors.Ink, RoundedCornerShape(6.dp))) {
        if (bitmap != null) {
            Image(bitmap, description, contentScale = ContentScale.Crop, modifier = Modifier.fillMaxSize())
        }
    }
}

@Composable
fun Divider() = HorizontalDivider(Modifier.padding(vertical = 4.dp), thickness = 1.dp, color = GridwalkColors.Muted)

@Composable
fun Gap() = Spacer(Modifier.height(4.dp))
