#!/usr/bin/env bash
# tests/cli/run.sh — the command-line contract of wsstatsd and wsstats
# (docs/design.md §1, §5): exit codes 0/1/2, one clear stderr line naming the
# culprit, no partial garbage in the database, records kept up to damage,
# json field names equal to the column names. Captures are made on the spot
# by tests/tools/pcapgen.py. Prints `ok - NAME` / `not ok - NAME` lines.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0

ok() { echo "ok - cli/$1"; }
not_ok() { echo "not ok - cli/$1"; shift; for l in "$@"; do echo "#  $l"; done; failed=1; }

# expect NAME CODE PATTERN -- CMD...: exit status CODE, and (if PATTERN is
# not empty) exactly one stderr line, matching PATTERN.
expect() {
    local name=$1 code=$2 pattern=$3
    shift 4
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    local lines
    lines=$(grep -c '' "$T/err")
    if [ "$rc" -ne "$code" ]; then
        not_ok "$name" "expected exit $code, got $rc" "stderr: $(head -3 "$T/err")"
    elif [ -n "$pattern" ] && { [ "$lines" -ne 1 ] || ! grep -qE "$pattern" "$T/err"; }; then
        not_ok "$name" "expected one stderr line matching /$pattern/, got $lines:" "$(head -3 "$T/err")"
    else
        ok "$name"
    fi
}

# maxcols FILE: the widest line of FILE in terminal columns (a CJK character
# or an emoji takes two, a combining mark none)
maxcols() {
    "$PY" -c '
import sys, unicodedata
w = lambda l: sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in l)
print(max([w(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8", errors="replace")] or [0]))' "$1"
}

gen() { # gen OUT SCRIPT: runs python with pcapgen imported
    PYTHONPATH=tests/tools "$PY" -c "from pcapgen import *
p = Pcap('$1')
$2
p.close()"
}

three_conversations='
for i, code in enumerate([1000, 1001, 1011]):
    c = Conversation(p, "10.0.0.1", 50000 + i, "10.0.0.2", 80)
    c.handshake()
    c.send_frame("client", 1, b"x" * 300)
    c.close("server", code, "r%d" % i); c.close("client", code)
    c.fin("server"); c.fin("client")'
gen "$T/good.pcap" "$three_conversations"

# ---- wsstatsd: usage errors (exit 2) ----
expect wsstatsd-unknown-option 2 "unknown option '--bogus'" -- "$BIN/wsstatsd" --bogus
expect wsstatsd-no-source 2 "no source" -- "$BIN/wsstatsd" -w "$T/x.db"
expect wsstatsd-two-sources 2 "not both" -- "$BIN/wsstatsd" -r "$T/good.pcap" -i lo -w "$T/x.db"
expect wsstatsd-missing-value 2 "needs a value" -- "$BIN/wsstatsd" -r
expect wsstatsd-bad-idle 2 "idle-timeout: 'soon'" -- "$BIN/wsstatsd" -r "$T/good.pcap" --idle-timeout soon
expect wsstatsd-help 0 "" -- "$BIN/wsstatsd" --help
expect wsstatsd-version 0 "" -- "$BIN/wsstatsd" --version

# ---- wsstatsd: bad sources leave no database behind (exit 1) ----
expect wsstatsd-missing-file 1 "nope\.pcap" -- "$BIN/wsstatsd" -r "$T/nope.pcap" -w "$T/missing.db"
[ ! -e "$T/missing.db" ] && ok wsstatsd-missing-file-no-db || not_ok wsstatsd-missing-file-no-db "database was created"
expect wsstatsd-directory-as-file 1 "$T" -- "$BIN/wsstatsd" -r "$T" -w "$T/dir.db"
head -c 4096 /dev/urandom >"$T/garbage.pcap"
printf 'not a capture at all\n' >>"$T/garbage.pcap"
expect wsstatsd-garbage-file 1 "garbage\.pcap" -- "$BIN/wsstatsd" -r "$T/garbage.pcap" -w "$T/garbage.db"
[ ! -e "$T/garbage.db" ] && ok wsstatsd-garbage-no-db || not_ok wsstatsd-garbage-no-db "database was created"
"$PY" -c "
import struct
open('$T/usb.pcap','wb').write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 189))" # USB Linux
expect wsstatsd-unknown-linktype 1 "usb\.pcap: unsupported link type 189" -- "$BIN/wsstatsd" -r "$T/usb.pcap" -w "$T/usb.db"
expect wsstatsd-good-then-missing 1 "later\.pcap" -- "$BIN/wsstatsd" -r "$T/good.pcap" -r "$T/later.pcap" -w "$T/two.db"
[ ! -e "$T/two.db" ] && ok wsstatsd-good-then-missing-no-db || not_ok wsstatsd-good-then-missing-no-db "database was created"

# ---- wsstatsd: bad databases (exit 1) ----
expect wsstatsd-db-in-missing-dir 1 "/no/such/dir/x\.db" -- "$BIN/wsstatsd" -q -r "$T/good.pcap" -w /no/such/dir/x.db
expect wsstatsd-db-is-directory 1 "$T" -- "$BIN/wsstatsd" -q -r "$T/good.pcap" -w "$T"
printf 'hello, I am a text file and no database\n%.0s' {1..40} >"$T/text.db"
expect wsstatsd-db-not-sqlite 1 "text\.db" -- "$BIN/wsstatsd" -q -r "$T/good.pcap" -w "$T/text.db"
sqlite3 "$T/newer.db" "PRAGMA user_version = 99; CREATE TABLE connections (id INTEGER);"
expect wsstatsd-db-newer-schema 1 "newer\.db: schema version 99 is newer" -- "$BIN/wsstatsd" -q -r "$T/good.pcap" -w "$T/newer.db"
sqlite3 "$T/other.db" "CREATE TABLE stuff (id INTEGER);"
expect wsstatsd-db-foreign 1 "other\.db: not a wsstats database" -- "$BIN/wsstatsd" -q -r "$T/good.pcap" -w "$T/other.db"

# ---- wsstatsd: a capture cut mid-packet keeps what came before ----
size=$(stat -c %s "$T/good.pcap")
head -c $((size - 30)) "$T/good.pcap" >"$T/cut.pcap"
expect wsstatsd-cut-file 1 "cut\.pcap: .*truncated" -- "$BIN/wsstatsd" -q -r "$T/cut.pcap" -w "$T/cut.db"
rows=$(sqlite3 "$T/cut.db" "SELECT group_concat(close_code || '/' || outcome, ' ') FROM (SELECT * FROM connections ORDER BY client_port)" 2>&1)
if [ "$rows" = "1000/clean 1001/clean 1011/clean" ]; then ok wsstatsd-cut-file-keeps-records
else not_ok wsstatsd-cut-file-keeps-records "expected 1000/clean 1001/clean 1011/clean, got: $rows"; fi
status=$(sqlite3 "$T/cut.db" "SELECT status FROM captures" 2>&1)
case "$status" in *truncated*) ok wsstatsd-cut-file-capture-status ;;
*) not_ok wsstatsd-cut-file-capture-status "captures.status: $status" ;; esac

