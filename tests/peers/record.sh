#!/bin/bash
# Record a realistic WebSocket capture for `make demo`: record.sh OUT.pcap [N]
#
# Runs py_peers.py and node_peers.js in --demo mode (N connections in all,
# default 100, half per peer): mostly 1000/1001 closes, some 1006 by RST or
# FIN, a few 1008/1011/1013/4xxx, a 403 refusal, proxy-style idle closes, IPv4
# and IPv6, one connection per peer still open when the capture ends.  The
# traffic is captured with tcpdump on lo (root needed) and written to OUT.pcap.
# Env: SEED (default 6455) picks the mix; KEEP=1 keeps the work dir (peer logs
# and the peers' expectations, checkable with tests/e2e/check.py);
# EXPECT_OUT=DIR copies the expectations (python.expect.jsonl and
# node.expect.jsonl, one JSON object per connection) into DIR, which must exist.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=capture.sh
. "$HERE/capture.sh"

die() { echo "record.sh: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: record.sh OUT.pcap [CONNECTIONS]" >&2
    exit 2
fi
OUT=$1
TOTAL=${2:-100}
reason=$(cap_unusable_reason)
[ -z "$reason" ] || die "cannot record: $reason"
python_peer_ready || die "python3-websockets is not installed (apt-get install python3-websockets)"
node_peer_ready || die "node or its ws package is missing (cd tests/peers && npm ci)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-record.XXXXXX")
chmod 755 "$WORK"
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    cap_cleanup
    if [ "${KEEP:-0}" = 1 ]; then echo "record.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r PY_PORT NODE_PORT <<<"$(cap_free_ports 2)"
cap_start "$WORK/demo.pcap" "$PY_PORT" "$NODE_PORT" || die "tcpdump would not start"
DEMO=(--demo $((TOTAL / 2)) --seed "${SEED:-6455}")
peer_start python "$WORK/python.out" "$WORK/python.err" \
    "$PY" "$HERE/py_peers.py" --port "$PY_PORT" --expect "$WORK/python.expect.jsonl" "${DEMO[@]}"
peer_start node "$WORK/node.out" "$WORK/node.err" \
    node "$HERE/node_peers.js" --port "$NODE_PORT" --expect "$WORK/node.expect.jsonl" \
    --demo $((TOTAL - TOTAL / 2)) --seed "$(( ${SEED:-6455} + 1 ))"
peers_wait_holding 40 || die "the peers did not finish in 40 s"
cap_settle "$WORK/demo.pcap"
cap_stop || die "capture incomplete"
peers_release
for i in "${!PEER_NAMES[@]}"; do
    [ "${PEER_RCS[$i]}" = 0 ] || die "${PEER_NAMES[$i]} peer failed: $(tail -n 5 "$WORK/${PEER_NAMES[$i]}.err")"
done
cp "$WORK/demo.pcap" "$OUT" || die "cannot write $OUT"
if [ -n "${EXPECT_OUT:-}" ]; then
    cp "$WORK/python.expect.jsonl" "$WORK/node.expect.jsonl" "$EXPECT_OUT/" ||
        die "cannot copy the expectations into $EXPECT_OUT"
fi
echo "record.sh: wrote $OUT ($(cat "$WORK/python.expect.jsonl" "$WORK/node.expect.jsonl" | wc -l) connections)"
