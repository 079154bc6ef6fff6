#!/usr/bin/env bash
# tests/ndpi/run.sh — nDPI's part (issue 9), on traffic of real peers:
#   - TLS: openssl s_server with a throwaway self-signed certificate, and
#     openssl s_client connections naming two servers by SNI (and one
#     naming none), captured on lo: tls_flows counts each SNI and port
#     exactly, and `wsstats summary` says "N TLS connections to NAME:PORT
#     could not be decoded";
#   - WebSocket connections of python-websockets in the same capture: every
#     record carries nDPI's classification (HTTP), also those of clients on
#     ports 51413 and 53646 (nDPI's ports for BitTorrent, which its HTTP
#     dissector stacked HTTP on: "BitTorrent.HTTP");
#   - the corpus's mid-stream captures are picked up, with nDPI's verdict
#     on the record: "WebSocket" where nDPI recognised the framing, nDPI's
#     own "Unknown" where it could not tell (never NULL);
#   - nDPI's WebSocket detection helps the pickup: a synthetic mid-stream
#     connection whose first frame nDPI recognises but the pickup's own test
#     refuses (a text frame in Latin-1), followed by pieces of a large frame,
#     is picked up only because nDPI's verdict lets the pickup look further
#     (32 segments instead of 8).
#   - nDPI's guess by port counts a flow as TLS only when its payload
#     began as a TLS record does (not SSH or random bytes on port 443);
#   - with all of nDPI's dissectors on, names and TLS counts are the same
#     on these captures and the corpus.
# tshark checks the SNIs the clients really sent.
SUITE=ndpi
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
reason=$(cap_unusable_reason)
[ -z "$reason" ] || skip_all "$reason"
command -v openssl >/dev/null 2>&1 || skip_all "openssl not installed"
python_peer_ready || skip_all "python3-websockets not installed"
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    cap_cleanup
    if [ "${KEEP:-0}" = 1 ]; then echo "# ndpi: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

read -r TLS_PORT WS_PORT <<<"$(cap_free_ports 2)"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=wss.test \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 || { fail ndpi/certificate "openssl req failed"; exit 1; }
cap_start "$TMP/ndpi.pcap" "$TLS_PORT" "$WS_PORT" || { fail ndpi/capture "tcpdump would not start"; exit 1; }
openssl s_server -quiet -accept "$TLS_PORT" -cert "$TMP/cert.pem" -key "$TMP/key.pem" -naccept 6 \
    >"$TMP/server.out" 2>"$TMP/server.err" </dev/null &
SERVER_PID=$!
cap_poll 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$TLS_PORT" 2>/dev/null
# one probe connection above opened and closed without TLS: 5 more with TLS
client() { # SNI (empty: a ClientHello without one)
    local sni=(-noservername)
    [ -n "$1" ] && sni=(-servername "$1")
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" "${sni[@]}" >/dev/null 2>&1
}
for sni in wss.test wss.test wss.test api.example.test; do client "$sni"; done
client ""
"$PY" - "$WS_PORT" <<'PYEOF'
import asyncio, socket, sys, websockets
port = int(sys.argv[1])
def from_port(local):  # a client socket on the given port (BitTorrent's, to nDPI)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", local))
    s.connect(("127.0.0.1", port))
    return s
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", port, ping_interval=None):
        for i in range(3):
            async with websockets.connect("ws://127.0.0.1:%d/ndpi%d" % (port, i), ping_interval=None) as c:
                await c.send("hello"); await c.recv()
        for local in (51413, 53646):
            async with websockets.connect("ws://127.0.0.1:%d/bt" % port, sock=from_port(local),
                                          ping_interval=None) as c:
                await c.send("hello"); await c.recv()
asyncio.run(main())
PYEOF
cap_settle "$TMP/ndpi.pcap"
cap_stop || { fail ndpi/capture "capture incomplete"; exit 1; }