# ---- a good run, then the schema contract ----
expect wsstatsd-good 0 "" -- "$BIN/wsstatsd" -q -r "$T/good.pcap" -w "$T/good.db"
v=$(sqlite3 "$T/good.db" "PRAGMA user_version; PRAGMA journal_mode; SELECT value FROM meta WHERE key='schema_version'" | tr '\n' ' ')
[ "$v" = "6 wal 6 " ] && ok schema-version-and-wal || not_ok schema-version-and-wal "got: $v"
cap=$(sqlite3 "$T/good.db" "SELECT sensor, kind, packets, tcp_flows, connections, status FROM captures")
[ "$cap" = "good.pcap|file|$(tshark -r "$T/good.pcap" 2>/dev/null | wc -l)|3|3|complete" ] && ok captures-row ||
    not_ok captures-row "got: $cap"
# a second run of the same file on the same database appends when asked
# (--append-again; refused by default: tests/store/edges.sh), and does not migrate again
expect wsstatsd-append 0 "" -- "$BIN/wsstatsd" -q --append-again -r "$T/good.pcap" -w "$T/good.db"
n=$(sqlite3 "$T/good.db" "SELECT count(*) FROM connections")
[ "$n" = 6 ] && ok wsstatsd-append-rows || not_ok wsstatsd-append-rows "expected 6 rows, got $n"
# wsstatsd's own connection skips the CHECKs (store.c: they cost a third of
# an INSERT); for every other writer the schema still refuses bad values
bad=$(sqlite3 "$T/good.db" "INSERT INTO connections (sensor, client_ip, client_port, server_ip, server_port,
  started_at, ended_at, handshake_seen, outcome, termination, frames_client, frames_server, messages_client,
  messages_server, bytes_client, bytes_server, pings, pongs) SELECT sensor, client_ip, client_port, server_ip,
  server_port, started_at, ended_at, handshake_seen, 'exploded', termination, 0, 0, 0, 0, 0, 0, 0, 0
  FROM connections LIMIT 1" 2>&1)
n=$(sqlite3 "$T/good.db" "SELECT count(*) FROM connections")
case "$bad" in *"CHECK constraint failed"*) [ "$n" = 6 ] && ok schema-checks-other-writers ||
    not_ok schema-checks-other-writers "the row went in: $n rows" ;;
