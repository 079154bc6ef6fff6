#!/bin/bash
# End-to-end test of wsstatsd with real peers provoking real protocol failures.
#
# tests/peers/violations.py runs, on loopback while tcpdump records: a raw
# client sending an UNMASKED frame to a python3-websockets server (which fails
# the connection, close 1002), a message over the server's max_size (1009),
# client 3003 / server 4404 closes with reasons, and a raw server that sends
# close 1001 and closes its socket without reading the echo.  The capture goes
# through `$BIN/wsstatsd -r cap.pcap -w db`; `violations.py --check` then
# compares each DB row with the peer's expectations AND with tshark's
# dissection of every close frame in the capture.
#
# Output follows tests/CONTRACT.md: `ok - violations/NAME` / `not ok - ...`
# with `#  ` diagnostics, exit 1 if anything failed.  Skips (exit 0) without
# root or tcpdump.  Env: BIN (binary dir, default build, relative to the repo
# root), KEEP=1 keeps the temp dir (pcap, DB, expectations, logs).
set -u

SUITE=violations
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

reason=$(cap_unusable_reason)
[ -z "$reason" ] || skip_all "$reason"
python_peer_ready || skip_all "python3-websockets not installed"
command -v tshark >/dev/null 2>&1 || skip_all "tshark not installed (needed as the oracle)"
if [ ! -x "$BIN/wsstatsd" ]; then
    fail "violations/wsstatsd-exists" "$BIN/wsstatsd not found or not executable (run make)"
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-violations.XXXXXX")
chmod 755 "$TMP"    # tcpdump may write as another user
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    cap_cleanup
    if [ "${KEEP:-0}" = 1 ]; then echo "# violations: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- record
read -r -a PORTS <<<"$(cap_free_ports 3)"
PCAP=$TMP/cap.pcap
EXPECT=$TMP/violations.expect.jsonl
cap_start "$PCAP" "${PORTS[@]}" || { fail "violations/capture-started" "tcpdump would not start"; exit 1; }
peer_start violations "$TMP/peer.out" "$TMP/peer.err" \
    "$PY" "$PEERS_DIR/violations.py" --ports "$(IFS=,; echo "${PORTS[*]}")" --expect "$EXPECT"
peers_wait_holding 60 || fail "violations/peer-finished" "the peer did not finish in 60 s"
cap_settle "$PCAP"
cap_stop || fail "violations/capture-complete" "$(tr '\n' ' ' <"$CAP_LOG")"
peers_release
if [ "${PEER_RCS[0]}" = 0 ] && [ -s "$EXPECT" ]; then
    pass "violations/peer-ran"
else
    fail "violations/peer-ran" "exit status ${PEER_RCS[0]}; stderr:" "$(tail -n 20 "$TMP/peer.err")"
fi
[ -s "$EXPECT" ] || exit 1

# ---- wsstatsd, then the DB against the peer and against tshark
DB=$TMP/violations.db
if timeout 60 "$BIN/wsstatsd" -r "$PCAP" -w "$DB" >"$TMP/wsstatsd.out" 2>"$TMP/wsstatsd.err"; then
    pass "violations/wsstatsd-read-capture"
    "$PY" "$PEERS_DIR/violations.py" --check --db "$DB" --pcap "$PCAP" --expect "$EXPECT" || FAILED=1
else
    fail "violations/wsstatsd-read-capture" "wsstatsd -r $PCAP -w $DB exited with $?:" \
        "$(tail -n 20 "$TMP/wsstatsd.err")"
fi

exit $FAILED
