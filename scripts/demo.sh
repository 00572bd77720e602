#!/usr/bin/env bash
# Builds a realistic grid in a temporary store and walks through a grid worker's day.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/setup.sh
cargo build -q -p gridwalk-cli
exec "$CARGO_TARGET_DIR/debug/gridwalk" demo "$@"
