#!/usr/bin/env bash
# The supervisors' web console in real headless Chromium: installs what it needs
# (scripts/setup-console.sh), builds the server and the CLI, starts `gridwalk-server serve
# --demo` on a free loopback port with a temporary data folder, runs console-tests/ (a worker's
# CLI store and supervisors' browsers against that server), prints the counts and the
# screenshots, and fails when a test fails. Screenshots: $CARGO_TARGET_DIR/console-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/setup-console.sh
cargo build -q -p gridwalk-cli -p gridwalk-sync-server

work="$(mktemp -d "${TMPDIR:-/tmp}/gridwalk-console.XXXXXX")"
shots="$CARGO_TARGET_DIR/console-screenshots"
rm -rf "$shots"
mkdir -p "$shots"
"$CARGO_TARGET_DIR/debug/gridwalk-server" serve --demo --insecure-fast-hash \
    --data "$work/server" --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
cleanup() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
url=""
for _ in $(seq 1 200); do
    url="$(sed -n 's/^listening on \(.*\)$/http:\/\/\1/p' "$work/server.out" | head -n1)"
    [ -n "$url" ] && break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "test-console: the server did not start:" >&2
    cat "$work/server.err" >&2
    exit 1
fi
echo "test-console: server $url, screenshots in $shots"

set +e
(cd console-tests && GW_BASE="$url" GW_CLI="$CARGO_TARGET_DIR/debug/gridwalk" GW_WORK="$work" \
    GW_SHOTS="$shots" node --test --test-concurrency=1 --test-reporter=spec tests/) | tee "$work/report.txt"
status=${PIPESTATUS[0]}
set -e
pass="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$work/report.txt" | tail -n1)"
fail="$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$work/report.txt" | tail -n1)"
echo "console: ${pass:-0} passed, ${fail:-0} failed"
if [ "$status" -ne 0 ] || [ "${pass:-0}" = 0 ]; then
    echo "test-console: FAILED (server log: below)" >&2
    tail -n 40 "$work/server.err" >&2
    exit 1
fi
