// The Android app of Gridwalk, as Android Studio opens it. Modules:
//   presentation  pure Kotlin/JVM: view models, repository (every decision of the app)
//   ui            Compose screens (Android library; also compiled for the desktop JVM in tests)
//   app           the Android application (activity, WorkManager, GPS service, camera, keys)
//   bindings-jvm  the uniffi Kotlin bindings, JVM flavour, generated from the Rust library
// core-tests/ is run by scripts/test-bindings.sh, not by Gradle.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "gridwalk-android"
include(":bindings-jvm", ":presentation", ":ui", ":app")
