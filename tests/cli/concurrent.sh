#!/usr/bin/env bash
# tests/cli/concurrent.sh — the CLI reads while wsstatsd writes, without
# errors or lock waits beyond a second (docs/design.md §5, store/: WAL, batched
# commits of 1000 records).
#
# A capture of N sequential WebSocket connections (tests/tools/pcapgen.py,
# made on the spot in a temp dir; closes cycling through 1000, 1001, 1011,
# 4000) is fed to `$BIN/wsstatsd -q -r -` through a pipe paced to last about
# PACE seconds, so the writer commits batch after batch for that long on any
# build (ASan included) while the capture stays small. As soon as the fresh
# database answers, the test polls it until wsstatsd exits:
# `wsstats top-codes --format json` and `wsstats connections --limit 5`, and
# `wsstats summary` when that command exists. Every call must exit 0, print
# nothing on stderr and return within 1000 ms; the total of top-codes must
# never go down, and at least one poll must see a partial count (the reads
# really overlapped the writes). At the end wsstatsd must have exited 0 and
# the count must be N.
#
# Prints `ok - cli/concurrent-NAME` / `not ok - ...` lines (tests/CONTRACT.md)
# and exits 1 if any case failed. Env: BIN (default build), N (connections,
# default 30000), PACE (seconds, default 4).
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-build}
PY=/usr/bin/python3
N=${N:-30000}
PACE=${PACE:-4}
LIMIT_MS=1000
T=$(mktemp -d)
writer=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [ -n "$writer" ] && kill "$writer" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
failed=0

ok() { echo "ok - cli/concurrent-$1"; }
not_ok() { echo "not ok - cli/concurrent-$1"; shift; for l in "$@"; do echo "#  $l"; done; failed=1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- the capture: N connections one after the other ----
PYTHONPATH=tests/tools "$PY" -c "
from pcapgen import *
p = Pcap('$T/seq.pcap')
codes = [1000, 1001, 1011, 4000]
for i in range($N):
    c = Conversation(p, '10.%d.%d.%d' % (30 + (i >> 16), i >> 8 & 0xFF, i & 0xFF), 40000 + i % 20000, '10.8.0.1', 8080)
    c.handshake(path='/live')
    c.send_frame('client', 1, b'ping')
    c.send_frame('server', 1, b'pong')
    c.close('server', codes[i % 4]); c.close('client', codes[i % 4])
    c.fin('server'); c.fin('client')
p.close()" || { not_ok setup "pcapgen failed"; exit 1; }

# ---- the writer: wsstatsd reading the capture through a paced pipe ----
DB=$T/live.db
"$PY" -c "
import sys, time
data = open('$T/seq.pcap', 'rb').read()
out, start, chunk = sys.stdout.buffer, time.monotonic(), 32768
for off in range(0, len(data), chunk):
    delay = start + $PACE * off / len(data) - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    out.write(data[off:off + chunk])
    out.flush()" | "$BIN/wsstatsd" -q -r - -w "$DB" 2>"$T/writer.err" &
writer=$!

# one call: exit status, stderr, wall time; leaves stdout in $T/out
call() {
    local t0 t1
    t0=$(date +%s%N)
    "$BIN/wsstats" --db "$DB" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
}
total() { sed -n 's/.*"count":\([0-9]*\).*/\1/p' "$T/out" | awk '{ s += $1 } END { print s + 0 }'; }

# wait for the schema (errors are expected until wsstatsd has created it)
ready=0
deadline=$(($(now_ms) + 10000))
while [ "$(now_ms)" -lt "$deadline" ] && kill -0 "$writer" 2>/dev/null; do
    call top-codes --format json
    if [ "$rc" -eq 0 ]; then
        ready=1
        break
    fi
    sleep 0.02
done
if [ "$ready" -eq 0 ]; then
    not_ok db-ready "wsstats never read the database while wsstatsd ran" "last exit $rc: $(head -2 "$T/err")"
    wait "$writer"
    exit 1
fi
commands=("top-codes --format json" "connections --limit 5")
call summary
if [ "$rc" -eq 0 ]; then
    commands+=("summary")
else
    echo "# summary not polled: it exits $rc ($(head -1 "$T/err"))"
fi

# ---- poll while wsstatsd writes ----
polls=0 calls=0 max_ms=0 max_cmd='' last=0 partial=0
errors=() slow=() drops=()
while kill -0 "$writer" 2>/dev/null; do
    polls=$((polls + 1))
    for cmd in "${commands[@]}"; do
        read -ra args <<<"$cmd"
        call "${args[@]}"
        calls=$((calls + 1))
        if [ "$ms" -gt "$max_ms" ]; then max_ms=$ms max_cmd=$cmd; fi
        if [ "$rc" -ne 0 ] || [ -s "$T/err" ]; then
            errors+=("poll $polls, $cmd: exit $rc, stderr: $(head -1 "$T/err")")
        fi
        [ "$ms" -ge "$LIMIT_MS" ] && slow+=("poll $polls, $cmd: $ms ms")
        if [ "${args[0]}" = top-codes ] && [ "$rc" -eq 0 ]; then
            n=$(total)
            [ "$n" -lt "$last" ] && drops+=("poll $polls: $n after $last")
            [ "$n" -gt 0 ] && [ "$n" -lt "$N" ] && partial=$((partial + 1))
            last=$n
        fi
    done
done
wait "$writer"
writer_rc=$?
writer=

# ---- verdicts ----
echo "# $polls polls, $calls calls while wsstatsd wrote $N connections; $partial polls saw a partial count"
if [ "${#errors[@]}" -eq 0 ]; then ok reads-succeed
else not_ok reads-succeed "${#errors[@]} of $calls calls failed:" "${errors[@]:0:5}"; fi
echo "# slowest call: $max_ms ms ($max_cmd)"
if [ "${#slow[@]}" -eq 0 ]; then ok no-slow-read
else not_ok no-slow-read "${#slow[@]} calls took $LIMIT_MS ms or more:" "${slow[@]:0:5}"; fi
if [ "${#drops[@]}" -eq 0 ]; then ok counts-monotonic
else not_ok counts-monotonic "the top-codes total went down:" "${drops[@]:0:5}"; fi
if [ "$partial" -gt 0 ]; then ok saw-partial-progress
else not_ok saw-partial-progress "no poll saw 0 < count < $N (last count seen: $last): the reads did not overlap the writes"; fi
if [ "$writer_rc" -eq 0 ] && [ ! -s "$T/writer.err" ]; then ok writer-succeeds
else not_ok writer-succeeds "wsstatsd exited $writer_rc" "$(head -3 "$T/writer.err")"; fi
call top-codes --format csv
got=$(tr -d '\r' <"$T/out" | sed 1d | cut -d, -f1,4 | LC_ALL=C sort | tr '\n' ' ')
want="1000,$(((N + 3) / 4)) 1001,$(((N + 2) / 4)) 1011,$(((N + 1) / 4)) 4000,$((N / 4)) "
if [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then ok final-count
else not_ok final-count "expected (code,count): $want" "got (exit $rc): $got $(head -1 "$T/err")"; fi
exit $failed
