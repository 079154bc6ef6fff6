#!/usr/bin/env bash
# scripts/demo.sh — what `make demo` runs after building: record real
# WebSocket traffic (python-websockets and Node's ws on loopback, captured
# with tcpdump), analyse it with wsstatsd, print wsstats top-codes.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=build/demo
mkdir -p "$DIR"
rm -f "$DIR/demo.pcap" "$DIR"/demo.db*

echo "== Recording real WebSocket traffic on lo (python3-websockets and Node ws) ..."
tests/peers/record.sh "$DIR/demo.pcap" 120 >"$DIR/record.log" 2>&1 || {
    cat "$DIR/record.log" >&2
    exit 1
}
echo "   $(tshark -r "$DIR/demo.pcap" 2>/dev/null | wc -l) packets in $DIR/demo.pcap"
echo
echo "== build/wsstatsd -r $DIR/demo.pcap -w $DIR/demo.db"
build/wsstatsd -r "$DIR/demo.pcap" -w "$DIR/demo.db"
echo
echo "== build/wsstats --db $DIR/demo.db top-codes"
build/wsstats --db "$DIR/demo.db" top-codes
echo
echo "== build/wsstats --db $DIR/demo.db connections --limit 8"
build/wsstats --db "$DIR/demo.db" connections --limit 8
echo
echo "Try: build/wsstats --db $DIR/demo.db connections --format json --limit 3"
