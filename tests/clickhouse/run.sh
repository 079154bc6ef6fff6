#!/bin/bash
# tests/clickhouse/run.sh — `wsstats export --clickhouse` against a real
# ClickHouse server from Debian (18.16), started here on loopback with its
# own configuration, users and data directory (issue 24, part 1).
#
#   schema              contrib/clickhouse/schema.sql loads (clickhouse-client --multiquery)
#   export-all          the records of real peers (tests/peers/record.sh, 120 connections:
#                       IPv6, UTF-8 reasons, NULLs, refusals) and 3,000 synthetic ones reach
#                       ClickHouse column for column (every value equal, floats exactly),
#                       in id order, under --sensor-name; meta keeps the acknowledged id
#   again-nothing       a second run ships nothing: (sensor, id) stays unique
#   resume-new          records added to the database later: only those are shipped
#   two-sensors         a second sensor's records sit beside the first's, each complete
#   fleet-equals-union  the reports over both sensors in ClickHouse equal the reports over one
#                       SQLite database of the union of their records (captures and TLS too)
#   server-down         ClickHouse stopped: exit 1, one line naming the URL and the cause;
#                       started again, the next run ships what was missing, nothing twice
#   auth                a user with a password: --clickhouse-auth FILE works; a wrong
#                       password is exit 1 with ClickHouse's reason; an unreadable file exit 2;
#                       a password in the URL never appears in a message
#   usage               no window or filter with export; a bad sensor name; --clickhouse on
#                       another command; export without a format or a URL: exit 2
#   bad-destinations    a database that does not exist, a table of another schema, a bad
#                       scheme, an unreachable server: for export, a report and wsstatsd -r,
#                       one line naming the cause (the daemon keeps every record)
#   json-csv            --format json: one JSON object a record; csv: a header and a line each
#   daemon-file         wsstatsd -r --clickhouse: every record shipped by the end of the run;
#                       ClickHouse unreachable: exit 1, the records kept, counted in one line
#   daemon-live         wsstatsd -i lo --clickhouse while real clients connect; ClickHouse
#                       stopped mid-run: one line, back-off, the backlog in --metrics; started
#                       again: "shipping again", and at the end every record there once;
#                       the age of the oldest unshipped record in --metrics
#   reports-same-as-sqlite  every report on ClickHouse (--clickhouse, and WSSTATS_CLICKHOUSE)
#                       prints what it prints on SQLite for the same records, in every
#                       format, with windows and filters (a record's sensor in connections
#                       is the shipping sensor's name there); shipped after the same database
#                       went to another ClickHouse database, the captures are all there
#   captures-and-tls    the captures rows and TLS counts in ClickHouse (FINAL) equal SQLite's,
#                       also after a second run changed them; only what changed is sent again
#   unknown-outcome-{request,answer,midway}  an INSERT cut by tests/clickhouse/cutproxy.py
#                       (never forwarded; answered, the answer lost; half sent, the rest 3 s
#                       later): asked again, every record there once
#   retention-holds-unshipped  --retention keeps what ClickHouse lacks, deletes what it holds
#   retention-disk-nearly-full under 5 % free (a 128 MiB tmpfs): the unshipped ones past
#                       --retention are deleted, counted and told
#
# Output follows tests/CONTRACT.md. Skips (exit 0) without clickhouse-server
# and clickhouse-client, or, for the real peers, without root and tcpdump
# (the synthetic records are then the only ones). The server is stopped by
# the EXIT trap.
set -u
SUITE=clickhouse
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null ||
    skip_all "no clickhouse-server/clickhouse-client (apt-get install clickhouse-server clickhouse-client)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-ch.XXXXXX")
SERVER=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    [ -n "$SERVER" ] && kill -KILL "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    cap_cleanup
    mountpoint -q "$TMP/small" 2>/dev/null && umount "$TMP/small"
    rm -rf "$TMP"
}
trap cleanup EXIT
read -r HTTP TCP INTERSERVER NOBODY <<<"$(cap_free_ports 4)"
URL="http://127.0.0.1:$HTTP/?database=wsstats"

# shellcheck source-path=SCRIPTDIR source=server.sh
. "$(dirname "$0")/server.sh"
ch_config "$TMP" "$HTTP" "$TCP" "$INTERSERVER" "" "" \
    '<shipper><password>s3cret</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></shipper>'
