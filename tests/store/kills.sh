#!/usr/bin/env bash
# tests/store/kills.sh — kill -9 at random points, KILLS times over one
# database (issue 22): records are never lost on a clean stop, a SIGKILL
# loses only what was not yet committed (how much that was cannot be told
# from outside: that a run's records and its captures row commit together
# is checked instead), and what is left always passes PRAGMA
# integrity_check; so does what a power cut could leave of it.
#
# Each round starts `wsstatsd -q -r big.pcap -w kills.db` (with
# --append-again when the build has it: the same file again and again),
# sleeps a random time between 0 and the duration of a clean run (measured
# first, on a database of its own that also gives N, one run's records),
# then kill -9s it and looks at what it left before the next round starts.
# A run that ended before the kill counts as a complete run.
#
#   first-run            FIRST times: a run on a fresh file killed within what a
#                        one-record run takes (start-up, the file made, its tables,
#                        the switch to WAL), then a clean run of one record: exit 0,
#                        integrity ok, its row complete, no row left running
#   integrity-K          after every round PRAGMA integrity_check says exactly "ok"
#   never-fewer          every round keeps every record there before it, unchanged
#                        (their count and a checksum of their ids and ports)
#   records-whole        every record a round added is a whole one: capture_id names
#                        its captures row, close codes 1000/1000/1000, clean, /live,
#                        one message each way (the capture's connections all are)
#   figures-match        a run's captures row counts exactly the records committed
#                        with it (one transaction), never more than N; no records
#                        from a run killed before its row was written
#   runs-end             a run the kill missed exited 0, its row complete with N
#   power-cut            a copy of the files as a power cut could leave them: the
#                        -wal cut at a random byte after what SQLite had synced (from
#                        the -shm's checkpoint marks), no -shm, the file as written
#                        (a checkpoint's writes to it are in the synced -wal too):
#                        integrity_check ok, every earlier record there, the new
#                        ones whole (not a real power cut: see power_cut below)
#   interrupted-marked   after a last clean run: no captures row `running`, every
#                        row of a run killed mid-run (seen `running` after its kill)
#                        is `interrupted`, all others complete
#   last-run-whole       that last run: exit 0, N records, row complete with N
#
# The database keeps its records from round to round, but only the newest
# 2000 (the last ones committed; the older ones deleted here after each
# round's checks, as --retention would): integrity_check takes about 7 µs
# a record, so a database grown by 200 runs could not be checked 200 times.
#
# KILLS (default 200; 20 when BIN names an ASan build, several times
# slower) sets the rounds, FIRST (12; 4) the first runs, SEED the random
# kill points (printed in the `# seed` line: SEED=S reruns the same points,
# as fractions of a run, give or take the scheduler), KEEP=1 leaves the
# scratch directory in place. About 65 s on two cores with the normal
# build, 30 s with ASan (make check stays under 20 minutes).
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-build}
PY=/usr/bin/python3
case $BIN in *asan*) KILLS=${KILLS:-20} FIRST=${FIRST:-4} ;; *) KILLS=${KILLS:-200} FIRST=${FIRST:-12} ;; esac
SEED=${SEED:-$(((${EPOCHREALTIME/[.,]/} ^ $$) % 32768))}
RANDOM=$SEED
points=() # every kill point first (0-32767: a fraction of a run), before RANDOM cuts the -wal copies
for ((i = 0; i < FIRST + KILLS; i++)); do points+=("$RANDOM"); done
T=$(mktemp -d)
child='' pc_pid='' # the wsstatsd being killed, the check of a power-cut copy
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    [ -z "$child" ] || kill -9 "$child" 2>/dev/null
    [ -z "$pc_pid" ] || { kill "$pc_pid" 2>/dev/null; wait "$pc_pid" 2>/dev/null; }
    if [ "${KEEP:-0}" = 1 ]; then echo "# scratch directory kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
failed=0
ok() { echo "ok - kills/$1"; }
not_ok() { # not_ok NAME DETAIL...: each line of each detail after "#  "
    echo "not ok - kills/$1"
    shift
    local l
    printf '%s\n' "$@" | while IFS= read -r l; do echo "#  $l"; done
    failed=1
}
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }
q() { sqlite3 -batch -separator ' ' "$@" 2>&1; } # q DB SQL: one line per row, columns by spaces

