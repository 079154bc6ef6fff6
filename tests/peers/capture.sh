# Shell functions shared by tests/e2e/run.sh and tests/peers/record.sh (source me, bash).
#
# They drive one recording: pick free ports, start tcpdump on lo and wait until
# it really captures, start the peer programs in the background, wait for each
# to print "HOLDING" (all its connections done except the ones meant to be
# open when the capture ends), let the capture file settle, stop tcpdump, then
# release the held connections (SIGUSR2) and collect the peers' exit codes.
# cap_cleanup kills whatever is still running; call it from an EXIT trap.
#
# Globals: CAP_PID (tcpdump), CAP_LOG (its stderr), PEER_NAMES / PEER_PIDS /
# PEER_OUT (peers' stdout files) / PEER_RCS (exit codes), by index.

# shellcheck disable=SC2034  # PEER_RCS etc. are read by the scripts that source this file
PEERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
CAP_PID=
CAP_LOG=
PEER_NAMES=()
PEER_PIDS=()
PEER_OUT=()
PEER_RCS=()

# Why this machine cannot record (empty output when it can).
cap_unusable_reason() {
    if [ "$(id -u)" != 0 ]; then echo "needs root for a live capture on lo"
    elif ! command -v tcpdump >/dev/null 2>&1; then echo "tcpdump not installed"
    fi
}

# Poll (every 20 ms, at most $1 seconds) until the command "$2..." succeeds.
cap_poll() {
    local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    until "$@"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.02
    done
}

# Print N distinct TCP ports that are free on both 127.0.0.1 and ::1.
cap_free_ports() {
    "$PY" - "$1" <<'EOF'
import socket, sys
ports = []
while len(ports) < int(sys.argv[1]):
    with socket.socket() as s4:
        s4.bind(("127.0.0.1", 0))
        port = s4.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET6) as s6:
                s6.bind(("::1", port))
        except OSError:
            continue
    if port not in ports:
        ports.append(port)
print(" ".join(map(str, ports)))
EOF
}

# cap_start OUT.pcap PORT... : capture those TCP ports on lo until cap_stop.
cap_start() {
    local out=$1 filter="" p; shift
    for p in "$@"; do filter="${filter:+$filter or }tcp port $p"; done
    CAP_LOG=$out.tcpdump.log
    # -U: write each packet at once; --immediate-mode: no kernel batching;
    # -B 64 MiB: room for 64 KiB loopback segments (the default 2 MiB drops some).
    tcpdump -i lo -n -U -s 0 -B 65536 --immediate-mode -Z root -w "$out" "$filter" \
        >/dev/null 2>"$CAP_LOG" &
    CAP_PID=$!
    if ! cap_poll 10 grep -q "listening on" "$CAP_LOG"; then
        echo "tcpdump did not start: $(cat "$CAP_LOG")" >&2
        return 1
    fi
}

# Wait until the capture file has not grown for 200 ms (at most 5 s), so that
# every packet already sent is on disk before tcpdump is stopped.
cap_settle() {
    local file=$1 last=-1 same=0 size i
    for i in $(seq 250); do
        size=$(stat -c %s "$file" 2>/dev/null || echo 0)
        if [ "$size" = "$last" ]; then
            same=$((same + 1)); [ $same -ge 10 ] && return 0
        else
            same=0; last=$size
        fi
        sleep 0.02
    done
}

# Stop tcpdump (SIGINT, so it flushes and reports); fail if the kernel dropped packets.
cap_stop() {
    [ -n "$CAP_PID" ] || return 0
    kill -INT "$CAP_PID" 2>/dev/null
    wait "$CAP_PID" 2>/dev/null
    CAP_PID=
    if ! grep -q "^0 packets dropped by kernel" "$CAP_LOG"; then
        echo "tcpdump lost packets: $(tr '\n' ' ' <"$CAP_LOG")" >&2
        return 1
    fi
}

# peer_start NAME STDOUT STDERR CMD... : run one peer program in the background.
peer_start() {
    local name=$1 out=$2 err=$3; shift 3
    "$@" >"$out" 2>"$err" &
    PEER_NAMES+=("$name"); PEER_PIDS+=("$!"); PEER_OUT+=("$out")
}

peer_holding() { grep -q "^HOLDING" "$1" || ! kill -0 "$2" 2>/dev/null; }

# Wait (at most $1 s) until every peer printed HOLDING or exited.
peers_wait_holding() {
    local i
    for i in "${!PEER_PIDS[@]}"; do
        cap_poll "$1" peer_holding "${PEER_OUT[$i]}" "${PEER_PIDS[$i]}" || return 1
    done
}

# Release the held connections and wait for every peer (killing one that has
# not exited after 10 s); exit codes go to PEER_RCS (same index as PEER_NAMES).
# Not in a subshell: `wait` needs this shell.
peers_release() {
    local i
    PEER_RCS=()
    for i in "${!PEER_PIDS[@]}"; do kill -USR2 "${PEER_PIDS[$i]}" 2>/dev/null; done
    cap_poll 10 peers_all_exited || for i in "${!PEER_PIDS[@]}"; do
        kill "${PEER_PIDS[$i]}" 2>/dev/null && echo "${PEER_NAMES[$i]} peer hung, killed it" >&2
    done
    for i in "${!PEER_PIDS[@]}"; do
        wait "${PEER_PIDS[$i]}"; PEER_RCS[i]=$?
    done
    PEER_PIDS=()
}

peers_all_exited() {
    local pid
    for pid in "${PEER_PIDS[@]}"; do
        # a finished child stays a zombie until `wait`: check its state too
        [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ] && continue
        kill -0 "$pid" 2>/dev/null && return 1
    done
    return 0
}

# Kill everything this recording started that is still running (trap handler).
cap_cleanup() {
    local pid
    for pid in "${PEER_PIDS[@]}" $CAP_PID; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    PEER_PIDS=(); CAP_PID=
}

# Make sure the Node peer's `ws` package is installed (npm ci from the lock file).
node_peer_ready() {
    command -v node >/dev/null 2>&1 || return 1
    [ -f "$PEERS_DIR/node_modules/ws/package.json" ] && return 0
    (cd "$PEERS_DIR" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1)
    [ -f "$PEERS_DIR/node_modules/ws/package.json" ]
}

python_peer_ready() { "$PY" -c "import websockets" 2>/dev/null; }