start_server() {
    clickhouse-server --config-file="$TMP/config.xml" >"$TMP/stdout.log" 2>&1 &
    SERVER=$!
    cap_poll 30 curl -sf -o /dev/null "http://127.0.0.1:$HTTP/ping"
}
stop_server() {
    kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    SERVER=
}
start_server || { fail clickhouse/server-start "ClickHouse did not answer /ping" "$(tail -5 "$TMP/stdout.log" "$TMP/error.log" 2>/dev/null)"; exit 1; }
chq() { clickhouse-client --port "$TCP" -q "$1"; }

out=$(clickhouse-client --port "$TCP" --multiquery <"$ROOT/contrib/clickhouse/schema.sql" 2>&1) &&
    [ "$(chq 'EXISTS TABLE wsstats.connections')" = 1 ] && pass clickhouse/schema || fail clickhouse/schema "$out"

# ---- the records: real peers where this machine can record them, and synthetic ones
DB=$TMP/s.db
if [ -z "$(cap_unusable_reason)" ] && python_peer_ready && node_peer_ready; then
    "$ROOT/tests/peers/record.sh" "$TMP/peers.pcap" 120 >"$TMP/record.log" 2>&1 ||
        fail clickhouse/record "tests/peers/record.sh failed" "$(tail -3 "$TMP/record.log")"
fi
PYTHONPATH="$ROOT/tests/tools" "$PY" -c "
from pcapgen import concurrent_websockets
concurrent_websockets('$TMP/many.pcap', 3000)
concurrent_websockets('$TMP/later.pcap', 500, start=1700001000.0)"
set -- "$TMP/many.pcap"
[ -s "$TMP/peers.pcap" ] && set -- "$TMP/peers.pcap" "$@"
for f in "$@"; do "$BIN/wsstatsd" -q -r "$f" -w "$DB"; done
rows() { sqlite3 "$1" "SELECT count(*) FROM connections"; }

# same DB SENSOR: every record of DB in ClickHouse under SENSOR, value for value
same() {
    "$PY" - "$1" "$2" "http://127.0.0.1:$HTTP/" <<'EOF'
import json, sqlite3, sys, urllib.request
db, sensor, url = sys.argv[1:4]
lite = sqlite3.connect(db)
lite.row_factory = sqlite3.Row
want = [dict(r) for r in lite.execute("SELECT * FROM connections ORDER BY id")]
q = ("SELECT * FROM wsstats.connections WHERE sensor = '%s' ORDER BY id FORMAT JSONEachRow" % sensor).encode()
got = [json.loads(l) for l in urllib.request.urlopen(url, data=q, timeout=30).read().decode().splitlines()]
if len(got) != len(want):
    sys.exit("%d rows in ClickHouse, %d in SQLite" % (len(got), len(want)))
for w, g in zip(want, got):
    for col, v in w.items():
        h = g["source" if col == "sensor" else col]
        if isinstance(h, str) and isinstance(v, (int, float)) and not isinstance(v, bool):
            h = type(v)(h)  # ClickHouse quotes 64-bit integers in JSON
        if col in ("client_ip", "server_ip", "sensor") and v is None:
            v = ""
        if h != v:
            sys.exit("id %s: %s is %r in ClickHouse, %r in SQLite" % (w["id"], col, h, v))
print("%d rows equal" % len(want))
EOF
}

"$BIN/wsstats" export --db "$DB" --clickhouse "$URL" --sensor-name tap-1 2>"$TMP/err"
rc=$?
n=$(rows "$DB")
diff=$(same "$DB" tap-1 2>&1)
meta=$(sqlite3 "$DB" "SELECT value FROM meta WHERE key = 'clickhouse_shipped:tap-1'")
[ $rc = 0 ] && [ "$meta" = "$(sqlite3 "$DB" 'SELECT max(id) FROM connections')" ] &&
    grep -q "^wsstats: $n records shipped as sensor tap-1 (ClickHouse held its ids up to 0, now $meta)$" "$TMP/err" &&
    case $diff in *"rows equal") true ;; *) false ;; esac && pass clickhouse/export-all ||
    fail clickhouse/export-all "exit $rc, $n records, meta '$meta'" "$diff" "$(cat "$TMP/err")"

