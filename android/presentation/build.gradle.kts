// Pure Kotlin/JVM: no Android dependency, so every decision of the app is compiled and tested
// on any JVM (scripts/test-android.sh does it with kotlinc on the build machines).
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin { jvmToolchain(17) }

dependencies {
    // The bindings' API; at run time the app supplies its Android flavour of the same classes.
    compileOnly(project(":bindings-jvm"))
    implementation(libs.kotlinx.coroutines.core)

    testImplementation(project(":bindings-jvm"))
    testImplementation(libs.kotlinx.coroutines.test)
    testImplementation(libs.junit.jupiter)
    testImplementation(kotlin("test-junit5"))
}

tasks.test {
    useJUnitPlatform()
    // The host library (scripts/kotlin-bindings.sh builds it) and a demo sync server
    // (`gridwalk-server serve --demo`, its address in GRIDWALK_SERVER_URL).
    val target = System.getenv("CARGO_TARGET_DIR") ?: "${System.getProperty("user.home")}/.cache/gridwalk/target"
    systemProperty("jna.library.path", "$target/debug")
}
