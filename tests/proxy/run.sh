#!/bin/bash
# Proxy idle-timeout test: `wsstats durations` finds the idle-timeout cluster
# in real traffic through a real nginx.
#
# Records, with tcpdump on lo, both legs of WebSocket connections through a
# private nginx (Debian's, started here with its own config, logs, pid and
# temp dirs in a temp dir; `proxy_read_timeout 3s`) in front of a
# python-websockets echo server (tests/proxy/py_peers.py server):
#   - PY_IDLE Python and NODE_IDLE Node `ws` clients exchange two messages and
#     then stay silent, without pings, until nginx's timeout ends them;
#   - PY_CONTROL + NODE_CONTROL control clients close with 1000 well before it.
# On the wire (tshark, nginx 1.22) nginx ends a timed-out upgraded connection
# with a FIN on both legs at the same moment and no close frame, and logs
# "upstream timed out ... while proxying upgraded connection".  The timer is
# armed at the upgrade and, being within nginx's 300 ms NGX_TIMER_LAZY_DELAY,
# not re-armed by the echoes that follow at once, so the silence after the
# last frame is 3 s minus the few ms of message exchange (~2.98-3.00 s).
# Then `$BIN/wsstatsd -r` writes the DB and the cases check:
#   - tshark (the oracle, tests/proxy/check.py oracle) sees that, and the DB
#     agrees with tshark on every connection of both legs;
#   - via nginx: the idle connections are abnormal/1006, one per idle client,
#     the control ones clean/1000 (sqlite3);
#   - their idle time before close, ended_at - max(last_frame_at, upgraded_at),
#     is 3 s ± 0.3 s (sqlite3);
#   - `wsstats durations` reports an idle_cluster at 3 s (JSON, with and
#     without --server 127.0.0.1:NGINX_PORT) and says "idle timeout" (table).
# The capture is recorded anew on every run (~4-5 s; no suite caches captures).
#
# Output follows tests/CONTRACT.md: `ok - proxy/NAME` / `not ok - proxy/NAME`
# with `#  ` diagnostics, exit 1 if anything failed.  Skips (exit 0) without
# root, tcpdump, nginx, python3-websockets, tshark or sqlite3.
# Env: BIN (binary dir, default build, relative to the repo root),
#      KEEP=1 keeps the temp dir (pcap, DB, nginx logs, peer logs, oracle).
set -u

SUITE=proxy
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

TIMEOUT_S=3          # nginx proxy_read_timeout / proxy_send_timeout
TOL_S=0.3            # allowed deviation of the measured idle time
PY_IDLE=6 PY_CONTROL=2 NODE_IDLE=6 NODE_CONTROL=2

NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })
reason=$(cap_unusable_reason)
[ -z "$reason" ] || skip_all "$reason"
[ -n "$NGINX" ] || skip_all "nginx not installed (apt-get install nginx-light)"
python_peer_ready || skip_all "python3-websockets not installed"
command -v tshark >/dev/null 2>&1 || skip_all "tshark not installed (needed as the oracle)"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 not installed"
if [ ! -x "$BIN/wsstatsd" ]; then
    fail "proxy/wsstatsd-exists" "$BIN/wsstatsd not found or not executable (run make)"
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-proxy.XXXXXX")
chmod 755 "$TMP"    # tcpdump may write as another user
NGINX_PID=
BACKEND_PID=
# pid_gone PID: it exited (a child that has not been waited for is a zombie).
# shellcheck disable=SC2317  # called through cap_poll
pid_gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
# stop_pid PID: TERM it, and KILL it if it has not exited within 5 s.
stop_pid() {
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || return 0
    cap_poll 5 pid_gone "$1" || kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
stop_servers() {
    stop_pid "$NGINX_PID"; NGINX_PID=
    stop_pid "$BACKEND_PID"; BACKEND_PID=
}
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    cap_cleanup
    stop_servers
    if [ "${KEEP:-0}" = 1 ]; then echo "# proxy: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if node_peer_ready; then
    HAVE_NODE=1
else
    HAVE_NODE=0 NODE_IDLE=0 NODE_CONTROL=0
    pass "proxy/node-clients # SKIP node or the ws package (npm ci in tests/peers) unavailable"
fi
N_IDLE=$((PY_IDLE + NODE_IDLE))
N_CONTROL=$((PY_CONTROL + NODE_CONTROL))

# ---- the backend and nginx (started before the capture: nothing of theirs on the wire yet)
read -r NGINX_PORT BACKEND_PORT <<<"$(cap_free_ports 2)"
"$PY" "$HERE/py_peers.py" server --port "$BACKEND_PORT" >"$TMP/backend.out" 2>"$TMP/backend.err" &
BACKEND_PID=$!
if ! cap_poll 10 grep -q "^READY" "$TMP/backend.out"; then
    fail "proxy/backend-started" "the echo server did not start:" "$(tail -n 5 "$TMP/backend.err")"
    exit 1
fi

mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
# written by tests/proxy/run.sh: a WebSocket reverse proxy with a 3 s idle timeout
user root;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log info;
events { worker_connections 256; }
http {
    access_log $TMP/nginx/access.log;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://127.0.0.1:$BACKEND_PORT;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host \$host;
            proxy_read_timeout ${TIMEOUT_S}s;
            proxy_send_timeout ${TIMEOUT_S}s;
        }
    }
}
EOF
"$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' \
    >"$TMP/nginx/stdout" 2>&1 &
NGINX_PID=$!
# shellcheck disable=SC2317  # called through cap_poll
nginx_up() { grep -q "start worker process" "$TMP/nginx/error.log" 2>/dev/null || ! kill -0 "$NGINX_PID"; }
if ! cap_poll 10 nginx_up || ! kill -0 "$NGINX_PID" 2>/dev/null; then
    fail "proxy/nginx-started" "nginx did not start:" "$(tail -n 5 "$TMP/nginx/error.log" "$TMP/nginx/stdout" 2>/dev/null)"
    exit 1
fi
pass "proxy/nginx-started ($("$NGINX" -v 2>&1 | sed 's/.*: //'), port $NGINX_PORT -> $BACKEND_PORT)"

# ---- record both legs while the clients run
PCAP=$TMP/proxy.pcap
cap_start "$PCAP" "$NGINX_PORT" "$BACKEND_PORT" || { fail "proxy/capture-started" "tcpdump would not start"; exit 1; }
peer_start python "$TMP/python.out" "$TMP/python.err" "$PY" "$HERE/py_peers.py" clients \
    --port "$NGINX_PORT" --idle "$PY_IDLE" --control "$PY_CONTROL" --expect "$TMP/python.jsonl"
if [ "$HAVE_NODE" = 1 ]; then
    peer_start node "$TMP/node.out" "$TMP/node.err" node "$HERE/node_clients.js" \
        --port "$NGINX_PORT" --idle "$NODE_IDLE" --control "$NODE_CONTROL" --expect "$TMP/node.jsonl"
fi
# the clients exit once every connection has ended (idle ones after ~TIMEOUT_S)
peers_wait_holding 20 || fail "proxy/clients-finished" "a client process still ran after 20 s"
cap_settle "$PCAP"
cap_stop || fail "proxy/capture-complete" "$(tr '\n' ' ' <"$CAP_LOG")"
peers_release
stop_servers

for i in "${!PEER_NAMES[@]}"; do
    name=${PEER_NAMES[$i]} rc=${PEER_RCS[$i]}
    if [ "$rc" = 0 ] && [ -s "$TMP/$name.jsonl" ]; then
        pass "proxy/$name-clients-ran"
    else
        fail "proxy/$name-clients-ran" "exit status $rc; stderr:" "$(tail -n 10 "$TMP/$name.err")"
    fi
done

# nginx's own account: one "upstream timed out" per idle client
n=$(grep -c "upstream timed out .* while proxying upgraded connection" "$TMP/nginx/error.log")
if [ "$n" = "$N_IDLE" ]; then
    pass "proxy/nginx-logged-$N_IDLE-timeouts"