"$BIN/wsstats" export --db "$DB" --clickhouse "$URL" --sensor-name tap-1 2>"$TMP/err"
rc=$?
dup=$(chq "SELECT count() - uniqExact(id) FROM wsstats.connections WHERE sensor = 'tap-1'")
[ $rc = 0 ] && [ "$dup" = 0 ] && grep -q "^wsstats: 0 records shipped" "$TMP/err" && pass clickhouse/again-nothing ||
    fail clickhouse/again-nothing "exit $rc, $dup duplicates" "$(cat "$TMP/err")"

"$BIN/wsstatsd" -q -r "$TMP/later.pcap" -w "$DB"
"$BIN/wsstats" export --db "$DB" --clickhouse "$URL" --sensor-name tap-1 2>"$TMP/err"
rc=$?
diff=$(same "$DB" tap-1 2>&1)
[ $rc = 0 ] && grep -q "^wsstats: 500 records shipped" "$TMP/err" && case $diff in *"rows equal") true ;; *) false ;; esac &&
    pass clickhouse/resume-new || fail clickhouse/resume-new "exit $rc" "$diff" "$(cat "$TMP/err")"

DB2=$TMP/two.db
"$BIN/wsstatsd" -q -r "$TMP/later.pcap" -w "$DB2"
"$BIN/wsstats" export --db "$DB2" --clickhouse "$URL" --sensor-name tap-2 2>"$TMP/err"
rc=$?
d1=$(same "$DB" tap-1 2>&1) d2=$(same "$DB2" tap-2 2>&1)
[ $rc = 0 ] && case "$d1 $d2" in *"rows equal "*"rows equal") true ;; *) false ;; esac && pass clickhouse/two-sensors ||
    fail clickhouse/two-sensors "exit $rc" "$d1" "$d2" "$(cat "$TMP/err")"

# The fleet: the reports over both sensors in ClickHouse print what they
# print over one SQLite database holding the union of their records.
DBU=$TMP/union.db
for f in "$@" "$TMP/later.pcap" "$TMP/later.pcap"; do "$BIN/wsstatsd" -q --append-again -r "$f" -w "$DBU"; done
bad=""
while IFS= read -r args; do
    for fmt in table json csv; do
        # shellcheck disable=SC2086  # the words are the arguments
        "$BIN/wsstats" --db "$DBU" $args --format $fmt >"$TMP/lite.out" 2>&1
        # shellcheck disable=SC2086
        "$BIN/wsstats" --clickhouse "$URL" $args --format $fmt >"$TMP/ch.out" 2>&1
        cmp -s "$TMP/lite.out" "$TMP/ch.out" ||
            bad="$bad [$args --format $fmt: $(diff "$TMP/lite.out" "$TMP/ch.out" | head -4 | tr '\n' ' ')]"
    done
done <<EOF
top-codes
timeline --bucket 10s
group-by server
group-by host --since 5s
durations
summary
summary --code 1000
EOF
[ "$(rows "$DBU")" = $(($(rows "$DB") + $(rows "$DB2"))) ] && [ -z "$bad" ] && pass clickhouse/fleet-equals-union ||
    fail clickhouse/fleet-equals-union "$(rows "$DBU") records in the union" "$bad"

# Reports run on ClickHouse: for the same records (a database of their own,
# wsstats_r, holding only $DB's), the same output as on SQLite, byte for
# byte, in every format, with windows counted back from the newest record
# and every filter but --sensor (the fleet's name there, the interface or
# file here).
sed 's/wsstats\./wsstats_r./g; s/DATABASE IF NOT EXISTS wsstats;/DATABASE IF NOT EXISTS wsstats_r;/' \
    "$ROOT/contrib/clickhouse/schema.sql" | clickhouse-client --port "$TCP" --multiquery
RURL="http://127.0.0.1:$HTTP/?database=wsstats_r"
"$BIN/wsstats" export --db "$DB" --clickhouse "$RURL" --sensor-name tap-1 2>"$TMP/err" ||
    fail clickhouse/reports-shipped "$(cat "$TMP/err")"
