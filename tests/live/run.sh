#!/bin/bash
# Live-capture test of wsstatsd: `wsstatsd -i lo` while real peers talk.
#
# Unlike tests/e2e (tcpdump first, then `wsstatsd -r`), here the daemon itself
# captures on lo and the test drives it with signals while it runs:
#
#   peers       the python (websockets) and Node (ws) peers of tests/peers run
#               their scenario table; the finished connections must be listed
#               by `wsstats connections` within 3 s, while the daemon still
#               runs; SIGTERM then writes the held ones as unfinished, exits 0
#               and closes the `captures` row; check.py compares every row.
#   sighup      SIGHUP after the DB was moved away: new records go to a fresh
#               DB at the old path, the moved file keeps the earlier ones;
#               --stats-interval 1s prints a `wsstatsd: stats:` line a second.
#   privdrop    -u nobody: /proc/PID/status shows nobody's uid, gid and groups,
#               and records still reach the DB (its directory is chmod 777).
#   sigkill     SIGUSR1 prints one stats line; SIGKILL mid-traffic keeps every
#               committed record and an intact DB; a restart appends to it.
#   errors      a missing interface and a bad filter: exit 1, one stderr line.
#
# Traffic other than the peers' comes from tests/live/traffic.py; DB checks
# are tests/live/dbcheck.py.  Output follows tests/CONTRACT.md (one `ok - live/
# NAME` / `not ok - live/NAME` line per case, `#  ` diagnostics, exit 1 if any
# failed).  Skips (exit 0) without root, tcpdump, a capturable lo, or python3-
# websockets.  Every process it starts is killed by the EXIT trap.
#
# The daemon gets `--buffer-size 64M` (what tests/e2e gives tcpdump with -B):
# libpcap's default buffer holds only a few 256 KiB frames and drops packets
# of the peers' 100 000-byte messages on lo.  LIVE_OPTS overrides it.
#
# Env: BIN (binary dir, default build, relative to the repo root),
#      KEEP=1 keeps the temp dir (DBs, daemon stderr, peer logs) and prints it,
#      LIVE_OPTS (extra wsstatsd options, default "--buffer-size 64M").
set -u

SUITE=live
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

reason=$(cap_unusable_reason)
[ -z "$reason" ] || skip_all "$reason"
tcpdump -D 2>/dev/null | grep -qE '^[0-9]+\.lo\b' || skip_all "tcpdump cannot capture on lo"
python_peer_ready || skip_all "python3-websockets not installed (the peers and traffic.py need it)"
if [ ! -x "$BIN/wsstatsd" ] || [ ! -x "$BIN/wsstats" ]; then
    fail "live/binaries-exist" "$BIN/wsstatsd or $BIN/wsstats not found or not executable (run make)"
    exit 1
fi
read -r -a LIVE_OPTS <<<"${LIVE_OPTS:---buffer-size 64M}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-live.XXXXXX")
chmod 755 "$TMP"   # so that nobody (privdrop) can reach its own directory inside
DAEMONS=()         # every wsstatsd started, killed by cleanup if still running
TRAFFIC=()         # every background traffic.py
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    local pid
    for pid in "${DAEMONS[@]}" "${TRAFFIC[@]}"; do
        kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    cap_cleanup
    if [ "${KEEP:-0}" = 1 ]; then echo "# live: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

DC=("$PY" "$HERE/dbcheck.py")
TRAFFIC_PY=("$PY" "$HERE/traffic.py")

# ---------------------------------------------------------------- helpers

# alive PID: running (a child that exited stays a zombie until `wait`).
alive() {
    kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}
gone() { ! alive "$1"; }

# daemon_start ERRLOG ARGS...: wsstatsd in the background; DPID is its pid.
daemon_start() {
    local log=$1; shift
    "$BIN/wsstatsd" "$@" >"$log.stdout" 2>"$log" &
    DPID=$!
    DAEMONS+=("$DPID")
}

# capturing_or_dead PID DB [N]: the daemon wrote its (N+1)th live captures row, or died.
# shellcheck disable=SC2317  # called through cap_poll
capturing_or_dead() { gone "$1" || "${DC[@]}" capturing "$2" "${3:-0}"; }

# listed DB JSON EXPECT...: `wsstats connections` lists every finished one.
# shellcheck disable=SC2317  # called through cap_poll
listed() {
    local db=$1 json=$2; shift 2
    "$BIN/wsstats" --db "$db" connections --format json --limit 0 >"$json" 2>"$json.err" &&
        "${DC[@]}" listed "$json" "$@" >/dev/null
}

