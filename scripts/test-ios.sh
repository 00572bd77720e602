#!/usr/bin/env bash
# Tests the iOS app's logic where it can run here: builds the library and its Swift bindings,
# starts a demo sync server on a free loopback port, and runs GridwalkKit's XCTest suite
# (ios/GridwalkKit: the repository and every view model, the worker's day against the server)
# with `swift test` in the trixie chroot. The SwiftUI app (ios/GridwalkApp) needs a Mac and is
# not built here (ios/README.md lists what is not compiled).
# Prints pass/fail counts; exits non-zero when a test fails or none ran.
#
#   scripts/test-ios.sh [swift test args, e.g. --filter WorkerDayTests]
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. scripts/demo-server.sh
. scripts/bindings-harness.sh

scripts/setup-bindings.sh >/dev/null || { echo "test-ios: setup failed" >&2; exit 1; }
eval "$(scripts/setup-bindings.sh --print-env | sed 's/^/export /')"

start=$SECONDS
out="$CARGO_TARGET_DIR/bindings"
scripts/bindings.sh "$out" || { echo "test-ios: building the library or bindings failed" >&2; exit 1; }
logs="$out/logs"
mkdir -p "$logs"
start_demo_server "$logs" || { echo "test-ios: no sync server" >&2; exit 1; }

staged="$out/ios-packages"
stage_swift_packages "$out" "$staged"
echo "== ios: GridwalkKit, swift test (XCTest) in $SWIFT_ROOT"
swift_test_in_chroot "$staged" GridwalkKit "$out/lib" /root/gridwalk-kit-build "$logs/ios.log" "$@"
rc=$?
swift_log_tail "$logs/ios.log" 60
counts=$(xctest_counts "$logs/ios.log")
passed=${counts% *}
failed=${counts#* }
[ -n "$counts" ] || { passed=0; failed=0; }
echo "-- ios: $passed passed, $failed failed ($((SECONDS - start))s; log $logs/ios.log)"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then echo "test-ios: no tests ran" >&2; exit 1; fi