*) not_ok schema-checks-other-writers "an outcome of 'exploded' was not refused: $bad" ;; esac
WSSTATS_DB="$T/env.db" "$BIN/wsstatsd" -q -r "$T/good.pcap" && [ -s "$T/env.db" ] && ok wsstatsd-env-db ||
    not_ok wsstatsd-env-db "WSSTATS_DB was not used"

# ---- the same traffic as pcapng, and from standard input, gives the same records ----
records() { sqlite3 "$1" "SELECT client_port, close_code, close_reason, outcome, termination, frames_client, frames_server FROM connections ORDER BY client_port"; }
if command -v editcap >/dev/null; then
    editcap -F pcapng "$T/good.pcap" "$T/good.pcapng"
    "$BIN/wsstatsd" -q -r "$T/good.pcapng" -w "$T/ng.db"
    [ "$(records "$T/ng.db")" = "$(records "$T/cut.db")" ] && ok pcapng-same-records ||
        not_ok pcapng-same-records "pcap:" "$(records "$T/cut.db")" "pcapng:" "$(records "$T/ng.db")"
else
    echo "ok - cli/pcapng-same-records # SKIP editcap (wireshark-common) not installed"
fi
"$BIN/wsstatsd" -q -r - -w "$T/stdin.db" <"$T/good.pcap"
s=$(sqlite3 "$T/stdin.db" "SELECT DISTINCT sensor FROM connections")
[ "$(records "$T/stdin.db")" = "$(records "$T/cut.db")" ] && [ "$s" = stdin ] && ok stdin-same-records ||
    not_ok stdin-same-records "sensor $s" "$(records "$T/stdin.db")"

# ---- wsstatsd --retention: records that ended longer ago go, in batches ----
now=$(date +%s)
gen "$T/old.pcap" "
p.clock = $((now - 3 * 86400))
for i in range(1200):
    c = Conversation(p, '10.0.1.1', 20000 + i, '10.0.0.2', 80)
    c.handshake(); c.close('client', 1000); c.close('server', 1000); c.fin('client'); c.fin('server')"
gen "$T/new.pcap" "
p.clock = $((now - 60))
$three_conversations"
"$BIN/wsstatsd" -q -r "$T/old.pcap" -w "$T/ret.db"
"$BIN/wsstatsd" -q -r "$T/new.pcap" -w "$T/ret.db" --retention 2d
n=$(sqlite3 "$T/ret.db" "SELECT count(*) || ' ' || sum(client_ip = '10.0.1.1') FROM connections")
[ "$n" = "3 0" ] && ok retention-deletes-old || not_ok retention-deletes-old "expected 3 new and 0 old records, got: $n"
expect wsstatsd-bad-retention 2 "retention: 'forever'" -- "$BIN/wsstatsd" -r "$T/new.pcap" -w "$T/x.db" --retention forever

# ---- wsstats: usage and runtime errors ----
expect wsstats-no-command 2 "no command" -- "$BIN/wsstats" --db "$T/good.db"
expect wsstats-unknown-command 2 "unknown command 'frobnicate'" -- "$BIN/wsstats" --db "$T/good.db" frobnicate
expect wsstats-unknown-option 2 "unknown option '--colour'" -- "$BIN/wsstats" --db "$T/good.db" top-codes --colour
expect wsstats-bad-format 2 "format: 'yaml'" -- "$BIN/wsstats" --db "$T/good.db" top-codes --format yaml
expect wsstats-bad-since 2 "since: 'yesterday'" -- "$BIN/wsstats" --db "$T/good.db" top-codes --since yesterday
expect wsstats-bad-until 2 "until: '2026-13-01'" -- "$BIN/wsstats" --db "$T/good.db" top-codes --until 2026-13-01
expect wsstats-bad-limit 2 "limit: 'ten'" -- "$BIN/wsstats" --db "$T/good.db" connections --limit ten
expect wsstats-missing-db 1 "no database at $T/none\.db" -- "$BIN/wsstats" --db "$T/none.db" top-codes
[ ! -e "$T/none.db" ] && ok wsstats-never-creates-db || not_ok wsstats-never-creates-db "wsstats created a database"
expect wsstats-newer-db 1 "newer\.db: schema version 99 is newer" -- "$BIN/wsstats" --db "$T/newer.db" top-codes
expect wsstats-text-db 1 "text\.db" -- "$BIN/wsstats" --db "$T/text.db" top-codes
expect wsstats-explain-out-of-range 2 "explain: '70000'" -- "$BIN/wsstats" explain 70000
expect wsstats-explain 0 "" -- "$BIN/wsstats" explain 1006
grep -q "Abnormal Closure" "$T/out" && ok wsstats-explain-names-code || not_ok wsstats-explain-names-code "$(cat "$T/out")"
expect wsstats-help 0 "" -- "$BIN/wsstats" --help
for cmd in top-codes connections timeline group-by durations summary codes explain; do
    expect "wsstats-help-$cmd" 0 "" -- "$BIN/wsstats" "$cmd" --help
    grep -q "^Usage: wsstats $cmd" "$T/out" && ok "wsstats-help-$cmd-usage" ||
        not_ok "wsstats-help-$cmd-usage" "$(head -2 "$T/out")"
