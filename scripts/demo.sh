#!/usr/bin/env bash
# A grid worker's day: builds a realistic grid in a temporary store, walks through the day, then
# starts a sync server on loopback (seeded with the demo organisation) and syncs the day through
# it: the worker's phone pushes, a grid leader's device pulls and moves the hazard case along the
# closed loop, and the worker's next sync brings the verification task back.
# Pass --no-server to walk the day offline only; other arguments go to `gridwalk demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/setup.sh
cargo build -q -p gridwalk-cli -p gridwalk-sync-server

args=()
offline=0
for a in "$@"; do
    if [ "$a" = "--no-server" ]; then offline=1; else args+=("$a"); fi
done
if [ "$offline" = 1 ]; then
    exec "$CARGO_TARGET_DIR/debug/gridwalk" demo "${args[@]}"
fi

data="$(mktemp -d "${TMPDIR:-/tmp}/gridwalk-server.XXXXXX")"
log="$data/server.out"
"$CARGO_TARGET_DIR/debug/gridwalk-server" serve --demo --data "$data" --listen 127.0.0.1:0 >"$log" 2>"$data/server.err" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
url=""
# Seeding the demo users hashes their passwords (argon2id): allow a busy machine a minute.
for _ in $(seq 1 600); do
    url="$(sed -n 's/^listening on \(.*\)$/http:\/\/\1/p' "$log" | head -n1)"
    [ -n "$url" ] && break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "demo: the sync server did not start; see $data/server.err" >&2
    exit 1
fi
echo "同步服务器 / sync server: $url (data: $data)"
"$CARGO_TARGET_DIR/debug/gridwalk" demo --server "$url" "${args[@]}"

# The day's cases are now on the server: the supervisors' web console shows them.
echo
echo "监督控制台 / supervisor console: $url/console/"
echo "  账号 / account: zhaomin（网格长 / grid leader）  密码 / password: demo-pass"
echo "  其他 / others: chenjing（社区）, liuqiang（街道）, gaojian（区级）, zhouwei（另一街道 / the other street）"
if [ -t 0 ] && [ -t 1 ]; then
    echo "服务器保持运行，按 Ctrl-C 结束 / the server keeps running: press Ctrl-C to stop"
    wait "$server_pid" || true
fi
