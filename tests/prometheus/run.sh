#!/bin/bash
# tests/prometheus/run.sh — wsstatsd --metrics against a real Prometheus
# (issue 23).
#
#   scrape-by-code      `wsstatsd -i lo --metrics ... --metrics-by server` while the
#                       python (websockets) and Node (ws) peers of tests/peers run their
#                       scenario table; a Prometheus from Debian, started here on
#                       loopback with its own configuration and data directory, scrapes
#                       it every second. Prometheus's HTTP API (/api/v1/query) gives
#                       the counters by code, outcome, initiator and termination: they
#                       equal the SQLite records, group for group, and hold the peers'
#                       plan (every planned code and outcome, the held connections aside)
#   scrape-by-server    wsstats_connections_ended_by_server_total by server = the records
#   health-series       records written = committed = the rows; build_info; packets > 0;
#                       a commit time of the last seconds; the interface up
#   promtool-metrics    `promtool check metrics` takes the exposition
#   http-errors         / is 404, POST 405 (libmicrohttpd answers; no HTTP of ours)
#   bind-failure        a second daemon on the same address: exit 1, one line naming it
#   usage-errors        --metrics without a port, --metrics-by other, --metrics-by alone: exit 2
#   offline-run         --metrics with -r: served while reading, exit 0
#   promtool-rules      contrib/prometheus: `promtool check rules`, `promtool test rules`
#                       (every alert fires when it should and stays silent when it should)
#
# Output follows tests/CONTRACT.md. Skips (exit 0) without root, prometheus and
# promtool, python3-websockets or the Node peer. Every process is stopped by the
# EXIT trap; Prometheus's data directory is the test's own.
set -u
SUITE=prometheus
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

command -v promtool >/dev/null || skip_all "no promtool (apt-get install prometheus)"
# promtool-rules needs nothing else: run it first
if out=$(cd "$ROOT/contrib/prometheus" && promtool check rules wsstats.rules.yml 2>&1 &&
    promtool test rules wsstats.rules.test.yml 2>&1); then
    pass prometheus/promtool-rules
else
    fail prometheus/promtool-rules "$out"
fi
reason=$(cap_unusable_reason)
[ -z "$reason" ] || skip_all "$reason"
command -v prometheus >/dev/null || skip_all "no prometheus (apt-get install prometheus)"
python_peer_ready || skip_all "python3-websockets not installed"
node_peer_ready || skip_all "the Node peer's ws package is not installed (npm ci in tests/peers)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-prom.XXXXXX")
PIDS=()
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    cap_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT
read -r PY_PORT NODE_PORT METRICS PROM OTHER <<<"$(cap_free_ports 5)"

# ---- usage errors and the HTTP side first ------------------------------------
bad=""
for args in "--metrics nonsense" "--metrics 127.0.0.1:$METRICS --metrics-by client" "--metrics-by server"; do
    # shellcheck disable=SC2086  # the words of args are the options
    "$BIN/wsstatsd" -r /dev/null $args -w "$TMP/u.db" 2>"$TMP/err"
    rc=$?
    [ $rc = 2 ] && [ "$(wc -l <"$TMP/err")" = 1 ] || bad="$bad [$args: exit $rc, $(cat "$TMP/err")]"
done
[ -z "$bad" ] && pass prometheus/usage-errors || fail prometheus/usage-errors "$bad"

# ---- the daemon, Prometheus, the peers -------------------------------------------
"$BIN/wsstatsd" -i lo -f "tcp port $PY_PORT or tcp port $NODE_PORT" --buffer-size 64M -w "$TMP/live.db" \
    --metrics "127.0.0.1:$METRICS" --metrics-by server 2>"$TMP/daemon.err" &
D=$!
PIDS+=($D)
cap_poll 10 curl -sf -o /dev/null "http://127.0.0.1:$METRICS/metrics" ||
    { fail prometheus/daemon-start "no metrics on 127.0.0.1:$METRICS" "$(cat "$TMP/daemon.err")"; exit 1; }

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: wsstats
    static_configs:
      - targets: ["127.0.0.1:$METRICS"]