done
expect wsstats-help-command 0 "" -- "$BIN/wsstats" help durations
grep -q "idle" "$T/out" && ok wsstats-help-command-text || not_ok wsstats-help-command-text "$(head -3 "$T/out")"
expect wsstats-help-unknown 2 "help: unknown command 'nope'" -- "$BIN/wsstats" help nope

# ---- wsstats: filters and command options, bad values (exit 2, the culprit named) ----
G=(--db "$T/good.db")
expect wsstats-code-too-big 2 "code: '65536'" -- "$BIN/wsstats" "${G[@]}" top-codes --code 65536
expect wsstats-code-negative 2 "code: '-1'" -- "$BIN/wsstats" "${G[@]}" top-codes --code=-1
expect wsstats-code-reversed 2 "code: '4999-4000'" -- "$BIN/wsstats" "${G[@]}" top-codes --code 4999-4000
expect wsstats-code-junk 2 "code: '1000,abc'" -- "$BIN/wsstats" "${G[@]}" top-codes --code 1000,abc
expect wsstats-outcome-bad 2 "outcome: 'closed'" -- "$BIN/wsstats" "${G[@]}" summary --outcome closed
expect wsstats-server-hostname 2 "server: 'example.com'" -- "$BIN/wsstats" "${G[@]}" top-codes --server example.com
expect wsstats-server-port 2 "server: '10.0.0.2:99999'" -- "$BIN/wsstats" "${G[@]}" top-codes --server 10.0.0.2:99999
expect wsstats-client-bracket 2 "client: '\\[::1'" -- "$BIN/wsstats" "${G[@]}" top-codes --client '[::1'
expect wsstats-bucket-bad 2 "bucket: 'often'" -- "$BIN/wsstats" "${G[@]}" timeline --bucket often
expect wsstats-bucket-fraction 2 "bucket: '1500ms'" -- "$BIN/wsstats" "${G[@]}" timeline --bucket 1500ms
expect wsstats-bucket-wrong-command 2 "bucket: not an option of top-codes" -- "$BIN/wsstats" "${G[@]}" top-codes --bucket 1m
expect wsstats-limit-wrong-command 2 "limit: not an option of summary" -- "$BIN/wsstats" "${G[@]}" summary --limit 3
expect wsstats-too-many-buckets 2 "buckets of 1s are too many" -- "$BIN/wsstats" "${G[@]}" timeline --bucket 1s --since 7d
expect wsstats-group-by-nothing 2 "group-by: by what" -- "$BIN/wsstats" "${G[@]}" group-by
expect wsstats-group-by-unknown 2 "group-by: 'colour'" -- "$BIN/wsstats" "${G[@]}" group-by colour
expect wsstats-group-by-extra 2 "unexpected argument 'path'" -- "$BIN/wsstats" "${G[@]}" group-by host path
expect wsstats-window-reversed 2 "until: the window ends" -- "$BIN/wsstats" "${G[@]}" top-codes --since 2026-01-02 --until 2026-01-01
expect wsstats-malformed-iso 2 "since: '2026-11-23T25:00'" -- "$BIN/wsstats" "${G[@]}" summary --since 2026-11-23T25:00
expect wsstats-empty-value 2 "since: ''" -- "$BIN/wsstats" "${G[@]}" summary --since=
for cmd in "timeline" "group-by host" "durations" "summary"; do
    # shellcheck disable=SC2086  # the command and its argument
    expect "wsstats-missing-db-${cmd%% *}" 1 "no database at $T/none\.db" -- "$BIN/wsstats" --db "$T/none.db" $cmd
done
[ ! -e "$T/none.db" ] && ok wsstats-never-creates-db-any-command || not_ok wsstats-never-creates-db-any-command
expect wsstats-newer-db-summary 1 "newer\.db: schema version 99 is newer" -- "$BIN/wsstats" --db "$T/newer.db" summary

