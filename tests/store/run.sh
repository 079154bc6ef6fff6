#!/usr/bin/env bash
# tests/store/run.sh — the disk filling up under a running wsstatsd. The
# failure is reported once, clearly; capture goes on, the records wait in
# memory, and once the disk has room again every record is written, none
# twice, the recovery is reported, and the database passes PRAGMA
# integrity_check. Needs root (a tmpfs mount). (A read-only remount cannot
# be staged: the kernel refuses it while the database is open for writing.)
#
# The capture is fed through a FIFO (wsstatsd -r -), so the test decides
# when packets arrive: a quarter, then the damage and half of it (batch
# commits fail), then the repair and the rest.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build}
PY=/usr/bin/python3
T=$(mktemp -d)
MNT=$T/mnt
cleanup() {
    exec 3>&- 2>/dev/null
    [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null
    mountpoint -q "$MNT" && umount -l "$MNT"
    rm -rf "$T"
}
trap cleanup EXIT
failed=0
ok() { echo "ok - store/$1"; }
not_ok() { echo "not ok - store/$1"; shift; for l in "$@"; do echo "#  $l"; done; failed=1; }

if [ "$(id -u)" != 0 ]; then echo "ok - store/all # SKIP needs root to mount a tmpfs"; exit 0; fi
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
    echo "ok - store/all # SKIP cannot mount a tmpfs here"
    exit 0
fi

# 2400 connections, one after another (3 batches of 1000 and a rest)
PYTHONPATH=tests/tools "$PY" -c "
from pcapgen import *
p = Pcap('$T/all.pcap')
for i in range(2400):
    c = Conversation(p, '10.1.%d.%d' % (i // 250, i % 250 + 1), 40000 + i % 20000, '10.0.0.2', 80)
    c.handshake(); c.send_frame('client', 1, b'hello'); c.close('client', 1000); c.close('server', 1000)
    c.fin('client'); c.fin('server')
p.close()"
size=$(stat -c %s "$T/all.pcap")
q=$((size / 4))

# run SCENARIO DAMAGE REPAIR: feeds half, damages, feeds nothing for 2 s,
# repairs, feeds the rest; leaves the daemon's exit status in $rc.
run() {
    local name=$1 damage=$2 repair=$3
    rm -rf "${MNT:?}"/*
    "$BIN/wsstatsd" -q -r "$T/all.pcap" -w "$MNT/ws.db" --idle-timeout 1h >/dev/null 2>&1 # schema and 2400 rows
    mkfifo "$T/feed"
    "$BIN/wsstatsd" -r - -w "$MNT/ws.db" <"$T/feed" 2>"$T/$name.err" &
    DPID=$!
    exec 3>"$T/feed"
    head -c "$q" "$T/all.pcap" >&3
    sleep 1
    eval "$damage"
    sleep 0.5
    tail -c +$((q + 1)) "$T/all.pcap" | head -c $((2 * q)) >&3
    sleep 2
    local alive=0
    kill -0 "$DPID" 2>/dev/null && alive=1
    eval "$repair"
    tail -c +$((3 * q + 1)) "$T/all.pcap" >&3
    exec 3>&-
    wait "$DPID"
    rc=$?
    DPID=
    rm -f "$T/feed"
    [ "$alive" = 1 ] && ok "$name-keeps-capturing" || not_ok "$name-keeps-capturing" "wsstatsd died: $(cat "$T/$name.err")"
}

check_after() {
    local name=$1 pattern=$2
    local n errs
    [ "$rc" = 0 ] && ok "$name-exit-0" || not_ok "$name-exit-0" "exit $rc" "$(cat "$T/$name.err")"
    errs=$(grep -c "$pattern" "$T/$name.err")
    [ "$errs" = 1 ] && ok "$name-reported-once" || not_ok "$name-reported-once" "$errs lines match /$pattern/:" "$(head -5 "$T/$name.err")"
    grep -q "writable again" "$T/$name.err" && ok "$name-recovery-reported" ||
        not_ok "$name-recovery-reported" "$(cat "$T/$name.err")"
    n=$(sqlite3 "$MNT/ws.db" "SELECT count(*) FROM connections")
    [ "$n" = 4800 ] && ok "$name-every-record-once" || not_ok "$name-every-record-once" "expected 4800 rows, got $n"
    n=$(sqlite3 "$MNT/ws.db" "PRAGMA integrity_check")
    [ "$n" = ok ] && ok "$name-integrity" || not_ok "$name-integrity" "$n"
}

# a full disk: a filler takes every free byte, then goes
run disk-full 'dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null' 'rm -f "$MNT/filler"'
check_after disk-full "database or disk is full"

exit $failed
