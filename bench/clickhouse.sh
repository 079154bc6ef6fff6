#!/usr/bin/env bash
# bench/clickhouse.sh — the ClickHouse run of `make bench` (issue 24): how
# fast records ship, what shipping costs the capture, and the reports over
# ten million records from twenty sensors.
#
# Starts a private clickhouse-server (Debian's 18.16) on loopback, on free
# ports, with its own configuration, users and data directory in
# bench/out/clickhouse/ (as tests/clickhouse/run.sh does, but kept: the
# ten-million-record set is loaded once), query_log on; stops it at the end
# (EXIT trap). Skips (exit 0, one line) without clickhouse-server and
# clickhouse-client.
#
#   1. Shipping, one process: `wsstats export --db bench/out/queries-1m.db
#      --clickhouse URL --sensor-name S` (the million records of
#      bench/queries.sh, built by it when missing) into an empty table,
#      EXPORT_RUNS times: records per second end to end, and from query_log
#      the INSERTs' own time on the server.
#   2. Shipping while capturing: `wsstatsd -v -r`, RUNS times without and
#      RUNS times with --clickhouse (into an empty table), in turns, over
#      two captures: bench/speed.sh's tap mix (bench/out/tap.pcap, 1.2 GB,
#      20,380 records; made by bench/gentap.py when missing), and
#      bench/dense.sh's 100,000 short connections (bench/out/short-100k.pcap,
#      made when missing) read five times in one run (--append-again:
#      500,000 records in a few seconds, the shipper's hardest case, its
#      once-a-second rounds beside the packet loop). Wall time, when the
#      packet loop ended (the time of the last source's -v line), what came
#      after (the store's last commit, and the shipper's last round), CPU,
#      peak RSS, the -v flow figures (the same with and without),
#      ClickHouse's own CPU, the INSERTs, and every record in ClickHouse at
#      exit.
#   3. The reports over ClickHouse: bench/out/clickhouse/ holds 10,000,000
#      records of 20 sensors (tap-01 .. tap-20, 500,000 each), loaded once
#      and kept: queries-1m.db's odd-id records for the odd sensors, its
#      even-id ones for the even sensors, each sensor's client and server
#      addresses moved to networks of its own (sites see their own clients
#      and servers; hosts, paths and agents are shared), shipped by
#      `wsstats export` (each of the 20 exports timed: shipping into a
#      growing table), then OPTIMIZE ... FINAL (one part per day, as
#      background merges leave a table that has been quiet for a while).
#      Every command of bench/queries.sh (same windows, filters and keys;
#      filter values picked the same way from each back-end's records, the
#      sensor a fleet name on ClickHouse) with --clickhouse, median of 3,
#      output to /dev/null, against LIMIT_MS (1000); a command that answers
#      "does not run on ClickHouse yet" (exit 2) is "n/a". Beside each: the
#      same command over SQLite at 1,000,000 records (queries-1m.db), in the
#      same minutes, and from query_log the server's time, rows read, marks
#      selected (the primary key's and partitions' pruning), rows and bytes
#      answered. For a command over the limit: its heaviest query's SQL and
#      figures.
#
# Environment: BIN (build), RUNS (5), EXPORT_RUNS (3), LIMIT_MS (1000),
# CH_OUT (bench/out/clickhouse; delete it to load the set again), SECTIONS
# ("1 2 3": which of the three to run).
# Prints the load average beside each figure: other work on the machine
# moves these figures. Exits 0 unless a run fails (a target missed is
# printed, not an error; STRICT=1 makes it exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
OUT=bench/out
CH=${CH_OUT:-$OUT/clickhouse}
PY=/usr/bin/python3
RUNS=${RUNS:-5}
EXPORT_RUNS=${EXPORT_RUNS:-3}
LIMIT_MS=${LIMIT_MS:-1000}
SENSORS=20
SET_ROWS=10000000
COPIES=5 # short-100k.pcap read this many times by one wsstatsd run
mkdir -p "$OUT"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. bench/lib.sh
verdict=0
SECTIONS=${SECTIONS:-1 2 3}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

if ! command -v clickhouse-server >/dev/null 2>&1 || ! command -v clickhouse-client >/dev/null 2>&1; then
    echo "clickhouse.sh: skipped: no clickhouse-server/clickhouse-client (apt-get install clickhouse-server clickhouse-client)"
    exit 0
fi

load() { cut -d' ' -f1-3 /proc/loadavg; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; } # two $EPOCHREALTIMEs

