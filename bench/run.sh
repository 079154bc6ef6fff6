#!/usr/bin/env bash
# bench/run.sh — what `make bench` runs: the memory runs, then the query run.
#
#   1. A flood of one million SYN-only flows under --memcap 64M: peak RSS
#      stays near the memcap plus the program's own baseline, and the
#      evictions are counted.
#   2. 100,000 WebSocket connections open at the same time (default
#      memcap): every one recorded, and the memory per tracked connection.
#   3. Every wsstats command over a million synthetic records
#      (bench/queries.sh): median time of three runs each.
#   4. Speed (bench/speed.sh): a 1.2 GB synthetic tap capture read by a
#      bare libpcap loop (bench/floor.c), wsstatsd -r and tshark.
#   5. Connection churn (bench/dense.sh): real peers replicated to 8,000
#      connections and 100,000 short synthetic ones, against the floor and
#      tshark, and the peak RSS as the ended connections grow.
#   6. ClickHouse (bench/clickhouse.sh, issue 24; skipped without
#      clickhouse-server): records per second shipped by wsstats export,
#      wsstatsd -r with and without --clickhouse, and the reports over ten
#      million records of twenty sensors beside SQLite's over a million,
#      on a private clickhouse-server on loopback.
#
# Captures are generated with tests/tools/pcapgen.py into bench/out/ (kept,
# so a second run skips generating them). Figures come from wsstatsd -v
# (getrusage peak RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
OUT=bench/out
PY=/usr/bin/python3
mkdir -p "$OUT"
export PYTHONPATH=tests/tools

gen() { # gen FILE PYTHON-EXPR
    [ -s "$1" ] && return 0
    echo "generating $1 ..."
    "$PY" -c "from pcapgen import *; $2"
}

figure() { sed -n "s/.*$1.*/&/p" "$2" | head -1; }
peak_kib() { sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$1"; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
base_log=$OUT/baseline.log
gen "$OUT/one.pcap" "concurrent_websockets('$OUT/one.pcap', 1)"
rm -f "$OUT/bench.db"*
"$BIN/wsstatsd" -v -r "$OUT/one.pcap" -w "$OUT/bench.db" 2>"$base_log"
base=$(peak_kib "$base_log")
echo "baseline (one connection): peak RSS ${base} KiB"

echo
echo "== 1. one million SYN-only flows, --memcap 64M"
gen "$OUT/syn-1m.pcap" "syn_flood('$OUT/syn-1m.pcap', 1000000)"
rm -f "$OUT/bench.db"*
start=$(date +%s.%N)
"$BIN/wsstatsd" -v --memcap 64M -r "$OUT/syn-1m.pcap" -w "$OUT/bench.db" 2>"$OUT/syn.log"
end=$(date +%s.%N)
peak=$(peak_kib "$OUT/syn.log")
grep -E 'flows:' "$OUT/syn.log" | sed 's/^wsstatsd: /   /'
printf '   peak RSS %d KiB = baseline %d KiB + %d KiB (memcap 65536 KiB, plus the flow table:\n   a bucket array that grows with the flows, 8 bytes a bucket); %.2f s\n' \
    "$peak" "$base" $((peak - base)) "$(awk "BEGIN { print $end - $start }")"

echo
echo "== 2. 100,000 concurrent WebSocket connections"
gen "$OUT/ws-100k.pcap" "concurrent_websockets('$OUT/ws-100k.pcap', 100000)"
rm -f "$OUT/bench.db"*
start=$(date +%s.%N)
"$BIN/wsstatsd" -v -r "$OUT/ws-100k.pcap" -w "$OUT/bench.db" 2>"$OUT/ws.log"
end=$(date +%s.%N)
peak=$(peak_kib "$OUT/ws.log")
n=$(sqlite3 "$OUT/bench.db" "SELECT count(*) FROM connections WHERE outcome = 'clean'")
printf '   %d connections recorded clean; peak RSS %d KiB; %d bytes per tracked connection; %.2f s\n' \
    "$n" "$peak" $(((peak - base) * 1024 / 100000)) "$(awk "BEGIN { print $end - $start }")"

echo
echo "== 3. wsstats queries over a million records"
bench/queries.sh

echo
echo "== 4. speed (issue 7): bare libpcap loop, wsstatsd -r, tshark"
bench/speed.sh

echo
echo "== 5. connection churn (issue 21): real peers x 67, 100,000 short connections"
bench/dense.sh

echo
echo "== 6. ClickHouse (issue 24): shipping, and the reports over 10 million records"
bench/clickhouse.sh