# the oracle: which SNIs the ClientHellos carried (decoded as TLS on that port
# outright: tshark's heuristic missed a ClientHello now and then on a random port)
sent=$(tshark -r "$TMP/ndpi.pcap" -d "tcp.port==$TLS_PORT,tls" -Y "tls.handshake.type == 1" \
    -T fields -e tls.handshake.extensions_server_name \
    2>/dev/null | sed 's/^$/(none)/' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')
[ "$sent" = "(none)=1 api.example.test=1 wss.test=3 " ] && pass ndpi/tshark-sees-the-client-hellos ||
    fail ndpi/tshark-sees-the-client-hellos "tshark: $sent"

"$BIN/wsstatsd" -q -r "$TMP/ndpi.pcap" -w "$TMP/ndpi.db" 2>"$TMP/wsstatsd.err" && pass ndpi/wsstatsd-reads ||
    fail ndpi/wsstatsd-reads "$(head -3 "$TMP/wsstatsd.err")"
got=$(sqlite3 "$TMP/ndpi.db" "SELECT coalesce(nullif(sni, ''), '(none)') || '=' || sum(connections) FROM tls_flows
    WHERE server_port = $TLS_PORT GROUP BY sni ORDER BY 1" | tr '\n' ' ')
[ "$got" = "(none)=1 api.example.test=1 wss.test=3 " ] && pass ndpi/tls-flows-per-sni ||
    fail ndpi/tls-flows-per-sni "tls_flows: $got" "expected: (none)=1 api.example.test=1 wss.test=3"
other=$(sqlite3 "$TMP/ndpi.db" "SELECT count(*) FROM tls_flows WHERE server_port != $TLS_PORT")
[ "$other" = 0 ] && pass ndpi/no-tls-elsewhere || fail ndpi/no-tls-elsewhere "$other rows for other ports"

"$BIN/wsstats" --db "$TMP/ndpi.db" summary >"$TMP/summary.txt" 2>&1
grep -qx "3 TLS connections to wss.test:$TLS_PORT could not be decoded." "$TMP/summary.txt" &&
    grep -qx "1 TLS connection to api.example.test:$TLS_PORT could not be decoded." "$TMP/summary.txt" &&
    pass ndpi/summary-says-not-decoded || fail ndpi/summary-says-not-decoded "$(sed -n '/TLS/,$p' "$TMP/summary.txt")"
n=$("$BIN/wsstats" --db "$TMP/ndpi.db" summary --format json | grep -c '"section":"tls"')
[ "$n" = 3 ] && pass ndpi/summary-json-tls-rows || fail ndpi/summary-json-tls-rows "$n tls rows"
n=$("$BIN/wsstats" --db "$TMP/ndpi.db" summary --server ":$WS_PORT" --format json | grep -c '"section":"tls"')
[ "$n" = 0 ] && pass ndpi/summary-tls-server-filter || fail ndpi/summary-tls-server-filter "$n tls rows for the ws port"

cls=$(sqlite3 "$TMP/ndpi.db" "SELECT count(*) || ' ' || sum(ndpi_protocol IS NOT NULL) || ' ' ||
    group_concat(DISTINCT ndpi_protocol) FROM connections")
[ "$cls" = "5 5 HTTP" ] && pass ndpi/every-record-classified || fail ndpi/every-record-classified "records, classified, names: $cls"

CORPUS=${CORPUS:-$ROOT/../shared/corpus} # public captures, outside the repository (docs/design.md §7)
if [ -f "$CORPUS/ndn-tools__ipv4-websocket-segmented.pcap" ]; then
    "$BIN/wsstatsd" -q -r "$CORPUS/ndn-tools__ipv4-websocket-segmented.pcap" -w "$TMP/mid.db"
    got=$(sqlite3 "$TMP/mid.db" "SELECT count(*) || ' ' || group_concat(ndpi_protocol) FROM connections
        WHERE handshake_seen = 0 AND close_code = 1001")
    [ "$got" = "1 Unknown" ] && pass ndpi/corpus-midstream-picked-up ||
        fail ndpi/corpus-midstream-picked-up "records, nDPI names: $got" "expected: 1 Unknown"
    n=$(sqlite3 "$TMP/mid.db" "SELECT count(*) FROM connections WHERE ndpi_protocol IS NULL")
    [ "$n" = 0 ] && pass ndpi/corpus-midstream-named || fail ndpi/corpus-midstream-named "$n records without a name"
    "$BIN/wsstatsd" -q -r "$CORPUS/ndpi__websocket.pcap" -w "$TMP/ndpiws.db"
    got=$(sqlite3 "$TMP/ndpiws.db" "SELECT count(*) || ' ' || group_concat(handshake_seen || ':' || ndpi_protocol)
        FROM connections")
    [ "$got" = "1 0:WebSocket" ] && pass ndpi/corpus-ndpi-sees-websocket ||
        fail ndpi/corpus-ndpi-sees-websocket "records, handshake_seen:name: $got" "expected: 1 0:WebSocket"
else
    echo "ok - ndpi/corpus-midstream-picked-up # SKIP corpus folder not found: $CORPUS"
    echo "ndpi: corpus folder not found: $CORPUS (its mid-stream checks skipped)" >&2
fi

# nDPI's guess by port counts a flow as TLS only when a payload began as a
# TLS record does (app/classify.c): on port 443, SSH (a SYN seen) and random
# bytes are not TLS; TLS records with no handshake (a connection picked up
# mid-stream, and one whose SYN was seen) are.
"$PY" - "$TMP/guess.pcap" "$ROOT/tests/tools" <<'PYEOF'
import random, sys
sys.path.insert(0, sys.argv[2])
from pcapgen import Pcap, Conversation
rng = random.Random(5)
noise = lambda n: bytes(rng.getrandbits(8) for _ in range(n))  # noqa: E731
record = lambda n: b"\x17\x03\x03" + n.to_bytes(2, "big") + noise(n)  # noqa: E731
pcap = Pcap(sys.argv[1])
ssh = Conversation(pcap, "10.0.0.1", 40001, "10.0.0.11", 443)
ssh.syn()
ssh.send("server", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
ssh.send("client", b"SSH-2.0-OpenSSH_9.2p1\r\n")
junk = Conversation(pcap, "10.0.0.1", 40002, "10.0.0.12", 443)
junk.syn()
mid = Conversation(pcap, "10.0.0.1", 40003, "10.0.0.13", 443)  # no SYN: mid-stream
seen = Conversation(pcap, "10.0.0.1", 40004, "10.0.0.14", 443)
seen.syn()
for _ in range(6):
    for c, data in ((ssh, noise(200)), (junk, noise(200)), (mid, record(200)), (seen, record(200))):
        c.send("client", data)
        c.send("server", noise(300) if c in (ssh, junk) else record(300))
for c in (ssh, junk, mid, seen):
    c.fin("client"); c.fin("server")
pcap.close()
PYEOF
"$BIN/wsstatsd" -q -r "$TMP/guess.pcap" -w "$TMP/guess.db"
got=$(sqlite3 "$TMP/guess.db" "SELECT group_concat(server_ip || '=' || connections, ' ') FROM
    (SELECT server_ip, sum(connections) AS connections FROM tls_flows GROUP BY 1 ORDER BY 1)")
[ "$got" = "10.0.0.13=1 10.0.0.14=1" ] && pass ndpi/tls-guess-needs-tls-records ||
    fail ndpi/tls-guess-needs-tls-records "counted as TLS: ${got:-none}" \
        "expected: 10.0.0.13=1 10.0.0.14=1 (not SSH or random bytes on 443)"

# Both nDPI instances run only the HTTP, WebSocket and TLS dissectors
# (app/dpi.c): every name and TLS count must be what nDPI gives with all
# of its dissectors on (WSSTATS_NDPI_ALL=1).
names() { # DB: the names of the records, then the TLS counts
    sqlite3 "$1" "SELECT id || ' ' || coalesce(ndpi_protocol, '-') FROM connections ORDER BY id;
        SELECT hour || ' ' || server_ip || ' ' || server_port || ' ' || sni || ' ' || connections
        FROM tls_flows ORDER BY 1"
}
same=0 differ=
for f in "$TMP/ndpi.pcap" "$TMP/guess.pcap" "$CORPUS"/*.pcap "$CORPUS"/*.pcapng; do
    [ -f "$f" ] || continue
    rm -f "$TMP"/all.db* "$TMP"/few.db*
    WSSTATS_NDPI_ALL=1 "$BIN/wsstatsd" -q -r "$f" -w "$TMP/all.db" 2>/dev/null
    "$BIN/wsstatsd" -q -r "$f" -w "$TMP/few.db" 2>/dev/null
    if [ "$(names "$TMP/all.db")" = "$(names "$TMP/few.db")" ]; then same=$((same + 1)); else differ="$differ $(basename "$f")"; fi
done
[ -z "$differ" ] && [ "$same" -ge 1 ] && pass "ndpi/inline-dissectors-name-alike ($same captures)" ||
    fail ndpi/inline-dissectors-name-alike "names differ with all dissectors on:$differ"

# nDPI 4.2 recognises WebSocket only in a flow's first payload packet, when
# it is one unmasked frame of under 126 bytes; then the pickup waits up to
# 32 segments for whole frames instead of 8.
"$PY" - "$TMP/patience.pcap" "$ROOT/tests/tools" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[2])
from pcapgen import Pcap, Conversation, ws_frame
pcap = Pcap(sys.argv[1])
c = Conversation(pcap, "10.0.0.1", 40000, "10.0.0.2", 9000)  # no SYN: mid-stream
c.send("server", ws_frame(1, b"caf\xe9!"))      # text, but Latin-1: nDPI yes, the pickup no
c.send("server", ws_frame(2, bytes(20000)))     # 15 segments that tile no frames
c.send("server", ws_frame(1, b"hello"))         # the first whole frame the pickup accepts
c.close("server", 1000, "bye")
c.close("client", 1000)
c.fin("server"); c.fin("client")
pcap.close()
PYEOF
"$BIN/wsstatsd" -q -r "$TMP/patience.pcap" -w "$TMP/patience.db"
got=$(sqlite3 "$TMP/patience.db" "SELECT count(*) || ' ' || group_concat(handshake_seen || ':' || close_code || ':' ||
    outcome || ':' || ndpi_protocol) FROM connections")
[ "$got" = "1 0:1000:clean:WebSocket" ] && pass ndpi/websocket-verdict-extends-pickup ||
    fail ndpi/websocket-verdict-extends-pickup "records: $got" "expected: 1 0:1000:clean:WebSocket"
exit $FAILED