else
    fail "proxy/nginx-logged-$N_IDLE-timeouts" "error.log has $n upstream timeouts:" \
        "$(grep -E '\[(error|warn|info)\]' "$TMP/nginx/error.log" | tail -n 5)"
fi

# ---- the oracle: what tshark sees on the wire
ORACLE=$TMP/oracle.tsv
if ! "$PY" "$HERE/check.py" oracle --pcap "$PCAP" --ports "$NGINX_PORT" "$BACKEND_PORT" >"$ORACLE" 2>"$TMP/oracle.err"; then
    fail "proxy/tshark-dissects-capture" "$(tail -n 5 "$TMP/oracle.err")"
    exit 1
fi
# columns: client_port server_port path status close_frames outcome close_code termination idle
# nginx ends a timed-out connection with a FIN to the client (fin_server) and one to the
# backend (fin_client, nginx is the client there), never a close frame.
check_wire() {  # NAME AWK-CONDITION-ON-A-LINE COUNT-WANTED DESCRIPTION
    local got
    got=$(awk -F'\t' "$2" "$ORACLE" | wc -l)
    if [ "$got" = "$3" ]; then pass "proxy/$1"; else
        fail "proxy/$1" "tshark: $got connections where $4, want $3:" "$(cut -f1-9 "$ORACLE" | sort -k3 | head -n 40)"
    fi
}
check_wire tshark-idle-ended-by-nginx-fin \
    "\$2 == $NGINX_PORT && \$3 ~ /^\\/idle\\// && \$4 == 101 && \$5 == \"-\" && \$8 == \"fin_server\"" \
    "$N_IDLE" "nginx sent FIN to an idle client without a close frame"
check_wire tshark-backend-ended-by-nginx-fin \
    "\$2 == $BACKEND_PORT && \$3 ~ /^\\/idle\\// && \$4 == 101 && \$5 == \"-\" && \$8 == \"fin_client\"" \
    "$N_IDLE" "nginx sent FIN to the backend of an idle client without a close frame"
check_wire tshark-control-closed-1000 \
    "\$3 ~ /^\\/control\\// && \$5 == \"client:1000,server:1000\"" \
    "$((2 * N_CONTROL))" "a control connection (either leg) has close frames 1000 both ways"

# ---- wsstatsd
DB=$TMP/proxy.db
if timeout 60 "$BIN/wsstatsd" -r "$PCAP" -w "$DB" >"$TMP/wsstatsd.out" 2>"$TMP/wsstatsd.err"; then
    pass "proxy/wsstatsd-read-capture"
else
    fail "proxy/wsstatsd-read-capture" "wsstatsd -r $PCAP -w $DB exited with $?:" "$(tail -n 20 "$TMP/wsstatsd.err")"
    exit 1
fi
if diag=$("$PY" "$HERE/check.py" agree --db "$DB" --oracle "$ORACLE"); then
    pass "proxy/db-agrees-with-tshark ($(wc -l <"$ORACLE") connections)"
else
    fail "proxy/db-agrees-with-tshark" "${diag//#  /}"
fi

