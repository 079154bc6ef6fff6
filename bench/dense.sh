#!/usr/bin/env bash
# bench/dense.sh — the connection-churn runs of `make bench` (issue 21).
#
# Where a tap is busiest, the cost is per connection, not per byte. Two
# captures, made once into bench/out/ and kept:
#
#   dense   real peers (tests/peers/record.sh: python-websockets and Node ws
#           on loopback, tcpdump; 120 connections of the demo's mix) copied
#           by bench/replicate.py, each copy with addresses of its own and
#           starting 10 ms after the one before, to at least 8,000
#           connections;
#   short   100,000 short WebSocket connections (handshake, a frame each
#           way, a 1000 close each way, FINs: 13 packets), copies of a
#           tests/tools/pcapgen.py template, one starting every 100 us;
#           and its first 25,000 and 50,000 for the memory's slope.
#
# Each is read by the floor (bench/floor.c with its fastest buffer), by
# wsstatsd -v -r into a database on disk (the two in turns, RUNS times) and
# by tshark (TSHARK_RUNS times) extracting websocket close codes, in the same
# minutes. Prints wall time (median, start-up included), CPU, peak RSS, the
# cost per connection (wall / connections), the ratios to the floor and to
# tshark, whether the records are those of one copy times the copies, and
# how the peak RSS grows from 25,000 to 100,000 short connections, against
# the targets: <= 6 us per connection, >= 50x tshark, the peak RSS flat in
# the connections that have ended. PROFILE=1 also records wsstatsd with perf
# and prints the CPU of each thread and its top functions.
#
# Environment: BIN (build), RUNS (5), TSHARK_RUNS (1), PROFILE, STRICT=1
# (exit 1 when a target is missed; by default only a wrong record count or
# a failed run does).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
OUT=${DENSE_OUT:-bench/out}
PY=/usr/bin/python3
RUNS=${RUNS:-5}
TSHARK_RUNS=${TSHARK_RUNS:-1}
DENSE_MIN=8000
mkdir -p "$OUT"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh
build_floor
verdict=0

machine_line

# ---- the captures --------------------------------------------------------------

peers_capture() {
    [ -s "$OUT/peers.pcap" ] && return 0
    echo "recording $OUT/peers.pcap (real peers on lo, about 10 s) ..."
    if ! SEED=2121 tests/peers/record.sh "$OUT/peers.pcap" 120 >"$OUT/peers-record.log" 2>&1; then
        echo "dense.sh: cannot record the real peers: $(tail -1 "$OUT/peers-record.log")" >&2
        return 1
    fi
}

short_template() {
    [ -s "$OUT/short-1.pcap" ] && return 0
    PYTHONPATH=tests/tools "$PY" - "$OUT/short-1.pcap" <<'EOF'
import sys
from pcapgen import Pcap, Conversation
p = Pcap(sys.argv[1])
c = Conversation(p, "10.0.0.1", 40000, "10.0.0.2", 8080)
c.handshake(path="/live")
c.send_frame("client", 1, b"hello")
c.send_frame("server", 1, b"world")
c.close("client", 1000)
c.close("server", 1000)
c.fin("server")
c.fin("client")
p.close()
EOF
}

replicate() { # replicate IN OUT COPIES STAGGER
    [ -s "$2" ] && return 0
    echo "generating $2 ($3 copies of $(basename "$1")) ..."
    "$PY" bench/replicate.py "$1" "$2" --copies "$3" --stagger "$4" >/dev/null
}

records_of() { sqlite3 "$1" "SELECT count(*) FROM connections"; }

# what a record says, without addresses and times: one copy's records, each
# as many times as there are copies, must be the dense capture's
shape_sql="SELECT outcome, termination, close_code, close_initiator, client_close_code, server_close_code,
                  close_reason, http_status, handshake_seen, host, path, subprotocol, extensions, violations,
                  frames_client, frames_server, messages_client, messages_server, bytes_client, bytes_server,
                  pings, pongs, ndpi_protocol, count(*)
           FROM connections GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                  21, 22, 23 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23"

