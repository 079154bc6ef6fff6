#!/usr/bin/env bash
# tests/hostile/run.sh — wsstatsd against hostile captures (issue 8).
#
#  1. snaplen: captures cut with `editcap -s 60|96|200` (synthetic
#     conversations, raw-IP connections whose handshakes fit in 20-byte
#     segments so that records survive even a cut at 60, a real-peer
#     recording when root and tcpdump allow, and the public corpus in
#     ../shared/corpus): every capture uncut and cut gives exit 0 and nothing
#     on stderr; every record of a connection with a packet cut carries
#     `truncated` (a packet cut inside its TCP header belongs to no
#     connection: the decoder counts it as truncated instead); no record for
#     a connection that was no WebSocket uncut; a close frame or an HTTP
#     status line still captured whole is still recorded; every record keeps
#     the invariants of docs/design.md §2. Each of these checks fails if it found
#     nothing to check at some snaplen. Under valgrind too (normal build only).
#  2. corruption: seeded random bytes changed in the packets (exit 0, quiet,
#     sane records), and in the pcap record headers as well: exactly what
#     wsstatsd(8) documents, i.e. exit 0 and quiet where libpcap reads the
#     file to its end, else exit 1 and one line naming the file and the
#     packets read before the damage (where libpcap stops is computed from
#     the file); the records of connections that ended before the damage are
#     kept unchanged; a caplen of 0xfffffff0 (exit 1, records kept). A few
#     seeds under valgrind.
#  3. floods and hostile lengths, each under an explicit --memcap, with
#     wsstatsd -v: peak RSS stays under the measured baseline + memcap + the
#     fixed costs named per case (normal build only: the sanitizers' own
#     memory says nothing about ours), the counter for the limit or the
#     oddity is as expected, exit 0, the records are right and sane:
#       a) HOSTILE_OOO_SEGMENTS (1,000,000) one-byte segments of one
#          connection, out of order three ways;
#       b) frame headers claiming 2^63, 2^64-1 and 2^63-1 payload bytes
#          (4 counted as lengths with the top bit set, RFC 6455 §5.2);
#       c) close reasons that are not UTF-8;
#       d) upgrade requests with 10,000 headers, a 10 MB header line (both
#          counted as heads over 16 KiB, and recorded), 100 headers before
#          the upgrade headers, 3,000 after them;
#       e) 3,000 upgrade requests of 16 KB that never end, --memcap 4M
#          (their head buffers are charged: evicted, recorded);
#       f) 100,000 flows of one TLS-like segment, --memcap 16M (nDPI's state
#          for each is charged: evicted, every one counted in tls_flows);
#       g) the use-after-free at exit fixed in 4de8cfb: one such flow, and
#          10,000, left in the table at the end (exit 0, quiet, tls_flows);
#       h) a million SYN-only flows around an open WebSocket connection,
#          --memcap 16M: the flood is evicted, the connection recorded clean.
#  4. a database reused: hostile captures (damaged ones included) written
#     into a database that already holds records leave those rows (and the
#     captures, tls_flows and meta rows) byte for byte as they were, and
#     PRAGMA integrity_check says ok.
#
# Every input is made by tests/hostile/hostile.py from a seed; a failing case
# prints the commands that rebuild its input. Output per tests/CONTRACT.md.
# Env: BIN (default build), CORPUS (default ../shared/corpus),
#   FLOOD_RSS_CHECK (default 1 for BIN=build, else 0), HOSTILE_SEEDS (20),
#   HOSTILE_OOO_SEGMENTS (1000000), HOSTILE_OOO_TIMEOUT (2 s + 1 s per 100k
#   segments: a linear reassembler needs a tenth of that, under ASan too),
#   HOSTILE_SYN_FLOWS (1000000), HOSTILE_VALGRIND=0 skips valgrind,
#   HOSTILE_REAL_PEERS=0 skips recording, KEEP=1 keeps the work directory.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-build}
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
H=tests/hostile/hostile.py
CORPUS=${CORPUS:-../shared/corpus}
SEEDS=${HOSTILE_SEEDS:-20}
OOO_N=${HOSTILE_OOO_SEGMENTS:-1000000}
SYN_N=${HOSTILE_SYN_FLOWS:-1000000}
OOO_TIMEOUT=${HOSTILE_OOO_TIMEOUT:-$((2 + OOO_N / 100000))}
if [ -z "${FLOOD_RSS_CHECK:-}" ]; then
    FLOOD_RSS_CHECK=0
    [ "$(basename "$BIN")" = build ] && FLOOD_RSS_CHECK=1
