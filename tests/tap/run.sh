#!/usr/bin/env bash
# tests/tap/run.sh — TCP reassembly that holds up on a real network tap.
#
#  - property: random WebSocket conversations written as sent and as a tap
#    might deliver them (re-split, retransmitted with other boundaries,
#    duplicated, reordered, sequence numbers wrapping, ports reused) give the
#    same records (tests/tap/property.py, TAP_SEEDS seeds);
#  - drop: a data segment lost mid-conversation gives violation `gap` and
#    still the close code and initiator;
#  - handshake loss: the same conversations, each losing its request, its
#    response, either with the frame after it, or its SYN and request,
#    keep their records, codes, initiators and reasons, and no record is
#    invented (tests/tools/pcaploss.py, losscheck.py);
#  - real peers: a capture of python-websockets and Node ws traffic,
#    reordered in small windows with duplicates, gives the same records,
#    and with handshakes lost keeps what losscheck.py says it keeps;
#  - floods: a SYN flood (TAP_SYN_FLOWS, a million) and many concurrent
#    WebSocket connections stay under --memcap, with every limit counted;
#    peak RSS is held to a baseline measured on a one-connection capture,
#    plus the memcap and the flow table, in the normal build.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-build}
SEEDS=${TAP_SEEDS:-100}
SYN_N=${TAP_SYN_FLOWS:-1000000}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0
ok() { echo "ok - tap/$1"; }
not_ok() { echo "not ok - tap/$1"; shift; for l in "$@"; do echo "#  $l"; done; failed=1; }

"$PY" tests/tap/property.py --bin "$BIN" --seeds "$SEEDS" || failed=1
"$PY" tests/tap/property.py --bin "$BIN" --seeds $((SEEDS < 40 ? SEEDS : 40)) --drop || failed=1
"$PY" tests/tap/property.py --bin "$BIN" --seeds "$SEEDS" --handshake-loss || failed=1

# ---- real peers, reordered with duplicates ----
COLS="client_ip, client_port, server_port, host, path, http_status, close_code, close_reason, close_initiator,
      client_close_code, server_close_code, outcome, termination, frames_client, frames_server, messages_client,
      messages_server, bytes_client, bytes_server, pings, pongs, violations"
if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null; then
    echo "ok - tap/real-peers-reordered # SKIP needs root and tcpdump to record real peers"
elif ! tests/peers/record.sh "$T/real.pcap" 60 >"$T/record.log" 2>&1; then
    not_ok real-peers-reordered "recording failed:" "$(tail -3 "$T/record.log")"
else
    "$BIN/wsstatsd" -q -r "$T/real.pcap" -w "$T/real.db"
    sqlite3 "$T/real.db" "SELECT $COLS FROM connections ORDER BY client_ip, client_port" >"$T/real.txt"
    for seed in 1 2 3; do
        "$PY" tests/tools/pcapmangle.py "$T/real.pcap" "$T/mangled.pcap" --window 4 --dup 0.1 --seed $seed
        rm -f "$T/mangled.db"
        "$BIN/wsstatsd" -q -r "$T/mangled.pcap" -w "$T/mangled.db"
        sqlite3 "$T/mangled.db" "SELECT $COLS FROM connections ORDER BY client_ip, client_port" >"$T/mangled.txt"
        if cmp -s "$T/real.txt" "$T/mangled.txt" && [ -s "$T/real.txt" ]; then
            ok "real-peers-reordered-seed-$seed ($(wc -l <"$T/real.txt") connections)"
        else
            not_ok "real-peers-reordered-seed-$seed" "$(diff "$T/real.txt" "$T/mangled.txt" | head -6)"
        fi
    done
    # the same peers with handshakes lost: each loss dealt out in turn over
    # the connections, from three starting points (tests/tools/pcaploss.py)
    for seed in 0 1 2; do
        "$PY" tests/tools/pcaploss.py "$T/real.pcap" "$T/lossy.pcap" --seed $seed --out-plan "$T/plan.txt"
        rm -f "$T/lossy.db"
        "$BIN/wsstatsd" -q -r "$T/lossy.pcap" -w "$T/lossy.db"
        "$PY" tests/tools/losscheck.py "$T/real.db" "$T/lossy.db" "$T/plan.txt" "tap/real-peers-handshake-loss-$seed" ||
            failed=1
    done
fi

