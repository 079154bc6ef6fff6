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

# sql_is DB QUERY VALUE: the query's one value is VALUE.
# shellcheck disable=SC2317  # called through cap_poll
sql_is() { [ "$("${DC[@]}" sql "$1" "$2" 2>/dev/null)" = "$3" ]; }

# stats_lines ERRLOG: the well-formed `wsstatsd: stats:` lines in it.
stats_lines() {
    grep '^wsstatsd: stats:' "$1" | grep -w packets | grep -w flows | grep -w records | grep -w drops
}

# fail_all "NAME..." LINE...: the cases that could not run, and why.
fail_all() {
    local names=$1 name; shift
    for name in $names; do fail "live/$name" "$@"; done
}

read -r -a PORTS <<<"$(cap_free_ports 12)"

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
    # two stats lines by now, or within 3 s more (--stats-interval 1s); then
    # one asked for (SIGUSR1) after every record was written, for its figures
    cap_poll 3 more_stats "$log" 1 "$pid"
    local asked; asked=$(grep -c '^wsstatsd: stats:' "$log")
    kill -USR1 "$pid"
    cap_poll 2 more_stats "$log" "$asked" "$pid"
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

    local n figures; n=$(stats_lines "$log" | wc -l)
    if [ "$n" -ge 3 ] && figures=$("${DC[@]}" stats-line "$log" 6); then
        pass "live/stats-interval ($n lines in $((SECONDS - start)) s)"
    elif [ "$n" -ge 3 ]; then
        mapfile -t lines <<<"$figures"
        fail "live/stats-interval" "the last stats line (after 6 records) is wrong:" "${lines[@]}"
    else
        mapfile -t lines < <(tail -n 5 "$log")
        fail "live/stats-interval" "$n well-formed 'wsstatsd: stats:' lines (packets, flows, records, drops) in $((SECONDS - start)) s with --stats-interval 1s and one SIGUSR1, expected >= 3; stderr:" \
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
    grep -q "^wsstatsd: running as nobody (uid $uid, gid $gid)" "$log" ||
        problems+=("no 'running as nobody (uid $uid, gid $gid)' line on stderr")
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

    # mid-traffic still: connections keep ending until the kill
    sleep 2.5
    local killed_at; killed_at=$(date +%s.%N)
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    kill -TERM "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null

    # every connection that had ended 2 s before the kill was committed
    local problems=() p snap1 rows1 caps1
    [ -z "$why" ] || problems+=("$why")
    p=$("${DC[@]}" integrity "$db") || problems+=("$p")
    p=$("${DC[@]}" keys "$db" "$TMP/kill1.keys") || problems+=("${p//$'\n'/; }")
    p=$("${DC[@]}" keys "$db" "$TMP/kill2.keys" --ended-before "$(awk -v t="$killed_at" 'BEGIN { printf "%.3f", t - 2 }')") ||
        problems+=("ended more than 2 s before the kill:" "${p//$'\n'/; }")
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

# ---------------------------------------------------------------- unit
# contrib/wsstatsd.service as it stands (no systemd here): tests/live/unit.py
# turns its User=, AmbientCapabilities=, CapabilityBoundingSet=,
# NoNewPrivileges=, UMask=, state directory and ExecStart= into a setpriv
# command (the unit's user mapped to nobody). Records reach the DB, no
# thread keeps a capability or root, and a restart on the same DB works.
unit_start() { # unit_start ERRLOG: the state directory as systemd leaves it, then the daemon
    local state=$TMP/state top
    mkdir -p "$state"
    chmod "$UNIT_DIR_MODE" "$state"
    top=$(stat -c %U:%G "$state")
    [ "$top" = "$UNIT_TREE_OWNER" ] || chown -R "$UNIT_TREE_OWNER" "$state"
    chown "$UNIT_DIR_OWNER" "$state"
    (umask "$UNIT_UMASK" && exec "${UNIT_CMD[@]}" -f "tcp port ${PORTS[5]}" "${LIVE_OPTS[@]}") >"$1.stdout" 2>"$1" &
    DPID=$!
    DAEMONS+=("$DPID")
}

