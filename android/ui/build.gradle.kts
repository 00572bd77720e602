// Compose screens: stateless, rendering presentation's UI state and sending its events. Only
// androidx.compose APIs that Compose Multiplatform also has on the desktop are used, so the
// same sources compile for the desktop JVM tests (scripts/test-android.sh).
plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "org.gridwalk.android.ui"
    compileSdk = 36
    defaultConfig { minSdk = 26 }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin { jvmToolchain(17) }

dependencies {
    api(project(":presentation"))
    compileOnly(project(":bindings-jvm"))
    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.foundation)
    implementation(libs.compose.material3)
}