# quotes and SQL in filter values are matched literally (bound parameters):
# each filter alone must find nothing, so each can fail on its own ('*' alone
# is --path's prefix syntax, every path: left out for --path)
for v in "x' OR '1'='1" '%' '*' '\' '"; DROP TABLE connections; --' "1000) OR (1=1"; do
    for opt in --host --path --sensor; do
        [ "$opt" = --path ] && [ "$v" = '*' ] && continue
        n=$("$BIN/wsstats" "${G[@]}" connections --format json --limit 0 "$opt" "$v" | wc -l)
        name="literal-filter${opt#-}-$(printf %s "$v" | od -An -tx1 | tr -d ' \n')"
        [ "$n" = 0 ] && ok "$name" || not_ok "$name" "$opt '$v' matched $n connections"
    done
done
n=$(sqlite3 "$T/good.db" "SELECT count(*) FROM connections")
[ "$n" = 6 ] && ok filters-harmless || not_ok filters-harmless "the table now has $n rows"

# ---- wsstats: output contracts ----
out=$("$BIN/wsstats" --db "$T/good.db" top-codes --format csv | tr -d '\r')
expected="code,name,outcome,count,share
1000,Normal Closure,,2,0.333333
1001,Going Away,,2,0.333333
1011,Internal Error,,2,0.333333"
[ "$out" = "$expected" ] && ok top-codes-csv || not_ok top-codes-csv "got:" "$out"
keys=$("$BIN/wsstats" --db "$T/good.db" connections --format json --limit 1 |
    "$PY" -c 'import json,sys; print(",".join(json.loads(sys.stdin.readline()).keys()))')
cols=$(sqlite3 "$T/good.db" "SELECT group_concat(name, ',') FROM pragma_table_info('connections')")
[ "$keys" = "$cols" ] && ok json-keys-are-columns || not_ok json-keys-are-columns "json: $keys" "cols: $cols"
n=$("$BIN/wsstats" --db "$T/good.db" connections --format json --limit 0 | wc -l)
[ "$n" = 6 ] && ok connections-limit-0-is-all || not_ok connections-limit-0-is-all "got $n lines"
# the three conversations are 1 ms-spaced packets; the newest record anchors --since
n=$("$BIN/wsstats" --db "$T/good.db" connections --format json --since 1s | wc -l)
[ "$n" = 6 ] && ok since-anchors-on-newest-record || not_ok since-anchors-on-newest-record "got $n"
n=$("$BIN/wsstats" --db "$T/good.db" connections --format json --until 2000-01-01 | wc -l)
[ "$n" = 0 ] && ok until-iso-time || not_ok until-iso-time "got $n"
"$BIN/wsstats" --db "$T/good.db" top-codes >"$T/table"
if grep -qE '^1000  Normal Closure +2  33\.3%' "$T/table" && [ "$(maxcols "$T/table")" -le 80 ]; then
    ok top-codes-table
else
    not_ok top-codes-table "$(cat "$T/table")"
fi

# ---- wsstats: operands, "--", empty values, a directory for a database ----
expect wsstats-stray-argument 2 "unexpected argument '1h': top-codes takes none" -- "$BIN/wsstats" "${G[@]}" top-codes 1h
expect wsstats-stray-argument-summary 2 "unexpected argument 'x'" -- "$BIN/wsstats" "${G[@]}" summary x
expect wsstats-stray-third 2 "unexpected argument 'path'" -- "$BIN/wsstats" "${G[@]}" explain 1006 path
expect wsstats-codes-no-window 2 "since: not an option of codes" -- "$BIN/wsstats" codes --since 1h
expect wsstats-codes-no-filter 2 "host: not an option of codes" -- "$BIN/wsstats" codes --host example.test
expect wsstats-explain-no-filter 2 "code: not an option of explain" -- "$BIN/wsstats" explain 1006 --code 1000
expect wsstats-codes-db-ignored 0 "" -- "$BIN/wsstats" --db "$T/none.db" codes
expect wsstats-double-dash 0 "" -- "$BIN/wsstats" "${G[@]}" -- top-codes
grep -q '^1000  Normal Closure' "$T/out" && ok wsstats-double-dash-output || not_ok wsstats-double-dash-output "$(cat "$T/out")"
# after "--" a word that looks like an option is an operand
expect wsstats-double-dash-operand 2 "explain: '-5' is not a close code" -- "$BIN/wsstats" explain -- -5
expect wsstats-double-dash-command 2 "unknown command '--format'" -- "$BIN/wsstats" "${G[@]}" -- --format json
expect wsstats-empty-host 2 "host: empty value" -- "$BIN/wsstats" "${G[@]}" top-codes --host ""
expect wsstats-empty-path 2 "path: empty value" -- "$BIN/wsstats" "${G[@]}" top-codes --path=
expect wsstats-empty-sensor 2 "sensor: empty value" -- "$BIN/wsstats" "${G[@]}" summary --sensor ""
expect wsstats-empty-db 2 "db: empty path" -- "$BIN/wsstats" --db "" top-codes
mkdir -p "$T/dir"
expect wsstats-db-is-directory 1 "dir: is a directory, not a database" -- "$BIN/wsstats" --db "$T/dir" top-codes

# ---- wsstats: a WAL database in a directory the reader may not write ----
# (root reads anything: the reader is user nobody, through runuser)
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null && runuser -u nobody -- true 2>/dev/null; then
    RO=$(mktemp -d /tmp/wsstats-ro.XXXXXX)
    cp "$T/good.db" "$RO/ro.db"
    chmod 755 "$RO"
    chmod 644 "$RO/ro.db"
    # no writer (no -wal file): read as immutable
    runuser -u nobody -- "$BIN/wsstats" --db "$RO/ro.db" top-codes --format csv >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = 0 ] && grep -q '^1000,Normal Closure,,2,' "$T/out" && [ ! -s "$T/err" ]; then ok wsstats-readonly-dir-no-writer
    else not_ok wsstats-readonly-dir-no-writer "exit $rc" "$(head -3 "$T/err")"; fi
    # a -wal file but no -shm the reader could use: the message says why
    : >"$RO/ro.db-wal"
    chmod 644 "$RO/ro.db-wal"
    runuser -u nobody -- "$BIN/wsstats" --db "$RO/ro.db" top-codes >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = 1 ] && [ "$(grep -c '' "$T/err")" = 1 ] && grep -q "may not write $RO" "$T/err"; then
        ok wsstats-readonly-dir-explained
    else not_ok wsstats-readonly-dir-explained "exit $rc" "$(head -3 "$T/err")"; fi
    # a database this user may not read at all
    rm -f "$RO/ro.db-wal"
    chmod 600 "$RO/ro.db"
    runuser -u nobody -- "$BIN/wsstats" --db "$RO/ro.db" top-codes >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = 1 ] && [ "$(grep -c '' "$T/err")" = 1 ] && grep -q "ro.db: cannot read it: Permission denied" "$T/err"
    then ok wsstats-unreadable-db-explained
    else not_ok wsstats-unreadable-db-explained "exit $rc" "$(head -3 "$T/err")"; fi
    rm -rf "$RO"
