#!/usr/bin/env bash
# Every test of the project: formatting, lints, the Rust tests (core, CLI, sync server, the
# end-to-end sync tests against a real server on loopback, the SIGKILL tests), the bindings'
# Kotlin, Swift and Python suites, the Android app's view models and Compose screens, and quick
# smoke runs of the benchmarks so they cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== PostgreSQL (the sync server's second backend): install, start, test role"
GRIDWALK_TEST_POSTGRES=$(scripts/setup-postgres.sh --print-url)
export GRIDWALK_TEST_POSTGRES GRIDWALK_REQUIRE_POSTGRES=1
echo "== cargo test (storage conformance on SQLite and PostgreSQL)"
cargo test --workspace
# The suites whose server comes from tests/common::start_with, again on PostgreSQL (conformance
# and instances already ran both backends above; the unit tests have no backend). A new suite
# must be named in one of the two lists.
echo "== sync server end-to-end tests on PostgreSQL"
pg_suites=(auth cases console console_data errors process sync trust uploads)
for f in sync-server/tests/*.rs; do
    case " ${pg_suites[*]} conformance instances " in
        *" $(basename "$f" .rs) "*) ;;
        *) echo "test.sh: $f is in neither list of the PostgreSQL step" >&2; exit 1 ;;
    esac
done
GRIDWALK_TEST_BACKEND=postgres cargo test -p gridwalk-sync-server --no-fail-fast \
    $(printf -- '--test %s ' "${pg_suites[@]}")
echo "== bindings: Kotlin, Swift, Python"
scripts/test-bindings.sh
echo "== Android app: presentation/ (view models, real server) and ui/ (Compose screens, screenshots)"
GRIDWALK_BENCH_QUICK=1 scripts/test-android.sh
echo "== web console in headless Chromium"
scripts/test-console.sh
# Smoke runs only keep the benchmarks compiling and running: they use the test build's `dev`
# profile, so the test command compiles the workspace once (the figures in the notes come from
# full runs in the optimised `bench` profile: `cargo bench -p CRATE --bench NAME`).
echo "== benchmark smoke runs (GRIDWALK_BENCH_QUICK=1, dev profile; figures not meaningful)"
smoke() { GRIDWALK_BENCH_QUICK=1 cargo bench --profile dev "$@"; }
smoke -p gridwalk-core --bench store
smoke -p gridwalk-core --bench photo
smoke -p gridwalk-e2e --bench photo_upload
smoke -p gridwalk-sync-server --bench push
smoke -p gridwalk-sync-server --bench console_queue
smoke -p gridwalk-sync-server --bench evening
smoke -p gridwalk-sync-server --bench evening -- --backend postgres --instances 2
smoke -p gridwalk-e2e --bench sync
echo "== iOS app: GridwalkKit view models against a real server (Swift, XCTest)"
scripts/test-ios.sh
