#!/bin/bash
# tests/http/run.sh — plain HTTP around the WebSocket traffic never becomes a
# WebSocket record, clean or with packets lost (issue 20).
#
# A private nginx (Debian's, started here on loopback with its own config,
# logs, pid and temp dirs in a temp dir) serves files of random bytes (1 KiB,
# 100 KiB, 3 MiB) and a plain location; tcpdump records, on lo:
#   - curl downloads of each size, one connection each, and one curl run
#     fetching all three over one keep-alive connection;
#   - tests/http/clients.py: pipelined GETs, GETs one after another on one
#     connection, a POST, a GET asking `Upgrade: h2c`, and one complete
#     WebSocket upgrade request that the plain location answers 200.
# Then:
#   - clean: exactly one record, the refused upgrade (outcome rejected,
#     http_status 200, its path), nothing else;
#   - with handshake packets lost (tests/tools/pcaploss.py: every loss on
#     every connection, and the mix from three starting points): never a
#     record but that one (none when its request was lost);
#   - picked up mid-stream (each connection's first three data packets,
#     SYNs with them, lost): no record at all; and 2,000 flows without a
#     SYN carrying random bytes (pcapgen): none either; nor 500 flows whose
#     first segments tile as frames and whose later bytes are none (the same
#     flows continued with frames: 500 records). The false-positive figures
#     of mid-stream pickup are printed (README quotes them).
# Output follows tests/CONTRACT.md. Skips without root, tcpdump, nginx, curl
# or sqlite3. Env: BIN (default build), KEEP=1 keeps the temp dir.
set -u

SUITE=http
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })
reason=$(cap_unusable_reason)
[ -z "$reason" ] || skip_all "$reason"
[ -n "$NGINX" ] || skip_all "nginx not installed (apt-get install nginx-light)"
command -v curl >/dev/null 2>&1 || skip_all "curl not installed"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 not installed"
if [ ! -x "$BIN/wsstatsd" ]; then
    fail "http/wsstatsd-exists" "$BIN/wsstatsd not found or not executable (run make)"
    exit 1
fi
TOOLS=$HERE/../tools

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-http.XXXXXX")
chmod 755 "$TMP"
NGINX_PID=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    cap_cleanup
    if [ -n "$NGINX_PID" ]; then
        kill -TERM "$NGINX_PID" 2>/dev/null
        wait "$NGINX_PID" 2>/dev/null
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "# http: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- nginx with files of random bytes
read -r PORT <<<"$(cap_free_ports 1)"
mkdir -p "$TMP/nginx" "$TMP/www"
head -c 1024 /dev/urandom >"$TMP/www/f1k"
head -c 102400 /dev/urandom >"$TMP/www/f100k"
head -c 3145728 /dev/urandom >"$TMP/www/f3m"
echo "a plain page" >"$TMP/www/plain"
cat >"$TMP/nginx/nginx.conf" <<EOF
# written by tests/http/run.sh: a plain file server, no WebSocket anywhere
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
    default_type application/octet-stream;
    keepalive_requests 100;
    server {
        listen 127.0.0.1:$PORT;
        root $TMP/www;
        error_page 405 =200 \$uri; # a POST to a file is answered with it
    }
}
EOF
"$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' \
    >"$TMP/nginx/stdout" 2>&1 &
NGINX_PID=$!
# shellcheck disable=SC2317  # called through cap_poll
nginx_up() { grep -q "start worker process" "$TMP/nginx/error.log" 2>/dev/null || ! kill -0 "$NGINX_PID"; }
if ! cap_poll 10 nginx_up || ! kill -0 "$NGINX_PID" 2>/dev/null; then
    fail "http/nginx-started" "nginx did not start:" "$(tail -n 5 "$TMP/nginx/error.log" "$TMP/nginx/stdout" 2>/dev/null)"
    exit 1
fi
pass "http/nginx-started ($("$NGINX" -v 2>&1 | sed 's/.*: //'), port $PORT)"

