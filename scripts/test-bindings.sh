#!/usr/bin/env bash
# Tests the bindings where they are used: builds the library, generates Kotlin, Swift and
# Python from it, and runs the three suites against it —
#   Kotlin  android/core-tests  (kotlinc + JNA + JUnit 5 on the JVM)
#   Swift   ios/GridwalkCore    (swift test, XCTest, in the trixie chroot)
#   Python  python/tests        (pytest)
# each also signing in and syncing against a real sync server (`gridwalk-server serve --demo`)
# started here on a free loopback port and stopped on exit.
# Prints pass/fail counts per suite; exits non-zero if any suite fails or runs no test.
#
#   scripts/test-bindings.sh [kotlin|swift|python ...]     (default: all three)
set -uo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. scripts/env.sh

scripts/setup-bindings.sh
eval "$(scripts/setup-bindings.sh --print-env | sed 's/^/export /')"

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(kotlin swift python)

out="$CARGO_TARGET_DIR/bindings"
scripts/bindings.sh "$out" || { echo "test-bindings: building the library or bindings failed" >&2; exit 1; }
lib_dir="$out/lib"
logs="$out/logs"
mkdir -p "$logs"

# ---- the sync server, on loopback --------------------------------------------------------
. scripts/demo-server.sh
. scripts/kotlin-ffi-jar.sh
start_demo_server "$logs" || exit 1

declare -A passed failed status

# ---- Kotlin on the JVM ---------------------------------------------------------------------
run_kotlin() {
    local k="$KOTLIN_HOME" work="$out/kotlin-build"
    local jars="/usr/share/java/jna.jar:/usr/share/java/junit-jupiter-api.jar:$k/lib/kotlin-test.jar:$k/lib/kotlin-test-junit5.jar"
    rm -rf "$work" && mkdir -p "$work"
    build_ffi_jar "$out" "$logs/kotlin-compile.log" || return 1
    echo "== kotlin: compiling android/core-tests (kotlinc -Werror)"
    "$k/bin/kotlinc" -Werror -jvm-target 17 -cp "$jars:$ffi_jar" \
        $(find android/core-tests/src/test/kotlin -name '*.kt' | sort) \
        -d "$work/tests.jar" 2>&1 | tee -a "$logs/kotlin-compile.log" | grep -v '^$' | tail -20
    [ "${PIPESTATUS[0]}" = 0 ] && [ -f "$work/tests.jar" ] || return 1
    echo "== kotlin: JUnit 5"
    java -Djna.library.path="$lib_dir" -jar /usr/share/java/junit-platform-console-standalone.jar \
        -cp "$work/tests.jar:$ffi_jar:/usr/share/java/jna.jar:$k/lib/kotlin-stdlib.jar:$k/lib/kotlin-test.jar:$k/lib/kotlin-test-junit5.jar" \
        --scan-classpath "$work/tests.jar" --include-package org.gridwalk.core.tests \
        --fail-if-no-tests --disable-banner --disable-ansi-colors --details=tree \
        >"$logs/kotlin.log" 2>&1
    local rc=$?
    cat "$logs/kotlin.log"
    passed[kotlin]=$(sed -n 's/^\[ *\([0-9]*\) tests successful *\]$/\1/p' "$logs/kotlin.log")
    failed[kotlin]=$(sed -n 's/^\[ *\([0-9]*\) tests failed *\]$/\1/p' "$logs/kotlin.log")
    return $rc
}