# Another engineer may be rebuilding $BIN: wait until a binary is there and
# has not changed for 2 s.
wait_bin() {
    local f=$BIN/$1 i
    for ((i = 0; i < 300; i++)); do
        if [ -x "$f" ] && [ $(($(date +%s) - $(stat -c %Y "$f"))) -ge 2 ]; then return 0; fi
        sleep 1
    done
    echo "clickhouse.sh: $f is missing" >&2
    exit 1
}
bin_id() { md5sum "$BIN/wsstats" "$BIN/wsstatsd" 2>/dev/null | cut -c1-8 | tr '\n' ' '; }

# ---- the server ------------------------------------------------------------------

SERVER=
# shellcheck disable=SC2317  # called from the EXIT trap
stop_server() {
    [ -n "$SERVER" ] || return 0
    kill -TERM "$SERVER" 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.5
    done
    kill -KILL "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}
TMP=$(mktemp -d)
trap 'stop_server; rm -rf "$TMP"' EXIT

mkdir -p "$CH/data" "$CH/tmp" "$CH/user_files"
CHABS=$(cd "$CH" && pwd)
read -r HTTP TCP INTERSERVER <<<"$("$PY" -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')"
# shellcheck source=../tests/clickhouse/server.sh
. tests/clickhouse/server.sh
ch_config "$CHABS" "$HTTP" "$TCP" "$INTERSERVER" \
    "<query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>" \
    "<log_queries>1</log_queries>"
clickhouse-server --config-file="$CHABS/config.xml" >"$CH/stdout.log" 2>&1 &
SERVER=$!
for ((i = 0; i < 120; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$HTTP/ping" && break
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.5
done
if ! curl -sf -o /dev/null "http://127.0.0.1:$HTTP/ping"; then
    echo "clickhouse.sh: clickhouse-server did not answer /ping:" >&2
    tail -5 "$CH/stdout.log" "$CH/error.log" >&2 2>/dev/null || true
    exit 1
fi
chq() { clickhouse-client --port "$TCP" -q "$1"; }
flush_logs() { chq "SYSTEM FLUSH LOGS"; }
# clickhouse-server's CPU seconds so far (user + system)
server_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$SERVER/stat"; }
schema_as() { # schema_as DATABASE: contrib/clickhouse/schema.sql's tables in DATABASE
    sed "s/wsstats\./$1./g; s/DATABASE IF NOT EXISTS wsstats;/DATABASE IF NOT EXISTS $1;/" contrib/clickhouse/schema.sql |
        clickhouse-client --port "$TCP" --multiquery
}
SHIP_URL="http://127.0.0.1:$HTTP/?database=wsstats_ship"
SET_URL="http://127.0.0.1:$HTTP/?database=wsstats"
fresh_ship_db() { chq "DROP DATABASE IF EXISTS wsstats_ship" && schema_as wsstats_ship; }
TAG=b$(date +%s) # this run's query_ids

machine_line
echo "   ClickHouse $(chq 'SELECT version()') on 127.0.0.1:$HTTP (data in $CH); binaries $(bin_id)"

# ---- the inputs ------------------------------------------------------------------

Q1M=$OUT/queries-1m.db
if [ "$(sqlite3 "$Q1M" "SELECT count(*) FROM connections" 2>/dev/null || echo 0)" != 1000000 ]; then
    echo "building $Q1M with bench/queries.sh (its query run goes to $OUT/queries-for-clickhouse.log) ..."
    wait_bin wsstatsd
    wait_bin wsstats
    BIN=$BIN bench/queries.sh >"$OUT/queries-for-clickhouse.log" 2>&1 || true
    [ "$(sqlite3 "$Q1M" "SELECT count(*) FROM connections" 2>/dev/null || echo 0)" = 1000000 ] || {
        echo "clickhouse.sh: bench/queries.sh did not build $Q1M (see $OUT/queries-for-clickhouse.log)" >&2
        exit 1
    }
fi
# export writes the acknowledged id into the database's meta table: taken
# out again, so that the query database stays what queries.sh built
forget_shipped() { sqlite3 "$1" "DELETE FROM meta WHERE key LIKE 'clickhouse_shipped:%'"; }

if [ ! -s "$OUT/short-100k.pcap" ]; then # as bench/dense.sh makes it
    echo "generating $OUT/short-100k.pcap (100,000 copies of a short connection) ..."
    [ -s "$OUT/short-1.pcap" ] || PYTHONPATH=tests/tools "$PY" - "$OUT/short-1.pcap" <<'EOF'
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
    "$PY" bench/replicate.py "$OUT/short-1.pcap" "$OUT/short-100k.pcap" --copies 100000 --stagger 0.0001 >/dev/null
fi

# ---- 1. wsstats export -----------------------------------------------------------

if want 1; then
    echo
    echo "== 1. wsstats export of $Q1M (1,000,000 records) into an empty table ($EXPORT_RUNS runs)"
    printf '   %-4s %8s %12s %14s %12s %10s  %s\n' RUN SECONDS RECORDS/S "INSERTS (SRV)" "SRV CPU S" "CLIENT CPU" LOAD
    export_rates=()
    for ((r = 1; r <= EXPORT_RUNS; r++)); do
        fresh_ship_db
        wait_bin wsstats
        l0=$(load) c0=$(server_cpu) t0=$EPOCHREALTIME
        if ! timed "$TMP/export.cpu" "$BIN/wsstats" export --db "$Q1M" --clickhouse "$SHIP_URL" --sensor-name "ship-$TAG-$r" \
            2>"$TMP/export.err"; then
            echo "clickhouse.sh: wsstats export failed: $(cat "$TMP/export.err")" >&2
            exit 1
        fi
        t1=$EPOCHREALTIME c1=$(server_cpu)
        forget_shipped "$Q1M"
        n=$(chq "SELECT count() FROM wsstats_ship.connections WHERE sensor = 'ship-$TAG-$r'")
        [ "$n" = 1000000 ] || { echo "clickhouse.sh: $n records in ClickHouse after the export, not 1000000" >&2; exit 1; }
        flush_logs
        read -r ins ins_ms <<<"$(chq "SELECT count(), sum(query_duration_ms) FROM system.query_log
            WHERE type = 2 AND query_id LIKE 'wsstats-ship-$TAG-$r-%' AND event_date >= today() - 1")"
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        rate=$(awk -v s="$s" 'BEGIN { printf "%.0f", 1e6 / s }')
        export_rates+=("$rate")
        printf '   %-4s %8s %12s %6s %5.2f s %12s %10s  %s\n' "$r" "$s" "$rate" "$ins" "$(awk -v m="$ins_ms" 'BEGIN { print m / 1000 }')" \
            "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" "$(awk '{ printf "%.2f", $1 + $2 }' "$TMP/export.cpu")" "$l0"
    done
    export_rate=$(median_line "${export_rates[@]}")
    if [ "$export_rate" -ge 200000 ]; then
        echo "   wsstats export: median $export_rate records/s (target >= 200,000): met"
    else
        echo "   wsstats export: median $export_rate records/s (target >= 200,000): MISSED"
        verdict=1
    fi
fi

# ---- 2. wsstatsd -r, with and without --clickhouse --------------------------------

DDB=$OUT/clickhouse-daemon.db
# threads PID OUT: until PID exits, every 0.05 s, the time and each of its
# threads' name and CPU ticks (utime + stime) appended to OUT (bash
# builtins only, so that looking costs next to nothing)
threads() {
    local pid=$1 out=$2 t f comm now
    while kill -0 "$pid" 2>/dev/null; do
        now=$EPOCHREALTIME
        for t in /proc/"$pid"/task/*; do
            read -r comm <"$t/comm" 2>/dev/null || continue
            read -ra f <"$t/stat" 2>/dev/null || continue
            echo "$now $comm $((f[13] + f[14]))"
        done >>"$out" 2>/dev/null
        sleep 0.05
    done
}

# daemon_run LOG ARGS...: "WALL LOOP CPU RSS SERVER_CPU LOAD LOOP_CPU
# WRITER_CPU SHIP_CPU" of one run of wsstatsd -v ARGS -w $DDB into
# $TMP/res; stderr's lines into LOG, each with the time it came (LOOP: when
# the last source's -v line came, from the start); the CPU seconds of the
# main thread when that line came (the packet loop, set-up included; after
# it the main thread closes the store and, with --clickhouse, runs the
# shipper's last round), and of the writer and shipper threads by their end
daemon_run() {
    local log=$1 t0 t1 l0 c0 c1 try rc=1 pid i
    shift
    for ((try = 0; try < 3; try++)); do
        wait_bin wsstatsd
        dbrm "$DDB"
        rm -f "$TMP/threads"
        l0=$(load) c0=$(server_cpu) t0=$EPOCHREALTIME
        set +e
        (/usr/bin/time -f '%U %S' -o "$log.cpu" "$BIN/wsstatsd" -v -w "$DDB" "$@" 2>&1 >/dev/null |
            while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$log"
        exit "${PIPESTATUS[0]}") &
        local job=$!
        pid=
        for ((i = 0; i < 200; i++)); do
            pid=$(pgrep -n -f -- "^$BIN/wsstatsd -v -w $DDB") && break
            sleep 0.01
        done
        [ -n "$pid" ] && threads "$pid" "$TMP/threads"
        wait "$job"
        rc=$?
        set -e
        t1=$EPOCHREALTIME c1=$(server_cpu)
        [ "$rc" = 0 ] && break
        echo "   (wsstatsd exited $rc; trying again)" >&2
        sed 's/^/   /' "$log" | tail -3 >&2
    done
    [ "$rc" = 0 ] || { echo "clickhouse.sh: wsstatsd failed 3 times" >&2; exit 1; }
    local loop per tend
    tend=$(awk '/ packets: [0-9]+ TCP/ { t = $1 } END { print t }' "$log")
    loop=$(awk -v t0="$t0" -v t="$tend" 'BEGIN { printf "%.3f", t - t0 }')
    # the main thread: its last look before the loop's end; the others: their last
    per=$(awk -v hz="$(getconf CLK_TCK)" -v tend="$tend" '
        $2 == "wsstatsd" && $1 <= tend { m = $3 }
        $2 != "wsstatsd" { c[$2] = $3 }
        END { printf "%.2f %.2f %.2f", m / hz, c["wsstats-writer"] / hz, c["wsstats-ship"] / hz }' "$TMP/threads" 2>/dev/null ||
        echo "- - -")
    printf '%s %s %s %s %s %s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$loop" \
        "$(awk '{ printf "%.2f", $1 + $2 }' "$log.cpu")" "$(sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$log")" \
        "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" "${l0// /,}" "$per" >"$TMP/res"
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", 100 * (b - a) / a }'; }

# daemon_compare NAME SOURCE-ARGS...: RUNS runs without and RUNS with
# --clickhouse (into an empty table each time), in turns
DCMP=0
daemon_compare() {
    local name=$1 r w lp cpu rss sc l n records ins ins_ms lc wc shc mode
    shift
    DCMP=$((DCMP + 1))
    echo
    echo "== 2. $name: wsstatsd -v -r, without and with --clickhouse ($RUNS runs each, in turns)"
    echo "   WALL: around the process; LOOP END: when the last source's -v line came; LOOP/WRITER/SHIP CPU: seconds of"
    echo "   the packet loop (main thread), the writer and the shipper thread; CH CPU: clickhouse-server's, over the run"
    printf '   %-7s %2s %7s %8s %6s %6s %6s %6s %6s %7s %6s  %-14s %s\n' RUN "" WALL "LOOP END" CPU LOOP WRITER SHIP "RSS" "CH CPU" \
        INSERTS LOAD ""
    local plain=() shipped=() plain_loop=() ship_loop=() plain_cpu=() ship_cpu=() plain_lc=() ship_lc=()
    for ((r = 1; r <= RUNS; r++)); do
        for mode in without with; do
            if [ $mode = without ]; then
                daemon_run "$TMP/plain.log" "$@"
            else
                fresh_ship_db
                daemon_run "$TMP/ship.log" "$@" --clickhouse "$SHIP_URL" --sensor-name "d$DCMP-$TAG-$r"
            fi
            read -r w lp cpu rss sc l lc wc shc <"$TMP/res"
            ins=-
            if [ $mode = without ]; then
                records=$(sqlite3 "$DDB" "SELECT count(*) FROM connections")
                plain+=("$w") plain_loop+=("$lp") plain_cpu+=("$cpu") plain_lc+=("$lc")
                grep -o 'flows: .*' "$TMP/plain.log" | head -1 >"$TMP/plain.flows"
                shc=-
            else
                n=$(chq "SELECT count() FROM wsstats_ship.connections WHERE sensor = 'd$DCMP-$TAG-$r'")
                [ "$n" = "$records" ] ||
                    { echo "clickhouse.sh: $n records in ClickHouse after wsstatsd --clickhouse, not $records" >&2; exit 1; }
                grep -o 'flows: .*' "$TMP/ship.log" | head -1 >"$TMP/ship.flows"
                cmp -s "$TMP/plain.flows" "$TMP/ship.flows" || echo "   the -v flow figures DIFFER with --clickhouse" >&2
                flush_logs
                read -r ins ins_ms <<<"$(chq "SELECT count(), sum(query_duration_ms) FROM system.query_log
                    WHERE type = 2 AND query_id LIKE 'wsstats-d$DCMP-$TAG-$r-%' AND event_date >= today() - 1")"
                ins="$ins/$(awk -v m="$ins_ms" 'BEGIN { printf "%.1fs", m / 1000 }')"
                shipped+=("$w") ship_loop+=("$lp") ship_cpu+=("$cpu") ship_lc+=("$lc")
            fi
            printf '   %-7s %2s %7s %8s %6s %6s %6s %6s %6.1f %7s %6s  %-14s\n' "$mode" "$r" "$w" "$lp" "$cpu" "$lc" "$wc" "$shc" \
                "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$sc" "$ins" "${l//,/ }"
        done
    done
    local mp ms mlp mls mcp mcs mlcp mlcs
    mp=$(median_line "${plain[@]}") ms=$(median_line "${shipped[@]}")
    mlp=$(median_line "${plain_loop[@]}") mls=$(median_line "${ship_loop[@]}")
    mcp=$(median_line "${plain_cpu[@]}") mcs=$(median_line "${ship_cpu[@]}")
    mlcp=$(median_line "${plain_lc[@]}") mlcs=$(median_line "${ship_lc[@]}")
    echo "   (INSERTS: the shipper's INSERTs / their time on the server; RSS in MiB)"
    echo "   $records records; -v flows the same in every run: $(cut -c1-100 "$TMP/plain.flows")..."
    echo "   medians, without -> with --clickhouse: packet loop CPU $mlcp -> $mlcs s ($(pct "$mlcp" "$mlcs"));" \
        "loop end $mlp -> $mls s ($(pct "$mlp" "$mls")); wall $mp -> $ms s ($(pct "$mp" "$ms")); wsstatsd CPU $mcp -> $mcs s"
    echo "   with --clickhouse every record was in ClickHouse at exit: $(awk -v n="$records" -v s="$ms" 'BEGIN { printf "%.0f", n / s }') records/s end to end (records / wall)"
}

if want 2; then
    # the tap mix of bench/speed.sh (made as speed.sh makes it when missing;
    # about 30 s and 1.5 GB), and the short connections: 500,000 records in a
    # few seconds, the shipper's hardest case
    if [ ! -s "$OUT/tap.pcap" ] || [ ! -s "$OUT/tap.json" ]; then
        echo
        echo "generating $OUT/tap.pcap with bench/gentap.py (as bench/speed.sh does) ..."
        "$PY" bench/gentap.py --out "$OUT" --prefix-mb "${TSHARK_MB:-50}" >/dev/null
    fi
    cat "$OUT/tap.pcap" "$OUT/short-100k.pcap" >/dev/null # into the page cache
    daemon_compare "the tap mix (bench/speed.sh's tap.pcap, 1.2 GB)" -r "$OUT/tap.pcap"
    short=()
    for ((c = 0; c < COPIES; c++)); do short+=(-r "$OUT/short-100k.pcap"); done
    daemon_compare "short connections (short-100k.pcap read $COPIES times)" "${short[@]}" --append-again
    dbrm "$DDB"
fi
chq "DROP DATABASE IF EXISTS wsstats_ship" # the shipping runs' rows: not kept

# ---- 3. the reports over 10 million records ---------------------------------------

set_ok() { [ "$(chq "SELECT count(), uniqExact(sensor) FROM wsstats.connections" 2>/dev/null | tr '\t' ' ')" = "$SET_ROWS $SENSORS" ]; }

load_set() {
    echo
    echo "== loading the set: $SET_ROWS records of $SENSORS sensors into $CH (once; kept)"
    chq "DROP DATABASE IF EXISTS wsstats"
    clickhouse-client --port "$TCP" --multiquery <contrib/clickhouse/schema.sql
    # an empty database of wsstatsd's schema, its connections indexes dropped
    # (export reads in id order, the table's own)
    PYTHONPATH=tests/tools "$PY" -c "from pcapgen import *; concurrent_websockets('$TMP/one.pcap', 1)"
    wait_bin wsstatsd
    "$BIN/wsstatsd" -q -r "$TMP/one.pcap" -w "$TMP/tmpl.db"
    local drops cols
    drops=$(sqlite3 "$TMP/tmpl.db" "SELECT group_concat('DROP INDEX ' || name || ';', ' ') FROM sqlite_master
        WHERE type = 'index' AND tbl_name = 'connections' AND sql IS NOT NULL")
    sqlite3 "$TMP/tmpl.db" "DELETE FROM connections; DELETE FROM captures; DELETE FROM tls_flows; $drops PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
    cols=$(sqlite3 "$Q1M" "SELECT group_concat(name, ',') FROM pragma_table_info('connections')")
    printf '   %-7s %8s %8s %12s  %s\n' SENSOR MAKE_S SHIP_S RECORDS/S LOAD
    local k s name cli srv sel t0 t1 t2 l0 rates=()
    for ((k = 0; k < SENSORS; k++)); do
        s=$((k + 1)) name=$(printf 'tap-%02d' $((k + 1)))
        # sensor k's own networks: clients 100+k.x.y.z and 2001:(db8+k):..,
        # servers 10.(1+k).x.y and 2001:db8:(5+k)::..
        cli="CASE WHEN instr(client_ip, ':') THEN printf('2001:%x', 3512 + $k) || substr(client_ip, 9) ELSE (100 + $k) || substr(client_ip, 4) END"
        srv="CASE WHEN instr(server_ip, ':') THEN printf('2001:db8:%x', 5 + $k) || substr(server_ip, 11) ELSE '10.' || (1 + $k) || substr(server_ip, 5) END"
        sel=$(sed "s/\bclient_ip\b/$cli/; s/\bserver_ip\b/$srv/" <<<"$cols")
        l0=$(load) t0=$EPOCHREALTIME
        rm -f "$TMP/s.db" "$TMP/s.db-wal" "$TMP/s.db-shm"
        cp "$TMP/tmpl.db" "$TMP/s.db"
        sqlite3 "$TMP/s.db" >/dev/null <<SQL
.bail on
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
ATTACH '$Q1M' AS src;
BEGIN;
INSERT INTO captures SELECT * FROM src.captures;
INSERT INTO connections ($cols) SELECT $sel FROM src.connections WHERE id % 2 = $((s % 2));
COMMIT;
PRAGMA journal_mode = WAL;
SQL
        t1=$EPOCHREALTIME
        wait_bin wsstats
        "$BIN/wsstats" export --db "$TMP/s.db" --clickhouse "$SET_URL" --sensor-name "$name" 2>"$TMP/export.err" || {
            echo "clickhouse.sh: export of $name failed: $(cat "$TMP/export.err")" >&2
            exit 1
        }
        t2=$EPOCHREALTIME
        rates+=("$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.0f", 500000 / (b - a) }')")
        printf '   %-7s %8.2f %8.2f %12s  %s\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
            "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')" "${rates[-1]}" "$l0"
    done
    rm -f "$TMP/s.db" "$TMP/s.db-wal" "$TMP/s.db-shm"
    echo "   export into the growing table: median $(median_line "${rates[@]}") records/s of 20 exports of 500,000"
    t0=$EPOCHREALTIME
    echo "   $(chq "SELECT count() FROM system.parts WHERE active AND database = 'wsstats' AND table = 'connections'") parts; OPTIMIZE TABLE wsstats.connections FINAL ..."
    chq "OPTIMIZE TABLE wsstats.connections FINAL"
    echo "   merged in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}
fill() { # fill L|C CMD: the command with the back-end's filter values
    local -n v=$1
    local c=$2 k
    for k in server port host path client sensor; do c=${c//@$k/${v[$k]}}; done
    printf '%s' "$c"
}

median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
# timed3 ID BACKEND-ARGS... -- CMD...: "MEDIAN RUNS EXIT MEDIAN_RUN" of 3 runs
# into $TMP/res
# (a failure is tried again while the binary is being rebuilt)
timed3() {
    local id=$1 runs=() worst=0 r rc t0 t1 try
    shift
    local back=()
    while [ "$1" != -- ]; do back+=("$1"); shift; done
    shift
    for r in 1 2 3; do
        for ((try = 0; try < 3; try++)); do
            wait_bin wsstats
            local b=("${back[@]}")
            [ "${b[0]}" = --clickhouse ] && b[1]="${b[1]}&query_id=$TAG-$id-$r"
            t0=$EPOCHREALTIME
            set +e
            "$BIN/wsstats" "${b[@]}" "$@" >/dev/null 2>"$TMP/err"
            rc=$?
            set -e
            t1=$EPOCHREALTIME
            # 126 and up: not run, or killed (a binary half written by a rebuild)
            if [ "$rc" -lt 126 ] && [ -x "$BIN/wsstats" ]; then break; fi
        done
        runs+=("$(ms "$t0" "$t1")")
        [ "$rc" = 0 ] || worst=$rc
        # a report that does not run there: once is enough
        if [ "$rc" = 2 ] && grep -q "does not run on ClickHouse yet" "$TMP/err"; then
            echo "n/a - 2 0" >"$TMP/res"
            return 0
        fi
    done
    local med
    med=$(median3 "${runs[@]}")
    for r in 1 2 3; do [ "${runs[r - 1]}" = "$med" ] && break; done
    echo "$med $(IFS=/; echo "${runs[*]}") $worst $r" >"$TMP/res"
}

if want 3; then
    set_ok || load_set
    echo
    echo "== the set: $(chq "SELECT count(), uniqExact(sensor), uniqExact(client_ip), uniqExact(server_ip, server_port) FROM wsstats.connections" |
        awk '{ printf "%d records, %d sensors, %d clients, %d servers", $1, $2, $3, $4 }'); $(chq "SELECT count(), sum(rows), round(sum(bytes) / 1048576)
        FROM system.parts WHERE active AND database = 'wsstats' AND table = 'connections'" | awk '{ printf "%d parts, %d MiB on disk", $1, $3 }')"

    # filter values, picked as queries.sh picks them: the busiest server, port,
    # host and path, a client with a single record, one sensor
    lite_top() { sqlite3 "$Q1M" "SELECT $1 FROM connections GROUP BY 1 ORDER BY count(*) $2, 1 LIMIT 1"; }
    ch_top() { chq "SELECT $1 AS v FROM wsstats.connections GROUP BY v ORDER BY count() $2, v LIMIT 1"; }
    declare -A L C
    L[server]=$(lite_top "server_ip || ':' || server_port" DESC)
    L[port]=$(lite_top server_port DESC)
    L[host]=$(lite_top host DESC)
    L[path]=$(lite_top "substr(path, 1, instr(path || '?', '?') - 1)" DESC)
    L[client]=$(lite_top client_ip ASC)
    L[sensor]=$(sqlite3 "$Q1M" "SELECT sensor FROM captures ORDER BY id LIMIT 1")
    C[server]=$(ch_top "concat(server_ip, ':', toString(server_port))" DESC)
    C[port]=$(ch_top server_port DESC)
    C[host]=$(ch_top "assumeNotNull(host)" DESC)
    C[path]=$(ch_top "splitByChar('?', assumeNotNull(path))[1]" DESC)
    C[client]=$(ch_top client_ip ASC)
    C[sensor]=tap-01

    # the commands of bench/queries.sh, @NAME standing for a filter value
    commands=(
        "top-codes"
        "top-codes --since 1h"
        "connections --limit 50"
        "timeline --bucket 1h"
        "timeline --since 1d --bucket 5m"
        "group-by host"
        "group-by path"
        "group-by server"
        "group-by client"
        "group-by user-agent"
        "group-by sensor"
        "group-by subprotocol"
        "durations"
        "summary"
        "top-codes --server @server"
        "top-codes --server :@port"
        "connections --server @server"
        "top-codes --host @host"
        "top-codes --path @path"
        "top-codes --path @path*"
        "group-by host --path @path"
        "top-codes --code 1006"
        "top-codes --outcome abnormal"
        "connections --code 1006"
        "connections --client @client"
        "summary --code 1006"
        "summary --sensor @sensor --since 1d"
    )
    echo
    echo "== 3. the reports: wsstats --clickhouse (10M records, 20 sensors) beside wsstats --db (1M records, queries-1m.db)"
    echo "   filter values: ClickHouse server ${C[server]}, port ${C[port]}, host ${C[host]}, path ${C[path]}, client ${C[client]}, sensor ${C[sensor]};"
    echo "   SQLite server ${L[server]}, port ${L[port]}, host ${L[host]}, path ${L[path]}, client ${L[client]}, sensor ${L[sensor]}"
    printf '%-40s %9s  %-9s %10s  %-26s %6s  %s\n' COMMAND "SQLITE 1M" "" "CH 10M" "CH RUNS (ms)" LOAD RESULT
    rm -f "$TMP/results"
    chslow=0 chok=0 chna=0 chfail=0 i=0
    for cmd in "${commands[@]}"; do
        i=$((i + 1))
        read -ra la <<<"$(fill L "$cmd")"
        read -ra ca <<<"$(fill C "$cmd")"
        l0=$(load)
        timed3 "l$i" --db "$Q1M" -- "${la[@]}"
        read -r lmed _ lrc _ <"$TMP/res"
        timed3 "$i" --clickhouse "$SET_URL" -- "${ca[@]}"
        read -r cmed cruns crc crun <"$TMP/res"
        if [ "$cmed" = n/a ]; then
            result=n/a chna=$((chna + 1))
        elif [ "$crc" != 0 ]; then
            result="failed (exit $crc): $(head -1 "$TMP/err")" chfail=$((chfail + 1))
        elif awk -v m="$cmed" -v l="$LIMIT_MS" 'BEGIN { exit !(m >= l) }'; then
            result="SLOW (>= $LIMIT_MS ms)" chslow=$((chslow + 1))
        else
            result=ok chok=$((chok + 1))
        fi
        [ "$lrc" = 0 ] || lmed="exit$lrc"
        printf '%-40s %6s ms  %-9s %7s ms  %-26s %6s  %s\n' "$cmd" "$lmed" "" "$cmed" "$cruns" "${l0%% *}" "$result"
        printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$cmd" "$cmed" "$crun" "$result" >>"$TMP/results"
    done

    # what ClickHouse did for each (the median run): its own time, rows read,
    # rows and bytes answered, the peak memory; and for the slow ones, why
    flush_logs
    EV_PARTS="ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SelectedParts')]"
    EV_MARKS="ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SelectedMarks')]"
    marks=$(chq "SELECT sum(marks) FROM system.parts WHERE active AND database = 'wsstats' AND table = 'connections'")
    chq "SELECT query_id, count(), sum(query_duration_ms), sum(read_rows), sum(result_rows), sum(result_bytes), max(memory_usage),
                sum($EV_MARKS)
         FROM system.query_log WHERE type = 2 AND query_id LIKE '$TAG-%' AND event_date >= today() - 1 GROUP BY query_id" >"$TMP/qlog"
    echo
    echo "   on the server (query_log, the median run, all the command's queries; the table has $marks marks of 8192 rows;"
    echo "   MB OUT is the answer's size in ClickHouse's memory, not on the wire):"
    printf '   %-40s %7s %10s %12s %8s %10s %10s %9s\n' COMMAND QUERIES "SERVER MS" "ROWS READ" MARKS "ROWS OUT" "MB OUT" "PEAK MiB"
    while IFS=$'\t' read -r i cmd cmed crun result; do
        [ "$cmed" = n/a ] && continue
        awk -F'\t' -v id="$TAG-$i-$crun" -v c="$cmd" '$1 == id {
            printf "   %-40s %7d %10d %12d %8d %10d %10.1f %9.1f\n", c, $2, $3, $4, $8, $5, $6 / 1e6, $7 / 1048576 }' "$TMP/qlog"
    done <"$TMP/results"

    while IFS=$'\t' read -r i cmd cmed crun result; do
        case $result in SLOW*) ;; *) continue ;; esac
        echo
        echo "   why $cmd takes $cmed ms: its heaviest query (query_log):"
        chq "SELECT query_duration_ms, read_rows, result_rows, result_bytes, memory_usage,
                    $EV_PARTS, $EV_MARKS FROM system.query_log
             WHERE type = 2 AND query_id = '$TAG-$i-$crun' ORDER BY query_duration_ms DESC LIMIT 1" |
            awk -v m="$marks" '{ printf "     %d ms on the server, %d rows read (%d parts, %d of the table'"'"'s %d marks), %d rows (%.1f MB in memory) answered, peak %.0f MiB\n",
                $1, $2, $6, $7, m, $3, $4 / 1e6, $5 / 1048576 }'
        sql=$(chq "SELECT query FROM system.query_log WHERE type = 2 AND query_id = '$TAG-$i-$crun'
                   ORDER BY query_duration_ms DESC LIMIT 1 FORMAT TSVRaw")
        echo "     SQL: $(cut -c1-700 <<<"${sql% FORMAT TabSeparated}")"
    done <"$TMP/results"
fi

echo
echo "   binaries at the end $(bin_id); load average $(load)"
if ! want 3; then
    :
elif [ $((chok + chna)) = "${#commands[@]}" ]; then
    echo "verdict: every report that runs on ClickHouse answered 10M records in under $LIMIT_MS ms ($chok ok, $chna n/a)"
else
    echo "verdict: NOT every report under $LIMIT_MS ms on ClickHouse: $chok ok, $chslow slow, $chfail failed, $chna n/a"
    verdict=1
fi
[ "${STRICT:-0}" = 1 ] && [ "$verdict" != 0 ] && exit 1
exit 0