again=()
"$BIN/wsstatsd" --help 2>&1 | grep -q -- --append-again && again=(--append-again)
run() { "$BIN/wsstatsd" -q -r "$T/big.pcap" -w "$1" "${again[@]}"; } # run DB (not for &: $! is wsstatsd's)

# 8000 connections one after another, so that the records come evenly
# through the run: a batch of 5000 commits 60 % of the way, the rest at the
# end (about 0.35 s a run); the kills land in start-up, in the opening of
# the file, in the packet loop, in commits and checkpoints, and in the last
# update. And one connection, for the first runs below.
PYTHONPATH=tests/tools "$PY" -c "
from pcapgen import Pcap, Conversation, concurrent_websockets
p = Pcap('$T/big.pcap')
for i in range(12000):
    c = Conversation(p, '10.%d.%d.%d' % (20 + (i >> 16), i >> 8 & 255, i & 255), 40000 + i % 20000, '10.8.0.1', 8080)
    c.handshake(path='/live')
    c.send_frame('client', 1, b'ping')
    c.send_frame('server', 1, b'pong')
    c.close('client', 1000)
    c.close('server', 1000)
    c.fin('server')
    c.fin('client')
p.close()
concurrent_websockets('$T/one.pcap', 1)" || { not_ok setup "pcapgen failed"; exit 1; }

# One clean run gives N; two more (appending to the newest 2000 records,
# as the rounds do) the time a run takes, the shorter of the two (other
# work may be running).
run "$T/ref.db" 2>"$T/ref.err"
rc1=$?
N=$(q "$T/ref.db" "SELECT count(*) FROM connections")
DUR=
for _ in 1 2; do
    q "$T/ref.db" "DELETE FROM connections WHERE id <= (SELECT max(id) FROM connections) - 2000" >/dev/null
    t0=$(now_us)
    run "$T/ref.db" 2>>"$T/ref.err" || rc1=$?
    t=$(($(now_us) - t0))
    [ -n "$DUR" ] && [ "$DUR" -le $t ] || DUR=$t
done
total=$(q "$T/ref.db" "SELECT count(*) FROM connections")
if [ $rc1 != 0 ] || [ "$N" != 12000 ] || [ "$total" != 14000 ]; then
    not_ok setup "three clean runs: exit $rc1, $N records in the first (want 12000), $total at the end (want 14000)" \
        "flags: ${again[*]}" "$(head -5 "$T/ref.err")"
    exit 1
fi

db=$T/kills.db
mid=0 mid_records=0 early=0 late=0 done_runs=0 powercuts=0 mid_ids=""
# note CHECK TEXT...: one round's failure of a check (a line in $T/fail-CHECK)
note() {
    local name=$1 text
    shift
    text=$*
    echo "${text//$'\n'/ | }" >>"$T/fail-$name"
}
show() { # show CHECK [ROUNDS]: ok, or not ok with the first three rounds that failed it
    local f=$T/fail-$1 rounds=${2:-$KILLS}
    if [ ! -s "$f" ]; then ok "$1"; else
        local lines=()
        mapfile -t lines < <(head -3 "$f")
        not_ok "$1" "$(wc -l <"$f") of $rounds rounds; the first:" "${lines[@]}" "rerun: SEED=$SEED KILLS=$KILLS FIRST=$FIRST BIN=$BIN $0"
    fi
}
# look DB MAX-ID PID [SQL]: one sqlite3 session (each costs an open, a
# recovery and a checkpoint; no fsync: what is tested is what wsstatsd
# wrote, not what this script does): integrity_check's lines, then tagged lines —
# @old: count and checksum of the records up to MAX-ID (those there before
# the round); @bad: the records after it that are not what the capture
# holds; @count: all records; @row: the captures row of process PID, its
# figure and its records there; then SQL's.
look() {
    sqlite3 -batch -separator ' ' "$1" "PRAGMA synchronous = OFF; PRAGMA integrity_check;
        SELECT '@old', count(*), coalesce(sum(id * 7 + client_port), 0) FROM connections WHERE id <= $2;
        SELECT '@bad', count(*) FROM connections WHERE id > $2 AND NOT coalesce(
            close_code IS 1000 AND client_close_code IS 1000 AND server_close_code IS 1000
            AND outcome IS 'clean' AND close_initiator IS 'client' AND path IS '/live'
            AND messages_client IS 1 AND messages_server IS 1 AND handshake_seen IS 1
            AND started_at IS NOT NULL AND ended_at >= started_at AND sensor IS NOT NULL
            AND capture_id IN (SELECT id FROM captures), 0);
        SELECT '@count', count(*) FROM connections;
        SELECT '@row', id, status, connections, (SELECT count(*) FROM connections WHERE capture_id = c.id)
            FROM captures c WHERE pid = $3 ORDER BY id DESC LIMIT 1;
        ${4:-}" 2>&1
}
# parse FILE: look's lines into L (L[old], L[bad], ...; L[integrity], the
# first five lines of integrity_check's, each followed by a space: "ok ")
declare -A L
parse() {
    local line n=0
    L=([integrity]='')
    while IFS= read -r line; do
        case $line in
        @*) L[${line%% *}]=${line#* } ;;
        *) [ $((n += 1)) -le 5 ] && L[integrity]+="$line " ;;
        esac
    done <"$1"
}