fi
# Some hundred wsstatsd runs, each creating a database: on tmpfs when there is one.
TMPROOT=${TMPDIR:-/tmp}
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && TMPROOT=/dev/shm
T=$(mktemp -d "$TMPROOT/wsstats-hostile.XXXXXX")
chmod 755 "$T"
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "# hostile: kept $T" >&2; else rm -rf "$T"; fi; }
trap cleanup EXIT
failed=0
ok() { echo "ok - hostile/$1"; }
skip() { echo "ok - hostile/$1 # SKIP $2"; }
not_ok() {
    echo "not ok - hostile/$1"
    shift
    local l x
    for l in "$@"; do
        [ -n "$l" ] || continue
        while IFS= read -r x; do echo "#  $x"; done <<<"$l"
    done
    failed=1
}
# check NAME GOOD-TEXT PROBLEM... : ok if no problem lines were given
check() {
    local name=$1 good=$2
    shift 2
    local p=() l
    for l in "$@"; do [ -n "$l" ] && p+=("$l"); done
    if [ ${#p[@]} -eq 0 ]; then ok "$name ($good)"; else not_ok "$name" "${p[@]:0:8}"; fi
}
has_problems() { [ -n "$(printf '%s' "$@")" ]; }
gen() { "$PY" "$H" "$@"; }
# ws LOG TIMEOUT ARGS... : wsstatsd with a time limit; stderr to LOG; its exit status
ws() {
    local log=$1 limit=$2
    shift 2
    timeout -k 5 "$limit" "$BIN/wsstatsd" "$@" 2>"$log"
}
# Sanitizer or valgrind reports, copied to our stderr for tests/run.sh.
reports() {
    if grep -qE 'Sanitizer|runtime error:|==[0-9]+== [A-Z]' "$1"; then
        cat "$1" >&2
        grep -m3 -E 'Sanitizer|runtime error:|==[0-9]+== [A-Z]' "$1"
    fi
}
peak_kib() { sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$1"; }
# quiet LOG: problem lines if a -q run wrote anything (a sanitizer report included)
quiet() { [ -s "$1" ] && echo "stderr: $(head -c 300 "$1" | tr '\n' ' ')"; }
counter() { sed -n "s/.*[:,] \([0-9]*\) $1.*/\1/p" "$2" | head -1; }
# pycheck CHECK ARGS...: what a hostile.py check found; its failure too
pycheck() {
    local out
    out=$("$PY" "$H" "$@" 2>&1) || echo "${out:-hostile.py $1 failed without a word}"
}
q() { sqlite3 "$1" "$2" 2>&1; }

if [ ! -x "$BIN/wsstatsd" ]; then
    not_ok wsstatsd-exists "$BIN/wsstatsd not found (run make)"
    exit 1
fi
VALGRIND=0
if [ "$(basename "$BIN")" != build ]; then
    vg_skip="valgrind runs with BIN=build only (not under the sanitizers)"
elif [ "${HOSTILE_VALGRIND:-1}" = 0 ]; then
    vg_skip="HOSTILE_VALGRIND=0"
elif ! command -v valgrind >/dev/null; then
    vg_skip="valgrind not installed"
else
    VALGRIND=1
fi
# Valgrind runs go in the background (they are slow, and there are cores);
# vg_start NAME ARGS... starts one, vg_check NAME DESCRIPTION OK-EXITS waits
# for it and judges: exit 99 is valgrind's (an error or a leak).
VG_PIDS=()
vg_start() {
    local name=$1
    shift
    (timeout -k 5 300 valgrind -q --error-exitcode=99 --leak-check=full \
        "$BIN/wsstatsd" -q "$@" 2>"$T/vg-$name.log"
        echo $? >"$T/vg-$name.rc") &
    VG_PIDS+=($!)
}
vg_check() {
    local name=$1 what=$2 oks=$3 rc
    wait "${VG_PIDS[@]}" 2>/dev/null
    rc=$(cat "$T/vg-$name.rc" 2>/dev/null)
    if [[ " $oks " == *" ${rc:-none} "* ]]; then
        ok "valgrind-$name ($what: exit $rc, no error, no leak)"
    else
        cat "$T/vg-$name.log" >&2
        not_ok "valgrind-$name" "$what: exit ${rc:-?} (99: valgrind found errors)" \
            "$(grep -m6 -E '==[0-9]+==|wsstatsd' "$T/vg-$name.log" | cut -c1-200)"
    fi
}

# ================================================================ 1. snaplen
gen synth "$T/synth.pcap"
gen bigframe "$T/big.pcap"
gen badutf8 "$T/utf.pcap"
mkdir -p "$T/cut"
captures=(synth smallseg)
cp "$T/synth.pcap" "$T/cut/synth.pcap"
gen smallseg "$T/cut/smallseg.pcap"
if [ "${HOSTILE_REAL_PEERS:-1}" = 0 ]; then
    skip real-peer-capture "HOSTILE_REAL_PEERS=0"
elif [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null; then
    skip real-peer-capture "needs root and tcpdump to record real peers"
elif tests/peers/record.sh "$T/cut/real.pcap" 12 >"$T/record.log" 2>&1; then
    captures+=(real)
    ok "real-peer-capture (12 connections of python-websockets and Node ws, recorded on lo)"
elif grep -qE 'cannot record|not installed|is missing' "$T/record.log"; then
    skip real-peer-capture "$(grep -m1 -E 'cannot record|not installed|is missing' "$T/record.log")"
else
    not_ok real-peer-capture "tests/peers/record.sh failed:" "$(tail -3 "$T/record.log")"
fi
have_editcap=0
command -v editcap >/dev/null && have_editcap=1
[ -d "$CORPUS" ] || echo "hostile: corpus folder not found: $CORPUS (snaplen cuts of the project's own captures only)" >&2
if [ -d "$CORPUS" ] && [ $have_editcap = 1 ]; then
    for f in "$CORPUS"/*.pcap "$CORPUS"/*.pcapng; do
        [ -f "$f" ] || continue
        name=$(basename "$f")
        name=${name%.*}
        editcap -F pcap "$f" "$T/cut/$name.pcap" 2>/dev/null && captures+=("$name")
    done
fi

if [ $have_editcap = 0 ]; then
    for n in 60 96 200; do skip "snaplen-$n" "editcap (wireshark-common) not installed"; done
else
    problems=()
    for c in "${captures[@]}"; do
        ws "$T/cut/$c.err" 60 -q -r "$T/cut/$c.pcap" -w "$T/cut/$c.db"
        rc=$?
        if [ "$rc" -ne 0 ] || [ -s "$T/cut/$c.err" ]; then
            problems+=("$c uncut: exit $rc, stderr: $(head -c 300 "$T/cut/$c.err" | tr '\n' ' ')")
            reports "$T/cut/$c.err" >/dev/null
        fi
    done
    check "uncut-exit-0-quiet" "${#captures[@]} captures" "${problems[@]}"
    for n in 60 96 200; do
        problems=()
        triples=()
        for c in "${captures[@]}"; do
            cut=$T/cut/$c-$n
            editcap -F pcap -s "$n" "$T/cut/$c.pcap" "$cut.pcap"
            ws "$cut.err" 60 -q -r "$cut.pcap" -w "$cut.db"
            rc=$?
            if [ "$rc" -ne 0 ] || [ -s "$cut.err" ]; then
                problems+=("$c cut at $n: exit $rc, stderr: $(head -c 300 "$cut.err" | tr '\n' ' ')")
                reports "$cut.err" >/dev/null
            fi
            [ -f "$cut.db" ] && triples+=("$c" "$T/cut/$c.db" "$cut.db" "$cut.pcap")
        done
        check "snaplen-$n-exit-0-quiet" "${#captures[@]} captures" "${problems[@]}"
        "$PY" "$H" check-trunc "$n" "${triples[@]}" || failed=1
    done
    # A packet cut inside its headers is no connection's: counted by the decoder.
    for c in synth real; do
        [ -f "$T/cut/$c-60.pcap" ] || continue
        ws "$T/cut/$c-60.v" 60 -v -r "$T/cut/$c-60.pcap" -w "$T/cut/$c-60v.db"
        got=$(sed -n 's/.* \([0-9]*\) truncated, .*/\1/p' "$T/cut/$c-60.v")
        want=$("$PY" "$H" hdrcut "$T/cut/$c-60.pcap")
        if [ "$got" = "$want" ]; then
            ok "snaplen-60-header-cuts-counted-$c ($got packets cut inside their headers)"
        else
            not_ok "snaplen-60-header-cuts-counted-$c" "decoder says ${got:-?} truncated, the capture has $want"
        fi
    done
    if [ $VALGRIND = 1 ]; then
        for n in 60 96 200; do vg_start "snaplen-$n" -r "$T/cut/synth-$n.pcap" -w "$T/vg-$n.db"; done
    fi
fi

# ================================================================ 2. corruption
corrupt_base=("$T/synth.pcap")
[ -f "$T/cut/real.pcap" ] && corrupt_base+=("$T/cut/real.pcap")
for base in "${corrupt_base[@]}"; do
    b=$(basename "$base" .pcap)
    dir=$T/cor-$b
    mkdir -p "$dir"
    ws "$dir/clean.err" 60 -q -r "$base" -w "$dir/clean.db"
    gen corrupt-set "$base" "$dir" "$SEEDS"
    for f in "$dir"/*/"$b.pcap"; do
        ws "${f%.pcap}.err" 60 -q -r "$f" -w "${f%.pcap}.db"
        echo $? >"${f%.pcap}.rc"
    done
    "$PY" "$H" check-corrupt "$base" "$dir/clean.db" "$dir" "$SEEDS" "$BIN" || failed=1
done
if [ $VALGRIND = 1 ]; then
    for seed in 1 2; do
        vg_start "corrupt-payload-$seed" -r "$T/cor-synth/payload-$seed/synth.pcap" -w "$T/vg-p$seed.db"
        vg_start "corrupt-any-$seed" -r "$T/cor-synth/any-$seed/synth.pcap" -w "$T/vg-a$seed.db"
    done
    vg_start corrupt-caplen -r "$T/cor-synth/caplen/synth.pcap" -w "$T/vg-c.db"
    vg_start length-claims -r "$T/big.pcap" -w "$T/vg-big.db"
    vg_start invalid-utf8-close-reason -r "$T/utf.pcap" -w "$T/vg-utf.db"
    for n in 60 96 200; do
        [ $have_editcap = 1 ] && vg_check "snaplen-$n" "synthetic capture cut at $n" 0
    done
    for seed in 1 2; do
        vg_check "corrupt-payload-$seed" "synthetic capture, packet bytes damaged, seed $seed" 0
        vg_check "corrupt-any-$seed" "synthetic capture, record headers too, seed $seed" "0 1"
    done
    vg_check corrupt-caplen "synthetic capture, a caplen of 0xfffffff0" 1
    vg_check length-claims "frames claiming 2^63 and 2^64-1 bytes" 0
    vg_check invalid-utf8-close-reason "close reasons not UTF-8" 0
else
    skip valgrind "$vg_skip"
fi

# ================================================================ 3. floods
FLOWS=1024 # --max-flows: the fixed table (8 bytes a bucket) stays small
gen one "$T/one.pcap"
ws "$T/one.log" 60 -v --max-flows $FLOWS -r "$T/one.pcap" -w "$T/one.db"
BASE=$(peak_kib "$T/one.log")
# rss_problem LOG MEMCAP-KIB [EXTRA-KIB WHAT]: a line if peak RSS is over
# the measured baseline + the memcap + the flow table of --max-flows $FLOWS
# (8 bytes a bucket) + a fixed cost the case names + 2 MiB of slack (malloc arenas of three threads)
rss_problem() {
    [ "$FLOOD_RSS_CHECK" = 1 ] || return 0
    local peak limit extra=${3:-0} what=${4:-}
    peak=$(peak_kib "$1")
    limit=$((BASE + $2 + FLOWS * 8 / 1024 + extra + 2048))
    [ -n "$peak" ] && [ "$peak" -le "$limit" ] ||
        echo "peak RSS ${peak:-?} KiB > $limit KiB (baseline $BASE + memcap $2 + table $((FLOWS * 8 / 1024))${what:+ + $extra $what} + 2048 slack)"
}
rss_text() {
    if [ "$FLOOD_RSS_CHECK" = 1 ]; then echo "peak $(peak_kib "$1") KiB, baseline $BASE KiB"; else echo "RSS checked with BIN=build"; fi
}

# ---- a) one-byte segments out of order
frames=$((OOO_N / 4 + 1)) # N/4 text frames and the close
for order in window reverse hole; do
    case $order in
    window) memcap=16M mkib=16384 limit=60 ;; # windows of 16: little held at a time
    reverse) # everything held until the memcap is full: 7/8 of what the segments need
        mkib=$((OOO_N * 29 / 1024)) memcap=$((OOO_N * 29 / 1024))K limit=60 ;;
    hole) memcap=64M mkib=65536 limit=$OOO_TIMEOUT ;; # all held, each after the last
    esac
    name="ooo-$order-$OOO_N-segments"
    redo="python3 $H ooo OUT $OOO_N $order; $BIN/wsstatsd -v --max-flows $FLOWS --memcap $memcap -r OUT -w DB"
    gen ooo "$T/$order.pcap" "$OOO_N" $order
    start=$SECONDS
    ws "$T/$order.log" "$limit" -v --max-flows $FLOWS --memcap "$memcap" -r "$T/$order.pcap" -w "$T/$order.db"
    rc=$?
    took=$((SECONDS - start))
    rm -f "$T/$order.pcap"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        not_ok "$name" "did not finish in $limit s ($redo)"
        continue
    fi
    held=$(counter "segments held out of order" "$T/$order.log")
    hits=$(sed -n 's/.*memcap hit \([0-9]*\) times.*/\1/p' "$T/$order.log")
    rec=$(q "$T/$order.db" "SELECT close_code, outcome, frames_server, coalesce(violations, '') FROM connections")
    p=()
    [ "$rc" -eq 0 ] || p+=("exit $rc: $(reports "$T/$order.log") $(tail -c 300 "$T/$order.log")")
    [ "${held:-0}" -gt 0 ] || p+=("no segments held out of order counted")
    case $order in
    reverse)
        [ "${hits:-0}" -gt 0 ] || p+=("the memcap was never hit (memcap hit ${hits:-?} times)")
        case $rec in
        1000\|clean\|*gap*) ;;
        *) p+=("record: want close 1000 clean with violation gap, got: $rec") ;;
        esac
        ;;
    *)
        [ "$rec" = "1000|clean|$frames|" ] || p+=("record: want 1000|clean|$frames|, got: $rec")
        ;;
    esac
    p+=("$(rss_problem "$T/$order.log" "$mkib")")
    has_problems "${p[@]}" && p+=("reproduce: $redo")
    check "$name" "${took}s, $held held, memcap hit ${hits:-0} times, $(rss_text "$T/$order.log")" "${p[@]}"
