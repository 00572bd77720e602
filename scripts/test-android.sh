#!/usr/bin/env bash
# Tests the Android app's JVM-checkable parts where they run on this machine:
#   presentation/  view models + repository, compiled with kotlinc against the generated
#                  bindings and kotlinx-coroutines, JUnit 5 against the real library and a real
#                  sync server (`gridwalk-server serve --demo` on a free loopback port); then
#                  the open-to-today / search benchmark (quick under GRIDWALK_BENCH_QUICK=1)
#   ui/            Compose screens, compiled with the Compose compiler plugin shipped in kotlinc
#                  against Compose Multiplatform's desktop artifacts, tested with Compose's UI
#                  test API on the desktop JVM (headless, software rendering); every screen is
#                  written as a PNG to $CARGO_TARGET_DIR/android-screenshots/
# app/ needs the Android SDK and Google's Maven repository and is built in Android Studio only
# (android/README.md lists what is not compiled here).
#
# Installs what it needs, idempotently: kotlinc, JNA, JUnit 5 (scripts/setup-bindings.sh), Maven
# and the jars of android/jvm-deps/*.pom.xml (copied into /root/.cache/gridwalk/android-jars),
# fonts-noto-cjk for the screenshots. Prints counts; exits non-zero when a test fails or none ran.
#
#   scripts/test-android.sh [presentation|ui ...]        (default: both)
#   scripts/test-android.sh fetch                        (install and download only)
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. scripts/env.sh

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(presentation ui)

scripts/setup-bindings.sh >/dev/null || { echo "test-android: setup-bindings failed" >&2; exit 1; }
eval "$(scripts/setup-bindings.sh --print-env | sed 's/^/export /')"

# ---- Maven jars and fonts -----------------------------------------------------------------
JARS_CACHE="${GRIDWALK_ANDROID_JARS:-$HOME/.cache/gridwalk/android-jars}"
MAVEN_REPO="$HOME/.cache/gridwalk/maven-repo"
need_apt=()
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
fc-list 2>/dev/null | grep 'Noto Sans CJK' >/dev/null || need_apt+=(fonts-noto-cjk)
command -v fc-list >/dev/null 2>&1 || need_apt+=(fontconfig)
# skiko's native library links these even when it renders in software.
for pkg in libgl1 libx11-6 libfontconfig1; do dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg"); done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "test-android: apt-get install ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${need_apt[@]}" >/dev/null || { echo "test-android: apt-get failed" >&2; exit 1; }
fi

# jars_for NAME: the folder of android/jvm-deps/NAME.pom.xml's jars, fetched once per pom version.
jars_for() {
    local pom="android/jvm-deps/$1.pom.xml"
    local dir="$JARS_CACHE/$1-$(sha256sum "$pom" | cut -c1-16)"
    if [ ! -f "$dir/.complete" ]; then
        echo "test-android: fetching the jars of $pom (Maven Central)" >&2
        local tmp
        tmp="$(mktemp -d "$JARS_CACHE/.tmp.XXXXXX")"
        if ! mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$MAVEN_REPO" dependency:copy-dependencies \
            -DoutputDirectory="$tmp" -DexcludeArtifactIds=kotlin-stdlib,kotlin-stdlib-jdk7,kotlin-stdlib-jdk8,kotlin-stdlib-common,kotlin-reflect \
            >"$tmp.log" 2>&1; then
            cat "$tmp.log" >&2
            rm -rf "$tmp" "$tmp.log"
            return 1
        fi
        rm -f "$tmp.log"
        rm -rf "$dir"
        touch "$tmp/.complete"
        mv "$tmp" "$dir"
    fi
    find "$dir" -name '*.jar' | sort | paste -sd:
}
mkdir -p "$JARS_CACHE"
# `fetch`: only install and download (the test command runs it in the background while Rust
# compiles); no build, no test.
if [ "${parts[*]}" = fetch ]; then
    jars_for presentation >/dev/null && jars_for ui >/dev/null
    exit $?
fi

