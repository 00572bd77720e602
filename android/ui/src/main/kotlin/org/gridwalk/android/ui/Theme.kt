// The look: high contrast for a phone read in sunlight (near-black on white, saturated accents,
// no grey-on-grey), big type that follows the system font scale (every size is in sp), and
// touch targets of at least 56 dp for big thumbs on a cracked screen.
package org.gridwalk.android.ui

import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Typography
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.text.TextStyle
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp

object GridwalkColors {
    val Ink = Color(0xFF111111)
    val Paper = Color(0xFFFFFFFF)
    val Primary = Color(0xFF0B3D91)
    val Danger = Color(0xFFB00020)
    val Warning = Color(0xFF8A4B00)
    val Ok = Color(0xFF1B5E20)
    val Muted = Color(0xFF3C3C3C)
    val Surface = Color(0xFFF1F3F8)
}

/** Smallest height of anything the worker taps. */
val TouchTarget = 56.dp

private val colors = lightColorScheme(
    primary = GridwalkColors.Primary,
    onPrimary = GridwalkColors.Paper,
    secondary = GridwalkColors.Ok,
    onSecondary = GridwalkColors.Paper,
    error = GridwalkColors.Danger,
    onError = GridwalkColors.Paper,
    background = GridwalkColors.Paper,
    onBackground = GridwalkColors.Ink,
    surface = GridwalkColors.Paper,
    onSurface = GridwalkColors.Ink,
    surfaceVariant = GridwalkColors.Surface,
    onSurfaceVariant = GridwalkColors.Ink,
    outline = GridwalkColors.Ink,
)

private val type = Typography(
    headlineSmall = TextStyle(fontSize = 28.sp, lineHeight = 34.sp, fontWeight = FontWeight.Bold),
    titleLarge = TextStyle(fontSize = 24.sp, lineHeight = 30.sp, fontWeight = FontWeight.Bold),
    titleMedium = TextStyle(fontSize = 21.sp, lineHeight = 28.sp, fontWeight = FontWeight.SemiBold),
    bodyLarge = TextStyle(fontSize = 20.sp, lineHeight = 28.sp),
    bodyMedium = TextStyle(fontSize = 18.sp, lineHeight = 25.sp),
    labelLarge = TextStyle(fontSize = 20.sp, lineHeight = 24.sp, fontWeight = FontWeight.SemiBold),
    labelMedium = TextStyle(fontSize = 16.sp, lineHeight = 20.sp, fontWeight = FontWeight.SemiBold),
)

@Composable
fun GridwalkTheme(content: @Composable () -> Unit) {
    MaterialTheme(colorScheme = colors, typography = type, content = content)
}