done

# ---- b) enormous length claims
ws "$T/big.log" 30 -v --max-flows $FLOWS --memcap 4M -r "$T/big.pcap" -w "$T/big.db"
rc=$?
p=()
[ "$rc" -eq 0 ] || p+=("exit $rc: $(reports "$T/big.log") $(tail -c 300 "$T/big.log")")
got=$(q "$T/big.db" "SELECT count(*) FROM connections")
[ "$got" = 5 ] || p+=("want 5 records, got $got")
# RFC 6455 §5.2: the top bit of a 64-bit length MUST be 0; 2^63 and 2^64-1
# (each claimed by either side) break it, 2^63-1 does not
msb=$(counter "frame lengths with the top bit set" "$T/big.log")
[ "$msb" = 4 ] || p+=("want 4 frame lengths with the top bit set counted (wsstatsd -v), got '${msb}'")
p+=("$(rss_problem "$T/big.log" 4096)")
# the claimed side's close is inside the payload; the other side's is seen
p+=("$(q "$T/big.db" "SELECT path || ': ' || close_code || ' ' || outcome || ' initiator ' || close_initiator
    FROM connections WHERE NOT (close_code = 1000 AND outcome = 'half_closed' AND
    close_initiator = CASE WHEN path LIKE '/claim-server%' THEN 'client' ELSE 'server' END)")")
