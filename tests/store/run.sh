#!/usr/bin/env bash
# tests/store/run.sh — the database failing under a running wsstatsd. The
# failure is reported once, clearly; capture goes on, the records wait in
# memory, and once the database can be written again every record is
# written, none twice, each with its captures row, the recovery is reported,
# and the database passes PRAGMA integrity_check. Needs root (a tmpfs
# mount, chattr). (A read-only remount cannot be staged: the kernel refuses
# it while the database is open for writing.)
#
#   disk-full      a filler takes every free byte of an 8 MiB tmpfs, then goes
#                  (8: once the disk has room, the WAL of the recovery's big
#                  transaction and the checkpointed file must both fit)
#   immutable-wal  chattr +i on the -wal (writes to it fail with EPERM: "disk
#                  I/O error (Operation not permitted)", on a fresh connection
#                  too), then chattr -i; needs a filesystem that stops writes
#                  to an open immutable file (ext4 does, tmpfs does not)
#   retention-from-newest  --retention with -r counts back from the newest
#                  record (docs/design.md §5), not from the clock
#
# The capture is fed through a FIFO (wsstatsd -r -), so the test decides
# when packets arrive: a quarter, then the damage and half of it (batch
# commits fail), then the repair and the rest.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-build}
PY=/usr/bin/python3
T=$(mktemp -d)
MNT=$T/mnt
DIR=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    exec 3>&- 2>/dev/null
    [ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null
    [ -e "$T/ext/ws.db-wal" ] && chattr -i "$T/ext/ws.db-wal" 2>/dev/null
    mountpoint -q "$MNT" && umount -l "$MNT"
    rm -rf "$T"
}
trap cleanup EXIT
failed=0
ok() { echo "ok - store/$1"; }
not_ok() { echo "not ok - store/$1"; shift; for l in "$@"; do echo "#  $l"; done; failed=1; }

if [ "$(id -u)" != 0 ]; then echo "ok - store/all # SKIP needs root to mount a tmpfs"; exit 0; fi
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=8m tmpfs "$MNT" 2>/dev/null; then
    echo "ok - store/all # SKIP cannot mount a tmpfs here"
    exit 0
fi

# gen FILE PYTHON: a capture written with tests/tools/pcapgen.py
gen() {
    PYTHONPATH=tests/tools "$PY" -c "
from pcapgen import *
p = Pcap('$1')
$2
p.close()"
}