# ---- the traffic
PCAP=$TMP/http.pcap
cap_start "$PCAP" "$PORT" || { fail "http/capture-started" "tcpdump would not start"; exit 1; }
ok_traffic=1
for f in f1k f100k f3m; do
    curl -sS -o /dev/null "http://127.0.0.1:$PORT/$f" 2>>"$TMP/curl.err" || ok_traffic=0
done
curl -sS -o /dev/null -o /dev/null -o /dev/null "http://127.0.0.1:$PORT/f1k" "http://127.0.0.1:$PORT/f100k" \
    "http://127.0.0.1:$PORT/f3m" 2>>"$TMP/curl.err" || ok_traffic=0
"$PY" "$HERE/clients.py" "$PORT" >"$TMP/clients.out" 2>"$TMP/clients.err" || ok_traffic=0
cap_settle "$PCAP"
cap_stop || fail "http/capture-complete" "$(tr '\n' ' ' <"$CAP_LOG")"
kill -TERM "$NGINX_PID" 2>/dev/null
wait "$NGINX_PID" 2>/dev/null
NGINX_PID=
if [ "$ok_traffic" = 1 ]; then
    pass "http/traffic ($(tr '\n' ';' <"$TMP/clients.out"))"
else
    fail "http/traffic" "$(cat "$TMP/curl.err" "$TMP/clients.err" "$TMP/clients.out" | head -5)"
fi
flows=$(tshark -r "$PCAP" -q -z conv,tcp 2>/dev/null | grep -c '<->')

# ---- clean: one record, the refusal
rm -f "$TMP/clean.db"
"$BIN/wsstatsd" -q -r "$PCAP" -w "$TMP/clean.db"
got=$(sqlite3 "$TMP/clean.db" "SELECT outcome, http_status, path FROM connections")
want="rejected|200|/plain?room=1"
if [ "$got" = "$want" ]; then
    pass "http/clean-one-record-the-refused-upgrade ($flows TCP connections)"
else
    fail "http/clean-one-record-the-refused-upgrade" "want $want, got:" "$got"
fi

