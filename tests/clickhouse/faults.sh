#!/bin/bash
# tests/clickhouse/faults.sh — shipping to ClickHouse exactly once when a
# process dies in the middle of a batch: the server (SIGKILL, SIGTERM) or
# the sensor (SIGKILL). A private clickhouse-server from Debian (18.16) on
# loopback, with its own configuration, users and data directory (as
# tests/clickhouse/run.sh), restarted on the same data directory.
#
# The records: 150,000 synthetic ones in one SQLite database, so 3 INSERTs
# of 50,000. The kills land in the second, placed by ClickHouse's own
# stage, so more records would only add time. They end over 30 days, as in
# a sensor's database exported for the first time. Each id's end is
# jittered by up to a minute, because a sensor writes a record when it
# notices the end (a FIN at once, an idle timeout later): around each
# midnight the ids of two days interleave. Each INSERT holds some ten days,
# that is ten parts of ClickHouse's table (PARTITION BY day). Each round
# ships the records under a sensor name of its own and proves that, at the
# end, count() = uniqExact(sensor, id) = the records in SQLite.
#
# ClickHouse itself tells the moment of a kill. In 18.16 an INSERT's
# system.processes row has written_rows 0 while the body arrives and is
# parsed, and the batch's size once it is. The parts are written after
# that, one per day, each committed on its own, and the sensor's committed
# rows grow as they are. A poller on one keep-alive HTTP connection sends
# the signals the instant the moment is seen.
#
#   server-killed-mid-batch   clickhouse-server SIGKILLed under a running
#                   `wsstats export`, at three moments of one INSERT:
#                   receiving (the body arriving or being parsed), parsed
#                   (its parts being written, none committed yet) and
#                   committing (some of its parts committed, the INSERT not
#                   answered). The shipper is stopped (SIGSTOP) for the kill
#                   and the restart, so what ClickHouse held at the kill is
#                   measured before the shipper asks. Then the shipper goes
#                   on (an unknown outcome is waited for and asked again), or
#                   it fails and is run again. Mid-batch is proved: the
#                   INSERT was running at the kill, ClickHouse then held
#                   fewer records than SQLite, the meta key was behind the
#                   batch, and the shipper told of the failure. Also told:
#                   how many kills left ClickHouse holding ids missing
#                   below its max(id) (count() < max(id)), the parts of
#                   the other days committed first, which the shipper
#                   then counts and fills
#   server-stopped-a-while    clickhouse-server stopped (SIGTERM) while an
#                   INSERT of a live `wsstatsd -i lo --clickhouse` runs, and
#                   kept down 3 s from the signal. Its backlog is the
#                   150,000, plus 20 connections of tests/live/traffic.py
#                   captured during the outage. The server waits 1 s for what
#                   runs (shutdown_wait_unfinished, not 5, or the daemon's
#                   back-off would wait 14 s). Once it is started again, the
#                   daemon's back-off ships everything before the daemon is
#                   stopped (exit 0); the daemon told the failure with records
#                   waiting, then "shipping again". Without root (no live
#                   capture) the shipper is `wsstats export`, run again until
#                   it succeeds
#   sensor-killed-mid-batch   the sensor SIGKILLed while its INSERT runs.
#                   `wsstats export` is killed while ClickHouse receives the
#                   batch, and again once ClickHouse has parsed it. Each
#                   time it is restarted once the server is done with the
#                   orphaned INSERT, which ClickHouse may finish: the meta
#                   key then lags ClickHouse's max(id). `wsstatsd -r
#                   --append-again --clickhouse` is killed while the INSERT
#                   commits and restarted at once (as by systemd's
#                   Restart=), with the orphan still running. Mid-batch is
#                   proved: at the kill some of the records were in
#                   ClickHouse, not all, and the running batch was not
#                   acknowledged
#   summary-counts-once       every "N records shipped ... (ClickHouse held its
#                   ids up to F, now T)" line of the exports above has
#                   N = T - F + K, K the records below F it
#                   says ClickHouse lacked (the ids here have no gaps)
#
# Each case also fails on an ASan/UBSan report in its sensors' logs (for
# BIN=build-asan). Output follows tests/CONTRACT.md. Skips (exit 0) without
# clickhouse-server and clickhouse-client. Every wait is bounded. The EXIT
# trap kills this shell's children that still run and removes the
# temporary directory. FAULTS_VERBOSE=1 tells each round's measurements on
# stderr. About 45 s on 2 idle cores.
set -u
SUITE=clickhouse-faults
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null ||
    skip_all "no clickhouse-server/clickhouse-client (apt-get install clickhouse-server clickhouse-client)"
