#!/usr/bin/env bash
# tests/store/edges.sh — nothing lost without a loud word (issue 22): the
# database paths wsstatsd must refuse before SQLite sees them, files it
# must leave byte for byte as they were, a full disk told in one sentence
# with its captures row ended as failed, and a stop while reading a pipe.
#
#   empty-path, memory-path     -w '' and -w :memory:: usage error (exit 2), no file
#   uri-path                    -w file:x/uri.db: usage error, nothing created
#   dev-null                    -w /dev/null: refused (not a regular file), no /dev/null-journal
#   foreign-untouched           someone's SQLite file, and ones with our version number
#                               (or an older one) but other columns: refused, every byte kept (no WAL switch)
#   read-only-mount             an existing and a new database on a read-only mount: "Read-only
#                               file system" (a directory nobody may write: tests/unit/test_store_open)
#   empty-file-reader           wsstats on a 0-byte file: "an empty file, not a wsstats database"
#   disk-full-summary           a 2 MiB tmpfs: the last line says how many were written and how
#                               many not, and why; the captures row is failed; summary counts it
#   stop-on-pipe                SIGINT / SIGTERM while `wsstatsd -r -` waits for input: exit 0,
#                               status stopped; SIGUSR1 there does not end the run
#   killed-run-interrupted      kill -9 of a run reading a pipe: its committed records kept, its
#                               captures row with figures from during the run; the next wsstatsd
#                               on the file marks it interrupted, and summary counts it
#   mixed-linktype-refused      a pcapng with Ethernet, raw IP and Linux cooked interfaces (mergecap):
#                               exit 1 before the database is touched (no new file; an existing one
#                               byte for byte), the message names wsstats-split-pcapng
#   mixed-linktype-split        contrib/wsstats-split-pcapng makes one pcap per interface; read, they
#                               give the records of the three captures mergecap was given
#   same-file-refused           a file read again into the same database (by another path): exit 1,
#                               nothing added, the message says when and how it was recorded
#   same-file-given-twice       one file twice on one command line: refused, nothing written
#   same-file-append-again      --append-again reads it anyway (records twice)
#   same-file-skip-recorded     --skip-recorded leaves it out and reads the others
#   same-file-before-v5         a row written before schema 5 (no name, no size) still finds it
#   same-file-stdin             standard input is known by nothing: never refused
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-build}
PY=/usr/bin/python3
T=$(mktemp -d)
MNT=$T/mnt
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    mountpoint -q "$MNT" 2>/dev/null && umount -l "$MNT"
    rm -rf "$T"
}
trap cleanup EXIT
failed=0
ok() { echo "ok - edges/$1"; }
not_ok() { echo "not ok - edges/$1"; shift; for l in "$@"; do echo "#  $l"; done; failed=1; }
check() { # check NAME CONDITION-STATUS DETAIL...
    local name=$1 st=$2
    shift 2
    if [ "$st" = 0 ]; then ok "$name"; else not_ok "$name" "$@"; fi
}

PYTHONPATH=tests/tools "$PY" -c "
from pcapgen import *
concurrent_websockets('$T/one.pcap', 1)
concurrent_websockets('$T/two.pcap', 2, start=1700000100.0)
concurrent_websockets('$T/many.pcap', 20000)
for name, lt, client in (('eth', LINKTYPE_ETHERNET, '10.0.0.1'), ('raw', LINKTYPE_RAW, '10.0.0.2'),
                         ('sll', LINKTYPE_LINUX_SLL, '10.0.0.3')):
    p = Pcap('$T/' + name + '.pcap', linktype=lt)
    c = Conversation(p, client, 50000, '10.0.0.9', 80)
    c.handshake(); c.send_frame('client', 1, b'hi'); c.close('client', 1000); c.close('server', 1001)
    c.fin('server'); c.fin('client')
    p.close()" || { not_ok setup "pcapgen failed"; exit 1; }

