# Sourced by the test scripts: starts `gridwalk-server serve --demo` (demo org and users) on a
# free loopback port in a temporary data folder, exports GRIDWALK_SERVER_URL, and stops it and
# removes its data when the calling script exits.
#
#   . scripts/demo-server.sh
#   start_demo_server LOG_DIR || exit 1      # builds the server first; log in LOG_DIR/server.log
#
# The caller's EXIT trap, if any, is replaced: callers that need their own cleanup call
# `stop_demo_server` from it.

start_demo_server() {
    local logs="$1"
    mkdir -p "$logs"
    cargo build --quiet -p gridwalk-sync-server || {
        echo "demo-server: building gridwalk-server failed" >&2
        return 1
    }
    demo_server_data="$(mktemp -d "${TMPDIR:-/tmp}/gridwalk-demo-server.XXXXXX")"
    "$CARGO_TARGET_DIR/debug/gridwalk-server" serve --demo --data "$demo_server_data" \
        --listen 127.0.0.1:0 >"$demo_server_data/stdout" 2>"$logs/server.log" &
    demo_server_pid=$!
    trap stop_demo_server EXIT
    for _ in $(seq 240); do
        grep -q '^listening on ' "$demo_server_data/stdout" 2>/dev/null && break
        kill -0 "$demo_server_pid" 2>/dev/null || break
        sleep 0.25
    done
    local addr
    addr=$(sed -n 's/^listening on //p' "$demo_server_data/stdout")
    if [ -z "$addr" ]; then
        echo "demo-server: the sync server did not start (see $logs/server.log)" >&2
        return 1
    fi
    export GRIDWALK_SERVER_URL="http://$addr"
    echo "== sync server (demo data) listening on $GRIDWALK_SERVER_URL"
}

stop_demo_server() {
    if [ -n "${demo_server_pid:-}" ]; then
        kill "$demo_server_pid" 2>/dev/null && wait "$demo_server_pid" 2>/dev/null
        demo_server_pid=
    fi
    if [ -n "${demo_server_data:-}" ]; then
        rm -rf "$demo_server_data"
        demo_server_data=
    fi
    return 0
}