command -v sqlite3 >/dev/null || skip_all "no sqlite3 (apt-get install sqlite3)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-chf.XXXXXX")
SERVER=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    local p # this shell's children not yet waited for: shippers, daemons, traffic, the server
    for p in $(jobs -p); do kill -CONT "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    cap_cleanup
    rm -rf "$TMP"
}
trap cleanup EXIT
read -r HTTP TCP INTERSERVER WSPORT <<<"$(cap_free_ports 4)"
URL="http://127.0.0.1:$HTTP/?database=wsstats"
T0=$(date +%s%N)
# note WORDS...: with FAULTS_VERBOSE=1, a line on stderr (seconds since the start)
note() {
    [ "${FAULTS_VERBOSE:-0}" = 1 ] || return 0
    echo "faults: $(awk -v a="$T0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s: $*" >&2
}

# shellcheck source-path=SCRIPTDIR source=server.sh
. "$(dirname "$0")/server.sh"
ch_config "$TMP" "$HTTP" "$TCP" "$INTERSERVER" "<shutdown_wait_unfinished>1</shutdown_wait_unfinished>"

# moment.py PORT MOMENT SENSOR SHIPPER SECONDS [SIG:PID ...]: polls
# system.processes (every 2 ms, one HTTP connection; 0.5 ms a query) until
# the sensor's INSERT of a batch after the first (that one acknowledged;
# its query_id is wsstats-SENSOR-FIRST-LAST) is at MOMENT, then sends the
# signals at once, in order, and prints "FIRST LAST WRITTEN HELD" (HELD: the
# sensor's committed rows just before the signals for committing, just
# after them when the server still answers, else -). MOMENT: receiving
# (written 0: none of it committed), parsed (written, its parts being
# written), committing (its committed rows counted, a few ms a count, until
# some are there), any. Exit 1 if the shipper ended first or SECONDS passed.
cat >"$TMP/moment.py" <<'EOF'
import http.client, os, signal, sys, time
port, moment, sensor, shipper, seconds = sys.argv[1:6]
signals = [(getattr(signal, "SIG" + a.split(":")[0]), int(a.split(":")[1])) for a in sys.argv[6:]]
running = ("SELECT query_id, written_rows FROM system.processes WHERE query_id LIKE 'wsstats-%s-%%' "
           "FORMAT TabSeparated" % sensor)
count = "SELECT count() FROM wsstats.connections WHERE sensor = '%s'" % sensor
conn, deadline = None, time.monotonic() + float(seconds)
def ask(sql):
    global conn
    try:
        conn = conn or http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
        conn.request("POST", "/", body=sql.encode())
        return conn.getresponse().read().decode().split("\n")[0]
    except (OSError, http.client.HTTPException):
        conn = None
        return None