# ---- Swift in the trixie chroot ------------------------------------------------------------
run_swift() {
    local pkg="$out/swift-package"
    rm -rf "$pkg" && mkdir -p "$pkg"
    cp -r ios/GridwalkCore/. "$pkg/"
    # The generated sources' folders are not in git (their contents are generated).
    mkdir -p "$pkg/Sources/GridwalkCore" "$pkg/Sources/GridwalkCoreFFI"
    rm -rf "$pkg/.build"
    cp "$out/swift/GridwalkCore.swift" "$pkg/Sources/GridwalkCore/"
    cp "$out/swift/GridwalkCoreFFI.h" "$pkg/Sources/GridwalkCoreFFI/"
    cp "$out/swift/GridwalkCoreFFI.modulemap" "$pkg/Sources/GridwalkCoreFFI/module.modulemap"
    echo "== swift: swift test (XCTest) in $SWIFT_ROOT"
    # A private mount namespace: the mounts vanish with the process, even if it is killed.
    # The build folder lives inside the chroot (root-owned, chroot-only), cached between runs.
    unshare -m --propagation private bash -euo pipefail -c '
        root="$1" pkg="$2" lib="$3"
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mkdir -p "$root/gridwalk/pkg" "$root/gridwalk/lib"
        mount --bind "$pkg" "$root/gridwalk/pkg"
        mount --bind "$lib" "$root/gridwalk/lib"
        exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
            LANG=C.UTF-8 GRIDWALK_LIB_DIR=/gridwalk/lib GRIDWALK_SERVER_URL="$4" \
            swift test --package-path /gridwalk/pkg --scratch-path /root/gridwalk-swift-build \
            --disable-swift-testing
    ' _ "$SWIFT_ROOT" "$pkg" "$lib_dir" "$GRIDWALK_SERVER_URL" >"$logs/swift.log" 2>&1
    local rc=$?
    grep -v '^\[[0-9]*/[0-9]*\] \(Compiling\|Write\|Emitting\|Linking\|Applying\)' "$logs/swift.log" | tail -40
    # XCTest: "Executed 6 tests, with 0 failures (0 unexpected) in ..." (last one is the total).
    local summary
    summary=$(grep -E 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$logs/swift.log" | tail -1)
    local total fails
    total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
    fails=$(sed -E 's/.*with ([0-9]+) failures?.*/\1/' <<<"$summary")
    if [ -n "$summary" ]; then
        passed[swift]=$((total - fails))
        failed[swift]=$fails
    fi
    return $rc
}

# ---- Python --------------------------------------------------------------------------------
run_python() {
    echo "== python: pytest python/tests"
    GRIDWALK_PY_BINDINGS="$out/python" PYTHONDONTWRITEBYTECODE=1 \
        "$PYTEST_VENV/bin/pytest" -p no:cacheprovider -v python/tests >"$logs/python.log" 2>&1
    local rc=$?
    cat "$logs/python.log"
    local last
    last=$(grep -E '^=+ .* in [0-9.]+s' "$logs/python.log" | tail -1)
    passed[python]=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || true)
    failed[python]=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$last" | awk '{s += $1} END {print s + 0}')
    return $rc
}

for s in "${suites[@]}"; do
    case "$s" in
        kotlin | swift | python) ;;
        *) echo "test-bindings: unknown suite $s (kotlin, swift, python)" >&2; exit 2 ;;
    esac
    start=$SECONDS
    if "run_$s"; then status[$s]=ok; else status[$s]=FAILED; fi
    passed[$s]=${passed[$s]:-0}
    failed[$s]=${failed[$s]:-0}
    # Zero tests run is a failure: a suite that silently finds nothing proves nothing.
    if [ "${passed[$s]}" -eq 0 ] && [ "${failed[$s]}" -eq 0 ]; then status[$s]="FAILED (no tests ran)"; fi
    if [ "${failed[$s]}" -gt 0 ]; then status[$s]=FAILED; fi
    echo "-- $s: ${passed[$s]} passed, ${failed[$s]} failed ($((SECONDS - start))s)"
done

echo
echo "== binding tests (logs in $logs)"
verdict=0
for s in "${suites[@]}"; do
    printf '  %-7s %3s passed  %3s failed  %s\n' "$s" "${passed[$s]}" "${failed[$s]}" "${status[$s]}"
    [ "${status[$s]}" = ok ] || verdict=1
done
exit $verdict