same_as_copies() { # same_as_copies ONE_DB DENSE_DB COPIES
    local one dense
    one=$(sqlite3 -separator '|' "$1" "$shape_sql" | awk -F'|' -v k="$3" 'BEGIN { OFS = "|" } { $NF = $NF * k; print }')
    dense=$(sqlite3 -separator '|' "$2" "$shape_sql")
    [ "$one" = "$dense" ]
}

# ---- one run: floor, wsstatsd, tshark -----------------------------------------

# measure NAME FILE CONNECTIONS: the table rows and the figures of one capture
measure() {
    local name=$1 file=$2 conns=$3 packets bytes k floor_runs=() ws_runs=()
    # (this first read also brings the file into the page cache)
    packets=$("$FLOOR" "$file" | awk '{ print $2 }') bytes=$(fsize "$file")
    echo
    echo "== $name: $(basename "$file"), $packets packets, $(awk -v b="$bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }'), $conns connections ($RUNS runs, median; tshark $TSHARK_RUNS)"
    floor_buffer "$file"
    row_header
    for ((k = 0; k < RUNS; k++)); do
        DB=
        floor_runs+=("$(runs 1 "$OUT/dense-floor.log" "$FLOOR" -v -b "$FLOOR_BUFFER" "$file")")
        DB=$OUT/dense.db
        ws_runs+=("$(runs 1 "$OUT/dense-ws.log" "$BIN/wsstatsd" -v -r "$file" -w "$DB")")
    done
    DB=
    local floor_s floor_cpu ws_s ws_cpu ws_rss ts_s='' ts_cpu ts_rss
    read -r floor_s floor_cpu _ <<<"$(median_line "${floor_runs[@]}")"
    read -r ws_s ws_cpu _ <<<"$(median_line "${ws_runs[@]}")"
    ws_rss=$(peak_kib "$OUT/dense-ws.log") # wsstatsd's own figure (getrusage), GNU time or not
    row "floor ($((FLOOR_BUFFER / 1024)) KiB stdio buffer)" "$packets" "$bytes" "$floor_s" "$(peak_kib "$OUT/dense-floor.log")" "$floor_cpu"
    row "wsstatsd -r" "$packets" "$bytes" "$ws_s" "$ws_rss" "$ws_cpu"
    if command -v tshark >/dev/null 2>&1; then
        # shellcheck disable=SC2016 # $1 is the inner shell's
        read -r ts_s ts_cpu ts_rss <<<"$(runs "$TSHARK_RUNS" "$OUT/dense-tshark.log" sh -c 'tshark -n -r "$1" -T fields \
            -e websocket.payload.close.status_code -Y websocket.payload.close.status_code >/dev/null' tshark "$file")"
        row "tshark" "$packets" "$bytes" "$ts_s" "$ts_rss" "$ts_cpu"
    fi
    local got
    got=$(records_of "$OUT/dense.db")
    if [ "$got" != "$conns" ]; then
        echo "dense.sh: $got records from $(basename "$file"), $conns connections in it" >&2
        exit 1
    fi
    local per_conn share
    per_conn=$(awk -v s="$ws_s" -v n="$conns" 'BEGIN { printf "%.1f", s / n * 1e6 }')
    share=$(awk -v f="$floor_s" -v w="$ws_s" 'BEGIN { printf "%.1f", 100 * f / w }')
    target "   per connection: ${per_conn} us of wall time (target <= 6 us)" "$per_conn" 6 le
    echo "   wsstatsd / floor: ${share}% of the floor's throughput"
    if [ -n "$ts_s" ]; then
        local x
        x=$(awk -v t="$ts_s" -v w="$ws_s" 'BEGIN { printf "%.1f", t / w }')
        [ "$name" = dense ] && target "   wsstatsd / tshark: ${x}x faster (target >= 50x)" "$x" 50 ge
        [ "$name" = dense ] || echo "   wsstatsd / tshark: ${x}x faster"
    fi
    echo "   peak RSS $((ws_rss / 1024)) MiB; $got records"
    if [ "${PROFILE:-0}" = 1 ] && command -v perf >/dev/null 2>&1; then
        profile "$file"
    fi
}