def gone(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
def done(first, last, written, held):
    for sig, pid in signals:
        os.kill(pid, sig)
    if held is None:
        held = ask(count) or "-"
    print(first, last, written, held)
    sys.exit(0)
while time.monotonic() < deadline and not gone(shipper):
    line = ask(running)
    if line is None:
        time.sleep(0.01)
        continue
    if line:
        qid, written = line.split("\t")
        first, last = map(int, qid.rsplit("-", 2)[1:])
        written, size = int(written), last - first + 1
        if first > 1:
            if moment == "any" or (moment == "receiving" and written == 0) or (moment == "parsed" and written == size):
                done(first, last, written, None)
            if moment == "committing" and written == size:
                held = int(ask(count) or 0)
                if held > first - 1:
                    done(first, last, written, held)
                continue
    time.sleep(0.002)
sys.exit(1)
EOF
# moment MOMENT SENSOR SHIPPER SECONDS [SIG:PID ...]: moment.py; SEEN its line
SEEN=
moment() { SEEN=$("$PY" "$TMP/moment.py" "$HTTP" "$@"); }

# A child that has exited (or a zombie not yet waited for) is gone.
gone() { local s; s=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null); [ -z "$s" ] || [ "$s" = Z ]; }
# finish PID SECONDS: waits for a child, SIGKILLed after SECONDS; its exit status
finish() {
    cap_poll "$2" gone "$1" || { kill -CONT "$1" 2>/dev/null; kill -KILL "$1" 2>/dev/null; }
    wait "$1"
}
start_server() {
    clickhouse-server --config-file="$TMP/config.xml" >>"$TMP/stdout.log" 2>&1 &
    SERVER=$!
    cap_poll 30 curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$HTTP/ping"
}
# SIGKILL (perhaps sent already) and wait: the data directory is free again
kill_server() { kill -KILL "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; SERVER=; }
stop_server() { kill -TERM "$SERVER" 2>/dev/null; finish "$SERVER" 30 >/dev/null 2>&1; SERVER=; }
# chs SQL: ClickHouse's answer over HTTP (TabSeparated), empty when it is down
chs() { curl -s --max-time 10 "http://127.0.0.1:$HTTP/" --data-binary "$1"; }
start_server || { fail "$SUITE/server-start" "ClickHouse did not answer /ping" "$(tail -5 "$TMP/stdout.log" "$TMP/error.log" 2>/dev/null)"; exit 1; }
out=$(clickhouse-client --port "$TCP" --multiquery <"$ROOT/contrib/clickhouse/schema.sql" 2>&1) ||
    { fail "$SUITE/schema" "$out"; exit 1; }

# ---- the records ------------------------------------------------------------------
# wsstatsd makes the schema and one template record (tests/tools/pcapgen.py).
# 150,000 copies of it end 17.28 s apart from 2023-11-15 06:00 UTC on, each
# within +-60 s of that (a permutation of 121 offsets); client ports and
# times differ.
N=150000
DB=$TMP/s.db
PYTHONPATH="$ROOT/tests/tools" "$PY" -c "from pcapgen import concurrent_websockets; concurrent_websockets('$TMP/one.pcap', 1)"
"$BIN/wsstatsd" -q -r "$TMP/one.pcap" -w "$DB" 2>"$TMP/build.log"
timed="id, client_port, started_at, upgraded_at, ended_at, last_frame_at, last_data_at, client_close_at, server_close_at"
rest=$(sqlite3 "$DB" "SELECT group_concat(name, ', ') FROM pragma_table_info('connections')
    WHERE instr(', $timed,', ', ' || name || ',') = 0" 2>>"$TMP/build.log")
sqlite3 "$DB" >>"$TMP/build.log" 2>&1 <<SQL
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE tpl AS SELECT * FROM connections LIMIT 1;
DELETE FROM connections;
INSERT INTO connections ($timed, $rest)
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < $N),
t(i, e) AS (SELECT i, 1700006400 + 21600 + i * 17.28 + (i * 7919) % 121 - 60 FROM r)
SELECT i, 1024 + i % 60000, e - 30, e - 29.9, e, e - 0.003, e - 0.01, e - 0.004, e - 0.003, $rest FROM t, tpl;
COMMIT;
SQL
records() { sqlite3 -cmd ".timeout 5000" "$DB" "SELECT count(*) FROM connections"; }
# a batch holds several days, and ids out of their time order
days=$(sqlite3 "$DB" "SELECT count(DISTINCT date(ended_at, 'unixepoch')) FROM connections WHERE id BETWEEN 50001 AND 100000")
crossed=$(sqlite3 "$DB" "SELECT count(*) FROM connections a JOIN connections b ON b.id = a.id + 1
    WHERE date(a.ended_at, 'unixepoch') > date(b.ended_at, 'unixepoch')")
[ "$(records)" = $N ] && [ "$days" -ge 5 ] && [ "$crossed" -ge 20 ] ||
    { fail "$SUITE/records" "$(records) records, $days days in batch 2, $crossed ids before a record of the day before" \
        "$(cat "$TMP/build.log")"; exit 1; }
note "$N records, $days days in batch 2, $crossed ids before a record of the day before"

meta() { sqlite3 -cmd ".timeout 5000" "$DB" "SELECT coalesce(max(value), 0) FROM meta WHERE key = 'clickhouse_shipped:$1'"; }
held() { chs "SELECT count(), max(id) FROM wsstats.connections WHERE sensor = '$1'" | tr '\t' ' '; }
exact() { chs "SELECT count(), uniqExact(sensor, id) FROM wsstats.connections WHERE sensor = '$1'" | tr '\t' ' '; }
# damage SENSOR N: the ids ClickHouse holds twice and those it lacks (of 1..N), with the day they ended
damage() {
    local dup miss
    dup=$(chs "SELECT count(), min(id), max(id) FROM (SELECT id FROM wsstats.connections WHERE sensor = '$1'
        GROUP BY id HAVING count() > 1)" | tr '\t' ' ')
    miss=$(chs "SELECT n FROM (SELECT number + 1 AS n FROM numbers($2)) WHERE n NOT IN
        (SELECT id FROM wsstats.connections WHERE sensor = '$1') ORDER BY n" | tr '\n' ',')
    miss=$(sqlite3 "$DB" "SELECT count(*) || ' lacking: ' || coalesce(group_concat(id || ' (' || date(ended_at, 'unixepoch') || ')', ' '), '')
        FROM (SELECT id, ended_at FROM connections WHERE id IN (${miss}0) ORDER BY id LIMIT 8)")
    echo "ids twice (count, min, max): $dup; $miss"
}
orphaned() { [ "$(chs "SELECT count() FROM system.processes WHERE query_id LIKE 'wsstats-$1-%'")" = 0 ]; }
# sanitized PREFIX: an ASan/UBSan report in the logs of the sensors named PREFIX*
sanitized() { grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$TMP/$1"*.err "$TMP/$1"*.log 2>/dev/null | tr '\n' ' '; }
# export_bg SENSOR: wsstats export in the background (its PID in X), stderr to $TMP/SENSOR.err
export_bg() {
    "$BIN/wsstats" export --db "$DB" --clickhouse "$URL" --sensor-name "$1" 2>>"$TMP/$1.err" &
    X=$!
}
# again SENSOR RC: runs the export again (at most 3 times, 60 s each) until it
# succeeds; RUNS gets their exit statuses
again() {
    local rc=$2 n=1
    while [ "$rc" != 0 ] && [ $n -lt 4 ]; do
        export_bg "$1"
        finish "$X" 60
        rc=$?
        RUNS="$RUNS $rc"
        n=$((n + 1))
    done
}

# ---- server-killed-mid-batch ------------------------------------------------------
bad="" said=() landed=0 holes=0
for when in receiving parsed committing; do
    s=kill-$when
    export_bg "$s"
    at="" k=""
    if moment $when "$s" "$X" 40 "STOP:$X" "KILL:$SERVER"; then
        kill_server
        start_server || bad="$bad [$when: ClickHouse did not start again: $(tail -3 "$TMP/error.log")]"
        at=$(held "$s") k=$(meta "$s")
        kill -CONT "$X"
    fi
    finish "$X" 90
    rc=$?
    RUNS=$rc
    again "$s" $rc
    got=$(exact "$s")
    note "$s: running at the kill '$SEEN'; held after '$at', meta '$k'; exports exit $RUNS; at the end $got"
    read -r first last written before <<<"${SEEN:-- - - -}"
    read -r c m <<<"${at:-- -}"
    said+=("$when: INSERT of ids $first-$last running (written $written, held $before) at the kill;" \
        "   after the restart ClickHouse held $c rows, ids up to $m; meta $k; exports exit $RUNS; at the end $got of $N" \
        "   $(tr '\n' ' ' <"$TMP/$s.err")")
    [ "$got" = "$N $N" ] || bad="$bad [$when: $got (count, uniqExact) of $N records; $(damage "$s" $N)]"
    [ -n "$at" ] && [ "$c" != "$m" ] && holes=$((holes + 1))
    [ -n "$at" ] && [ "$c" -lt $N ] && [ "$k" -lt "$last" ] &&
        { [ "$RUNS" != 0 ] || grep -q "some INSERTs were asked again" "$TMP/$s.err"; } && landed=$((landed + 1))
done
[ $landed -ge 1 ] || bad="$bad [no kill landed in the middle of an INSERT: the case proved nothing]"
[ -z "$(sanitized kill-)" ] || bad="$bad [sanitizer reports in $(sanitized kill-)]"
[ -z "$bad" ] && pass "$SUITE/server-killed-mid-batch ($landed of 3 kills mid-INSERT, $holes left ids missing below max(id))" ||
    fail "$SUITE/server-killed-mid-batch" "$bad" "${said[@]}"

# ---- server-stopped-a-while -------------------------------------------------------
bad="" s=stopped traffic=""
if [ "$(id -u)" = 0 ]; then
    kind="wsstatsd -i lo"
    "$BIN/wsstatsd" -i lo -f "tcp port $WSPORT" -w "$DB" --clickhouse "$URL" --sensor-name "$s" 2>"$TMP/$s.log" &
    X=$!
else
    kind="wsstats export (not root: no live capture)"
    export_bg "$s"
fi
moment any "$s" "$X" 40
seen=$SEEN
note "$s: INSERT running '$seen', SIGTERM"
stop_server
down_at=$(date +%s%N)
note "$s: stopped, INSERT running then '$seen'"
if [ "$kind" = "wsstatsd -i lo" ] && python_peer_ready; then
    "$PY" "$ROOT/tests/live/traffic.py" --port "$WSPORT" --keys "$TMP/keys" --count 20 >"$TMP/traffic.out" 2>&1 &
    finish $! 20 >/dev/null
    traffic=$(cat "$TMP/traffic.out")
fi
sleep "$(awk -v t="$down_at" -v now="$(date +%s%N)" 'BEGIN { d = 3 - (now - t) / 1e9; print (d > 0 ? d : 0) }')"
start_server || bad="$bad [ClickHouse did not start again: $(tail -3 "$TMP/error.log")]"
after=$(held "$s")
note "$s: started again, ClickHouse holds '$after'"
if [ "$kind" = "wsstatsd -i lo" ]; then
    all_there() { [ "$(held "$s" | cut -d' ' -f1)" = "$(records)" ]; }
    cap_poll 40 all_there
    kill -TERM "$X"
    finish "$X" 30
    RUNS=$?
    waiting=$(sed -n 's/.*clickhouse: .*; \([0-9]*\) records wait in the database, retrying with back-off.*/\1/p' "$TMP/$s.log" | head -1)
    grep -q "clickhouse: shipping again" "$TMP/$s.log" || waiting=""
else
    finish "$X" 90
    RUNS=$?
    again "$s" "$RUNS"
    waiting=$({ [ "${RUNS%% *}" != 0 ] || grep -q "asked again" "$TMP/$s.err"; } && echo "some")
fi
n=$(records)
got=$(exact "$s")
note "$s: exit $RUNS, $waiting records told waiting; at the end $got of $n"
want=$N
[ -n "$traffic" ] && want=$((N + 20))
[ "$got" = "$n $n" ] || bad="$bad [$got (count, uniqExact) of $n records; $(damage "$s" "$n")]"
[ "$kind" != "wsstatsd -i lo" ] || [ "$RUNS" = 0 ] || bad="$bad [wsstatsd exit $RUNS]"
[ -n "$seen" ] && [ "${waiting:-0}" != 0 ] ||
    bad="$bad [not stopped mid-INSERT: INSERT running at the stop '$seen'; failure and return told: '$waiting']"
{ [ -z "$traffic" ] || [ "$traffic" = "DONE 20" ]; } && [ "$n" = $want ] ||
    bad="$bad [$n records in SQLite, $want wanted: the connections made while ClickHouse was down ($traffic)]"
[ -z "$(sanitized stopped)" ] || bad="$bad [sanitizer reports in $(sanitized stopped)]"
[ -z "$bad" ] && pass "$SUITE/server-stopped-a-while ($kind)" ||
    fail "$SUITE/server-stopped-a-while" "$bad" "$kind: INSERT (first last written held) '$seen' at the stop;" \
        "after 3 s down ClickHouse held $after; exit $RUNS; at the end $got of $n" "$(cat "$TMP/$s.log" "$TMP/$s.err" 2>/dev/null | tr '\n' ' ')"

# ---- sensor-killed-mid-batch ------------------------------------------------------
bad="" said=() landed=0 lagged=0
daemon() {
    "$BIN/wsstatsd" -q -r "$TMP/one.pcap" --append-again -w "$DB" --clickhouse "$URL" --sensor-name "$s" 2>>"$TMP/$s.log" &
    X=$!
}
for when in receiving parsed at-once; do
    s=sensor-$when
    at="" k=""
    if [ $when = at-once ]; then
        daemon
        moment committing "$s" "$X" 40 "KILL:$X"
    else
        export_bg "$s"
        moment $when "$s" "$X" 40 "KILL:$X"
    fi
    seen=$SEEN
    kill -KILL "$X" 2>/dev/null
    wait "$X" 2>/dev/null
    RUNS=killed
    if [ $when = at-once ]; then # restarted as soon as it died, as Restart=always would
        at=$(held "$s") k=$(meta "$s")
        for _ in 1 2 3 4; do
            daemon
            finish "$X" 90
            rc=$?
            RUNS="$RUNS $rc"
            [ $rc = 0 ] && break
        done
    else # once the server is done with the killed one's INSERT
        cap_poll 30 orphaned "$s"
        at=$(held "$s") k=$(meta "$s")
        again "$s" 1
    fi
    n=$(records)
    got=$(exact "$s")
    note "$s: running at the kill '$seen'; then held '$at', meta '$k'; runs: $RUNS; at the end $got of $n"
    read -r first last written before <<<"${seen:-- - - -}"
    read -r c m <<<"${at:-- -}"
    said+=("$when: INSERT of ids $first-$last running (written $written, held $before) at the kill;" \
        "   then ClickHouse held $c rows, ids up to $m; meta $k; runs: $RUNS; at the end $got of $n" \
        "   $(cat "$TMP/$s.err" "$TMP/$s.log" 2>/dev/null | tr '\n' ' ')")
    [ "$got" = "$n $n" ] || bad="$bad [$when: $got (count, uniqExact) of $n records; $(damage "$s" "$n")]"
    [ -n "$seen" ] && [ "$before" -gt 0 ] && [ "$before" -lt "$n" ] && [ "$k" -lt "$last" ] && landed=$((landed + 1))
    [ -n "$at" ] && [ "$m" -gt "$k" ] && lagged=$((lagged + 1))
done
[ $landed -ge 1 ] || bad="$bad [no kill landed in the middle of an INSERT: the case proved nothing]"
[ -z "$(sanitized sensor-)" ] || bad="$bad [sanitizer reports in $(sanitized sensor-)]"
[ -z "$bad" ] && pass "$SUITE/sensor-killed-mid-batch ($landed of 3 kills mid-INSERT; the meta key behind max(id) after $lagged)" ||
    fail "$SUITE/sensor-killed-mid-batch" "$bad" "${said[@]}"

# ---- summary-counts-once ----------------------------------------------------------
lines=$(cat "$TMP"/*.err | grep "records shipped as sensor")
bad=$(sed -n 's/^wsstats: \([0-9]*\) records shipped as sensor \([^ ]*\) (ClickHouse held its ids up to \([0-9]*\), now \([0-9]*\))\(; \([0-9]*\) of them below\)\{0,1\}.*/\1 \2 \3 \4 \6/p' <<<"$lines" |
    awk '$1 != $4 - $3 + $5 { printf "[%s: \"%d records shipped\", ids %d to %d, %d below] ", $2, $1, $3, $4, $5 }')
[ -z "$bad" ] && [ -n "$lines" ] && pass "$SUITE/summary-counts-once ($(wc -l <<<"$lines") summaries)" ||
    fail "$SUITE/summary-counts-once" "${bad:-no summary line}"
[ "$FAILED" = 0 ]