sqlite3 "$DB" "SELECT DISTINCT server_ip || ':' || server_port FROM connections LIMIT 1" >"$TMP/a-server"
bad=""
n=0
while IFS= read -r args; do
    for fmt in table json csv; do
        # shellcheck disable=SC2086  # the words are the arguments
        "$BIN/wsstats" --db "$DB" $args --format $fmt >"$TMP/lite.out" 2>&1
        a=$?
        # shellcheck disable=SC2086
        "$BIN/wsstats" --clickhouse "$RURL" $args --format $fmt >"$TMP/ch.out" 2>&1
        b=$?
        # a record's sensor is the shipping sensor's name there (tap-1)
        case "$args" in connections*)
            sed -i 's/^\({"id":[0-9]*,"sensor":"\)[^"]*"/\1tap-1"/; s/^\([0-9][0-9]*,\)[^,]*,/\1tap-1,/' "$TMP/lite.out" ;;
        esac
        n=$((n + 1))
        [ $fmt = table ] && md5sum <"$TMP/lite.out" >>"$TMP/sums"
        if [ $a != $b ] || ! cmp -s "$TMP/lite.out" "$TMP/ch.out"; then
            bad="$bad [$args --format $fmt: exit $a/$b: $(diff "$TMP/lite.out" "$TMP/ch.out" | head -4 | tr '\n' ' ')]"
        fi
    done
done <<EOF
top-codes
top-codes --since 2s
top-codes --code 1000-1999,none
top-codes --outcome abnormal,unfinished
top-codes --host EXAMPLE.test --path /live*
top-codes --server $(cat "$TMP/a-server")
top-codes --path /live --until 2023-11-14T22:13:25Z
timeline
timeline --bucket 1s --since 5s
timeline --code 1000 --bucket 10s
group-by host
group-by path --outcome clean
group-by server --limit 3
group-by client --since 3s
group-by user-agent --code 1000-1999
group-by subprotocol
durations
durations --outcome abnormal --since 4s
summary
summary --since 3s --code 1000-1999,none
summary --outcome abnormal,clean --server $(cat "$TMP/a-server")
connections
connections --limit 5 --since 2s
connections --limit 0 --host EXAMPLE.test
EOF
# the environment variable stands for --clickhouse when --db is not given
WSSTATS_CLICKHOUSE=$RURL "$BIN/wsstats" top-codes --format csv >"$TMP/env.out" 2>&1
"$BIN/wsstats" --db "$DB" top-codes --format csv >"$TMP/lite.out" 2>&1
cmp -s "$TMP/env.out" "$TMP/lite.out" || bad="$bad [WSSTATS_CLICKHOUSE: $(head -2 "$TMP/env.out")]"
# the commands that read no records refuse it
"$BIN/wsstats" --clickhouse "$RURL" codes >"$TMP/out" 2>"$TMP/err"
[ $? = 2 ] && grep -q "^wsstats: --clickhouse: not an option of codes" "$TMP/err" || bad="$bad [codes: $(cat "$TMP/err")]"
"$BIN/wsstats" --clickhouse "http://127.0.0.1:$NOBODY/" top-codes >"$TMP/out" 2>"$TMP/err"
[ $? = 1 ] && grep -q "^wsstats: http://127.0.0.1:$NOBODY/: Couldn't connect to server$" "$TMP/err" ||
    bad="$bad [unreachable: $(cat "$TMP/err")]"
# a test that cannot fail is none: the windows and filters changed what was printed
distinct=$(sort -u "$TMP/sums" | wc -l)
[ "$distinct" -ge $((n / 3 - 2)) ] || bad="$bad [only $distinct different reports of $((n / 3)): the filters did nothing]"
# group-by sensor: the fleet's names there
"$BIN/wsstats" --clickhouse "$RURL" group-by sensor --format csv >"$TMP/out" 2>&1
grep -q "^tap-1,$(rows "$DB")," "$TMP/out" || bad="$bad [group-by sensor: $(head -3 "$TMP/out")]"
[ -z "$bad" ] && pass "clickhouse/reports-same-as-sqlite ($n reports)" || fail clickhouse/reports-same-as-sqlite "$bad"