# ---- one-sided captures (asymmetric routing): each direction alone ----
PYTHONPATH=tests/tools "$PY" - "$T" <<'PYEOF'
import sys
from pcapgen import Pcap, Conversation
t = sys.argv[1]
for side in ("client", "server"):
    p = Pcap("%s/one-%s.pcap" % (t, side))
    c = Conversation(p, "10.3.0.1", 41000, "10.3.0.2", 80)
    c.handshake(path="/one-sided")
    c.send_frame("client", 1, b"hello")
    c.send_frame("server", 1, b"world")
    c.close("server", 1001, "going away")
    c.close("client", 1001)
    c.fin("server")
    c.fin("client")
    keep = c.ep[side]
    p.segs = [s for s in p.segs if (s.src, s.sport) == keep]
    p.close()
PYEOF
for side in client server; do
    rm -f "$T/one.db"
    "$BIN/wsstatsd" -q -r "$T/one-$side.pcap" -w "$T/one.db"
    got=$(sqlite3 "$T/one.db" "SELECT ${side}_close_code, frames_$side, termination FROM connections")
    want="1001|2|fin_$side"
    [ "$got" = "$want" ] && ok "one-sided-$side-only ($got)" || not_ok "one-sided-$side-only" "want $want, got: $got"
done

# ---- floods under --memcap ----
peak_kib() { sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$1"; }
# The baseline: the program itself (nDPI's tables, SQLite, the ring to the
# nDPI thread's first pages), measured on one connection with the same
# options. The flood's bound: baseline + 16 MiB + a table for up to the
# 65,536 flows of --max-flows (512 KiB) + 1 MiB of slack.
PYTHONPATH=tests/tools "$PY" -c "from pcapgen import concurrent_websockets; concurrent_websockets('$T/one.pcap', 1)"
"$BIN/wsstatsd" -v --max-flows 65536 --memcap 16M -r "$T/one.pcap" -w "$T/one.db" 2>"$T/one.log"
base=$(peak_kib "$T/one.log")
PYTHONPATH=tests/tools "$PY" -c "from pcapgen import syn_flood; syn_flood('$T/syn.pcap', $SYN_N)"
start=$SECONDS
"$BIN/wsstatsd" -v --max-flows 65536 --memcap 16M -r "$T/syn.pcap" -w "$T/syn.db" 2>"$T/syn.log"
rc=$?
took=$((SECONDS - start))
rm -f "$T/syn.pcap"
peak=$(peak_kib "$T/syn.log")
evicted=$(sed -n 's/.* \([0-9]*\) other flows evicted.*/\1/p' "$T/syn.log")
bymem=$(sed -n 's/.* (\([0-9]*\) of those by --memcap).*/\1/p' "$T/syn.log")
limit=$((${base:-0} + 16384 + 512 + 1024))
name="syn-flood-$SYN_N-under-memcap"
if [ "$rc" -ne 0 ] || [ "${evicted:-0}" -le $((SYN_N / 2)) ] || [ "${bymem:-0}" -le 0 ]; then
    not_ok "$name" "exit $rc, evicted ${evicted:-?} (${bymem:-?} by the memcap) of $SYN_N" "$(tail -3 "$T/syn.log")"
elif [ "${FLOOD_RSS_CHECK:-1}" = 0 ]; then # sanitizers: RSS says nothing about our memory
    ok "$name (${took}s, ${evicted} flows evicted, ${bymem} by the memcap; RSS bound checked in the normal build)"
elif [ -n "$base" ] && [ -n "$peak" ] && [ "$peak" -le "$limit" ]; then
    ok "$name (${took}s, peak ${peak} KiB: baseline $base + 16384 memcap + 512 table + 1024 slack = $limit; ${evicted} flows evicted)"
else
    not_ok "$name" "peak ${peak:-?} KiB > $limit KiB (baseline ${base:-?} + 16384 memcap + 512 table + 1024 slack)" "$(tail -3 "$T/syn.log")"
fi

# A flood of response-only flows (the requests lost; plain answers, 101s
# to h2c, 101s claiming websocket followed by plain HTTP): no record, memory
# within the memcap, each counted in -v as not WebSocket after following it.
RESP_N=${TAP_RESPONSE_FLOWS:-30000}
PYTHONPATH=tests/tools "$PY" - "$T/resp.pcap" "$RESP_N" <<'PYEOF'
import sys
from pcapgen import Conversation, Pcap
p = Pcap(sys.argv[1])
answers = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
           b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
           b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
           b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"]
for i in range(int(sys.argv[2])):
    c = Conversation(p, "10.%d.%d.%d" % (20 + i // 65000, i // 250 % 260, i % 250 + 1), 20000 + i % 40000,
                     "10.30.0.1", 80)
    c.syn()
    c.seq["client"] = (c.seq["client"] + 180) & 0xFFFFFFFF  # the request, lost
    c.send("server", answers[i % 3])
    c.fin("server")
    c.fin("client")
p.close()
PYEOF
"$BIN/wsstatsd" -v --max-flows 65536 --memcap 16M -r "$T/resp.pcap" -w "$T/resp.db" 2>"$T/resp.log"
rc=$?
got=$(sqlite3 "$T/resp.db" "SELECT count(*) FROM connections")
after=$(sed -n 's/.* not WebSocket ([0-9]* by their first bytes, \([0-9]*\) after following them).*/\1/p' "$T/resp.log")
peak=$(peak_kib "$T/resp.log")
name="response-only-flood-$RESP_N-no-record"
if [ "$rc" -ne 0 ] || [ "$got" != 0 ] || [ "${after:-0}" != "$RESP_N" ]; then
    not_ok "$name" "exit $rc, $got records, ${after:-?} counted not WebSocket after following them (want $RESP_N)"
elif [ "${FLOOD_RSS_CHECK:-1}" != 0 ] && { [ -z "$peak" ] || [ "$peak" -gt "$limit" ]; }; then
    not_ok "$name" "peak ${peak:-?} KiB > $limit KiB"
else
    ok "$name (0 records, $after counted, peak ${peak:-?} KiB)"
fi
rm -f "$T/resp.pcap"

PYTHONPATH=tests/tools "$PY" -c "from pcapgen import concurrent_websockets; concurrent_websockets('$T/many.pcap', 5000)"
"$BIN/wsstatsd" -v -r "$T/many.pcap" -w "$T/many.db" 2>"$T/many.log"
got=$(sqlite3 "$T/many.db" "SELECT count(*) || ' ' || sum(outcome = 'clean' AND close_code = 1000) FROM connections")
[ "$got" = "5000 5000" ] && ok "5000-concurrent-connections-all-recorded (peak $(peak_kib "$T/many.log") KiB)" ||
    not_ok 5000-concurrent-connections-all-recorded "got: $got"

# A memcap too small for them all: the oldest are evicted, and said so;
# the later packets of an evicted connection are not picked up again as a
# second record; and -v's flow figures add up to the flows seen.
"$BIN/wsstatsd" -v --memcap 1M -r "$T/many.pcap" -w "$T/small.db" 2>"$T/small.log"
ev=$(sqlite3 "$T/small.db" "SELECT count(*) FROM connections WHERE termination = 'evicted'")
total=$(sqlite3 "$T/small.db" "SELECT count(*) || ' ' || count(DISTINCT client_port) FROM connections")
said=$(sed -n 's/.* \([0-9]*\) WebSocket and .*/\1/p' "$T/small.log")
[ "${ev:-0}" -gt 0 ] && [ "$ev" = "$said" ] && ok "memcap-evicts-oldest-connections ($ev evicted)" ||
    not_ok memcap-evicts-oldest-connections "evicted records: ${ev:-?}, reported: ${said:-?}"
[ "$total" = "5000 5000" ] && ok "evicted-connections-recorded-once (5000 records of 5000 connections)" ||
    not_ok evicted-connections-recorded-once "records and distinct connections: $total (want 5000 5000)"
flows_add_up() { # the -v line's figures after "seen:" add up to the flows seen
    sed -n 's/.*flows: \([0-9]*\) seen: \([0-9]*\) WebSocket (recorded), \([0-9]*\) not WebSocket ([0-9]* by their first bytes, [0-9]* after following them), \([0-9]*\) the rest of a connection evicted for room, \([0-9]*\) undecided.*/\1 \2 \3 \4 \5/p' "$1" |
        awk '{ exit !(NF == 5 && $1 == $2 + $3 + $4 + $5 && $2 > 0) }'
}
flows_add_up "$T/small.log" && ok "verbose-flow-figures-add-up ($(grep -o 'flows: [^;]*' "$T/small.log"))" ||
    not_ok verbose-flow-figures-add-up "$(grep 'flows:' "$T/small.log")"
exit $failed