EOF
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
    --web.listen-address="127.0.0.1:$PROM" --log.level=warn >"$TMP/prom.log" 2>&1 &
PIDS+=($!)
cap_poll 30 curl -sf -o /dev/null "http://127.0.0.1:$PROM/-/ready" ||
    { fail prometheus/server-start "Prometheus did not get ready" "$(tail -5 "$TMP/prom.log")"; exit 1; }

sleep 1 # the daemon's capture is open (it listened before it captured)
(cd "$ROOT/tests/peers" && "$PY" py_peers.py --port "$PY_PORT" --expect "$TMP/py.jsonl" --no-hold >"$TMP/py.log" 2>&1)
(cd "$ROOT/tests/peers" && node node_peers.js --port "$NODE_PORT" --expect "$TMP/node.jsonl" --no-hold >"$TMP/node.log" 2>&1)
planned=$(cat "$TMP/py.jsonl" "$TMP/node.jsonl" | wc -l)
rows() { sqlite3 "$TMP/live.db" "SELECT count(*) FROM connections" 2>/dev/null || echo 0; }
cap_poll 30 sh -c "[ \"\$(sqlite3 '$TMP/live.db' 'SELECT count(*) FROM connections' 2>/dev/null)\" = $planned ]"
query() { # query PROMQL: the result as "labels value" lines, sorted
    "$PY" - "http://127.0.0.1:$PROM/api/v1/query" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})
data = json.load(urllib.request.urlopen(url, timeout=10))
lines = []
for r in data["data"]["result"]:
    labels = ",".join("%s=%s" % kv for kv in sorted(r["metric"].items()))
    lines.append("%s %s" % (labels, r["value"][1]))
print("\n".join(sorted(lines)))
EOF
}
# until Prometheus has scraped every record as committed
scraped() { [ "$(query 'wsstats_records_committed_total' | awk '{print $NF}')" = "$planned" ]; }
cap_poll 30 scraped
n=$(rows)

