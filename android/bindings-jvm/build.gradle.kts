// The uniffi Kotlin bindings, JVM flavour, generated from the host build of the Rust library
// (scripts/kotlin-bindings.sh). presentation/ and ui/ compile against them (compileOnly); the
// app compiles its own Android flavour (app/build.gradle.kts), which has the same API.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin { jvmToolchain(17) }

val generated = layout.buildDirectory.dir("generated/uniffi")

val generateBindings by tasks.registering(Exec::class) {
    description = "Builds the Rust library for this machine and generates its Kotlin bindings."
    workingDir = rootDir.parentFile
    commandLine("scripts/kotlin-bindings.sh", generated.get().asFile.path)
    outputs.dir(generated)
}

sourceSets["main"].kotlin.srcDir(generateBindings)

dependencies {
    implementation(libs.jna)
    implementation(libs.kotlinx.coroutines.core)
}