# ---- lossy: never a record but that one
refused_port=$(sqlite3 "$TMP/clean.db" "SELECT client_port FROM connections")
check_lossy() { # NAME MODE SEED
    "$PY" "$TOOLS/pcaploss.py" "$PCAP" "$TMP/lossy.pcap" --mode "$2" --seed "$3" --out-plan "$TMP/plan.txt"
    rm -f "$TMP/lossy.db"
    "$BIN/wsstatsd" -q -r "$TMP/lossy.pcap" -w "$TMP/lossy.db"
    local others refusal loss
    others=$(sqlite3 "$TMP/lossy.db" "SELECT client_port || ' ' || outcome || ' ' || coalesce(http_status, '-')
                                      FROM connections WHERE client_port != ${refused_port:-0}")
    refusal=$(sqlite3 "$TMP/lossy.db" "SELECT count(*) FROM connections WHERE client_port = ${refused_port:-0}")
    loss=$(awk -v p="${refused_port:-0}" '$2 == p { print $4 }' "$TMP/plan.txt")
    if [ -n "$others" ]; then
        fail "http/$1-no-invented-records" "records of plain HTTP connections (port outcome status):" \
            "$(echo "$others" | head -5 | tr '\n' ';')"
    elif [ "$refusal" -gt 1 ]; then
        fail "http/$1-no-invented-records" "the refused upgrade (loss $loss) has $refusal records"
    else
        pass "http/$1-no-invented-records (the refused upgrade, loss ${loss:-none}: $refusal record)"
    fi
}
for mode in request response request+frame response+frame syn+request; do
    check_lossy "$mode" "$mode" 0
done
for seed in 0 1 2; do
    check_lossy "mix-$seed" mix "$seed"
done

# ---- mid-stream pickup on traffic that is not WebSocket
"$PY" "$TOOLS/pcaploss.py" "$PCAP" "$TMP/mid.pcap" --mode midstream
rm -f "$TMP/mid.db"
"$BIN/wsstatsd" -q -r "$TMP/mid.pcap" -w "$TMP/mid.db"
n=$(sqlite3 "$TMP/mid.db" "SELECT count(*) FROM connections")
[ "$n" = 0 ] && pass "http/midstream-nginx-no-record (0 of $flows connections picked up)" ||
    fail "http/midstream-nginx-no-record" "$n of $flows connections picked up as WebSocket:" \
        "$(sqlite3 "$TMP/mid.db" "SELECT client_port, outcome, violations FROM connections" | head -5 | tr '\n' ';')"
PYTHONPATH=$TOOLS "$PY" - "$TMP/random.pcap" <<'PYEOF'
import random, sys
from pcapgen import Conversation, Pcap
rng = random.Random(6455)
p = Pcap(sys.argv[1])
for i in range(2000):  # flows without a SYN: each side sends a few segments of random bytes
    c = Conversation(p, "10.7.%d.%d" % (i // 250, i % 250 + 1), 30000 + i, "10.8.0.1", rng.choice([80, 443, 8080]))
    for _ in range(rng.randint(1, 12)):
        side = rng.choice(["client", "server"])
        c.send(side, bytes(rng.getrandbits(8) for _ in range(rng.choice([2, 7, 60, 300, 1400]))))
p.close()
PYEOF
rm -f "$TMP/random.db"
"$BIN/wsstatsd" -q -r "$TMP/random.pcap" -w "$TMP/random.db"
n=$(sqlite3 "$TMP/random.db" "SELECT count(*) FROM connections")
[ "$n" = 0 ] && pass "http/midstream-random-bytes-no-record (0 of 2000 flows picked up)" ||
    fail "http/midstream-random-bytes-no-record" "$n of 2000 flows of random bytes picked up as WebSocket"
# A binary protocol whose first segments happen to tile as frames, then stop
# making sense: no record, each counted as not WebSocket after following it.
# The same first segments followed by frames are 500 mid-stream records.
for rest in nonsense frames; do
    PYTHONPATH=$TOOLS "$PY" - "$TMP/tile.pcap" "$rest" <<'PYEOF'
import random, sys
from pcapgen import Conversation, Pcap, ws_frame
rng = random.Random(7692)
p = Pcap(sys.argv[1])
def some(n):
    return bytes(rng.getrandbits(8) for _ in range(n))
for i in range(500):  # no SYN: each side's first segment is one binary frame
    c = Conversation(p, "10.9.%d.%d" % (i // 250, i % 250 + 1), 30000 + i, "10.8.0.2", 9000)
    c.send("server", ws_frame(2, some(20)))
    c.send("client", ws_frame(2, some(20), mask=some(4)))
    for k in range(6):
        side = ["server", "client"][k % 2]
        if sys.argv[2] == "frames":
            c.send(side, ws_frame(2, some(rng.randint(30, 900)), mask=some(4) if side == "client" else None))
        else:
            c.send(side, some(rng.randint(30, 900)))
    c.fin("server")
    c.fin("client")
p.close()
PYEOF
    rm -f "$TMP/tile.db"
    "$BIN/wsstatsd" -v -r "$TMP/tile.pcap" -w "$TMP/tile.db" 2>"$TMP/tile.log"
    n=$(sqlite3 "$TMP/tile.db" "SELECT count(*) FROM connections")
    after=$(sed -n 's/.* not WebSocket ([0-9]* by their first bytes, \([0-9]*\) after following them).*/\1/p' "$TMP/tile.log")
    if [ "$rest" = nonsense ]; then
        [ "$n" = 0 ] && [ "$after" = 500 ] &&
            pass "http/midstream-frames-then-nonsense-no-record (0 of 500, $after counted after following them)" ||
            fail "http/midstream-frames-then-nonsense-no-record" "$n records of 500, ${after:-?} counted after following them"
    else
        [ "$n" = 500 ] && pass "http/midstream-frames-then-frames-recorded (500 of 500)" ||
            fail "http/midstream-frames-then-frames-recorded" "$n records of 500 mid-stream WebSocket flows"
    fi
done
exit "$FAILED"
