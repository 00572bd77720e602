#!/usr/bin/env bash
# Every test of the project: formatting, lints, the Rust tests (core, CLI, sync server, the
# end-to-end sync tests against a real server on loopback, the SIGKILL tests), the bindings'
# Kotlin, Swift and Python suites, and quick smoke runs of the benchmarks so they cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
echo "== bindings: Kotlin, Swift, Python"
scripts/test-bindings.sh
echo "== web console in headless Chromium"
scripts/test-console.sh
echo "== benchmark smoke runs (GRIDWALK_BENCH_QUICK=1)"
GRIDWALK_BENCH_QUICK=1 cargo bench -p gridwalk-core --bench store
GRIDWALK_BENCH_QUICK=1 cargo bench -p gridwalk-e2e --bench photo_upload
GRIDWALK_BENCH_QUICK=1 cargo bench -p gridwalk-sync-server --bench push
GRIDWALK_BENCH_QUICK=1 cargo bench -p gridwalk-sync-server --bench console_queue
# On main: smoke -p gridwalk-sync-server --bench evening
GRIDWALK_BENCH_QUICK=1 cargo bench --profile dev -p gridwalk-sync-server --bench evening
GRIDWALK_BENCH_QUICK=1 cargo bench -p gridwalk-e2e --bench sync
