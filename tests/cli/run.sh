#!/usr/bin/env bash
# tests/cli/run.sh — the command-line contract of wsstatsd and wsstats
# (DESIGN §1, §5): exit codes 0/1/2, one clear stderr line naming the
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
[ "$v" = "2 wal 2 " ] && ok schema-version-and-wal || not_ok schema-version-and-wal "got: $v"
cap=$(sqlite3 "$T/good.db" "SELECT sensor, kind, packets, tcp_flows, connections, status FROM captures")
[ "$cap" = "good.pcap|file|$(tshark -r "$T/good.pcap" 2>/dev/null | wc -l)|3|3|complete" ] && ok captures-row ||
    not_ok captures-row "got: $cap"
# a second run on the same database appends (and does not migrate again)
expect wsstatsd-append 0 "" -- "$BIN/wsstatsd" -q -r "$T/good.pcap" -w "$T/good.db"
n=$(sqlite3 "$T/good.db" "SELECT count(*) FROM connections")
[ "$n" = 6 ] && ok wsstatsd-append-rows || not_ok wsstatsd-append-rows "expected 6 rows, got $n"
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

# quotes and SQL in filter values are matched literally (bound parameters)
for v in "x' OR '1'='1" '%' '*' '\' '"; DROP TABLE connections; --' "1000) OR (1=1"; do
    n=$("$BIN/wsstats" "${G[@]}" connections --format json --limit 0 --host "$v" --path "$v" --sensor "$v" | wc -l)
    m=$("$BIN/wsstats" "${G[@]}" connections --format json --limit 0 --host "$v" | wc -l)
    if [ "$n" = 0 ] && [ "$m" = 0 ]; then ok "literal-filter-$(printf %s "$v" | od -An -tx1 | tr -d ' \n')"
    else not_ok "literal-filter-$v" "matched $n / $m connections"; fi
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
if grep -qE '^1000  Normal Closure +2  33\.3%' "$T/table" && [ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$T/table")" -le 80 ]; then
    ok top-codes-table
else
    not_ok top-codes-table "$(cat "$T/table")"
fi
exit $failed