# target TEXT VALUE LIMIT le|ge
target() {
    if awk -v v="$2" -v t="$3" -v op="$4" 'BEGIN { exit !(op == "le" ? v <= t : v >= t) }'; then
        echo "$1: met"
    else
        echo "$1: MISSED"
        verdict=1
    fi
}

# profile FILE: CPU per thread and each thread's top functions (perf, 4 kHz)
profile() {
    dbrm "$OUT/dense.db"
    rm -f "$OUT/dense-perf.data"
    perf record -q -F 4000 -o "$OUT/dense-perf.data" "$BIN/wsstatsd" -q -r "$1" -w "$OUT/dense.db" 2>/dev/null
    echo "   profile (perf, cpu-clock samples): CPU by thread"
    perf report -i "$OUT/dense-perf.data" --no-children -s comm --show-total-period --stdio 2>/dev/null |
        awk '/^ +[0-9]/ { printf "     %-16s %7s  %6.0f ms\n", $3, $1, $2 / 1e6 }'
    for t in wsstatsd wsstats-writer wsstats-ndpi; do
        echo "   $t, top functions (share of all samples):"
        perf report -i "$OUT/dense-perf.data" --comm "$t" --no-children -s dso,sym --stdio 2>/dev/null |
            awk '/^ +[0-9]/ && n++ < 8 { printf "     %7s  %-22s %s\n", $1, $2, $4 }'
    done
}

# ---- the runs -----------------------------------------------------------------

if peers_capture; then
    dbrm "$OUT/peers.db"
    "$BIN/wsstatsd" -q -r "$OUT/peers.pcap" -w "$OUT/peers.db"
    one=$(records_of "$OUT/peers.db")
    copies=$(((DENSE_MIN + one - 1) / one))
    replicate "$OUT/peers.pcap" "$OUT/peers-dense.pcap" "$copies" 0.01
    measure dense "$OUT/peers-dense.pcap" $((one * copies))
    if same_as_copies "$OUT/peers.db" "$OUT/dense.db" "$copies"; then
        echo "   the records: those of the one capture ($one) $copies times over, column for column but addresses and times"
    else
        echo "   the records DIFFER from those of the one capture $copies times over"
        exit 1
    fi
else
    echo
    echo "== dense: skipped (no real-peer capture; it needs root, tcpdump, python3-websockets and node's ws)"
    verdict=1
fi

short_template
for n in 25000 50000 100000; do
    replicate "$OUT/short-1.pcap" "$OUT/short-$((n / 1000))k.pcap" "$n" 0.0001
done
measure short "$OUT/short-100k.pcap" 100000

echo
echo "== peak RSS against the connections that have ended (short connections, $RUNS runs each, median)"
declare -A rss
for n in 25 50 100; do
    DB=$OUT/dense.db
    read -r s _ <<<"$(runs "$RUNS" "$OUT/dense-rss.log" "$BIN/wsstatsd" -v -r "$OUT/short-${n}k.pcap" -w "$DB")"
    DB=
    r=$(peak_kib "$OUT/dense-rss.log") # the last run's, by wsstatsd -v
    rss[$n]=$r
    printf '   %6d connections: peak RSS %6.1f MiB, %.3f s\n' $((n * 1000)) "$(awk -v r="$r" 'BEGIN { print r / 1024 }')" "$s"
done
slope=$(awk -v a="${rss[25]}" -v b="${rss[100]}" 'BEGIN { printf "%.0f", (b - a) * 1024 / 75000 }')
target "   growth: ${slope} bytes per ended connection from 25,000 to 100,000 (target: flat, <= 16)" "$slope" 16 le

echo
if [ "$verdict" = 0 ]; then
    echo "verdict: every connection-churn target met"
else
    echo "verdict: connection-churn targets NOT all met (above)"
    [ "${STRICT:-0}" = 1 ] && exit 1
fi
exit 0