# ---- faults ------------------------------------------------------------------------
stop_server
"$BIN/wsstatsd" -q -r "$TMP/later.pcap" -w "$DB2" --append-again
"$BIN/wsstats" export --db "$DB2" --clickhouse "$URL" --sensor-name tap-2 2>"$TMP/err"
rc=$?
down_said=$(cat "$TMP/err")
start_server
"$BIN/wsstats" export --db "$DB2" --clickhouse "$URL" --sensor-name tap-2 2>"$TMP/err2"
rc2=$?
d2=$(same "$DB2" tap-2 2>&1)
[ $rc = 1 ] && grep -q "^wsstats: http://127.0.0.1:$HTTP/?database=wsstats: Couldn't connect to server$" "$TMP/err" &&
    [ $rc2 = 0 ] && grep -q "^wsstats: 500 records shipped" "$TMP/err2" && case $d2 in *"rows equal") true ;; *) false ;; esac &&
    pass clickhouse/server-down || fail clickhouse/server-down "exit $rc then $rc2" "$down_said" "$(cat "$TMP/err2")" "$d2"

echo "shipper:s3cret" >"$TMP/auth"
echo "shipper:wrong" >"$TMP/bad-auth"
bad=""
"$BIN/wsstats" export --db "$DB2" --clickhouse "$URL" --sensor-name tap-3 --clickhouse-auth "$TMP/auth" 2>"$TMP/err" ||
    bad="$bad [right password: $(cat "$TMP/err")]"
"$BIN/wsstats" export --db "$DB2" --clickhouse "$URL" --sensor-name tap-4 --clickhouse-auth "$TMP/bad-auth" 2>"$TMP/err"
[ $? = 1 ] && grep -qiE "HTTP [0-9]+: Code: (192|193|516)" "$TMP/err" || bad="$bad [wrong password: $(cat "$TMP/err")]"
"$BIN/wsstats" export --db "$DB2" --clickhouse "$URL" --sensor-name tap-4 --clickhouse-auth "$TMP/none" 2>"$TMP/err"
[ $? = 2 ] && grep -q "cannot read it" "$TMP/err" || bad="$bad [no file: $(cat "$TMP/err")]"
"$BIN/wsstats" export --db "$DB2" --clickhouse "http://shipper:wrong@127.0.0.1:$HTTP/?database=wsstats" \
    --sensor-name tap-4 2>"$TMP/err"
[ $? = 1 ] && grep -q "shipper:\*\*\*@" "$TMP/err" && ! grep -q wrong "$TMP/err" || bad="$bad [URL password: $(cat "$TMP/err")]"
[ "$(chq "SELECT count() FROM wsstats.connections WHERE sensor = 'tap-4'")" = 0 ] || bad="$bad [tap-4 has rows]"
[ -z "$bad" ] && [ "$(same "$DB2" tap-3 2>&1 | tail -1)" = "$(rows "$DB2") rows equal" ] && pass clickhouse/auth ||
    fail clickhouse/auth "$bad"

bad=""
for args in "export --since 1h --clickhouse $URL" "export --code 1006 --format json" "export --clickhouse $URL --sensor-name a/b" \
    "summary --clickhouse $URL" "export" "export --sensor-name x --format json"; do
    # shellcheck disable=SC2086  # the words are the arguments
    "$BIN/wsstats" $args --db "$DB" >/dev/null 2>"$TMP/err"
    rc=$?
    [ $rc = 2 ] && [ "$(wc -l <"$TMP/err")" = 1 ] || bad="$bad [$args: exit $rc, $(cat "$TMP/err")]"
done
[ -z "$bad" ] && pass clickhouse/usage || fail clickhouse/usage "$bad"

