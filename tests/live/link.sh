#!/bin/bash
# tests/live/link.sh — live capture when its interface goes down and up, or
# away (issue 22): `wsstatsd -i` on one end of a veth pair whose other end
# is in a network namespace of the test's own (198.18.22.0/24), where a real
# python websockets server runs; real clients connect from the root side.
#
#   down-up     a connection held open; `ip link set down`: within 3 s its
#               record is written as interface_down (outcome unfinished) and
#               the daemon says so; `ip link set up`: "up again", and a new
#               connection afterwards is recorded whole (close 1000, clean),
#               by the same daemon, which is still running
#   gone        a connection held open; `ip link del`: the daemon exits 1
#               within 3 s, saying the interface is gone; the connection's
#               record is interface_down, the captures row names the cause
#
# Output follows tests/CONTRACT.md. Skips (exit 0) without root, ip, or
# python3-websockets. The namespace, the veth pair and every process are
# removed by the EXIT trap.
set -u
SUITE=link
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
command -v ip >/dev/null || skip_all "no ip (iproute2)"
python_peer_ready || skip_all "python3-websockets not installed"
PY=/usr/bin/python3
NS=wsstats-link-$$
HOST_IF=wsl$$a
PEER_IF=wsl$$b
SERVER=198.18.22.2
PORT=8765
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-link.XXXXXX")
PIDS=()
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    ip link del "$HOST_IF" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

cat >"$TMP/peer.py" <<'EOF'
"""serve HOST PORT SECONDS: an echo server; hold HOST PORT SECONDS: one
client that sends a message, waits, closes with 1000 (if it still can)."""
import asyncio, sys
import websockets

async def echo(ws, _path):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass

async def serve(host, port, secs):
    async with websockets.serve(echo, host, port):
        await asyncio.sleep(secs)

async def hold(host, port, secs):
    async with websockets.connect("ws://%s:%d/link" % (host, port), open_timeout=3, close_timeout=1) as ws:
        await ws.send("hello")
        await ws.recv()
        print("OPEN", flush=True)
        await asyncio.sleep(secs)
        await asyncio.wait_for(ws.close(1000), 2)

what, host, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
try:
    asyncio.run(serve(host, port, secs) if what == "serve" else hold(host, port, secs))
except Exception as e:  # the link went away under a client: expected here
    print("ENDED", type(e).__name__, flush=True)
EOF

# The pair: HOST_IF (198.18.22.1) here, PEER_IF in NS, the server behind it.
setup_link() {
    ip netns add "$NS" && ip link add "$HOST_IF" type veth peer name "$PEER_IF" &&
        ip link set "$PEER_IF" netns "$NS" && ip addr add 198.18.22.1/24 dev "$HOST_IF" &&
        ip link set "$HOST_IF" up && ip -n "$NS" addr add "$SERVER/24" dev "$PEER_IF" &&
        ip -n "$NS" link set "$PEER_IF" up && ip -n "$NS" link set lo up || return 1
    ip netns exec "$NS" "$PY" "$TMP/peer.py" serve "$SERVER" $PORT 60 >"$TMP/server.log" 2>&1 &
    PIDS+=($!)
    local i
    for i in $(seq 50); do # until the server listens
        "$PY" -c "import socket; socket.create_connection(('$SERVER', $PORT), 0.2).close()" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# hold SECONDS LOG: a client in the background; returns once it is open.
hold() {
    "$PY" "$TMP/peer.py" hold "$SERVER" $PORT "$1" >"$2" 2>&1 &
    PIDS+=($!)
    local i
    for i in $(seq 50); do
        grep -q OPEN "$2" && return 0
        sleep 0.1
    done
    return 1
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds
wait_for() {
    local n=$(($1 * 10))
    shift
    while [ $n -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

rows() { sqlite3 "$TMP/$1.db" "SELECT termination, outcome, ifnull(close_code, '-') FROM connections ORDER BY id" 2>/dev/null | tr '\n' ' '; }
has_rows() { [ "$(rows "$1")" = "$2" ]; }

# ---- down and up: the capture goes on ----------------------------------------
if ! setup_link; then
    fail link/setup "could not make the namespace, the veth pair or the server" "$(cat "$TMP/server.log")"
    exit 1
fi
"$BIN/wsstatsd" -i "$HOST_IF" -w "$TMP/down.db" 2>"$TMP/down.err" &
D=$!
PIDS+=($D)
sleep 1 # the daemon is capturing
ok=1
hold 30 "$TMP/c1.log" || ok=0
ip link set "$HOST_IF" down
wait_for 3 has_rows down "interface_down|unfinished|- " || ok=0
grep -q "the interface went down: 1 open WebSocket connection written as interface_down" "$TMP/down.err" || ok=0
ip link set "$HOST_IF" up
ip -n "$NS" link set "$PEER_IF" up
wait_for 5 grep -q "the interface is up again after" "$TMP/down.err" || ok=0
wait_for 5 "$PY" -c "import socket; socket.create_connection(('$SERVER', $PORT), 0.2).close()" 2>/dev/null
hold 0.3 "$TMP/c2.log" || ok=0
wait_for 5 has_rows down "interface_down|unfinished|- fin_server|clean|1000 " || ok=0
kill -0 $D 2>/dev/null || ok=0
kill -TERM $D
wait $D
rc=$?
if [ $ok = 1 ] && [ $rc = 0 ]; then
    pass link/down-up
else
    fail link/down-up "exit $rc (want 0 after SIGTERM)" "records: $(rows down)" "$(cat "$TMP/down.err")" \
        "$(cat "$TMP/c1.log" "$TMP/c2.log" 2>/dev/null)"
fi

# ---- gone: exit 1 for the service manager ------------------------------------
"$BIN/wsstatsd" -i "$HOST_IF" -w "$TMP/gone.db" 2>"$TMP/gone.err" &
D=$!
PIDS+=($D)
sleep 1
ok=1
hold 30 "$TMP/c3.log" || ok=0
ip link del "$HOST_IF"
wait_for 3 sh -c "! kill -0 $D 2>/dev/null" || ok=0
wait $D
rc=$?
status=$(sqlite3 "$TMP/gone.db" "SELECT status FROM captures" 2>&1)
has_rows gone "interface_down|unfinished|- " || ok=0
grep -q "the interface is gone: 1 open WebSocket connection written as interface_down; exiting (status 1)" \
    "$TMP/gone.err" || ok=0
case $status in *"$HOST_IF"*) ;; *) ok=0 ;; esac
if [ $ok = 1 ] && [ $rc = 1 ]; then
    pass link/gone
else
    fail link/gone "exit $rc (want 1)" "records: $(rows gone)" "captures status: $status" "$(cat "$TMP/gone.err")"
fi
[ "$FAILED" = 0 ]