q() { sqlite3 -batch -noheader "$DB" "$1" 2>&1; }
rows() { sqlite3 -batch -header "$DB" "SELECT client_port, server_port, path, outcome, close_code, termination,
    round(ended_at - max(coalesce(last_frame_at, 0), upgraded_at), 4) AS idle
    FROM connections WHERE $1 ORDER BY server_port, path" 2>&1 | head -n 40; }
VIA_NGINX="server_ip = '127.0.0.1' AND server_port = $NGINX_PORT"

# 1. via nginx: the idle ones abnormal/1006, one each; the control ones clean/1000
got=$(q "SELECT count(*), sum(outcome = 'abnormal' AND close_code = 1006) FROM connections
         WHERE $VIA_NGINX AND path LIKE '/idle/%'")
if [ "$got" = "$N_IDLE|$N_IDLE" ]; then
    pass "proxy/idle-via-nginx-abnormal-1006 ($N_IDLE connections)"
else
    fail "proxy/idle-via-nginx-abnormal-1006" "count|abnormal-1006 = $got, want $N_IDLE|$N_IDLE" \
        "$(rows "$VIA_NGINX")"
fi
got=$(q "SELECT count(*), sum(outcome = 'clean' AND close_code = 1000) FROM connections
         WHERE $VIA_NGINX AND path LIKE '/control/%'")
if [ "$got" = "$N_CONTROL|$N_CONTROL" ]; then
    pass "proxy/control-via-nginx-clean-1000 ($N_CONTROL connections)"
else
    fail "proxy/control-via-nginx-clean-1000" "count|clean-1000 = $got, want $N_CONTROL|$N_CONTROL" \
        "$(rows "$VIA_NGINX")"
fi

# 2. idle time before close of the connections without close frames: TIMEOUT_S ± TOL_S
NO_CLOSE="client_close_code IS NULL AND server_close_code IS NULL AND upgraded_at IS NOT NULL"
IDLE="ended_at - max(coalesce(last_frame_at, upgraded_at), upgraded_at)"
for leg in nginx backend; do
    if [ $leg = nginx ]; then port=$NGINX_PORT; else port=$BACKEND_PORT; fi
    got=$(q "SELECT count(*), sum(abs($IDLE - $TIMEOUT_S) <= $TOL_S), printf('%.3f', min($IDLE)),
                    printf('%.3f', max($IDLE))
             FROM connections WHERE server_port = $port AND $NO_CLOSE")
    IFS='|' read -r total within lo hi <<<"$got"
    if [ "$total" = "$N_IDLE" ] && [ "$within" = "$N_IDLE" ]; then
        pass "proxy/idle-before-close-${TIMEOUT_S}s-$leg (${lo}..${hi} s)"
    else
        fail "proxy/idle-before-close-${TIMEOUT_S}s-$leg" \
            "$total connections without close frames (want $N_IDLE), $within within ${TIMEOUT_S}±${TOL_S} s:" \
            "$(rows "server_port = $port AND $NO_CLOSE")"
    fi
done

# 3. wsstats durations
durations_case() {  # NAME OUTFILE CHECK-ARGS... -- WSSTATS-ARGS...
    local name=$1 out=$2 chk=() diag rc; shift 2
    while [ "$1" != -- ]; do chk+=("$1"); shift; done; shift
    timeout 30 "$BIN/wsstats" --db "$DB" "$@" >"$out" 2>"$out.err"; rc=$?
    if [ $rc != 0 ]; then
        fail "proxy/$name" "wsstats --db DB $* exited with status $rc:" "$(head -n 5 "$out.err")"
    elif diag=$("$PY" "$HERE/check.py" durations --json "$out" --p50 "$TIMEOUT_S" --tol "$TOL_S" "${chk[@]}"); then
        pass "proxy/$name"
    else
        fail "proxy/$name" "${diag//#  /}" "output:" "$(head -n 10 "$out")"
    fi
}
durations_case durations-json-idle-cluster "$TMP/durations.json" --min-count "$N_IDLE" -- \
    durations --format json
durations_case durations-json-idle-cluster-via-nginx "$TMP/durations-nginx.json" --count "$N_IDLE" --code 1006 -- \
    --server "127.0.0.1:$NGINX_PORT" durations --format json
timeout 30 "$BIN/wsstats" --db "$DB" durations >"$TMP/durations.txt" 2>"$TMP/durations.txt.err"; rc=$?
if [ $rc != 0 ]; then
    fail "proxy/durations-table-says-idle-timeout" "wsstats --db DB durations exited with status $rc:" \
        "$(head -n 5 "$TMP/durations.txt.err")"
elif tr -s ' \n' '  ' <"$TMP/durations.txt" | grep -qi "idle timeout"; then   # the table wraps its text
    pass "proxy/durations-table-says-idle-timeout"
else
    fail "proxy/durations-table-says-idle-timeout" "no \"idle timeout\" in the table:" "$(head -n 20 "$TMP/durations.txt")"
fi

exit $FAILED