# power_cut ROUND BEFORE-COUNT BEFORE-SUM MAX-ID: a copy of the files as a
# power cut could leave them. synchronous=NORMAL syncs the -wal before each
# checkpoint copies frames back (nBackfillAttempted, set before that sync,
# and nBackfill at offsets 128 and 96 of the -shm: frames of this WAL
# generation, both 0 again when the WAL restarts after a full checkpoint,
# whose file was synced) and the file after it. So the frames past those
# marks may be lost, the earlier ones not: the copy's -wal is cut at a
# random byte past them (a torn frame included; frames lost out of order
# come to the same, as each frame's checksum covers all before it). The
# -shm is left out: the first connection after a reboot rebuilds it. Not
# staged: a checkpoint's writes to the file itself lost (the synced -wal
# holds them all again), or a disk that lies about its syncs.
power_cut() {
    local i=$1 c0=$2 s0=$3 m0=$4 pc=$T/pc.db
    [ -s "$db-wal" ] && [ -s "$db-shm" ] || return 0
    local marks wal ps size safe cut
    read -ra marks < <(od -An -tu4 -w36 -j96 -N36 "$db-shm")      # [0] nBackfill, [8] nBackfillAttempted
    read -ra wal < <(od -An -tu1 -j8 -N4 "$db-wal")            # the page size, big-endian
    ps=$(((${wal[0]:-0} << 24) + (${wal[1]:-0} << 16) + (${wal[2]:-0} << 8) + ${wal[3]:-0}))
    size=$(stat -c %s "$db-wal")
    [ "$ps" -ge 512 ] && [ ${#marks[@]} = 9 ] || return 0
    safe=$((32 + (marks[8] > marks[0] ? marks[8] : marks[0]) * (24 + ps)))
    [ "$size" -gt "$safe" ] || return 0 # nothing a power cut could take
    cut=$((safe + (RANDOM * 32768 + RANDOM) % (size - safe)))
    power_cut_wait
    rm -f "$pc" "$pc-wal" "$pc-shm"
    cp "$db" "$pc" && head -c "$cut" "$db-wal" >"$pc-wal"
    powercuts=$((powercuts + 1))
    ( # checked while the next round runs (on its own files)
        look "$pc" "$m0" 0 >"$T/pc.out"
        parse "$T/pc.out"
        read -r pc_kept pc_sum <<<"${L[@old]:-}"
        { [ "${L[integrity]}" = "ok " ] && [ "$pc_kept" = "$c0" ] && [ "$pc_sum" = "$s0" ] && [ "${L[@bad]:-}" = 0 ]; } ||
            note power-cut "round $i: -wal cut at $cut of $size bytes (synced to $safe, page $ps):" \
                "integrity '${L[integrity]}', $pc_kept of $c0 earlier records (sum $pc_sum, want $s0), ${L[@bad]:-} not whole"
    ) &
    pc_pid=$!
}
power_cut_wait() { [ -z "$pc_pid" ] || wait "$pc_pid"; pc_pid=; }

# ---- first runs killed while they make the database ----------------------
# A fresh file, a run killed within the time a one-record run takes on a
# fresh file (start-up, the file made, its tables, WAL), then a clean run
# of one record: it must take whatever was left (no file, an empty one, a
# hot journal, tables half made or not yet in WAL mode).
t0=$(now_us)
"$BIN/wsstatsd" -q -r "$T/one.pcap" -w "$T/one.db"
DUR1=$(($(now_us) - t0))
for ((i = 1; i <= FIRST; i++)); do
    f=$T/first.db
    rm -f "$f" "$f-wal" "$f-shm" "$f-journal"
    delay=$((DUR1 * points[i - 1] / 32767))
    "$BIN/wsstatsd" -q -r "$T/big.pcap" -w "$f" "${again[@]}" 2>"$T/run.err" &
    child=$!
    sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
    kill -9 "$child" 2>/dev/null
    wait "$child" 2>/dev/null
    rc=$? child=''
    left=$(cd "$T" && stat -c '%n %s' first.db* 2>/dev/null | tr '\n' ' ')
    "$BIN/wsstatsd" -q -r "$T/one.pcap" -w "$f" 2>"$T/first.err"
    rc2=$?
    look "$f" 0 0 "SELECT '@one', count(*), (SELECT coalesce(sum(connections), 0) FROM captures),
        (SELECT count(*) FROM captures WHERE status = 'running'),
        (SELECT status || ' ' || connections FROM captures WHERE source LIKE '%one.pcap')
        FROM connections;" >"$T/look.out"
    parse "$T/look.out"
    out=${L[integrity]}
    read -r n sum running last <<<"${L[@one]:-}"
    { [ $rc2 = 0 ] && [ "$out" = "ok " ] && [ "${n:-x}" = "$sum" ] && [ "$running" = 0 ] && [ "$last" = "complete 1" ]; } ||
        note first-run "kill at $((delay / 1000)) ms (exit $rc) left '$left'; then exit $rc2, integrity '$out'," \
            "$n records, the captures rows say $sum, $running running, the one-record run '$last'" \
            "$(head -3 "$T/first.err")"
done
show first-run "$FIRST"

# ---- KILLS rounds on one database ---------------------------------------------
c0=0 s0=0 m0=0 # before the round: records, their checksum, the highest id
schema=0       # whether the database has its tables yet (the first run makes them)
for ((i = 1; i <= KILLS; i++)); do
    delay=$((DUR * points[FIRST + i - 1] / 32767))
    "$BIN/wsstatsd" -q -r "$T/big.pcap" -w "$db" "${again[@]}" 2>"$T/run.err" &
    pid=$! child=$!
    sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null # no "Killed" from bash
    rc=$? child=''
    at="round $i (kill at $((delay / 1000)) ms, exit $rc)"
    if [ $schema = 0 ]; then # killed before the tables were made: no file, or one without them
        [ -e "$db" ] && sqlite3 -batch -separator ' ' "$db" "PRAGMA integrity_check;
            SELECT '@tables', count(*) FROM sqlite_master WHERE name = 'connections'" >"$T/look.out" 2>&1
        [ -e "$db" ] && parse "$T/look.out"
        if [ ! -e "$db" ] || [ "${L[@tables]:-}" = 0 ]; then
            out=${L[integrity]}
            [ "$out" = "ok " ] || [ ! -e "$db" ] || note "integrity-$KILLS" "$at: no tables yet: $out"
            if [ $rc = 137 ]; then early=$((early + 1)); else note runs-end "$at: no tables" "$(head -3 "$T/run.err")"; fi
            continue
        fi
        schema=1
    else
        power_cut "$i" "$c0" "$s0" "$m0"
    fi

    # The checks, then only the newest 2000 records kept, and the figures
    # for the next round.
    look "$db" "$m0" "$pid" "
        DELETE FROM connections WHERE id <= (SELECT max(id) FROM connections) - 2000;
        SELECT '@next', count(*), coalesce(sum(id * 7 + client_port), 0), coalesce(max(id), 0) FROM connections;" \
        >"$T/look.out"
    parse "$T/look.out"
    out=${L[integrity]}
    [ "$out" = "ok " ] || note "integrity-$KILLS" "$at: $out"
    read -r kept sum <<<"${L[@old]:-}"
    c1=${L[@count]:-}
    { [ "${c1:-x}" -ge "$c0" ] 2>/dev/null && [ "$kept" = "$c0" ] && [ "$sum" = "$s0" ]; } ||
        note never-fewer "$at: $c1 records, $kept of the $c0 before it (checksum $sum, want $s0)"
    bad=${L[@bad]:-}
    [ "$bad" = 0 ] || note records-whole "$at: $bad records not whole"
    cid='' status='' figure='' records=''
    read -r cid status figure records <<<"${L[@row]:-}"
    new=$((${c1:-0} - c0))
    if [ -z "$cid" ]; then
        kind=early # killed before its captures row: nothing of it may be there
        [ "$new" = 0 ] || note figures-match "$at: no captures row, yet $new new records"
    else
        { [ "$figure" = "$records" ] && [ "$records" = "$new" ] && [ "$figure" -le "$N" ]; } ||
            note figures-match "$at: captures row $cid ($status) says $figure records, $records there with it, $new new (N $N)"
        case $status in
        running)
            kind=mid mid_ids="$mid_ids,$cid"
            [ "$records" -gt 0 ] 2>/dev/null && mid_records=$((mid_records + 1))
            ;;
        complete) if [ $rc = 0 ]; then kind=ended; else kind=late; fi ;;
        *) kind=other ;;
        esac
    fi
    case $rc:$kind in
    137:early) early=$((early + 1)) ;;
    137:mid) mid=$((mid + 1)) ;;
    137:late) late=$((late + 1)) ;;
    0:ended) done_runs=$((done_runs + 1)) ;;
    *) note runs-end "$at: captures row '${status:-none}'" "$(head -3 "$T/run.err")" ;;
    esac
    [ $rc = 0 ] && [ "$kind" = ended ] && [ "$figure" != "$N" ] &&
        note runs-end "$at: a complete run with $figure records (want $N)"
    read -r c0 s0 m0 <<<"${L[@next]:-}"
    [ -n "$m0" ] || { c0=0 s0=0 m0=0; }
