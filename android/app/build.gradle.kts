// The Android application: thin. The Rust library is cross-compiled with cargo-ndk into
// jniLibs and its Kotlin bindings generated in the Android flavour (uniffi-android.toml).
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "org.gridwalk.android.app"
    compileSdk = 36
    defaultConfig {
        applicationId = "org.gridwalk.android"
        minSdk = 26
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    buildFeatures { compose = true }
}

kotlin { jvmToolchain(17) }

val repo = rootDir.parentFile
val bindings = layout.buildDirectory.dir("generated/uniffi-android")
val jniLibs = layout.buildDirectory.dir("generated/jniLibs")

val generateAndroidBindings by tasks.registering(Exec::class) {
    workingDir = repo
    commandLine("scripts/kotlin-bindings.sh", "--android", bindings.get().asFile.path)
    outputs.dir(bindings)
}

// libgridwalk_ffi.so for the phones' ABIs (needs the NDK and `cargo install cargo-ndk`), release
// profile release-ffi (stripped, LTO), with SQLCipher (feature `sqlcipher`).
val cargoNdk by tasks.registering(Exec::class) {
    workingDir = repo
    commandLine(
        "cargo", "ndk", "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64", "--platform", "26",
        "-o", jniLibs.get().asFile.path, "build", "-p", "gridwalk-bindings", "--profile", "release-ffi",
        "--features", "sqlcipher",
    )
    outputs.dir(jniLibs)
}

android.sourceSets["main"].kotlin.srcDir(generateAndroidBindings)
android.sourceSets["main"].jniLibs.srcDir(cargoNdk)

dependencies {
    implementation(project(":ui"))
    implementation(project(":presentation"))
    implementation("${libs.jna.get()}@aar")
    implementation(libs.kotlinx.coroutines.android)
    implementation(platform(libs.compose.bom))
    implementation(libs.compose.ui)
    implementation(libs.compose.material3)
    implementation(libs.activity.compose)
    implementation(libs.lifecycle.viewmodel.compose)
    implementation(libs.lifecycle.runtime.compose)
    implementation(libs.lifecycle.viewmodel.savedstate)
    implementation(libs.navigation.compose)
    implementation(libs.work.runtime)
}