else
    echo "ok - cli/wsstats-readonly-dir # SKIP needs root and runuser (to read as another user)"
fi

# ---- wsstats: output types and cuts ----
# codes: code is a number (null for a range), lo and hi numbers, in JSON and CSV
"$BIN/wsstats" codes --format json >"$T/codes.json"
"$BIN/wsstats" codes --format csv >"$T/codes.csv"
if "$PY" - "$T/codes.json" "$T/codes.csv" <<'PY'
import csv, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = len(rows) > 16 and all(type(r["lo"]) is int and type(r["hi"]) is int and r["lo"] <= r["hi"] and
                            (r["code"] == r["lo"] if r["lo"] == r["hi"] else r["code"] is None) and
                            (r["code"] is None or type(r["code"]) is int) for r in rows)
ok = ok and any(r["code"] == 1000 for r in rows) and any(r["code"] is None and r["lo"] == 3000 for r in rows)
c = list(csv.DictReader(open(sys.argv[2], newline="")))
ok = ok and len(c) == len(rows) and all(x["code"] == ("" if r["code"] is None else str(r["code"])) and
                                        x["lo"] == str(r["lo"]) and x["hi"] == str(r["hi"]) for x, r in zip(c, rows))
sys.exit(0 if ok else 1)
PY
then ok codes-json-csv-types; else not_ok codes-json-csv-types "$(head -3 "$T/codes.json")"; fi

# records to show: 12 user agents that differ only near their end (and the
# OS near their start), a full-length IPv6 client and server, a CJK host
gen "$T/show.pcap" '
for i in range(12):
    c = Conversation(p, "10.0.3.%d" % (i + 1), 40000 + i, "10.0.0.2", 80)
    c.handshake(path="/ws?token=%d" % i, host="example.test")
    c.close("client", 1000); c.close("server", 1000); c.fin("client"); c.fin("server")
c = Conversation(p, "2001:db8:1234:5678:9abc:def0:1234:5678", 40100, "2001:db8:ffff:eeee:dddd:cccc:bbbb:aaaa", 443)
c.handshake(path="/ws", host="example.test")
c.close("server", 1001); c.close("client", 1001); c.fin("server"); c.fin("client")'
"$BIN/wsstatsd" -q -r "$T/show.pcap" -w "$T/show.db"
sqlite3 "$T/show.db" "UPDATE connections SET user_agent = 'Mozilla/5.0 (' ||
    CASE WHEN client_port % 2 THEN 'Macintosh; Intel Mac OS X 10_15_7' ELSE 'Windows NT 10.0; Win64; x64' END ||
    ') AppleWebKit/537.36 (KHTML, like Gecko) Chrome/' || (client_port - 39890) || '.0.0.0 Safari/537.36'
    WHERE client_port < 40100;
    UPDATE connections SET host = '例え.テスト.' || replace(printf('%.30c', '_'), '_', '長') || '.example'
    WHERE client_port = 40100"