done
power_cut_wait

echo "# seed $SEED, $KILLS kills, $mid mid-run ($mid_records of them after a commit of records; $early before" \
    "their captures row, $late after their end, $done_runs missed; $powercuts power-cut copies); N $N," \
    "a run $((DUR / 1000)) ms${again:+, ${again[*]}}"
for c in "integrity-$KILLS" never-fewer records-whole figures-match runs-end power-cut; do show "$c"; done

# A last run, not killed: marks every row left running, and is whole.
before=$(q "$db" "SELECT count(*) FROM connections")
run "$db" 2>"$T/last.err"
rc=$?
read -r cid status figure records < <(q "$db" "SELECT id, status, connections,
    (SELECT count(*) FROM connections WHERE capture_id = c.id) FROM captures c ORDER BY id DESC LIMIT 1")
after=$(q "$db" "SELECT count(*) FROM connections")
integ=$(q "$db" "PRAGMA integrity_check" | head -3 | tr '\n' ' ')
if [ $rc = 0 ] && [ "$status" = complete ] && [ "$figure" = "$N" ] && [ "$records" = "$N" ] &&
    [ $((after - before)) = "$N" ] && [ "$integ" = "ok " ]; then
    ok last-run-whole
else
    not_ok last-run-whole "exit $rc, row $cid '$status' with $figure records, $records there, $((after - before)) new (want $N)," \
        "integrity '$integ'" "$(head -3 "$T/last.err")"
fi

# Every row seen running after its kill is now interrupted; the others complete.
read -r running interrupted marked complete rows < <(q "$db" "SELECT
    (SELECT count(*) FROM captures WHERE status = 'running'),
    (SELECT count(*) FROM captures WHERE status = 'interrupted'),
    (SELECT count(*) FROM captures WHERE status = 'interrupted' AND id IN (0$mid_ids)),
    (SELECT count(*) FROM captures WHERE status = 'complete'),
    (SELECT count(*) FROM captures)")
if [ "$running" = 0 ] && [ "$interrupted" = "$mid" ] && [ "$marked" = "$mid" ] &&
    [ "$complete" = $((late + done_runs + 1)) ] && [ "$rows" = $((mid + late + done_runs + 1)) ]; then
    ok interrupted-marked
else
    not_ok interrupted-marked "$rows captures rows: $running running (want 0), $interrupted interrupted (want $mid," \
        "$marked of them rows seen running), $complete complete (want $((late + done_runs + 1)))" \
        "$(q "$db" "SELECT status, count(*) FROM captures GROUP BY status" | tr '\n' ' ')" \
        "rerun: SEED=$SEED KILLS=$KILLS FIRST=$FIRST BIN=$BIN $0"
fi
exit $failed