# ---- paths refused as a usage error ----------------------------------------
cd "$T" || exit 1
for case in "empty-path|" "memory-path|:memory:" "uri-path|file:x/uri.db"; do
    name=${case%%|*} path=${case#*|}
    mkdir -p x
    "$OLDPWD/$BIN/wsstatsd" -r one.pcap -w "$path" >out 2>err
    rc=$?
    left=$(find . -name '*.db*' -o -name ':memory:*' -o -name 'file:*' | tr '\n' ' ')
    [ $rc = 2 ] && grep -q -- "-w: " err && [ -z "$left" ]
    check "$name" $? "exit $rc (want 2), left: '$left'" "$(cat err)"
done
"$OLDPWD/$BIN/wsstatsd" -r one.pcap -w /dev/null >out 2>err
rc=$?
[ $rc = 2 ] && grep -q "not a regular file" err && [ ! -e /dev/null-journal ] && [ ! -e /dev/null-wal ]
check dev-null $? "exit $rc (want 2)" "$(cat err)" "$(ls /dev/null-* 2>&1)"
cd "$OLDPWD" || exit 1

# ---- files refused keep every byte -------------------------------------------
sqlite3 "$T/theirs.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1);"
sqlite3 "$T/ours-not.db" "PRAGMA user_version = 4; CREATE TABLE connections (a); CREATE TABLE meta (k, v);"
sqlite3 "$T/old-not.db" "PRAGMA user_version = 3; CREATE TABLE connections (a); CREATE TABLE meta (k, v);"
bad=""
for f in theirs ours-not old-not; do
    before=$(md5sum <"$T/$f.db")
    "$BIN/wsstatsd" -q -r "$T/one.pcap" -w "$T/$f.db" 2>"$T/err"
    rc=$?
    after=$(md5sum <"$T/$f.db")
    mode=$(sqlite3 "$T/$f.db" "PRAGMA journal_mode")
    { [ $rc = 1 ] && [ "$before" = "$after" ] && [ "$mode" = delete ] && grep -q "not a wsstats database" "$T/err"; } ||
        bad="$bad $f: exit $rc, mode $mode, $(cat "$T/err");"
done
[ -z "$bad" ]
check foreign-untouched $? "$bad"

: >"$T/empty.db"
"$BIN/wsstats" summary --db "$T/empty.db" >/dev/null 2>"$T/err"
rc=$?
[ $rc != 0 ] && grep -q "an empty file, not a wsstats database" "$T/err" && [ ! -s "$T/empty.db" ]
check empty-file-reader $? "exit $rc" "$(cat "$T/err")"

# ---- a full disk --------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    echo "ok - edges/disk-full-summary # SKIP needs root to mount a tmpfs"
elif mkdir -p "$MNT" && mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
    "$BIN/wsstatsd" -r "$T/many.pcap" -w "$MNT/s.db" 2>"$T/err"
    rc=$?
    line=$(tail -1 "$T/err")
    rows=$(sqlite3 "$MNT/s.db" "SELECT count(*) FROM connections" 2>&1)
    status=$(sqlite3 "$MNT/s.db" "SELECT status FROM captures" 2>&1)
    # "20000 WebSocket connections: W written to ..., N not written (...full)", W + N = 20000, W = the rows
    w=$(sed -n 's/.*connections: \([0-9]*\) written to .*/\1/p' <<<"$line")
    n=$(sed -n 's/.* written to .*, \([0-9]*\) not written (.*full).*/\1/p' <<<"$line")
    failed_rows=$("$BIN/wsstats" summary --db "$MNT/s.db" --format csv 2>/dev/null | grep -c '^captures,ended by an error,1')
    { [ $rc = 1 ] && [ -n "$w" ] && [ -n "$n" ] && [ $((w + n)) = 20000 ] && [ "$w" = "$rows" ] &&
        [[ $status == "failed: $n records not written: "*full* ]] && [ "$failed_rows" = 1 ] &&
        ! grep -q "20000 WebSocket connections written" "$T/err"; }
    check disk-full-summary $? "exit $rc, rows $rows, status '$status', summary row $failed_rows" "$line"
    umount -l "$MNT"
else
    echo "ok - edges/disk-full-summary # SKIP cannot mount a tmpfs here"
fi

# ---- a read-only mount: the system's word for it ----------------------------------
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=2m tmpfs "$MNT" 2>/dev/null; then
    "$BIN/wsstatsd" -q -r "$T/one.pcap" -w "$MNT/a.db"
    mount -o remount,ro "$MNT"
    "$BIN/wsstatsd" -q -r "$T/one.pcap" -w "$MNT/a.db" 2>"$T/ro1.err"
    rc1=$?
    "$BIN/wsstatsd" -q -r "$T/one.pcap" -w "$MNT/new.db" 2>"$T/ro2.err"
    rc2=$?
    [ $rc1 = 1 ] && [ $rc2 = 1 ] && grep -q "cannot write database $MNT/a.db: Read-only file system" "$T/ro1.err" &&
        grep -q "cannot create database $MNT/new.db in $MNT: Read-only file system" "$T/ro2.err"
    check read-only-mount $? "exit $rc1 and $rc2" "$(cat "$T/ro1.err" "$T/ro2.err")"
    umount -l "$MNT"
else
    echo "ok - edges/read-only-mount # SKIP needs root to mount a tmpfs"
fi

# ---- a stop while reading a pipe ------------------------------------------------
# The feeder writes the capture, then keeps the pipe open (as tcpdump -w -
# does between packets); the signal goes to wsstatsd alone.
stop_on_pipe() { # SIGNAL WANT-STATUS
    local sig=$1 want=$2 db=$T/pipe-$1.db
    rm -f "$db"*
    ("$PY" -c "
import sys, time
sys.stdout.buffer.write(open('$T/one.pcap', 'rb').read()); sys.stdout.flush(); time.sleep(4)" |
        "$BIN/wsstatsd" -r - -w "$db" 2>"$T/pipe-$sig.err"; echo $? >"$T/pipe-$sig.rc") &
    local feeder=$!
    sleep 1.5
    pkill -"$sig" -f "wsstatsd -r - -w $db"
    wait "$feeder"
    local rc status
    rc=$(cat "$T/pipe-$sig.rc")
    status=$(sqlite3 "$db" "SELECT status FROM captures" 2>&1)
    [ "$rc" = 0 ] && [ "$status" = "$want" ] && [ "$(sqlite3 "$db" "SELECT count(*) FROM connections")" = 1 ]
    check "stop-on-pipe-$sig" $? "exit $rc, status '$status' (want $want)" "$(cat "$T/pipe-$sig.err")"
}
stop_on_pipe INT stopped
stop_on_pipe TERM stopped
stop_on_pipe USR1 complete

# Half the capture, a pause (the run's figures are due once a second), the
# other half, then the pipe stays open until wsstatsd is killed.
db=$T/killed.db
"$PY" -c "
import sys, time
data = open('$T/many.pcap', 'rb').read()
pos = 24
while pos < len(data) // 2:  # to the first record boundary past the middle
    pos += 16 + int.from_bytes(data[pos + 8:pos + 12], 'little')
out = sys.stdout.buffer
out.write(data[:pos]); out.flush(); time.sleep(1.5)
out.write(data[pos:]); out.flush(); time.sleep(8)" | "$BIN/wsstatsd" -r - -w "$db" 2>"$T/killed.err" &
for _ in $(seq 60); do
    n=$(sqlite3 "$db" "SELECT packets FROM captures" 2>/dev/null)
    [ "${n:-0}" -gt 130000 ] && [ "$(sqlite3 "$db" "SELECT count(*) FROM connections" 2>/dev/null)" = 20000 ] && break
    sleep 0.1
done
pkill -KILL -f "wsstatsd -r - -w $db"
wait 2>/dev/null
before=$(sqlite3 "$db" "SELECT status || ' ' || (packets > 0) FROM captures")
"$BIN/wsstatsd" -r "$T/one.pcap" -w "$db" 2>"$T/next.err"
rc=$?
after=$(sqlite3 "$db" "SELECT group_concat(status, ' ') FROM (SELECT status FROM captures ORDER BY id)")
rows=$(sqlite3 "$db" "SELECT count(*) FROM connections")
said=$("$BIN/wsstats" summary --db "$db" --format csv 2>/dev/null | grep -c '^captures,interrupted (process gone),1')
[ "$before" = "running 1" ] && [ $rc = 0 ] && [ "$after" = "interrupted complete" ] && [ "$rows" = 20001 ] &&
    [ "$said" = 1 ] && grep -q "1 capture left running by a wsstatsd that is gone" "$T/next.err" &&
    [ "$(sqlite3 "$db" "PRAGMA integrity_check")" = ok ]
check killed-run-interrupted $? "before the next run: '$before'; then exit $rc, '$after', $rows rows, summary $said" \
    "$(cat "$T/next.err")"

# ---- a pcapng of several link types ------------------------------------------
if command -v mergecap >/dev/null && command -v tshark >/dev/null && command -v editcap >/dev/null; then
    mergecap -w "$T/mixed.pcapng" "$T/eth.pcap" "$T/raw.pcap" "$T/sll.pcap"
    "$BIN/wsstatsd" -r "$T/mixed.pcapng" -w "$T/mixed.db" 2>"$T/err"
    rc=$?
    "$BIN/wsstatsd" -q -r "$T/one.pcap" -w "$T/mixed-old.db"
    before=$(md5sum <"$T/mixed-old.db")
    "$BIN/wsstatsd" -r "$T/mixed.pcapng" -w "$T/mixed-old.db" 2>/dev/null
    rc2=$?
    [ $rc = 1 ] && [ $rc2 = 1 ] && [ ! -e "$T/mixed.db" ] && [ "$before" = "$(md5sum <"$T/mixed-old.db")" ] &&
        grep -q "different from the type of the first interface.*split it per interface first, with wsstats-split-pcapng" "$T/err"
    check mixed-linktype-refused $? "exit $rc and $rc2 (want 1), mixed.db there: $([ -e "$T/mixed.db" ] && echo yes || echo no)" \
        "$(cat "$T/err")"
    mkdir -p "$T/split"
    mapfile -t parts < <(contrib/wsstats-split-pcapng "$T/mixed.pcapng" "$T/split" 2>"$T/err")
    for f in "${parts[@]}"; do "$BIN/wsstatsd" -q -r "$f" -w "$T/split.db"; done
    for f in eth raw sll; do "$BIN/wsstatsd" -q -r "$T/$f.pcap" -w "$T/each.db"; done
    q="SELECT client_ip, server_ip, started_at, ended_at, close_code, close_initiator, outcome, termination FROM connections ORDER BY client_ip"
    got=$(sqlite3 "$T/split.db" "$q" 2>&1) want=$(sqlite3 "$T/each.db" "$q")
    [ ${#parts[@]} = 3 ] && [ "$got" = "$want" ] && [ "$(echo "$want" | wc -l)" = 3 ]
    check mixed-linktype-split $? "parts: ${parts[*]}" "got: $got" "want: $want" "$(cat "$T/err")"
else
    ok "mixed-linktype-refused # SKIP no mergecap/tshark/editcap (apt-get install tshark)"
    ok "mixed-linktype-split # SKIP no mergecap/tshark/editcap"
fi

# ---- the same file twice -------------------------------------------------------
db=$T/twice.db
count() { sqlite3 "$1" "SELECT count(*) FROM connections" 2>/dev/null; }
"$BIN/wsstatsd" -q -r "$T/one.pcap" -w "$db"
mkdir -p "$T/copy"
cp "$T/one.pcap" "$T/copy/one.pcap"
"$BIN/wsstatsd" -r "$T/copy/one.pcap" -w "$db" 2>"$T/err"
rc=$?
[ $rc = 1 ] && [ "$(count "$db")" = 1 ] &&
    grep -q "copy/one.pcap: already recorded into $db (capture 1, read 20[0-9-]* [0-9:]* UTC, complete, 1 connection): reading it again would count its connections twice" "$T/err"
check same-file-refused $? "exit $rc (want 1), $(count "$db") records (want 1)" "$(cat "$T/err")"
"$BIN/wsstatsd" -r "$T/one.pcap" -r "$T/two.pcap" -r "$T/copy/one.pcap" -w "$T/twice-cmd.db" 2>"$T/err"
rc=$?
[ $rc = 1 ] && [ "$(count "$T/twice-cmd.db")" = 0 ] && grep -q "copy/one.pcap: given twice (also as $T/one.pcap)" "$T/err"
check same-file-given-twice $? "exit $rc (want 1), $(count "$T/twice-cmd.db") records (want 0)" "$(cat "$T/err")"
"$BIN/wsstatsd" -q --append-again -r "$T/one.pcap" -w "$db" 2>"$T/err"
rc=$?
[ $rc = 0 ] && [ "$(count "$db")" = 2 ]
check same-file-append-again $? "exit $rc, $(count "$db") records (want 2)" "$(cat "$T/err")"
"$BIN/wsstatsd" --skip-recorded -r "$T/one.pcap" -r "$T/two.pcap" -w "$db" 2>"$T/err"
rc=$?
[ $rc = 0 ] && [ "$(count "$db")" = 4 ] && grep -q "one.pcap: already recorded .*: skipped (--skip-recorded)" "$T/err"
check same-file-skip-recorded $? "exit $rc, $(count "$db") records (want 4)" "$(cat "$T/err")"
sqlite3 "$db" "UPDATE captures SET file_name = NULL, file_size = NULL"
"$BIN/wsstatsd" -r "$T/two.pcap" -w "$db" 2>"$T/err"
rc=$?
[ $rc = 1 ] && [ "$(count "$db")" = 4 ] && grep -q "already recorded" "$T/err"
check same-file-before-v5 $? "exit $rc (want 1), $(count "$db") records (want 4)" "$(cat "$T/err")"
"$BIN/wsstatsd" -q -r - -w "$db" <"$T/one.pcap" 2>"$T/err"
rc=$?
[ $rc = 0 ] && [ "$(count "$db")" = 5 ]
check same-file-stdin $? "exit $rc, $(count "$db") records (want 5)" "$(cat "$T/err")"

exit $failed
