#!/usr/bin/env bash
# tests/conformance/facts.sh — what the public corpus must yield, field by
# field, beyond the close codes tshark can check (run.sh does those):
# violations, handshake_seen, counters, VLAN, extensions. Each expectation
# was read off the capture with tshark (see MANIFEST.tsv and the comments).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build}
CORPUS=${CORPUS:-../shared/corpus}
if [ ! -d "$CORPUS" ]; then
    echo "ok - facts # SKIP corpus folder not found: $CORPUS"
    echo "facts: corpus folder not found: $CORPUS (skipped)" >&2
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0
COLS="handshake_seen, coalesce(vlan, '-'), coalesce(http_status, '-'), coalesce(close_code, '-'),
      coalesce(client_close_code, '-'), coalesce(server_close_code, '-'), outcome, frames_client, frames_server,
      messages_client, messages_server, pings, pongs, coalesce(violations, '-'), termination"

# fact NAME FILE EXPECTED-ROWS (rows joined by ' / ', ordered by client port)
fact() {
    local name=$1 file=$2 want=$3
    rm -f "$T/f.db"
    if ! "$BIN/wsstatsd" -q -r "$CORPUS/$file" -w "$T/f.db" 2>"$T/err"; then
        echo "not ok - facts/$name"
        echo "#  wsstatsd failed: $(head -1 "$T/err")"
        failed=1
        return
    fi
    local got
    got=$(sqlite3 "$T/f.db" "SELECT $COLS FROM connections ORDER BY client_port" | paste -sd '/' | sed 's|/| / |g')
    if [ "$got" = "$want" ]; then
        echo "ok - facts/$name"
    else
        echo "not ok - facts/$name"
        echo "#  want: $want"
        echo "#  got:  $got"
        failed=1
    fi
}

# columns: handshake_seen|vlan|http_status|close_code|client_close_code|server_close_code|outcome|
#          frames_client|frames_server|messages_client|messages_server|pings|pongs|violations|termination

# The server's close frame carries code 1000 and a 256-byte reason in a
# 258-byte payload, length in the 64-bit form: over the 125-byte control
# frame limit (RFC 6455 §5.5) and not minimal (§5.2).
fact oversized-close-frame zeek__oversized-close-frame.pcapng \
    '1|-|101|1000|-|1000|half_closed|0|1|0|0|0|0|control_frame_too_long,non_minimal_length|fin_client'
# 101 with a Sec-WebSocket-Accept that does not match the key (§4.2.2);
# one ping, then FINs and no close frame: 1006.
fact wrong-accept-header zeek__wrong-accept-header.pcap \
    '1|-|101|1006|-|-|abnormal|0|1|0|0|1|0|bad_accept|fin_client'
# Five text frames and nothing else: picked up mid-stream (the client's
# are the masked ones).
fact mid-stream ndpi__websocket.pcap \
    '0|-|-|-|-|-|unfinished|2|3|2|3|0|0|-|capture_end'
# Mid-stream too, but the capture holds both close frames (1001 each way,
# masked from the client), then the other connection's handshake only.
fact mid-stream-close ndn-tools__ipv4-websocket-segmented.pcap \
    '0|-|-|1001|1001|1001|clean|1|1|0|0|0|0|-|fin_server / 1|-|101|-|-|-|unfinished|1|1|1|1|0|0|-|capture_end'
# QinQ (outer VLAN 3394) around GTP-U around the TCP connection.
fact qinq-gtpu ndpi__http_origin_different_than_host.pcap \
    '1|3394|101|-|-|-|unfinished|0|0|0|0|0|0|-|capture_end'
# permessage-deflate negotiated: RSV1 on the server's ten compressed
# messages is legal (RFC 7692 §6), so no rsv_without_extension.
fact permessage-deflate suricata-verify__websocket-compressed__example_websocket.pcap \
    '1|-|101|-|-|-|unfinished|0|10|0|10|0|0|-|capture_end'
# A ping between the two fragments of one text message (§5.4 allows it):
# three client frames, one message, no bad_continuation.
fact control-inside-fragments suricata-verify__websocket-control-frag__input.pcap \
    '1|-|101|-|-|-|unfinished|3|1|1|0|1|1|-|capture_end'
# A server ping; the client closes 1009 with a reason, the server answers 1000.
fact asymmetric-codes zeek__message-too-big-status.pcap \
    '1|-|101|1009|1009|1000|clean|1|2|0|0|1|0|-|fin_server'
# Both close frames empty: 1005 on both sides.
fact empty-close-payloads zeek__http-websocket.pcap \
    '1|-|101|1005|1005|1005|clean|3|6|2|5|0|0|-|fin_server'
# wstunnel's client sends its frames unmasked (§5.1 says it must not).
fact unmasked-client zeek__wstunnel-http.pcap \
    '1|-|101|1000|1000|1000|clean|2|2|1|1|0|0|unmasked_client_frame|fin_client'
# A client close never answered with a close frame (the server sent FIN).
fact half-closed zeek__broker-websocket.pcap \
    '1|-|101|1000|1000|-|half_closed|5|4|4|4|0|0|-|fin_server'
exit $failed