S=(--db "$T/show.db")
"$BIN/wsstats" "${S[@]}" group-by user-agent >"$T/ua"
agents=$(grep -c '^Mozilla' "$T/ua")
distinct=$(grep '^Mozilla' "$T/ua" | awk -F'  +' '{ print $1 }' | sort -u | wc -l)
if [ "$agents" = 12 ] && [ "$distinct" = 12 ] && grep -q '…' "$T/ua" && [ "$(maxcols "$T/ua")" -le 80 ]; then
    ok cut-keeps-values-apart
else not_ok cut-keeps-values-apart "$agents rows, $distinct distinct:" "$(cat "$T/ua")"; fi
"$BIN/wsstats" "${S[@]}" group-by user-agent --wide >"$T/ua-wide"
if grep -q '^Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 Safari/537.36 ' "$T/ua-wide" &&
    ! grep -q '…' "$T/ua-wide"; then ok wide-cuts-nothing
else not_ok wide-cuts-nothing "$(head -5 "$T/ua-wide")"; fi
"$BIN/wsstats" "${S[@]}" connections >"$T/conns"
if grep -q '\[2001:db8:1234:5678:9abc:def0:1234:5678\]:40100 *\[2001:db8:ffff:eeee:dddd:cccc:bbbb:aaaa\]:443 ' "$T/conns"
then ok ipv6-never-cut; else not_ok ipv6-never-cut "$(grep 2001 "$T/conns")"; fi
"$BIN/wsstats" "${S[@]}" group-by client >"$T/clients"
grep -q '^2001:db8:1234:5678:9abc:def0:1234:5678 ' "$T/clients" && ok ipv6-never-cut-group ||
    not_ok ipv6-never-cut-group "$(cat "$T/clients")"
"$BIN/wsstats" "${S[@]}" group-by host >"$T/hosts"
if [ "$(maxcols "$T/hosts")" -le 80 ] && grep -q '^例え' "$T/hosts"; then ok cjk-fits-80-columns
else not_ok cjk-fits-80-columns "widest line: $(maxcols "$T/hosts") columns" "$(cat "$T/hosts")"; fi
long=$(printf 'h%.0s' {1..150}).example
"$BIN/wsstats" "${S[@]}" top-codes --host "$long" --path "/$(printf 'p%.0s' {1..120})" >"$T/long"
[ "$(maxcols "$T/long")" -le 80 ] && ok heading-fits-80-columns ||
    not_ok heading-fits-80-columns "widest line: $(maxcols "$T/long") columns" "$(head -4 "$T/long")"
# group-by path: the path without its query string (12 tokens, one group)
n=$("$BIN/wsstats" "${S[@]}" group-by path --format json | "$PY" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
print(" ".join("%s=%d" % (r["path"], r["count"]) for r in rows))')
[ "$n" = "/ws=13" ] && ok group-by-path-without-query || not_ok group-by-path-without-query "got: $n"
# top_codes: JSON an array of {code, count}, CSV the compact text
tc=$("$BIN/wsstats" "${S[@]}" group-by host --format json | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.readline())
print(json.dumps(r["top_codes"], separators=(",", ":")))')
[ "$tc" = '[{"code":1000,"count":12}]' ] && ok group-by-top-codes-json || not_ok group-by-top-codes-json "got: $tc"
tc=$("$BIN/wsstats" "${S[@]}" group-by host --format csv | tr -d '\r' | sed -n 2p)
[ "$tc" = 'example.test,12,0.923077,1000:12' ] && ok group-by-top-codes-csv || not_ok group-by-top-codes-csv "got: $tc"
# a table cut by --limit says so
"$BIN/wsstats" "${S[@]}" connections --limit 5 >"$T/cut"
grep -q '^(5 of 13 connections shown; --limit 0 for all)$' "$T/cut" && ok limit-note ||
    not_ok limit-note "$(tail -3 "$T/cut")"

# ---- wsstats: stored quotes, '%' and '_' are found exactly ----
gen "$T/odd.pcap" '
for i, (host, path) in enumerate([("o'"'"'neil.example", "/it'"'"'s"), ("100%.example", "/50%"),
                                   ("100x.example", "/50x"), ("a_b.example", "/a_c"), ("axb.example", "/abc")]):
    c = Conversation(p, "10.0.4.1", 41000 + i, "10.0.0.2", 80)
    c.handshake(path=path, host=host)
    c.close("client", 1000); c.close("server", 1000); c.fin("client"); c.fin("server")'
"$BIN/wsstatsd" -q -r "$T/odd.pcap" -w "$T/odd.db"
for f in "--host o'neil.example" "--path /it's" "--host 100%.example" "--path /50%" "--host a_b.example" \
    "--path /a_c" "--path /a_*" "--path /50%*"; do
    read -r opt val <<<"$f"
    got=$("$BIN/wsstats" --db "$T/odd.db" connections --format csv "$opt" "$val" | tr -d '\r' |
        "$PY" -c 'import csv, sys; print(" ".join(r["host"] + r["path"] for r in csv.DictReader(sys.stdin)))')
    case $val in
    *'*') want=$(sqlite3 "$T/odd.db" "SELECT host || path FROM connections WHERE substr(path, 1, length('${val%\*}')) = '${val%\*}'") ;;
    *) want=$(sqlite3 "$T/odd.db" "SELECT host || path FROM connections WHERE ${opt#--} = '${val//\'/\'\'}'") ;;
    esac
    name="stored-literal-$(printf %s "$opt$val" | od -An -tx1 | tr -d ' \n')"
    [ -n "$got" ] && [ "$got" = "$want" ] && ok "$name" || not_ok "$name" "$opt $val: got '$got', want '$want'"
