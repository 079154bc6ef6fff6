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
concurrent_websockets('$T/many.pcap', 20000)" || { not_ok setup "pcapgen failed"; exit 1; }

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

exit $failed
