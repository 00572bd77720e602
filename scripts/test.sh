#!/usr/bin/env bash
# Every test of the project: formatting, lints, unit and integration tests (the SIGKILL test
# included), and a quick smoke run of the benchmark so it cannot rot.
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
echo "== benchmark smoke run (GRIDWALK_BENCH_QUICK=1)"
GRIDWALK_BENCH_QUICK=1 cargo bench -p gridwalk-core --bench store