# Bad destinations: one line naming the cause, for export, a report and the
# daemon (whose records stay in SQLite: the store never stops the capture).
chq "CREATE DATABASE IF NOT EXISTS wsstats_bad"
chq "CREATE TABLE IF NOT EXISTS wsstats_bad.connections (sensor String, id UInt64, other String) ENGINE = MergeTree() ORDER BY id"
bad=""
BASE="http://127.0.0.1:$HTTP/"
while IFS=';' read -r what url want code; do
    for run in export report daemon; do
        rm -f "$TMP/bad.db"*
        case $run in
        export) cp "$DB2" "$TMP/bad.db"
            "$BIN/wsstats" export --db "$TMP/bad.db" --clickhouse "$url" --sensor-name tap-bad 2>"$TMP/err" ;;
        report) "$BIN/wsstats" --clickhouse "$url" summary >/dev/null 2>"$TMP/err" ;;
        daemon) "$BIN/wsstatsd" -q -r "$TMP/later.pcap" -w "$TMP/bad.db" --clickhouse "$url" --sensor-name tap-bad 2>"$TMP/err" ;;
        esac
        rc=$?
        kept=$([ $run = daemon ] && [ $code = 1 ] && sqlite3 "$TMP/bad.db" "SELECT count(*) FROM connections" || echo 500)
        [ $rc = "$code" ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -Eq "$want" "$TMP/err" && [ "$kept" = 500 ] ||
            bad="$bad [$what, $run: exit $rc, $kept records kept: $(cat "$TMP/err")]"
    done
done <<EOF
no such database;${BASE}?database=nosuch;Database nosuch doesn't exist;1
another schema;${BASE}?database=wsstats_bad;No such column source|Table wsstats_bad.captures doesn.t exist;1
a bad scheme;ftp://127.0.0.1:$HTTP/;not an http:// or https:// URL;2
unreachable;http://127.0.0.1:$NOBODY/;Couldn't connect to server;1
EOF
[ -z "$bad" ] && pass clickhouse/bad-destinations || fail clickhouse/bad-destinations "$bad"

"$BIN/wsstats" export --db "$DB" --format json >"$TMP/all.json" && "$BIN/wsstats" export --db "$DB" --format csv >"$TMP/all.csv"
lines=$("$PY" -c "
import json, sys
n = 0
for line in open('$TMP/all.json'):
    json.loads(line); n += 1
print(n)")
[ "$lines" = "$(rows "$DB")" ] && [ "$(wc -l <"$TMP/all.csv")" = $(($(rows "$DB") + 1)) ] && pass clickhouse/json-csv ||
    fail clickhouse/json-csv "$lines JSON lines, $(wc -l <"$TMP/all.csv") CSV lines, $(rows "$DB") records"
# ---- the daemon's shipper ---------------------------------------------------------
"$BIN/wsstatsd" -q -r "$TMP/later.pcap" -w "$TMP/d.db" --clickhouse "$URL" --sensor-name d-file 2>"$TMP/err"
rc=$?
d=$(same "$TMP/d.db" d-file 2>&1)
"$BIN/wsstatsd" -q -r "$TMP/later.pcap" -w "$TMP/d2.db" --clickhouse "http://127.0.0.1:$NOBODY/" \
    --sensor-name d-none 2>"$TMP/err2"
rc2=$?
[ $rc = 0 ] && [ "$d" = "500 rows equal" ] && [ $rc2 = 1 ] && [ "$(rows "$TMP/d2.db")" = 500 ] &&
    grep -q "clickhouse: http://127.0.0.1:$NOBODY/: Couldn't connect to server; 500 records not shipped" "$TMP/err2" &&
    pass clickhouse/daemon-file || fail clickhouse/daemon-file "exit $rc, then $rc2" "$d" "$(cat "$TMP/err" "$TMP/err2")"

# The captures rows and TLS counts: in ClickHouse's ReplacingMergeTree tables,
# read with FINAL, equal to SQLite's, also after they changed.
same_side() {
    "$PY" - "$1" "$2" "http://127.0.0.1:$HTTP/" <<'EOF'
import json, sqlite3, sys, urllib.request
db, sensor, url = sys.argv[1:4]
lite = sqlite3.connect(db)
lite.row_factory = sqlite3.Row
def ch(sql):
    out = urllib.request.urlopen(url, data=(sql + " FORMAT JSONEachRow").encode(), timeout=30).read().decode()
    return [json.loads(l) for l in out.splitlines()]
names = {"captures": {"sensor": "source", "source": "source_path"}, "tls_flows": {"sensor": "source"}}
keys = {"captures": "id", "tls_flows": "hour, sensor, server_ip, server_port, sni"}
said = []
for table in ("captures", "tls_flows"):
    want = [dict(r) for r in lite.execute("SELECT * FROM %s ORDER BY %s" % (table, keys[table]))]
    got = ch("SELECT * FROM wsstats.%s FINAL WHERE sensor = '%s' ORDER BY %s"
             % (table, sensor, keys[table].replace("sensor", "source")))
    if len(got) != len(want):
        sys.exit("%s: %d rows in ClickHouse, %d in SQLite" % (table, len(got), len(want)))
    for w, g in zip(want, got):
        for col, v in w.items():
            h = g[names[table].get(col, col)]
            if isinstance(h, str) and isinstance(v, (int, float)):
                h = type(v)(h)  # ClickHouse quotes 64-bit integers in JSON
            if h != v:
                sys.exit("%s %s: %s is %r in ClickHouse, %r in SQLite" % (table, w[keys[table].split(",")[0]], col, h, v))
    said.append("%d %s" % (len(want), table))
print(" and ".join(said) + " equal")
EOF
}
DB3=$TMP/side.db
"$PY" "$ROOT/tests/hostile/hostile.py" tlsflows "$TMP/tls.pcap" 300
"$BIN/wsstatsd" -q -r "$TMP/later.pcap" -r "$TMP/tls.pcap" -w "$DB3"
"$BIN/wsstats" export --db "$DB3" --clickhouse "$URL" --sensor-name side 2>"$TMP/err"
rc=$?
d1=$(same_side "$DB3" side 2>&1)
"$BIN/wsstatsd" -q -r "$TMP/tls.pcap" -w "$DB3" --append-again
"$BIN/wsstats" export --db "$DB3" --clickhouse "$URL" --sensor-name side 2>>"$TMP/err"
rc2=$?
d2=$(same_side "$DB3" side 2>&1)
tls=$(chq "SELECT sum(connections) FROM wsstats.tls_flows FINAL WHERE sensor = 'side'")
[ $rc = 0 ] && [ $rc2 = 0 ] && [ "$d1" = "2 captures and 1 tls_flows equal" ] && [ "$d2" = "3 captures and 1 tls_flows equal" ] &&
    [ "$tls" = 600 ] && grep -q "^wsstats: 2 captures rows and 1 TLS counts brought up to date$" "$TMP/err" &&
    grep -q "^wsstats: 1 captures rows and 1 TLS counts brought up to date$" "$TMP/err" && pass clickhouse/captures-and-tls ||
    fail clickhouse/captures-and-tls "exit $rc, $rc2; TLS flows $tls (want 600)" "$d1" "$d2" "$(cat "$TMP/err")"

# An INSERT whose outcome the shipper cannot know (tests/clickhouse/cutproxy.py):
# never forwarded, answered but the answer lost, or still running when the
# shipper asks. Each time every record is in ClickHouse once.
for mode in request answer midway; do
    read -r PROXY <<<"$(cap_free_ports 1)"
    : >"$TMP/cut.log"
    "$PY" "$ROOT/tests/clickhouse/cutproxy.py" --listen "$PROXY" --to "$HTTP" --cut $mode --log "$TMP/cut.log" &
    P=$!
    cap_poll 5 curl -s -o /dev/null "http://127.0.0.1:$PROXY/ping"
    "$BIN/wsstats" export --db "$TMP/d.db" --clickhouse "http://127.0.0.1:$PROXY/?database=wsstats" \
        --sensor-name "cut-$mode" 2>"$TMP/err"
    rc=$?
    kill $P 2>/dev/null
    wait $P 2>/dev/null
    d=$(same "$TMP/d.db" "cut-$mode" 2>&1)
    [ $rc = 0 ] && [ "$d" = "500 rows equal" ] && [ "$(grep -c "^cut $mode of an INSERT" "$TMP/cut.log")" = 1 ] &&
        grep -q "^wsstats: 500 records shipped as sensor cut-$mode (ClickHouse held its ids up to 0, now 500); some INSERTs were asked again$" "$TMP/err" &&
        pass "clickhouse/unknown-outcome-$mode" ||
        fail "clickhouse/unknown-outcome-$mode" "exit $rc" "$d" "$(cat "$TMP/cut.log" "$TMP/err")"
done

# --retention never deletes what ClickHouse lacks, unless the disk is nearly
# full. later.pcap's records span 6.5 s; --retention 1s keeps the last 167.
"$BIN/wsstatsd" -q -r "$TMP/later.pcap" -w "$TMP/r0.db" --retention 1s
kept=$(rows "$TMP/r0.db")
run_held() { "$BIN/wsstatsd" -q -r "$TMP/later.pcap" -w "$1" --retention 1s --sensor-name r \
    --clickhouse "http://127.0.0.1:$NOBODY/" "${@:2}" 2>"$TMP/err"; }
run_held "$TMP/r.db"
rc=$?
n1=$(rows "$TMP/r.db")
"$BIN/wsstats" export --db "$TMP/r.db" --clickhouse "$URL" --sensor-name r 2>>"$TMP/err"
run_held "$TMP/r.db" --append-again
n2=$(rows "$TMP/r.db")
[ "$kept" -lt 500 ] && [ $rc = 1 ] && [ "$n1" = 500 ] && [ "$n2" = $((kept + 500)) ] && pass clickhouse/retention-holds-unshipped ||
    fail clickhouse/retention-holds-unshipped "kept $kept without a shipper; with one unshipped $n1 (want 500)," \
        "after shipping them and a second run $n2 (want $((kept + 500)))" "$(cat "$TMP/err")"
if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/small" && mount -t tmpfs -o size=128m wsstats-test "$TMP/small"; then
    cp "$TMP/r.db" "$TMP/small/r.db"
    avail=$(df --output=avail -B1 "$TMP/small" | tail -1)
    head -c $((avail - 4 * 1048576)) /dev/zero >"$TMP/small/fill" # 4 MiB left, under 5 % of 128
    run_held "$TMP/small/r.db" --append-again
    rc=$?
    n3=$(rows "$TMP/small/r.db")
    umount "$TMP/small"
    [ $rc = 1 ] && [ "$n3" = $((3 * kept)) ] &&
        grep -q "the disk is nearly full (.* MiB free of 128 MiB, under 5%): $((2 * (500 - kept))) records past --retention were deleted before they were shipped ($((2 * (500 - kept))) in all)" "$TMP/err" &&
        pass clickhouse/retention-disk-nearly-full ||
        fail clickhouse/retention-disk-nearly-full "exit $rc, $n3 records (want $((3 * kept)))" "$(cat "$TMP/err")"
else
    pass "clickhouse/retention-disk-nearly-full # SKIP needs root to mount a small tmpfs"
fi

if [ -z "$(cap_unusable_reason)" ] && python_peer_ready; then
    read -r WSPORT METRICS <<<"$(cap_free_ports 2)"
    "$BIN/wsstatsd" -i lo -f "tcp port $WSPORT" -w "$TMP/live.db" --clickhouse "$URL" --sensor-name d-live \
        --metrics "127.0.0.1:$METRICS" 2>"$TMP/live.err" &
    D=$!
    sleep 1
    live_rows() { chq "SELECT count() FROM wsstats.connections WHERE sensor = 'd-live'"; }
    has() { [ "$(live_rows)" = "$1" ]; }
    "$PY" "$ROOT/tests/live/traffic.py" --port "$WSPORT" --keys "$TMP/k1" --count 40 >/dev/null
    cap_poll 15 has 40
    first=$(live_rows)
    stop_server
    "$PY" "$ROOT/tests/live/traffic.py" --port "$WSPORT" --keys "$TMP/k2" --count 60 >/dev/null
    backlogged() { curl -s "http://127.0.0.1:$METRICS/metrics" >"$TMP/metrics" && grep -q '^wsstats_clickhouse_backlog 60$' "$TMP/metrics"; }
    cap_poll 15 backlogged
    backlog=$?
    age=$(sed -n 's/^wsstats_clickhouse_backlog_age_seconds //p' "$TMP/metrics")
    start_server
    cap_poll 60 has 100
    kill -TERM $D
    wait $D
    rc=$?
    d=$(same "$TMP/live.db" d-live 2>&1)
    [ "$first" = 40 ] && [ $backlog = 0 ] && awk -v a="$age" 'BEGIN { exit !(a > 0 && a < 60) }' && [ $rc = 0 ] &&
        [ "$d" = "100 rows equal" ] &&
        grep -q "clickhouse: .*; [0-9]* records wait in the database, retrying with back-off" "$TMP/live.err" &&
        grep -q "clickhouse: shipping again" "$TMP/live.err" && pass clickhouse/daemon-live ||
        fail clickhouse/daemon-live "first $first, backlog seen $backlog (age $age s), exit $rc" "$d" "$(cat "$TMP/live.err")"
else
    pass "clickhouse/daemon-live # SKIP needs root, tcpdump's capture and python3-websockets"
fi
[ "$FAILED" = 0 ]