# uid_is PID UID: its real, effective, saved and fs uid are all UID.
# shellcheck disable=SC2317  # called through cap_poll
uid_is() { grep -qE "^Uid:\s+$2\s+$2\s+$2\s+$2\s*$" "/proc/$1/status"; }

# more_stats ERRLOG N PID: more than N stats lines, or the daemon died.
# shellcheck disable=SC2317  # called through cap_poll
more_stats() { [ "$(grep -c '^wsstatsd: stats:' "$1")" -gt "$2" ] || gone "$3"; }

# daemon_ready PID DB [N]: wait (10 s) until the daemon is capturing; 0 if it is.
daemon_ready() {
    cap_poll 10 capturing_or_dead "$@" && alive "$1" && "${DC[@]}" capturing "$2" "${3:-0}"
}

# daemon_stop PID SIGNAL: signal it, wait at most 10 s (then SIGKILL);
# DRC = its exit status, or "hung" when it had to be killed.
daemon_stop() {
    kill "-$2" "$1" 2>/dev/null
    if cap_poll 10 gone "$1"; then
        wait "$1"; DRC=$?
    else
        kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; DRC=hung
    fi
}

# died PID ERRLOG: DIED = why a daemon that should run is not there (its exit
# status and stderr), as lines.  Not in $(...): `wait` needs this shell.
died() {
    local rc="still running"
    if gone "$1"; then wait "$1"; rc="exit status $?"; fi
    DIED=("wsstatsd is not running ($rc); stderr:")
    mapfile -t -O 1 DIED < <(tail -n 8 "$2")
}

# sanitizer_report ERRLOG: prints an ASan/UBSan/LSan report found there.
sanitizer_report() {
    grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" &&
        grep -E -m 5 'ERROR: (Address|Leak)Sanitizer|runtime error:|^ *#[0-9]+ ' "$1"
}

# stop_ok ERRLOG: DRC is 0 and no sanitizer report; else prints what is wrong.
stop_ok() {
    local bad=0
    [ "$DRC" = 0 ] || { echo "exit status $DRC after the signal (expected 0); stderr:"; tail -n 8 "$1"; bad=1; }
    sanitizer_report "$1" && bad=1
    return $bad
}

# traffic PORT KEYS N: N clean connections (traffic.py), in the foreground.
traffic() {
    timeout 30 "${TRAFFIC_PY[@]}" --port "$1" --keys "$2" --count "$3" >/dev/null 2>"$2.err" ||
        echo "traffic.py failed: $(tail -n 3 "$2.err" | tr '\n' ' ')"
}

# keys_visible DB KEYS: poll (3 s) until every key of KEYS has its row.
keys_visible() { cap_poll 3 "${DC[@]}" keys "$1" "$2" >/dev/null; }

# stats_lines ERRLOG: the well-formed `wsstatsd: stats:` lines in it.
stats_lines() {
    grep '^wsstatsd: stats:' "$1" | grep -w packets | grep -w flows | grep -w records | grep -w drops
}

# fail_all "NAME..." LINE...: the cases that could not run, and why.
fail_all() {
    local names=$1 name; shift
    for name in $names; do fail "live/$name" "$@"; done
}

read -r -a PORTS <<<"$(cap_free_ports 5)"