# ---- what Prometheus has = what SQLite has = what the peers planned -------------
got=$(query 'sum by (code, outcome, initiator, termination) (wsstats_connections_ended_total)')
want=$(sqlite3 -separator ' ' "$TMP/live.db" "SELECT 'code=' || ifnull(close_code, 'none') || ',initiator=' ||
    ifnull(close_initiator, 'none') || ',outcome=' || outcome || ',termination=' || termination, count(*)
    FROM connections GROUP BY 1" | sort)
plan=$(cat "$TMP/py.jsonl" "$TMP/node.jsonl" | "$PY" -c "
import collections, json, sys
c = collections.Counter()
for line in sys.stdin:
    d = json.loads(line)
    if d['outcome'] != 'unfinished':  # held open by the scenario: ended some other way with --no-hold
        c['code=%s,outcome=%s' % (d['close_code'] if d['close_code'] is not None else 'none', d['outcome'])] += 1
print('\n'.join('%s %d' % kv for kv in sorted(c.items())))")
by_code=$(query 'sum by (code, outcome) (wsstats_connections_ended_total)')
missing=$(echo "$plan" | while read -r key count; do
    have=$(echo "$by_code" | awk -v k="$key" '$1 == k {print $2}')
    [ "${have:-0}" -ge "$count" ] || echo "$key: $count planned, ${have:-0} counted"
done)
total=$(query 'sum(wsstats_connections_ended_total)' | awk '{print $NF}')
if [ "$n" = "$planned" ] && [ "$got" = "$want" ] && [ -z "$missing" ] && [ "$total" = "$planned" ]; then
    pass prometheus/scrape-by-code
else
    fail prometheus/scrape-by-code "rows $n, planned $planned, Prometheus total $total" "Prometheus:" "$got" \
        "SQLite:" "$want" "short of the plan: $missing" "$(tail -3 "$TMP/daemon.err")"
fi

got=$(query 'sum by (server) (wsstats_connections_ended_by_server_total)')
want=$(sqlite3 -separator ' ' "$TMP/live.db" "SELECT 'server=' || CASE WHEN instr(server_ip, ':') THEN '[' ||
    server_ip || ']' ELSE server_ip END || ':' || server_port, count(*) FROM connections GROUP BY 1" | sort)
[ "$got" = "$want" ] && [ -n "$got" ] && pass prometheus/scrape-by-server ||
    fail prometheus/scrape-by-server "Prometheus:" "$got" "SQLite:" "$want"

curl -s "http://127.0.0.1:$METRICS/metrics" >"$TMP/metrics.txt"
value() { awk -v s="$1" '$1 == s {print $2}' "$TMP/metrics.txt"; }
now=$(date +%s)
commit=$(value wsstats_last_commit_timestamp_seconds)
if [ "$(value wsstats_records_written_total)" = "$n" ] && [ "$(value wsstats_records_committed_total)" = "$n" ] &&
    [ "$(value wsstats_records_queued)" = 0 ] && [ "$(value wsstats_interface_up)" = 1 ] &&
    grep -q '^wsstats_build_info{version="[0-9.]*"} 1$' "$TMP/metrics.txt" &&
    [ "$(value wsstats_packets_total)" -gt 0 ] && [ "${commit%.*}" -gt $((now - 120)) ] && [ "${commit%.*}" -le "$now" ]; then
    pass prometheus/health-series
else
    fail prometheus/health-series "rows $n, now $now" "$(grep -E '^wsstats_(records|packets|last|interface|build)' "$TMP/metrics.txt")"
fi
out=$(promtool check metrics <"$TMP/metrics.txt" 2>&1) && pass prometheus/promtool-metrics ||
    fail prometheus/promtool-metrics "$out"

codes="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS/") $(curl -s -o /dev/null -w '%{http_code}' \
    -X POST "http://127.0.0.1:$METRICS/metrics")"
[ "$codes" = "404 405" ] && pass prometheus/http-errors || fail prometheus/http-errors "got $codes (want 404 405)"

"$BIN/wsstatsd" -i lo -w "$TMP/second.db" --metrics "127.0.0.1:$METRICS" 2>"$TMP/err" &
P=$!
PIDS+=($P)
cap_poll 10 sh -c "! kill -0 $P 2>/dev/null"
wait $P
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$TMP/err")" = 1 ] &&
    grep -q "^wsstatsd: --metrics 127.0.0.1:$METRICS: cannot listen: Address already in use$" "$TMP/err" &&
    pass prometheus/bind-failure || fail prometheus/bind-failure "exit $rc (want 1)" "$(cat "$TMP/err")"

kill -TERM $D
wait $D
drc=$?
[ $drc = 0 ] || fail prometheus/daemon-stop "exit $drc after SIGTERM" "$(cat "$TMP/daemon.err")"

# ---- offline ---------------------------------------------------------------------
PYTHONPATH="$ROOT/tests/tools" "$PY" -c "
from pcapgen import concurrent_websockets
concurrent_websockets('$TMP/many.pcap', 20000)"
"$BIN/wsstatsd" -r "$TMP/many.pcap" -w "$TMP/off.db" --metrics "127.0.0.1:$OTHER" 2>"$TMP/err" &
P=$!
PIDS+=($P)
cap_poll 10 curl -sf -o "$TMP/off.txt" "http://127.0.0.1:$OTHER/metrics"
served=$?
wait $P
rc=$?
[ $served = 0 ] && [ $rc = 0 ] && grep -q '^wsstats_packets_total ' "$TMP/off.txt" &&
    [ "$(sqlite3 "$TMP/off.db" "SELECT count(*) FROM connections")" = 20000 ] && pass prometheus/offline-run ||
    fail prometheus/offline-run "served $served, exit $rc" "$(cat "$TMP/err")"
[ "$FAILED" = 0 ]