p+=("$(pycheck sane "$T/big.db")")
p+=("$(pycheck check-big "$T/big.db" "$T/big.pcap")")
has_problems "${p[@]}" && p+=("reproduce: python3 $H bigframe OUT; $BIN/wsstatsd -r OUT -w DB")
check length-claims-2^63-2^64 "5 records, the other side's close recorded, byte counts within what was sent, $msb lengths with the top bit set counted; $(rss_text "$T/big.log")" "${p[@]}"

# ---- c) close reasons that are not UTF-8
ws "$T/utf.log" 30 -v --max-flows $FLOWS --memcap 4M -r "$T/utf.pcap" -w "$T/utf.db"
rc=$?
p=()
[ "$rc" -eq 0 ] || p+=("exit $rc: $(reports "$T/utf.log") $(tail -c 300 "$T/utf.log")")
want=$("$PY" -c '
import sys; sys.path.insert(0, "tests/hostile"); import hostile
for i, (side, code, reason, valid) in enumerate(hostile.BADUTF8):
    print("/utf8-%d|%d|%s|%d|%s|%s" % (i, code, side, code, reason.hex().upper(), "" if valid else "invalid_utf8_reason"))')
got=$(q "$T/utf.db" "SELECT path, close_code, close_initiator, CASE close_initiator WHEN 'client' THEN client_close_code
    ELSE server_close_code END, hex(close_reason), coalesce(violations, '') FROM connections ORDER BY path")
[ "$got" = "$want" ] || p+=("want (path|code|initiator|its code|reason hex|violations): ${want//$'\n'/ }"
    "got: ${got//$'\n'/ }")
json_bad=$("$BIN/wsstats" --db "$T/utf.db" connections --format json 2>&1 | "$PY" -c '
import json, sys
for line in sys.stdin.buffer.read().splitlines():
    try:
        json.loads(line.decode("utf-8"))
    except Exception as e:
        print("wsstats connections --format json: %s: %r" % (e, line[:120]))' 2>&1)
p+=("$json_bad")
counted=$("$BIN/wsstats" --db "$T/utf.db" summary --format json 2>/dev/null |
    sed -n 's/.*"key":"invalid_utf8_reason","count":\([0-9]*\).*/\1/p')
[ "$counted" = 6 ] || p+=("wsstats summary counts invalid_utf8_reason ${counted:-?} times, want 6")
p+=("$(rss_problem "$T/utf.log" 4096)")
check invalid-utf8-close-reason "6 reasons flagged invalid_utf8_reason, codes and raw bytes kept, JSON output valid UTF-8; $(rss_text "$T/utf.log")" "${p[@]}"

# ---- d) upgrade requests with 10,000 headers / a 10 MB header line
# Heads over 16 KiB are read up to the cut and their rest skipped: all four
# connections are recorded, the two huge ones counted.
gen headers "$T/hdr.pcap"
ws "$T/hdr.log" 30 -v --max-flows $FLOWS --memcap 4M -r "$T/hdr.pcap" -w "$T/hdr.db"
rc=$?
rm -f "$T/hdr.pcap"
p=()
[ "$rc" -eq 0 ] || p+=("exit $rc: $(reports "$T/hdr.log") $(tail -c 300 "$T/hdr.log")")
p+=("$(rss_problem "$T/hdr.log" 4096)")
p+=("$(pycheck sane "$T/hdr.db")")
oversized=$(counter "handshake heads over 16 KiB" "$T/hdr.log")
[ "$oversized" = 2 ] || p+=("want 2 handshake heads over 16 KiB counted (wsstatsd -v), got '${oversized}'")
has_problems "${p[@]}" && p+=("reproduce: python3 $H headers OUT; $BIN/wsstatsd -v --memcap 4M -r OUT -w DB")
check huge-upgrade-requests "10,000 headers and a 10 MB line: $oversized heads over 16 KiB counted; $(rss_text "$T/hdr.log")" "${p[@]}"
for path in tenk tenmb upgrade-after-100 many-3000; do
    got=$(q "$T/hdr.db" "SELECT host, http_status, close_code, outcome, coalesce(violations, '') FROM connections WHERE path = '/$path'")
    if [ "$got" = "h.test|101|1000|clean|" ]; then
        ok "upgrade-request-$path-recorded ($got)"
    else
        not_ok "upgrade-request-$path-recorded" "want h.test|101|1000|clean|, got: '${got}'" \
            "reproduce: python3 $H headers OUT; $BIN/wsstatsd -v -r OUT -w DB; sqlite3 DB \"SELECT * FROM connections\""
    fi
done

# ---- e) upgrade requests that never end: their head buffers are charged
# 3,000 heads of 16 KB each would hold 48 MB; under --memcap 4M the oldest
# connections are evicted (and recorded). Besides the memcap: SQLite's
# page cache grows with the records written (1 KiB a record allowed).
HF_N=3000
gen headflood "$T/hf.pcap" $HF_N 16000
start=$SECONDS
ws "$T/hf.log" 60 -v --max-flows $FLOWS --memcap 4M -r "$T/hf.pcap" -w "$T/hf.db"
rc=$?
took=$((SECONDS - start))
rm -f "$T/hf.pcap"
p=()
[ "$rc" -eq 0 ] || p+=("exit $rc: $(reports "$T/hf.log") $(tail -c 300 "$T/hf.log")")
ev=$(sed -n 's/.* \([0-9]*\) WebSocket and .*/\1/p' "$T/hf.log")
[ "${ev:-0}" -gt 0 ] || p+=("no connection evicted (${ev:-?}): the head buffers were not charged to the memcap")
got=$(q "$T/hf.db" "SELECT count(*), sum(outcome = 'unfinished'), sum(termination = 'evicted') FROM connections")
[ "$got" = "$HF_N|$HF_N|${ev:-?}" ] || p+=("want $HF_N records, all unfinished, ${ev:-?} evicted; got $got")
p+=("$(rss_problem "$T/hf.log" 4096 "$HF_N" "records")")
p+=("$(pycheck sane "$T/hf.db")")
has_problems "${p[@]}" && p+=("reproduce: python3 $H headflood OUT $HF_N 16000; $BIN/wsstatsd -v --memcap 4M -r OUT -w DB")
check "unended-upgrades-$HF_N-under-memcap" "${took}s, ${ev:-?} evicted and recorded; $(rss_text "$T/hf.log")" "${p[@]}"

# ---- f) flows nDPI keeps state for: charged by the classifier's estimate
# 100,000 one-packet TLS-like flows (nDPI waits for more of each): under
# --memcap 16M the oldest are evicted. Besides the memcap: the ring to the
# nDPI thread (8 MiB, filled when the thread lags), flows given up whose
# state the thread has yet to free (at most 1024, 2.8 MiB: classify.c
# LIMBO_MAX), and a table for up to 65,536 flows (512 KiB).
TF_N=100000
gen tlsflows "$T/tf.pcap" $TF_N
start=$SECONDS
ws "$T/tf.log" 60 -v --max-flows 65536 --memcap 16M -r "$T/tf.pcap" -w "$T/tf.db"
rc=$?
took=$((SECONDS - start))
rm -f "$T/tf.pcap"
p=()
[ "$rc" -eq 0 ] || p+=("exit $rc: $(reports "$T/tf.log") $(tail -c 300 "$T/tf.log")")
ev=$(sed -n 's/.* (\([0-9]*\) of those by --memcap).*/\1/p' "$T/tf.log")
[ "${ev:-0}" -gt 0 ] || p+=("no flow evicted by the memcap (${ev:-?}): nDPI's state was not charged")
got=$(q "$T/tf.db" "SELECT (SELECT count(*) FROM connections) || ' ' || coalesce((SELECT sum(connections) FROM tls_flows), 0)")
[ "$got" = "0 $TF_N" ] || p+=("want no records and $TF_N TLS flows counted, got (records, TLS flows): $got")
p+=("$(rss_problem "$T/tf.log" 16384 $((8192 + 2870 + 512)) "ring, pending releases, table")")
has_problems "${p[@]}" && p+=("reproduce: python3 $H tlsflows OUT $TF_N; $BIN/wsstatsd -v --max-flows 65536 --memcap 16M -r OUT -w DB")
check "ndpi-state-$TF_N-flows-under-memcap" "${took}s, $ev evicted by the memcap, $TF_N counted as TLS; $(rss_text "$T/tf.log")" "${p[@]}"

# ---- g) flows left for nDPI at exit (the use-after-free of commit 4de8cfb)
# A flow nDPI has not decided on is given up when the engine is freed at
# exit, and nDPI's guess (TLS) is counted then: the store must still be
# open. One such flow, and 10,000; under ASan the old order was a
# heap-use-after-free.
for n in 1 10000; do
    gen tlsflows "$T/left-$n.pcap" $n
    ws "$T/left-$n.err" 60 -q -r "$T/left-$n.pcap" -w "$T/left-$n.db"
    rc=$?
    p=()
    [ "$rc" -eq 0 ] || p+=("exit $rc: $(reports "$T/left-$n.err") $(tail -c 300 "$T/left-$n.err")")
    p+=("$(quiet "$T/left-$n.err")")
    got=$(q "$T/left-$n.db" "SELECT server_ip, server_port, sni, connections FROM tls_flows")
    [ "$got" = "10.99.0.1|5000||$n" ] || p+=("want the tls_flows row 10.99.0.1|5000||$n, got '$got'")
    has_problems "${p[@]}" && p+=("reproduce: python3 $H tlsflows OUT $n; $BIN/wsstatsd -q -r OUT -w DB")
    check "tls-flows-left-at-exit-$n" "exit 0, quiet, $n counted in tls_flows" "${p[@]}"
done

# ---- h) a million SYN-only flows around a live WebSocket connection
# The flood goes (new flows are evicted first), the connection stays and is
# recorded clean. A table for up to 65,536 flows (512 KiB) besides the memcap.
gen synaround "$T/syn.pcap" "$SYN_N"
start=$SECONDS
ws "$T/syn.log" 60 -v --max-flows 65536 --memcap 16M -r "$T/syn.pcap" -w "$T/syn.db"
rc=$?
took=$((SECONDS - start))
rm -f "$T/syn.pcap"
p=()
[ "$rc" -eq 0 ] || p+=("exit $rc: $(reports "$T/syn.log") $(tail -c 300 "$T/syn.log")")
ev=$(sed -n 's/.* \([0-9]*\) other flows evicted.*/\1/p' "$T/syn.log")
bymem=$(sed -n 's/.* (\([0-9]*\) of those by --memcap).*/\1/p' "$T/syn.log")
[ "${bymem:-0}" -gt 0 ] || p+=("no flow evicted by the memcap (${bymem:-?})")
[ "${ev:-0}" -gt $((SYN_N / 2)) ] || p+=("only ${ev:-?} of $SYN_N SYN-only flows evicted")
got=$(q "$T/syn.db" "SELECT path, close_code, close_reason, outcome, termination FROM connections")
[ "$got" = "/through-the-flood|1000|after|clean|fin_client" ] ||
    p+=("want the one connection recorded /through-the-flood|1000|after|clean|fin_client, got '$got'")
p+=("$(rss_problem "$T/syn.log" 16384 512 "table")")
has_problems "${p[@]}" && p+=("reproduce: python3 $H synaround OUT $SYN_N; $BIN/wsstatsd -v --max-flows 65536 --memcap 16M -r OUT -w DB")
check "syn-flood-$SYN_N-around-a-connection" "${took}s, ${ev:-?} evicted (${bymem:-?} by the memcap), the connection recorded clean; $(rss_text "$T/syn.log")" "${p[@]}"

# ================================================================ 4. a database reused
# Records already committed are never damaged: hostile captures, damaged
# files among them (exit 1), go into a database that holds records; its
# earlier rows stay byte for byte, and SQLite finds the file intact.
R=$T/reuse.db
gen tlsflows "$T/reuse-tls.pcap" 3
p=()
for f in "$T/synth.pcap" "$T/cut/smallseg.pcap" "$T/reuse-tls.pcap"; do
    ws "$T/reuse.err" 60 -q -r "$f" -w "$R" || p+=("$(basename "$f") into a new database: exit $?: $(head -c 200 "$T/reuse.err")")
done
before=$(q "$R" "SELECT (SELECT count(*) FROM connections) || ' ' || (SELECT count(*) FROM tls_flows)")
p+=("$(pycheck snapshot "$R" "$T/reuse.snap")")
inputs=("$T/big.pcap" "$T/utf.pcap" "$T/cor-synth/caplen/synth.pcap" "$T/cut/synth-60.pcap")
for d in "$T"/cor-synth/any-*; do
    [ "$(cat "$d/synth.rc" 2>/dev/null)" = 1 ] && { inputs+=("$d/synth.pcap"); break; } # one that stops libpcap
done
gen headers "$T/reuse-hdr.pcap"
inputs+=("$T/reuse-hdr.pcap")
for f in "${inputs[@]}"; do
    [ -f "$f" ] || continue
    ws "$T/reuse.err" 60 -q -r "$f" -w "$R"
    rc=$?
    [ "$rc" -le 1 ] || p+=("$f: exit $rc: $(reports "$T/reuse.err") $(head -c 200 "$T/reuse.err")")
done
rm -f "$T/reuse-hdr.pcap"
p+=("$(pycheck check-reuse "$T/reuse.snap" "$R")")
after=$(q "$R" "SELECT count(*) FROM connections")
[ "${after:-0}" -gt "${before%% *}" ] || p+=("no record added by ${#inputs[@]} captures (${before%% *} before, ${after:-?} after)")
check database-reused "${#inputs[@]} hostile captures into a database of ${before%% *} records and ${before##* } TLS rows: those rows unchanged, $((after - ${before%% *})) records added, integrity_check ok" "${p[@]}"
exit $failed