# ---------------------------------------------------------------- peers
# The scenario table of both peers, captured live; SIGTERM while the "hold"
# connections are still open.
peers_case() {
    local db=$TMP/peers.db log=$TMP/peers.err pid langs=(python) lang cmd=() lines=() i n=0
    if node_peer_ready; then langs+=(node); else pass "live/node-peer # SKIP node or the ws package unavailable"; fi
    daemon_start "$log" -i lo -f "tcp port ${PORTS[0]} or tcp port ${PORTS[1]}" -w "$db" "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "records-visible-while-running sigterm-clean-exit captures-row-closed records-match-peers" "${DIED[@]}"
        return
    fi
    for lang in "${langs[@]}"; do
        case $lang in
            python) cmd=("$PY" "$PEERS_DIR/py_peers.py") ;;
            node)   cmd=(node "$PEERS_DIR/node_peers.js") ;;
        esac
        peer_start "$lang" "$TMP/$lang.out" "$TMP/$lang.err" \
            "${cmd[@]}" --port "${PORTS[$n]}" --expect "$TMP/$lang.expect.jsonl"
        n=$((n + 1))
    done
    local holding=ok
    peers_wait_holding 30 || holding="a peer did not reach HOLDING in 30 s"
    local expect=()
    for lang in "${langs[@]}"; do
        [ -s "$TMP/$lang.expect.jsonl" ] && expect+=("$TMP/$lang.expect.jsonl")
    done

    # records-visible-while-running: what has ended is in the DB within 3 s
    local json=$TMP/peers.json why=""
    if [ ${#expect[@]} -eq 0 ]; then
        why="no peer wrote expectations ($holding)"
    elif ! alive "$pid"; then
        died "$pid" "$log"; why=$(printf '%s\n' "${DIED[@]}")
    elif ! cap_poll 3 listed "$db" "$json" "${expect[@]}"; then
        why="$("${DC[@]}" listed "$json" "${expect[@]}"; cat "$json.err")"
        if ! alive "$pid"; then died "$pid" "$log"; why="$why"$'\n'"$(printf '%s\n' "${DIED[@]}")"; fi
    fi
    if [ -z "$why" ]; then pass "live/records-visible-while-running"
    else mapfile -t lines <<<"$why"; fail "live/records-visible-while-running" "${lines[@]}"; fi

    daemon_stop "$pid" TERM
    peers_release
    local problems
    if problems=$(stop_ok "$log"); then pass "live/sigterm-clean-exit"
    else mapfile -t lines <<<"$problems"; fail "live/sigterm-clean-exit" "${lines[@]}"; fi

    if problems=$("${DC[@]}" capture-closed "$db"); then pass "live/captures-row-closed"
    else mapfile -t lines <<<"$problems"; fail "live/captures-row-closed" "${lines[@]}"; fi

    # records-match-peers: every row as the peers expect it (held ones unfinished)
    local notes=()
    [ "$holding" = ok ] || notes+=("$holding")
    for i in "${!PEER_NAMES[@]}"; do
        [ "${PEER_RCS[$i]}" = 0 ] ||
            notes+=("${PEER_NAMES[$i]} peer exited ${PEER_RCS[$i]}: $(tail -n 3 "$TMP/${PEER_NAMES[$i]}.err" | tr '\n' ' ')")
    done
    local args=() f out
    for f in "${expect[@]}"; do args+=(--expect "$f"); done
    if [ ${#args[@]} -eq 0 ]; then
        fail "live/records-match-peers" "no expectations written" "${notes[@]}"
    elif out=$("$PY" "$ROOT/tests/e2e/check.py" --db "$db" "${args[@]}" 2>&1) && [ ${#notes[@]} -eq 0 ]; then
        pass "live/records-match-peers ($(grep -c '^ok - ' <<<"$out") checks)"
    else
        mapfile -t lines < <(grep -E '^(not ok|#)' <<<"$out" | head -n 40 | sed 's/^#  /   /')
        fail "live/records-match-peers" "${notes[@]}" \
            "$(grep -c '^not ok' <<<"$out") of $(grep -cE '^(ok|not ok) ' <<<"$out") check.py lines failed;" \
            "capture: $("$PY" -c 'import sqlite3,sys; c=sqlite3.connect("file:%s?mode=ro"%sys.argv[1],uri=True); print(c.execute("select packets,drops,if_drops,status from captures order by id desc limit 1").fetchone())' "$db" 2>&1) (packets, drops, if_drops, status)" \
            "${lines[@]}"
    fi
}

# ---------------------------------------------------------------- sighup
# --stats-interval 1s; move the DB away, SIGHUP, new records go to a new file.
sighup_case() {
    local db=$TMP/hup.db log=$TMP/hup.err pid why="" start=$SECONDS lines=()
    daemon_start "$log" -i lo -f "tcp port ${PORTS[2]}" -w "$db" --stats-interval 1s "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "sighup-reopen stats-interval" "${DIED[@]}"
        return
    fi
    why=$(traffic "${PORTS[2]}" "$TMP/hup1.keys" 3)
    if [ -z "$why" ] && ! keys_visible "$db" "$TMP/hup1.keys"; then
        why="before the move, within 3 s: $("${DC[@]}" keys "$db" "$TMP/hup1.keys" | head -n 3 | tr '\n' ' ')"
    fi
    if [ -z "$why" ]; then
        mv "$db" "$db.1"
        kill -HUP "$pid"
        if ! cap_poll 3 test -e "$db"; then
            why="no new $db within 3 s of SIGHUP"
            if ! alive "$pid"; then died "$pid" "$log"; why="$why; ${DIED[*]}"; fi
        fi
    fi
    if [ -z "$why" ]; then
        why=$(traffic "${PORTS[2]}" "$TMP/hup2.keys" 3)
        if [ -z "$why" ] && ! keys_visible "$db" "$TMP/hup2.keys"; then
            why="after SIGHUP, within 3 s, in the new DB: $("${DC[@]}" keys "$db" "$TMP/hup2.keys" | head -n 3 | tr '\n' ' ')"
        fi
    fi
    # two stats lines by now, or within 3 s more (--stats-interval 1s)
    cap_poll 3 more_stats "$log" 1 "$pid"
    daemon_stop "$pid" TERM
    local problems=()
    [ -z "$why" ] || problems+=("$why")
    if [ -z "$why" ]; then
        local p
        p=$("${DC[@]}" keys "$db.1" "$TMP/hup1.keys" --only) || problems+=("moved file: ${p//$'\n'/; }")
        p=$("${DC[@]}" integrity "$db.1") || problems+=("moved file: $p")
        p=$("${DC[@]}" keys "$db" "$TMP/hup2.keys" --only) || problems+=("new file: ${p//$'\n'/; }")
        p=$("${DC[@]}" integrity "$db") || problems+=("new file: $p")
    fi
    local stop; stop=$(stop_ok "$log") || problems+=("$stop")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/sighup-reopen"
    else
        mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"
        fail "live/sighup-reopen" "${lines[@]}" "files (mode uid:gid bytes name): $(stat -c '%A %u:%g %s %n' "$db"* | sed "s|$TMP/||" | tr '\n' ' ')"
    fi

    local n; n=$(stats_lines "$log" | wc -l)
    if [ "$n" -ge 2 ]; then pass "live/stats-interval ($n lines in $((SECONDS - start)) s)"
    else
        mapfile -t lines < <(tail -n 5 "$log")
        fail "live/stats-interval" "$n well-formed 'wsstatsd: stats:' lines (packets, flows, records, drops) in $((SECONDS - start)) s with --stats-interval 1s, expected >= 2; stderr:" \
            "${lines[@]}"
    fi
}

# ---------------------------------------------------------------- privdrop
privdrop_case() {
    local dir=$TMP/priv db=$TMP/priv/priv.db log=$TMP/priv.err pid lines=()
    mkdir "$dir" && chmod 777 "$dir"
    local uid gid; uid=$(id -u nobody) gid=$(id -g nobody)
    daemon_start "$log" -i lo -f "tcp port ${PORTS[3]}" -w "$db" -u nobody "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "privilege-drop privilege-drop-records" "${DIED[@]}"
        return
    fi
    cap_poll 3 uid_is "$pid" "$uid"
    local status; status=$(grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status" 2>&1)
    local want_groups have_groups primary_only problems=()
    want_groups=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')
    have_groups=$(sed -n 's/^Groups:\s*//p' <<<"$status" | tr -s ' \t' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ')
    primary_only=$(id -G nobody | tr ' ' '\n' | grep -vx "$gid" | sort -n | tr '\n' ' ')
    grep -qE "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid\s*$" <<<"$status" || problems+=("Uid line is not all $uid (nobody)")
    grep -qE "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid\s*$" <<<"$status" || problems+=("Gid line is not all $gid (nobody's group)")
    # initgroups() gives nobody's groups including its primary one; a bare
    # setgroups() with only the others is as good: root's groups must be gone.
    [ "$have_groups" = "$want_groups" ] || [ "$have_groups" = "$primary_only" ] ||
        problems+=("Groups '${have_groups% }', expected '${want_groups% }' (id -G nobody)")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/privilege-drop"
    else mapfile -t lines <<<"$status"; fail "live/privilege-drop" "${problems[@]}" "/proc/$pid/status:" "${lines[@]}"; fi

    local why
    why=$(traffic "${PORTS[3]}" "$TMP/priv.keys" 3)
    if [ -z "$why" ] && ! keys_visible "$db" "$TMP/priv.keys"; then
        why="within 3 s: $("${DC[@]}" keys "$db" "$TMP/priv.keys" | head -n 3 | tr '\n' ' ')"
        if ! alive "$pid"; then died "$pid" "$log"; why="$why; ${DIED[*]}"; fi
    fi
    daemon_stop "$pid" TERM
    problems=()
    [ -z "$why" ] || problems+=("$why")
    local p
    p=$(stop_ok "$log") || problems+=("$p")
    p=$("${DC[@]}" capture-closed "$db") || problems+=("captures row: ${p//$'\n'/; }")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/privilege-drop-records"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/privilege-drop-records" "${lines[@]}" "files: $(stat -c '%A %u:%g %n' "$dir"/* | tr '\n' ' ')"; fi
}

# ---------------------------------------------------------------- sigkill
# SIGUSR1 for one stats line, then SIGKILL while traffic.py keeps connecting.
sigkill_case() {
    local db=$TMP/kill.db log=$TMP/kill.err pid why="" lines=()
    daemon_start "$log" -i lo -f "tcp port ${PORTS[4]}" -w "$db" "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "sigusr1-stats-line sigkill-committed-intact sigkill-restart-appends" "${DIED[@]}"
        return
    fi
    why=$(traffic "${PORTS[4]}" "$TMP/kill1.keys" 4)
    # give the commit timer its 3 s
    [ -n "$why" ] || keys_visible "$db" "$TMP/kill1.keys" ||
        why="within 3 s before the kill: $("${DC[@]}" keys "$db" "$TMP/kill1.keys" | head -n 3 | tr '\n' ' ')"

    # mid-traffic from here on
    "${TRAFFIC_PY[@]}" --port "${PORTS[4]}" --keys "$TMP/kill2.keys" --duration 10 >/dev/null 2>"$TMP/kill2.err" &
    local tpid=$!
    TRAFFIC+=("$tpid")
    cap_poll 3 test -s "$TMP/kill2.keys"

    # sigusr1-stats-line: one line, and the daemon keeps running
    local before after
    before=$(grep -c '^wsstatsd: stats:' "$log")
    kill -USR1 "$pid"
    cap_poll 2 more_stats "$log" "$before" "$pid"
    sleep 0.3   # a second line, if it came, would be here by now
    after=$(grep -c '^wsstatsd: stats:' "$log")
    if alive "$pid" && [ $((after - before)) = 1 ] && [ "$(stats_lines "$log" | wc -l)" = "$after" ]; then
        pass "live/sigusr1-stats-line"
    elif ! alive "$pid"; then
        died "$pid" "$log"
        fail "live/sigusr1-stats-line" "SIGUSR1 ended the daemon" "${DIED[@]}"
    else
        mapfile -t lines < <(tail -n 5 "$log")
        fail "live/sigusr1-stats-line" "$((after - before)) 'wsstatsd: stats:' lines after SIGUSR1, expected 1 naming packets, flows, records and drops; stderr:" \
            "${lines[@]}"
    fi

    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    kill -TERM "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null

    local problems=() p snap1 rows1 caps1
    [ -z "$why" ] || problems+=("$why")
    p=$("${DC[@]}" integrity "$db") || problems+=("$p")
    p=$("${DC[@]}" keys "$db" "$TMP/kill1.keys") || problems+=("${p//$'\n'/; }")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/sigkill-committed-intact"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/sigkill-committed-intact" "${lines[@]}"; fi

    # restart on the same DB
    snap1=$("${DC[@]}" snapshot "$db" "$TMP/kill1.keys" 2>&1)
    rows1=$("${DC[@]}" count "$db" 2>&1)
    caps1=$("${DC[@]}" captures "$db" 2>&1)
    problems=()
    daemon_start "$log.2" -i lo -f "tcp port ${PORTS[4]}" -w "$db" "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db" "$caps1"; then
        died "$pid" "$log.2"
        fail "live/sigkill-restart-appends" "no new captures row after the restart" "${DIED[@]}"
        return
    fi
    p=$(traffic "${PORTS[4]}" "$TMP/kill3.keys" 3)
    [ -z "$p" ] || problems+=("$p")
    keys_visible "$db" "$TMP/kill3.keys" || problems+=("within 3 s after the restart:" "$("${DC[@]}" keys "$db" "$TMP/kill3.keys" | head -n 3)")
    daemon_stop "$pid" TERM
    p=$(stop_ok "$log.2") || problems+=("$p")
    p=$("${DC[@]}" integrity "$db") || problems+=("$p")
    [ "$("${DC[@]}" snapshot "$db" "$TMP/kill1.keys" 2>&1)" = "$snap1" ] ||
        problems+=("the rows committed before the kill changed after the restart")
    local rows2; rows2=$("${DC[@]}" count "$db" 2>&1)
    [ "$rows2" -ge $((rows1 + 3)) ] 2>/dev/null || problems+=("$rows1 rows before the restart, $rows2 after, expected >= $((rows1 + 3))")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/sigkill-restart-appends"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/sigkill-restart-appends" "${lines[@]}"; fi
}

# ---------------------------------------------------------------- errors
# error_case NAME ALLOWED_RCS WORD ARGS...: exits with one of ALLOWED_RCS
# (e.g. "1" or "1 2"), exactly one stderr line, containing WORD.
RUN_PREFIX=() # a command wsstatsd runs under (setpriv), for error_case
error_case() {
    local name=$1 allowed=$2 word=$3 rc err=$TMP/$1.err problems=() lines=(); shift 3
    timeout 10 "${RUN_PREFIX[@]}" "$BIN/wsstatsd" "$@" >/dev/null 2>"$err"; rc=$?
    [[ " $allowed " == *" $rc "* ]] || problems+=("exit status $rc, expected ${allowed// / or }")
    [ "$(wc -l <"$err")" = 1 ] || problems+=("$(wc -l <"$err") stderr lines, expected 1")
    grep -qF -- "$word" "$err" || problems+=("stderr does not name '$word'")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/$name"
    else mapfile -t lines <"$err"; fail "live/$name" "${problems[@]}" "wsstatsd $*:" "${lines[@]:0:6}"; fi
}

peers_case
sighup_case
privdrop_case
sigkill_case
error_case error-missing-interface 1 nosuchif0 -i nosuchif0 -w "$TMP/err.db"
error_case error-bad-filter "1 2" filter -i lo -f 'tcp port' -w "$TMP/err.db"
error_case error-bad-filter-quoted "1 2" "'tcp port'" -i lo -f 'tcp port' -w "$TMP/err.db"
# without root and without CAP_NET_RAW: the capture cannot be opened
if command -v setpriv >/dev/null 2>&1; then
    chmod 777 "$TMP"
    RUN_PREFIX=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --)
    error_case error-no-privileges 1 "CAP_NET_RAW" -i lo -w "$TMP/noperm.db"
    RUN_PREFIX=()
    [ ! -e "$TMP/noperm.db" ] && pass "live/error-no-privileges-no-db" ||
        fail "live/error-no-privileges-no-db" "a database was created although the capture failed"
fi
error_case error-no-such-user 1 "nosuchuser" -i lo -u nosuchuser -w "$TMP/nouser.db"
[ ! -e "$TMP/nouser.db" ] && pass "live/error-no-such-user-no-db" ||
    fail "live/error-no-such-user-no-db" "a database was created for a user that does not exist"

# --syslog: the messages reach syslog with the ident wsstatsd and the pid.
# Without a syslog daemon (/dev/log absent, as in containers) a listener
# stands in for it; with journald, the journal is asked.
syslog_case() {
    local log=$TMP/syslog.txt pid listener=
    if [ ! -e /dev/log ]; then
        "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n")' "$log" &
        listener=$!
        cap_poll 5 test -S /dev/log || { fail live/syslog "no /dev/log listener"; kill "$listener"; return; }
    elif ! command -v journalctl >/dev/null 2>&1; then
        echo "ok - live/syslog # SKIP /dev/log exists but there is no journalctl to read it back"
        return
    fi
    "$BIN/wsstatsd" -i lo -f 'tcp port 9' -w "$TMP/syslog.db" --syslog --stats-interval 1s 2>/dev/null &
    pid=$!
    sleep 2.5
    kill -TERM "$pid"
    wait "$pid"
    if [ -n "$listener" ]; then
        kill "$listener"; wait "$listener" 2>/dev/null; rm -f /dev/log
    else
        journalctl -q -o short --no-pager -t wsstatsd _PID="$pid" >"$log" 2>/dev/null
    fi
    if grep -q "wsstatsd\[$pid\]: capturing on lo" "$log" && grep -q "wsstatsd\[$pid\]: stats: packets" "$log"; then
        pass live/syslog
    else
        fail live/syslog "expected 'capturing on lo' and a stats line from wsstatsd[$pid]:" "$(head -3 "$log")"
    fi
}
syslog_case

exit $FAILED