# no_privileges PID UID: every thread runs as UID with no capability left.
no_privileges() {
    local t bad=()
    for t in /proc/"$1"/task/*/status; do
        grep -qE "^Uid:\s+$2\s+$2\s+$2\s+$2\s*$" "$t" || bad+=("$t: $(grep '^Uid:' "$t")")
        grep -qE '^CapEff:\s+0+$' "$t" && grep -qE '^CapPrm:\s+0+$' "$t" && grep -qE '^CapAmb:\s+0+$' "$t" ||
            bad+=("$t: $(grep -E '^Cap(Eff|Prm|Amb):' "$t" | tr '\n' ' ')")
    done
    [ ${#bad[@]} -eq 0 ] || { printf '%s\n' "${bad[@]}"; return 1; }
}

unit_case() {
    if ! setpriv --help 2>&1 | grep -q -- --ambient-caps; then
        pass "live/unit # SKIP no setpriv (util-linux) with --ambient-caps"
        return
    fi
    local log=$TMP/unit.err pid why problems=() p lines=() uid; uid=$(id -u nobody)
    local setup
    if ! setup=$("$PY" "$HERE/unit.py" "$ROOT/contrib/wsstatsd.service" --bin "$BIN/wsstatsd" \
            --state "$TMP/state" --iface lo --user nobody 2>&1); then
        fail_all "unit-records unit-no-privileges-left unit-restart" "unit.py: $setup"
        return
    fi
    eval "$setup"
    local db=$UNIT_DB
    unit_start "$log"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "unit-records unit-no-privileges-left unit-restart" "${UNIT_CMD[*]}" "${DIED[@]}"
        return
    fi
    why=$(traffic "${PORTS[5]}" "$TMP/unit1.keys" 3)
    [ -n "$why" ] || keys_visible "$db" "$TMP/unit1.keys" ||
        why="within 3 s: $("${DC[@]}" keys "$db" "$TMP/unit1.keys" | head -n 3 | tr '\n' ' ')"
    if [ -z "$why" ]; then pass "live/unit-records"
    else fail "live/unit-records" "$why" "${UNIT_CMD[*]}"; fi

    if p=$(no_privileges "$pid" "$uid"); then pass "live/unit-no-privileges-left"
    else mapfile -t lines <<<"$p"; fail "live/unit-no-privileges-left" "${lines[@]}"; fi

    daemon_stop "$pid" TERM
    p=$(stop_ok "$log") || problems+=("first run: $p")
    unit_start "$log.2"
    pid=$DPID
    if ! daemon_ready "$pid" "$db" 1; then
        died "$pid" "$log.2"
        fail "live/unit-restart" "no new captures row after the restart" "${DIED[@]}"
        return
    fi
    p=$(traffic "${PORTS[5]}" "$TMP/unit2.keys" 3)
    [ -z "$p" ] || problems+=("$p")
    keys_visible "$db" "$TMP/unit2.keys" || problems+=("after the restart, within 3 s: $("${DC[@]}" keys "$db" "$TMP/unit2.keys" | head -n 3 | tr '\n' ' ')")
    daemon_stop "$pid" TERM
    p=$(stop_ok "$log.2") || problems+=("$p")
    p=$("${DC[@]}" integrity "$db") || problems+=("$p")
    p=$("${DC[@]}" keys "$db" "$TMP/unit1.keys") || problems+=("first run's records: ${p//$'\n'/; }")
    [ "$(stat -c '%U %a' "$db")" = "nobody 640" ] || problems+=("the DB is $(stat -c '%U %a' "$db"), expected nobody 640 (User=, UMask=0027)")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/unit-restart"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/unit-restart" "${lines[@]}"; fi
}

# ---------------------------------------------------------------- sighup-reader
# SIGHUP after a move while a reader holds a read transaction on the moved
# file: it stays open (records go on into it) until the reader's
# transaction ends; then the reader's idle connection still reads the moved
# file whole, and new records go to a new file. Both pass integrity_check.
sighup_reader_case() {
    local dir=$TMP/rot db=$TMP/rot/w.db log=$TMP/rot.err pid why="" lines=() p problems=() answer
    mkdir "$dir"
    daemon_start "$log" -i lo -f "tcp port ${PORTS[6]}" -w "$db" "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "sighup-reader-postpones sighup-reader-moved-intact sighup-reader-new-file" "${DIED[@]}"
        return
    fi
    why=$(traffic "${PORTS[6]}" "$TMP/rot1.keys" 3)
    [ -n "$why" ] || keys_visible "$db" "$TMP/rot1.keys" || why="before the move: rows missing"
    coproc READER { "$PY" "$HERE/holder.py"; }
    echo "open $db" >&"${READER[1]}"; read -r answer <&"${READER[0]}"
    echo "read" >&"${READER[1]}"; read -r answer <&"${READER[0]}"
    [ "$answer" = "ok 3" ] || why="${why:+$why; }the reader's transaction: $answer"
    mv "$db" "$db.1"
    kill -HUP "$pid"
    p=$(traffic "${PORTS[6]}" "$TMP/rot2.keys" 3)
    [ -z "$p" ] || problems+=("$p")
    sleep 2 # two tries of the move, both in vain
    [ ! -e "$db" ] || problems+=("$db was opened while the moved file was in a reader's transaction")
    [ "$(grep -c 'a reader is inside a transaction' "$log")" = 1 ] ||
        problems+=("$(grep -c 'a reader is inside a transaction' "$log") lines say the reader holds the move up, expected 1")
    alive "$pid" || { died "$pid" "$log"; problems+=("${DIED[@]}"); }
    [ -z "$why" ] || problems+=("$why")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/sighup-reader-postpones"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/sighup-reader-postpones" "${lines[@]}" "stderr:" "$(tail -n 4 "$log")"; fi

    # the reader ends its transaction but keeps its connection
    problems=()
    echo "end" >&"${READER[1]}"; read -r answer <&"${READER[0]}"
    cap_poll 3 test -e "$db" || problems+=("no new $db within 3 s of the reader's transaction ending")
    p=$(traffic "${PORTS[6]}" "$TMP/rot3.keys" 3)
    [ -z "$p" ] || problems+=("$p")
    keys_visible "$db" "$TMP/rot3.keys" || problems+=("new records not in the new file within 3 s")
    echo "count" >&"${READER[1]}"; read -r answer <&"${READER[0]}"
    echo "close" >&"${READER[1]}"; read -r _ <&"${READER[0]}"
    local rpid=$READER_PID
    eval "exec ${READER[1]}>&-"
    wait "$rpid" 2>/dev/null
    daemon_stop "$pid" TERM
    p=$(stop_ok "$log") || problems+=("$p")
    local moved=()
    cat "$TMP/rot1.keys" "$TMP/rot2.keys" >"$TMP/rot12.keys"
    p=$("${DC[@]}" integrity "$db.1") || moved+=("$p")
    p=$("${DC[@]}" keys "$db.1" "$TMP/rot12.keys" --only) || moved+=("${p//$'\n'/; }")
    [ "$answer" = "ok 6" ] || moved+=("the reader's old connection counts '$answer' rows in the moved file, expected 6")
    [ "$("${DC[@]}" sql "$db.1" "SELECT status FROM captures")" = reopened ] ||
        moved+=("captures status in the moved file: $("${DC[@]}" sql "$db.1" "SELECT status FROM captures" | tr '\n' ' '), expected reopened")
    if [ ${#moved[@]} -eq 0 ]; then pass "live/sighup-reader-moved-intact"
    else mapfile -t lines <<<"$(printf '%s\n' "${moved[@]}")"; fail "live/sighup-reader-moved-intact" "${lines[@]}"; fi

    p=$("${DC[@]}" integrity "$db") || problems+=("new file: $p")
    p=$("${DC[@]}" keys "$db" "$TMP/rot3.keys" --only) || problems+=("new file: ${p//$'\n'/; }")
    p=$("${DC[@]}" capture-ids "$db") || problems+=("new file: $p")
    [ "$(grep -c ': reopened$' "$log")" = 1 ] || problems+=("$(grep -c ': reopened$' "$log") 'reopened' lines, expected 1")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/sighup-reader-new-file"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/sighup-reader-new-file" "${lines[@]}" "stderr:" "$(tail -n 5 "$log")"; fi
}

# ---------------------------------------------------------------- read-only
# -u nobody. The DB made read-only (chmod 444) and SIGHUP: the reopen finds
# it read-only, which is told once while every try fails; once writable
# again, that is told once and the records kept meanwhile are written (to
# the same file: one captures row). Then the DB moved out of a directory
# the user cannot write: the old -wal cannot go, records wait; once the
# directory is writable, a new file gets a captures row and the records.
readonly_case() {
    local dir=$TMP/ro db=$TMP/ro/ro.db log=$TMP/ro.err pid why="" lines=() p problems=()
    mkdir "$dir" && chmod 777 "$dir"
    daemon_start "$log" -i lo -f "tcp port ${PORTS[7]}" -w "$db" -u nobody "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "readonly-reported-once readonly-recovers reopen-waits-for-directory reopen-new-file-captures-row" "${DIED[@]}"
        return
    fi
    why=$(traffic "${PORTS[7]}" "$TMP/ro1.keys" 3)
    [ -n "$why" ] || keys_visible "$db" "$TMP/ro1.keys" || why="before chmod: rows missing"
    chmod 444 "$db"
    kill -HUP "$pid"
    p=$(traffic "${PORTS[7]}" "$TMP/ro2.keys" 3)
    [ -z "$p" ] || why="${why:+$why; }$p"
    sleep 2.5 # three tries at least
    local errors; errors=$(grep -c 'Permission denied (check the owner and mode of the file)' "$log")
    [ "$errors" = 1 ] || problems+=("$errors lines say the DB is read-only, expected 1 (at once, then silence)")
    grep -q "writable again" "$log" && problems+=("'writable again' while the DB is still read-only")
    # (not read here: a reader would make its -shm read-only too)
    [ -z "$why" ] || problems+=("$why")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/readonly-reported-once"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/readonly-reported-once" "${lines[@]}" "stderr:" "$(tail -n 5 "$log")"; fi

    problems=()
    chmod 644 "$db"
    keys_visible "$db" "$TMP/ro2.keys" || { sleep 1; keys_visible "$db" "$TMP/ro2.keys"; } ||
        problems+=("the records kept in memory are not in the DB 4 s after chmod 644")
    [ "$(grep -c 'writable again' "$log")" = 1 ] || problems+=("$(grep -c 'writable again' "$log") 'writable again' lines, expected 1")
    [ "$(grep -c 'Permission denied (check the owner and mode of the file)' "$log")" = 1 ] || problems+=("the read-only error was told again")
    [ "$("${DC[@]}" sql "$db" "SELECT count(*) FROM captures")" = 1 ] || problems+=("$("${DC[@]}" sql "$db" "SELECT count(*) FROM captures") captures rows, expected 1 (the same file)")
    p=$("${DC[@]}" capture-ids "$db") || problems+=("$p")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/readonly-recovers"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/readonly-recovers" "${lines[@]}" "stderr:" "$(tail -n 5 "$log")"; fi

    # moved away inside a directory the user cannot write
    problems=()
    chmod 755 "$dir"
    mv "$db" "$db.1"
    kill -HUP "$pid"
    p=$(traffic "${PORTS[7]}" "$TMP/ro3.keys" 3)
    [ -z "$p" ] || problems+=("$p")
    sleep 2
    [ "$(grep -c 'cannot be removed (Permission denied)' "$log")" = 1 ] ||
        problems+=("$(grep -c 'cannot be removed (Permission denied)' "$log") lines say the moved file's -wal cannot go, expected 1")
    [ ! -e "$db" ] || problems+=("$db was opened while the moved file's -wal was still at the path")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/reopen-waits-for-directory"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/reopen-waits-for-directory" "${lines[@]}" "stderr:" "$(tail -n 5 "$log")"; fi

    problems=()
    chmod 777 "$dir"
    cap_poll 3 test -e "$db" || problems+=("no new $db 3 s after the directory became writable")
    keys_visible "$db" "$TMP/ro3.keys" || problems+=("the records kept in memory are not in the new file")
    daemon_stop "$pid" TERM
    p=$(stop_ok "$log") || problems+=("$p")
    p=$("${DC[@]}" capture-ids "$db") || problems+=("new file: $p")
    p=$("${DC[@]}" capture-closed "$db") || problems+=("new file's captures row: ${p//$'\n'/; }")
    p=$("${DC[@]}" integrity "$db") || problems+=("new file: $p")
    cat "$TMP/ro1.keys" "$TMP/ro2.keys" >"$TMP/ro12.keys"
    p=$("${DC[@]}" keys "$db.1" "$TMP/ro12.keys" --only) || problems+=("moved file: ${p//$'\n'/; }")
    p=$("${DC[@]}" integrity "$db.1") || problems+=("moved file: $p")
    [ "$(grep -c 'retrying every second' "$log")" = 1 ] ||
        problems+=("$(grep -c 'retrying every second' "$log") errors told in all, expected 1 (the read-only DB; the wait is no error)")
    [ "$(grep -c 'writable again' "$log")" = 1 ] || problems+=("'writable again' told $(grep -c 'writable again' "$log") times in all, expected 1 (the chmod)")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/reopen-new-file-captures-row"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/reopen-new-file-captures-row" "${lines[@]}" "stderr:" "$(tail -n 6 "$log")"; fi
}

# ---------------------------------------------------------------- lock
# Another process holds the write lock (BEGIN IMMEDIATE) for 6 s while
# connections come and go: the packet loop never waits for it — a stats
# line every second throughout — and once the lock is gone the records of
# the connections that ended meanwhile are written, every one.
lock_case() {
    local db=$TMP/lock.db log=$TMP/lock.err pid why="" lines=() p problems=() answer n0 n1
    daemon_start "$log" -i lo -f "tcp port ${PORTS[8]}" -w "$db" --stats-interval 1s "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "lock-capture-goes-on lock-records-written" "${DIED[@]}"
        return
    fi
    coproc LOCKER { "$PY" "$HERE/holder.py"; }
    echo "open $db" >&"${LOCKER[1]}"; read -r answer <&"${LOCKER[0]}"
    echo "lock" >&"${LOCKER[1]}"; read -r answer <&"${LOCKER[0]}"
    [ "$answer" = ok ] || why="the lock: $answer"
    local t0=$SECONDS
    n0=$(grep -c '^wsstatsd: stats:' "$log")
    p=$(traffic "${PORTS[8]}" "$TMP/lock.keys" 3)
    [ -z "$p" ] || why="${why:+$why; }$p"
    [ $((SECONDS - t0)) -ge 6 ] || sleep $((6 - (SECONDS - t0)))
    n1=$(grep -c '^wsstatsd: stats:' "$log")
    local early=0
    "${DC[@]}" keys "$db" "$TMP/lock.keys" >/dev/null 2>&1 && early=1
    echo "unlock" >&"${LOCKER[1]}"; read -r answer <&"${LOCKER[0]}"
    echo "close" >&"${LOCKER[1]}"; read -r answer <&"${LOCKER[0]}"
    local lpid=$LOCKER_PID
    eval "exec ${LOCKER[1]}>&-"
    wait "$lpid" 2>/dev/null
    [ $((n1 - n0)) -ge 4 ] || problems+=("$((n1 - n0)) stats lines during the 6 s lock with --stats-interval 1s, expected >= 4: the packet loop waited")
    [ "$early" = 0 ] || problems+=("records written while another process held the write lock?")
    [ -z "$why" ] || problems+=("$why")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/lock-capture-goes-on ($((n1 - n0)) stats lines in 6 s)"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/lock-capture-goes-on" "${lines[@]}" "stderr:" "$(tail -n 5 "$log")"; fi

    problems=()
    keys_visible "$db" "$TMP/lock.keys" || { sleep 2; keys_visible "$db" "$TMP/lock.keys"; } ||
        problems+=("records of the connections that ended during the lock: $("${DC[@]}" keys "$db" "$TMP/lock.keys" | head -n 3 | tr '\n' ' ')")
    daemon_stop "$pid" TERM
    p=$(stop_ok "$log") || problems+=("$p")
    p=$("${DC[@]}" integrity "$db") || problems+=("$p")
    p=$("${DC[@]}" capture-ids "$db") || problems+=("$p")
    local locked; locked=$(grep -c 'database is locked' "$log")
    [ "$locked" -le 1 ] || problems+=("'database is locked' told $locked times, expected at most once")
    [ "$locked" = 0 ] || grep -q 'writable again' "$log" || problems+=("'database is locked' told, but never 'writable again'")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/lock-records-written"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/lock-records-written" "${lines[@]}" "stderr:" "$(tail -n 5 "$log")"; fi
}

# ---------------------------------------------------------------- retention
# --retention 1d live, -q, on a DB holding 10 000 records that ended 3 days
# ago and 5 that ended an hour ago: the old ones are gone within 6 s (a
# few thousand a second, not 500), the young ones and the new traffic stay.
# SIGUSR1 prints a stats line even under -q.
retention_case() {
    local db=$TMP/ret.db log=$TMP/ret.err pid why="" lines=() p problems=() now
    PYTHONPATH="$ROOT/tests/tools" "$PY" -c "
from pcapgen import Pcap, Conversation
p = Pcap('$TMP/one.pcap')
c = Conversation(p, '10.9.0.1', 40000, '10.9.0.2', 80)
c.handshake(); c.close('client', 1000); c.close('server', 1000); c.fin('client'); c.fin('server')
p.close()" || { fail_all "retention-live quiet-sigusr1-stats" "cannot make one.pcap"; return; }
    "$BIN/wsstatsd" -q -r "$TMP/one.pcap" -w "$db" || { fail_all "retention-live quiet-sigusr1-stats" "cannot make the DB"; return; }
    now=$(date +%s)
    "$PY" - "$db" "$now" <<'PYEOF' || { fail_all "retention-live quiet-sigusr1-stats" "cannot age the DB"; return; }
import sqlite3, sys
db, now = sys.argv[1], float(sys.argv[2])
con = sqlite3.connect(db)
cols = [r[1] for r in con.execute("PRAGMA table_info(connections)") if r[1] not in ("id", "ended_at", "client_port")]
sel = ", ".join(cols)
con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) "
            "INSERT INTO connections (%s, ended_at, client_port) SELECT %s, ?, 1000 + i %% 60000 FROM connections, n "
            "WHERE client_ip = '10.9.0.1'" % (sel, sel), (now - 3 * 86400,))
con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
            "INSERT INTO connections (%s, ended_at, client_port) SELECT %s, ?, 30000 + i FROM connections, n "
            "WHERE client_ip = '10.9.0.1' AND client_port = 40000" % (sel, sel), (now - 3600,))
con.execute("UPDATE connections SET client_ip = '10.9.0.9' WHERE ended_at = ?", (now - 3600,))
con.commit()
PYEOF
    daemon_start "$log" -q -i lo -f "tcp port ${PORTS[9]}" -w "$db" --retention 1d "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail_all "retention-live quiet-sigusr1-stats" "${DIED[@]}"
        return
    fi
    local old="SELECT count(*) FROM connections WHERE ended_at < $now - 86400"
    cap_poll 6 sql_is "$db" "$old" 0
    local left; left=$("${DC[@]}" sql "$db" "$old")
    [ "$left" = 0 ] || problems+=("$left of the 10000 records older than 1d are left 6 s after the start")
    why=$(traffic "${PORTS[9]}" "$TMP/ret.keys" 3)
    [ -z "$why" ] || problems+=("$why")
    keys_visible "$db" "$TMP/ret.keys" || problems+=("new records: $("${DC[@]}" keys "$db" "$TMP/ret.keys" | head -n 2 | tr '\n' ' ')")
    [ "$("${DC[@]}" sql "$db" "SELECT count(*) FROM connections WHERE client_ip = '10.9.0.9'")" = 5 ] ||
        problems+=("records of an hour ago: $("${DC[@]}" sql "$db" "SELECT count(*) FROM connections WHERE client_ip = '10.9.0.9'") of 5 left")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/retention-live"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/retention-live" "${lines[@]}" "stderr:" "$(tail -n 3 "$log")"; fi

    problems=()
    [ ! -s "$log" ] || problems+=("-q, yet on stderr: $(head -n 2 "$log" | tr '\n' ' ')")
    kill -USR1 "$pid"
    cap_poll 2 more_stats "$log" 0 "$pid"
    [ "$(stats_lines "$log" | wc -l)" = 1 ] || problems+=("$(grep -c '^wsstatsd: stats:' "$log") stats lines after SIGUSR1 under -q, expected 1")
    daemon_stop "$pid" TERM
    p=$(stop_ok "$log") || problems+=("$p")
    [ "$(wc -l <"$log")" = 1 ] || problems+=("$(wc -l <"$log") lines on stderr under -q, expected only the stats line")
    if [ ${#problems[@]} -eq 0 ]; then pass "live/quiet-sigusr1-stats"
    else mapfile -t lines <<<"$(printf '%s\n' "${problems[@]}")"; fail "live/quiet-sigusr1-stats" "${lines[@]}"; fi
}

# ---------------------------------------------------------------- stop
# stop_case NAME SECONDS TRAFFIC_OPTIONS...: traffic.py with these options,
# SIGTERM to the daemon after SECONDS; then every connection that ended
# before SIGTERM has its row, every one open across it is `unfinished` and
# ended when the capture stopped (dbcheck.py stopped).
#   sigterm-under-load  8 clients making connections with 5 messages of 20 KB
#                   (2 KB in the sanitizer builds), 4 connections exchanging
#                   such messages without pause
#                   until the end and 2 silent ones
#   sigterm-after-quiet  2 connections, then 2 that stay open and silent:
#                   nothing on the link for 3 s, yet their end is the stop,
#                   not their last packet
# The load meets a daemon that has already seen traffic (20 connections
# first, not checked): the ThreadSanitizer build's first burst is slow
# enough that packets are lost before the stop is even asked for
# (measured: 800-8500 kernel drops in the first second of load and none
# after it; none at all once the daemon has seen 20 connections).
stop_case() {
    local name=$1 after=$2 db=$TMP/$1.db log=$TMP/$1.err pid lines=() p problems=() tpid stop_at; shift 2
    daemon_start "$log" -i lo -f "tcp port ${PORTS[10]}" -w "$db" "${LIVE_OPTS[@]}"
    pid=$DPID
    if ! daemon_ready "$pid" "$db"; then
        died "$pid" "$log"
        fail "live/$name" "${DIED[@]}"
        return
    fi
    "${TRAFFIC_PY[@]}" --port "${PORTS[10]}" --keys "$TMP/$name.warm.keys" --count 20 --messages 5 --size 20000 \
        >/dev/null 2>"$TMP/$name.warm.err"
    sleep 1
    "${TRAFFIC_PY[@]}" --port "${PORTS[10]}" --keys "$TMP/$name.keys" --opened "$TMP/$name.opened" "$@" \
        >/dev/null 2>"$TMP/$name.traffic.err" &
    tpid=$!
    TRAFFIC+=("$tpid")
    sleep "$after"
    stop_at=$(date +%s.%N)
    daemon_stop "$pid" TERM
    kill -TERM "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null
    p=$(stop_ok "$log") || problems+=("$p")
    p=$("${DC[@]}" integrity "$db") || problems+=("$p")
    local summary
    if summary=$("${DC[@]}" stopped "$db" "$TMP/$name.keys" "$TMP/$name.opened" "$stop_at"); then :
    else mapfile -t lines <<<"$summary"; problems+=("${lines[@]}"); summary=; fi
    if [ ${#problems[@]} -eq 0 ]; then pass "live/$name ($summary)"
    else fail "live/$name" "${problems[@]}" "traffic: $(tail -n 2 "$TMP/$name.traffic.err" | tr '\n' ' ')"; fi
}

peers_case
sighup_case
privdrop_case
sigkill_case
unit_case
sighup_reader_case
readonly_case
lock_case
retention_case
# The sanitizer builds pay 10-20 times for each byte (unmasking, UTF-8
# checks): with 20 KB messages at the peers' full rate they fell behind the
# kernel's ring and it dropped packets (fresh-clone CI: asan and tsan, 1.3
# and 3.7 s before the stop); 2 KB messages take the same paths.
LOAD_SIZE=$([ "$(basename "$BIN")" = build ] && echo 20000 || echo 2000)
stop_case sigterm-under-load 4 --duration 30 --parallel 8 --messages 5 --size "$LOAD_SIZE" --busy 4 --idle 2
stop_case sigterm-after-quiet 3.5 --count 2 --idle 2
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
# stderr as the journal's stream: the error is priority 3 (journalctl -p err)
: >"$TMP/journal.err"
stream=$(stat -c %d:%i "$TMP/journal.err")
JOURNAL_STREAM=$stream "$BIN/wsstatsd" -i nosuchif0 -w "$TMP/err.db" 2>>"$TMP/journal.err"
if [ "$(wc -l <"$TMP/journal.err")" = 1 ] && grep -q '^<3>nosuchif0: ' "$TMP/journal.err"; then
    pass live/journal-stream-error-priority
else
    fail live/journal-stream-error-priority "with JOURNAL_STREAM naming stderr, expected one line '<3>nosuchif0: ...':" \
        "$(head -n 3 "$TMP/journal.err")"
fi
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
    : >"$TMP/syslog.stderr"
    local stream; stream=$(stat -c %d:%i "$TMP/syslog.stderr")
    JOURNAL_STREAM=$stream "$BIN/wsstatsd" -i lo -f 'tcp port 9' -w "$TMP/syslog.db" --syslog --stats-interval 1s \
        2>>"$TMP/syslog.stderr" &
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
    # stderr is the journal's stream ($JOURNAL_STREAM names it): sd-daemon(3) priorities
    if grep -q '^<5>capturing on lo' "$TMP/syslog.stderr" && grep -q '^<6>stats: packets' "$TMP/syslog.stderr" &&
        ! grep -qv '^<[0-7]>' "$TMP/syslog.stderr"; then
        pass live/journal-stream-priorities
    else
        fail live/journal-stream-priorities "with JOURNAL_STREAM naming stderr, expected '<5>capturing on lo'," \
            "'<6>stats: packets' and every line starting <N>; stderr:" "$(head -4 "$TMP/syslog.stderr")"
    fi
}
syslog_case

exit $FAILED