# ---- the library, its Kotlin bindings, the sync server ------------------------------------
out="$CARGO_TARGET_DIR/bindings"
scripts/bindings.sh "$out" || { echo "test-android: building the library or bindings failed" >&2; exit 1; }
lib_dir="$out/lib"
logs="$CARGO_TARGET_DIR/android-test-logs"
work="$CARGO_TARGET_DIR/android-build"
shots="$CARGO_TARGET_DIR/android-screenshots"
rm -rf "$work" && mkdir -p "$work" "$logs"
. scripts/kotlin-ffi-jar.sh
. scripts/demo-server.sh
build_ffi_jar "$out" "$logs/compile.log" || { echo "test-android: compiling the bindings failed" >&2; exit 1; }

k="$KOTLIN_HOME"
kotlin_jars="$k/lib/kotlin-stdlib.jar:$k/lib/kotlin-test.jar:$k/lib/kotlin-test-junit5.jar"
junit_api="/usr/share/java/junit-jupiter-api.jar:/usr/share/java/opentest4j.jar:/usr/share/java/apiguardian-api.jar"
jna=/usr/share/java/jna.jar

# kotlinc_to OUT_JAR CLASSPATH SOURCE_DIR... [-- extra kotlinc args]
# Compiles once per version of the sources, of the class path's jars, of the arguments and of
# kotlinc: the jar is cached in $CARGO_TARGET_DIR/android-jar-cache, so a run with nothing
# changed (CI after a merge on the same machine) skips kotlinc, which takes minutes on 2 cores.
jar_cache="$CARGO_TARGET_DIR/android-jar-cache"
kotlinc_to() {
    local jar="$1" cp="$2"
    shift 2
    local srcs=() extra=()
    while [ $# -gt 0 ]; do
        if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
        srcs+=("$1")
        shift
    done
    local name files key cached
    name="$(basename "$jar" .jar)"
    files=$(find "${srcs[@]}" -name '*.kt' | sort)
    key=$( {
        echo "$files"
        cat $files
        tr ':' '\n' <<<"$cp" | while read -r j; do [ -f "$j" ] && sha256sum <"$j"; done
        echo "${extra[*]}"
        cat "$k/build.txt"
    } | sha256sum | cut -c1-16)
    cached="$jar_cache/$name-$key.jar"
    mkdir -p "$jar_cache"
    if [ -f "$cached" ]; then
        echo "== kotlinc $name: unchanged, cached"
        cp "$cached" "$jar"
        return 0
    fi
    echo "== kotlinc -Werror $name"
    "$k/bin/kotlinc" -Werror -jvm-target 17 -cp "$cp" "${extra[@]}" \
        $files -d "$jar" 2>&1 | tee -a "$logs/compile.log" | grep -v '^$' | tail -30
    [ "${PIPESTATUS[0]}" = 0 ] && [ -f "$jar" ] || return 1
    find "$jar_cache" -maxdepth 1 -name "$name-*.jar" -delete
    cp "$jar" "$cached"
}

declare -A passed failed status

# junit NAME CLASSPATH PACKAGE [java options...]
junit() {
    local name="$1" cp="$2" pkg="$3"
    shift 3
    java "$@" -Djna.library.path="$lib_dir" -jar /usr/share/java/junit-platform-console-standalone.jar \
        -cp "$cp" --scan-classpath "${cp%%:*}" --include-package "$pkg" \
        --fail-if-no-tests --disable-banner --disable-ansi-colors --details=tree \
        >"$logs/$name.log" 2>&1
    local rc=$?
    cat "$logs/$name.log"
    passed[$name]=$(sed -n 's/^\[ *\([0-9]*\) tests successful *\]$/\1/p' "$logs/$name.log")
    failed[$name]=$(sed -n 's/^\[ *\([0-9]*\) tests failed *\]$/\1/p' "$logs/$name.log")
    return $rc
}

pres_jar="$work/presentation.jar"

run_presentation() {
    local deps
    deps="$(jars_for presentation)" || return 1
    local cp="$ffi_jar:$jna:$deps"
    kotlinc_to "$pres_jar" "$cp" android/presentation/src/main/kotlin || return 1
    kotlinc_to "$work/presentation-tests.jar" "$pres_jar:$cp:$junit_api:$kotlin_jars" \
        android/presentation/src/test/kotlin || return 1
    start_demo_server "$logs" || return 1
    local rc=0
    junit presentation "$work/presentation-tests.jar:$pres_jar:$cp:$kotlin_jars" \
        org.gridwalk.android.presentation || rc=1
    echo "== benchmark: open a store of 10,000 households (2,000 when GRIDWALK_BENCH_QUICK=1) → first today state → a 2-character name search"
    java -Djna.library.path="$lib_dir" \
        -cp "$work/presentation-tests.jar:$pres_jar:$cp:$kotlin_jars" \
        org.gridwalk.android.presentation.bench.OpenToTodayBenchKt 2>&1 | tee "$logs/bench.log"
    [ "${PIPESTATUS[0]}" = 0 ] || { echo "test-android: the benchmark failed" >&2; rc=1; }
    return $rc
}

run_ui() {
    local deps
    deps="$(jars_for ui)" || return 1
    [ -f "$pres_jar" ] || { jars_for presentation >/dev/null && \
        kotlinc_to "$pres_jar" "$ffi_jar:$jna:$(jars_for presentation)" android/presentation/src/main/kotlin; } || return 1
    local cp="$pres_jar:$ffi_jar:$jna:$deps"
    local plugin="-Xplugin=$k/lib/compose-compiler-plugin.jar"
    kotlinc_to "$work/ui.jar" "$cp" android/ui/src/main/kotlin -- "$plugin" || return 1
    # The string resources travel with the classes (the desktop reader loads them by path).
    (cd android/ui/src/main && jar cf "$work/ui-res.jar" res) || return 1
    kotlinc_to "$work/ui-tests.jar" "$work/ui.jar:$cp:$junit_api:$kotlin_jars" \
        android/ui/src/test/kotlin -- "$plugin" || return 1
    rm -rf "$shots" && mkdir -p "$shots"
    junit ui "$work/ui-tests.jar:$work/ui.jar:$work/ui-res.jar:$cp:$kotlin_jars" org.gridwalk.android.ui \
        -Djava.awt.headless=true -Dskiko.renderApi=SOFTWARE -Dskiko.data.path="$HOME/.cache/gridwalk/skiko" \
        -Dgridwalk.screenshots="$shots"
    local rc=$?
    echo "== screenshots in $shots:"
    ls "$shots" 2>/dev/null | sed 's/^/  /'
    return $rc
}

for p in "${parts[@]}"; do
    case "$p" in
        presentation | ui) ;;
        *) echo "test-android: unknown part $p (presentation, ui)" >&2; exit 2 ;;
    esac
    start=$SECONDS
    if "run_$p"; then status[$p]=ok; else status[$p]=FAILED; fi
    passed[$p]=${passed[$p]:-0}
    failed[$p]=${failed[$p]:-0}
    if [ "${passed[$p]}" -eq 0 ] && [ "${failed[$p]}" -eq 0 ]; then status[$p]="FAILED (no tests ran)"; fi
    if [ "${failed[$p]}" -gt 0 ]; then status[$p]=FAILED; fi
    echo "-- android $p: ${passed[$p]} passed, ${failed[$p]} failed ($((SECONDS - start))s)"
done

echo
echo "== android tests (logs in $logs)"
verdict=0
total_passed=0
total_failed=0
for p in "${parts[@]}"; do
    printf '  %-13s %3s passed  %3s failed  %s\n' "$p" "${passed[$p]}" "${failed[$p]}" "${status[$p]}"
    total_passed=$((total_passed + passed[$p]))
    total_failed=$((total_failed + failed[$p]))
    [ "${status[$p]}" = ok ] || verdict=1
done
echo "android: $total_passed passed, $total_failed failed"
exit $verdict
