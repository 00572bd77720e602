#!/usr/bin/env bash
# Every test of the project: formatting, lints, the Rust tests (core, CLI, sync server, the
# end-to-end sync tests against a real server on loopback, the SIGKILL tests), the bindings'
# Kotlin, Swift and Python suites, the Android app's view models and Compose screens, and quick
# smoke runs of the benchmarks so they cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
# Every stage line carries the time since the start (minutes:seconds), so a slow stage shows.
stage() { printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
scripts/setup.sh
stage "PostgreSQL (the sync server's second backend): install, start, test role"
GRIDWALK_TEST_POSTGRES=$(scripts/setup-postgres.sh --print-url)
export GRIDWALK_TEST_POSTGRES GRIDWALK_REQUIRE_POSTGRES=1

# The network-bound setup of the later steps (apt packages, the Swift chroot, kotlinc, pytest,
# npm, Maven jars) runs in the background while Rust compiles. Each script is idempotent and
# runs again before its own tests, so a failure here costs only the overlap; its log is shown.
# Nothing is killed on an early exit (apt or debootstrap must not stop half-way): the exit waits.
prefetch_log="$CARGO_TARGET_DIR/setup-background.log"
mkdir -p "$CARGO_TARGET_DIR"
(scripts/setup-bindings.sh && scripts/setup-console.sh && scripts/test-android.sh fetch) \
    >"$prefetch_log" 2>&1 &
prefetch_pid=$!
trap 'wait "$prefetch_pid" 2>/dev/null || true' EXIT
wait_prefetch() {
    [ -n "$prefetch_pid" ] || return 0
    if wait "$prefetch_pid"; then
        stage "background setup done"
    else
        echo "test.sh: the background setup failed; its log follows, and each step retries it" >&2
        tail -40 "$prefetch_log" >&2
    fi
    prefetch_pid=
}

stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
stage "cargo test (storage conformance on SQLite and PostgreSQL)"
cargo test --workspace
# The suites whose server comes from tests/common::start_with, again on PostgreSQL (conformance
# and instances already ran both backends above; the unit tests have no backend). A new suite
# must be named in one of the two lists.
stage "sync server end-to-end tests on PostgreSQL"
pg_suites=(auth cases console console_data errors process sync trust uploads)
for f in sync-server/tests/*.rs; do
    case " ${pg_suites[*]} conformance instances " in
        *" $(basename "$f" .rs) "*) ;;
        *) echo "test.sh: $f is in neither list of the PostgreSQL step" >&2; exit 1 ;;
    esac
done
GRIDWALK_TEST_BACKEND=postgres cargo test -p gridwalk-sync-server --no-fail-fast \
    $(printf -- '--test %s ' "${pg_suites[@]}")
wait_prefetch
stage "bindings: Kotlin, Swift, Python"
scripts/test-bindings.sh
stage "Android app: presentation/ (view models, real server) and ui/ (Compose screens, screenshots)"
GRIDWALK_BENCH_QUICK=1 scripts/test-android.sh
stage "web console in headless Chromium"
scripts/test-console.sh
# Smoke runs only keep the benchmarks compiling and running: they use the test build's `dev`
# profile, so the test command compiles the workspace once (the figures in the notes come from
# full runs in the optimised `bench` profile: `cargo bench -p CRATE --bench NAME`).
stage "benchmark smoke runs (GRIDWALK_BENCH_QUICK=1, dev profile; figures not meaningful)"
smoke() { GRIDWALK_BENCH_QUICK=1 cargo bench --profile dev "$@"; }
smoke -p gridwalk-core --bench store
smoke -p gridwalk-core --bench photo
smoke -p gridwalk-e2e --bench photo_upload
smoke -p gridwalk-sync-server --bench push
smoke -p gridwalk-sync-server --bench console_queue
smoke -p gridwalk-sync-server --bench evening
smoke -p gridwalk-sync-server --bench evening -- --backend postgres --instances 2
smoke -p gridwalk-e2e --bench sync
stage "iOS app: GridwalkKit view models against a real server (Swift, XCTest)"
scripts/test-ios.sh
stage "all tests passed"
