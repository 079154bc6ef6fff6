#!/usr/bin/env bash
# tests/cli/commands.sh — every wsstats command (docs/design.md §5) on a database
# built from a capture of real peers, with exact expected numbers.
#
# The capture is tests/peers/record.sh's demo mix (120 connections of
# python-websockets and Node ws on lo: 1000/1001/1008/.../4xxx closes, 1006 by
# FIN/RST, a 403, unfinished ones, IPv4 and IPv6), recorded with EXPECT_OUT so
# that the peers' expectations (what each connection must be recorded as) come
# with it. It is recorded once into build/cli-commands/ and reused by later
# runs (BIN=build and BIN=build-asan alike) until the peers or record.sh
# change. Each run feeds it to `$BIN/wsstatsd -r` and check_commands.py
# compares the commands' output (json and table) with numbers computed from
# the expectations and from the capture file, never from the database.
#
# Output follows tests/CONTRACT.md: `ok - cli/commands-NAME` / `not ok - ...`
# lines with `#  ` diagnostics, exit 1 if any case failed. Skips (one
# `ok - cli/commands # SKIP` line, exit 0) without root, tcpdump or the peers.
# Env: BIN (binary dir, default build), KEEP=1 keeps the temp dir (the DB).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
BIN=${BIN:-build}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
PY=/usr/bin/python3
PEERS=$ROOT/tests/peers
CACHE=$ROOT/build/cli-commands
PCAP=$CACHE/peers-demo.pcap
EXPECTS=("$CACHE/python.expect.jsonl" "$CACHE/node.expect.jsonl")
CONNECTIONS=120

# shellcheck source-path=SCRIPTDIR source=../peers/capture.sh
. "$PEERS/capture.sh"

skip_all() {
    echo "cli/commands: skipped: $1" >&2
    echo "ok - cli/commands # SKIP $1"
    exit 0
}
not_ok() { echo "not ok - cli/commands-$1"; shift; local l; for l in "$@"; do echo "#  $l"; done; }

reason=$(cap_unusable_reason)
[ -z "$reason" ] || skip_all "$reason"
python_peer_ready || skip_all "python3-websockets is not installed"
node_peer_ready || skip_all "node or the ws package (npm ci in tests/peers) unavailable"
for b in wsstatsd wsstats; do
    if [ ! -x "$BIN/$b" ]; then
        not_ok binaries "$BIN/$b not found or not executable (run make)"
        exit 1
    fi
done

# ---- the capture, recorded once (under a lock: two runs may start together)
mkdir -p "$CACHE" || { not_ok record "cannot create $CACHE"; exit 1; }
exec 9>"$CACHE/.lock"
command -v flock >/dev/null && flock 9
cache_fresh() {
    local f
    [ -s "$PCAP" ] || return 1
    for f in "${EXPECTS[@]}"; do
        [ -s "$f" ] && [ ! "$f" -ot "$PCAP" ] || return 1
    done
    for f in "$PEERS/record.sh" "$PEERS/capture.sh" "$PEERS/py_peers.py" "$PEERS/node_peers.js" \
        "$PEERS/scenarios.json" "$PEERS/package-lock.json"; do
        [ "$f" -ot "$PCAP" ] || return 1
    done
}
if ! cache_fresh; then
    rm -f "$PCAP" "${EXPECTS[@]}"
    NEW=$(mktemp -d "$CACHE/new.XXXXXX")
    if ! EXPECT_OUT=$NEW "$PEERS/record.sh" "$NEW/peers-demo.pcap" "$CONNECTIONS" >"$NEW/log" 2>&1 9>&-; then
        not_ok record "tests/peers/record.sh failed:" "$(tail -n 5 "$NEW/log")"
        rm -rf "$NEW"
        exit 1
    fi
    # expectations first, the pcap last: its presence marks a complete cache
    for f in "${EXPECTS[@]}"; do mv "$NEW/$(basename "$f")" "$f"; done
    touch -r "$NEW/peers-demo.pcap" "${EXPECTS[@]}"
    mv "$NEW/peers-demo.pcap" "$PCAP"
    rm -rf "$NEW"
fi
exec 9>&-

# ---- the database of this run
T=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-cli-commands.XXXXXX")
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "# cli/commands: kept $T" >&2; else rm -rf "$T"; fi; }
trap cleanup EXIT
if ! "$BIN/wsstatsd" -q -r "$PCAP" -w "$T/commands.db" 2>"$T/wsstatsd.err"; then
    not_ok wsstatsd "wsstatsd -r $PCAP failed:" "$(head -n 5 "$T/wsstatsd.err")"
    exit 1
fi

"$PY" tests/cli/check_commands.py --wsstats "$BIN/wsstats" --db "$T/commands.db" --pcap "$PCAP" \
    --expect "${EXPECTS[0]}" --expect "${EXPECTS[1]}"