# 2400 connections, one after another (3 batches of 1000 and a rest)
gen "$T/all.pcap" "
for i in range(2400):
    c = Conversation(p, '10.1.%d.%d' % (i // 250, i % 250 + 1), 40000 + i % 20000, '10.0.0.2', 80)
    c.handshake(); c.send_frame('client', 1, b'hello'); c.close('client', 1000); c.close('server', 1000)
    c.fin('client'); c.fin('server')"
size=$(stat -c %s "$T/all.pcap")
q=$((size / 4))

# run SCENARIO DAMAGE REPAIR: in $DIR, feeds a quarter, damages, feeds half,
# waits 2 s, repairs, feeds the rest; leaves the daemon's exit status in $rc.
run() {
    local name=$1 damage=$2 repair=$3
    rm -rf "${DIR:?}"/*
    "$BIN/wsstatsd" -q -r "$T/all.pcap" -w "$DIR/ws.db" --idle-timeout 1h >/dev/null 2>&1 # schema and 2400 rows
    mkfifo "$T/feed"
    "$BIN/wsstatsd" -r - -w "$DIR/ws.db" <"$T/feed" 2>"$T/$name.err" &
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

# check_after SCENARIO MESSAGE: the failure told once with MESSAGE, the
# recovery told, every record written once with its captures row, intact.
check_after() {
    local name=$1 pattern=$2
    local n errs
    [ "$rc" = 0 ] && ok "$name-exit-0" || not_ok "$name-exit-0" "exit $rc" "$(cat "$T/$name.err")"
    errs=$(grep -c -- "$pattern" "$T/$name.err")
    [ "$errs" = 1 ] && [ "$(grep -c 'retrying every second' "$T/$name.err")" = 1 ] && ok "$name-reported-once" ||
        not_ok "$name-reported-once" "$errs lines match '$pattern' (expected 1), $(grep -c 'retrying every second' "$T/$name.err") errors in all:" "$(head -5 "$T/$name.err")"
    grep -q "writable again" "$T/$name.err" && ok "$name-recovery-reported" ||
        not_ok "$name-recovery-reported" "$(cat "$T/$name.err")"
    n=$(sqlite3 "$DIR/ws.db" "SELECT count(*) FROM connections")
    [ "$n" = 4800 ] && ok "$name-every-record-once" || not_ok "$name-every-record-once" "expected 4800 rows, got $n"
    n=$(sqlite3 "$DIR/ws.db" "SELECT count(*) || ' ' || sum(capture_id = (SELECT max(id) FROM captures)) || ' ' ||
        (SELECT connections || ' ' || status FROM captures ORDER BY id DESC LIMIT 1) FROM connections WHERE capture_id > 1")
    [ "$n" = "2400 2400 2400 complete" ] && ok "$name-captures-row" ||
        not_ok "$name-captures-row" "rows of the second run, those with its capture_id, its connections and status: $n (expected 2400 2400 2400 complete)"
    n=$(sqlite3 "$DIR/ws.db" "PRAGMA integrity_check")
    [ "$n" = ok ] && ok "$name-integrity" || not_ok "$name-integrity" "$n"
}

# a full disk: a filler takes every free byte, then goes
DIR=$MNT
run disk-full 'dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null' 'rm -f "$MNT/filler"'
check_after disk-full "database or disk is full"

# an immutable -wal: does this filesystem stop writes to an open file so?
mkdir -p "$T/ext"
probe=$("$PY" - "$T/ext/probe" <<'PYEOF'
import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
if subprocess.run(["chattr", "+i", sys.argv[1]], stderr=subprocess.DEVNULL).returncode != 0:
    print("chattr +i is not supported there")
else:
    try:
        os.pwrite(fd, b"x", 0)
        print("writes to an open immutable file go through there")
    except OSError:
        pass
    subprocess.run(["chattr", "-i", sys.argv[1]])
os.unlink(sys.argv[1])
PYEOF
)
if [ -n "$probe" ]; then
    echo "ok - store/immutable-wal # SKIP $(df --output=fstype "$T/ext" | tail -n 1) at $T: $probe"
else
    DIR=$T/ext
    run immutable-wal 'chattr +i "$DIR/ws.db-wal"' 'chattr -i "$DIR/ws.db-wal"'
    check_after immutable-wal "disk I/O error (Operation not permitted)"
fi

# --retention with -r: the newest record is the clock. Captures of 2021:
# records 5 days older than the newest go, those an hour older stay.
base=1609459200
conv='
for i in range(N):
    c = Conversation(p, "10.7.0.%d" % (i + 1), 41000 + i, "10.0.0.2", 80)
    c.handshake(); c.close("client", 1000); c.close("server", 1000); c.fin("client"); c.fin("server")'
gen "$T/old.pcap" "p.clock = $((base - 5 * 86400)); N = 2$conv"
gen "$T/young.pcap" "p.clock = $((base - 3600)); N = 2$conv"
gen "$T/new.pcap" "p.clock = $base; N = 3$conv"
R=$T/ret.db
"$BIN/wsstatsd" -q -r "$T/old.pcap" -w "$R" && "$BIN/wsstatsd" -q -r "$T/young.pcap" -w "$R" &&
    "$BIN/wsstatsd" -q -r "$T/new.pcap" -w "$R" --retention 2d
n=$(sqlite3 "$R" "SELECT sum(ended_at < $base - 86400) || ' ' || sum(ended_at BETWEEN $base - 7200 AND $base - 60) || ' ' ||
    sum(ended_at >= $base) FROM connections")
[ "$n" = "0 2 3" ] && ok retention-from-newest ||
    not_ok retention-from-newest "records 5 days, 1 hour older than the newest, and the newest: $n (expected 0 2 3)"

exit $failed