done

# ---- wsstats: a live database counts back from now ----
# its records ended two hours ago: --since 1h from now finds none, --since 3h
# all (counted back from the newest record, 1h would find them all)
now=$(date +%s)
gen "$T/live.pcap" "
p.clock = $((now - 7200))
$three_conversations"
"$BIN/wsstatsd" -q -r "$T/live.pcap" -w "$T/live.db"
cp "$T/live.db" "$T/files.db"
sqlite3 "$T/live.db" "UPDATE captures SET kind = 'live', status = 'running', ended_at = NULL"
a=$("$BIN/wsstats" --db "$T/live.db" connections --format json --since 1h | wc -l)
b=$("$BIN/wsstats" --db "$T/live.db" connections --format json --since 3h | wc -l)
c=$("$BIN/wsstats" --db "$T/files.db" connections --format json --since 1h | wc -l)
"$BIN/wsstats" --db "$T/live.db" top-codes --since 3h >"$T/live"
if [ "$a" = 0 ] && [ "$b" = 3 ] && [ "$c" = 3 ] && head -3 "$T/live" | tr -s ' \n' '  ' | grep -q 'counted back from now'
then ok live-anchor-is-now
else not_ok live-anchor-is-now "live --since 1h: $a, --since 3h: $b; files --since 1h: $c" "$(head -2 "$T/live")"; fi

# ---- wsstats: JSON and CSV rows are written as they are read ----
# 60,000 records: every one comes out, in little more memory than one (held
# in memory, as before, they took some 2 KB each: 120 MB more; under ASan
# freed memory waits in its quarantine unless that is made small)
cols=$(sqlite3 "$T/good.db" "SELECT group_concat(name) FROM pragma_table_info('connections') WHERE name <> 'id'")
cp "$T/good.db" "$T/big.db"
sqlite3 "$T/big.db" "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 59994)
    INSERT INTO connections ($cols) SELECT $cols FROM r, (SELECT * FROM connections LIMIT 1)"
for fmt in json csv; do
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1" /usr/bin/time -f %M -o "$T/rss1" \
        "$BIN/wsstats" --db "$T/big.db" connections --limit 1 --format $fmt >/dev/null
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1" /usr/bin/time -f %M -o "$T/rss" \
        "$BIN/wsstats" --db "$T/big.db" connections --limit 0 --format $fmt >"$T/big.$fmt"
    rc=$?
    n=$(grep -c '' "$T/big.$fmt")
    more=$(($(tail -1 "$T/rss") - $(tail -1 "$T/rss1")))
    [ "$fmt" = csv ] && want=60001 || want=60000
    if [ "$rc" = 0 ] && [ "$n" = "$want" ] && [ "$more" -lt 20000 ]; then ok "streamed-$fmt"
    else not_ok "streamed-$fmt" "exit $rc, $n lines (want $want), $more KB more than for one row"; fi
done

# ---- wsstats: a database error while rows are read is an error ----
# leaf pages in the middle of the connections table overwritten (found with
# SQLite's dbstat, so the indexes' layout does not matter): the scan meets
# them after some rows
cp "$T/big.db" "$T/bad.db"
sqlite3 "$T/bad.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
leaves=$(sqlite3 "$T/bad.db" "SELECT pageno FROM dbstat WHERE name = 'connections' AND pagetype = 'leaf' ORDER BY pageno")
mid=$(echo "$leaves" | sed -n "$(($(echo "$leaves" | wc -l) / 2))p")
page=$(sqlite3 "$T/bad.db" "PRAGMA page_size")
head -c $((3 * page)) /dev/zero | tr '\0' '\377' | dd of="$T/bad.db" bs="$page" seek=$((mid - 1)) conv=notrunc 2>/dev/null
for fmt in json table; do
    expect "mid-read-error-$fmt" 1 "bad\.db: database disk image is malformed" -- \
        "$BIN/wsstats" --db "$T/bad.db" connections --limit 0 --format $fmt
done
exit $failed
