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
. scripts/bindings-harness.sh
run_swift() {
    local staged="$out/swift-packages"
    stage_swift_packages "$out" "$staged"
    echo "== swift: swift test (XCTest) in $SWIFT_ROOT"
    swift_test_in_chroot "$staged" GridwalkCore "$lib_dir" /root/gridwalk-swift-build "$logs/swift.log"
    local rc=$?
    swift_log_tail "$logs/swift.log"
    local counts
    counts=$(xctest_counts "$logs/swift.log")
    if [ -n "$counts" ]; then
        passed[swift]=${counts% *}
        failed[swift]=${counts#* }
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
