#!/bin/bash
# tests/conformance/run.sh - tshark conformance test for wsstatsd (docs/design.md §7).
#
# For every capture (*.pcap, *.pcapng) in the corpus folder, compares the close
# codes, reasons and initiators that wsstatsd writes into `connections` with
# tshark's dissection of the WebSocket close frames (compare.py does the work).
# Prints `ok - conformance/FILE` / `not ok - conformance/FILE` per capture, plus
# `conformance/known-differences` for the allow-list; exits 1 if any failed.
#
# Note: tshark only dissects WebSocket after it saw the HTTP 101 in the same
# TCP stream; mid-stream captures need decode-as (table DECODE_AS in compare.py).
#
# Environment:
#   BIN     directory holding wsstatsd           (default: build, in the repo)
#   CORPUS  folder with the captures + MANIFEST  (default: ../shared/corpus, from the repo)
# Relative paths given in BIN / CORPUS are taken from the current directory.
set -u

here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
here=$(cd "$here" && pwd)
repo=$(cd "$here/../.." && pwd)
python=/usr/bin/python3

# abspath PATH: PATH made absolute (relative paths are taken from $PWD)
abspath() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *)  printf '%s\n' "$PWD/$1" ;;
    esac
}

skip() {
    echo "conformance: skipped: $1" >&2
    echo "ok - conformance # SKIP $1"
    exit 0
}

if [ -n "${BIN:-}" ]; then bin=$(abspath "$BIN"); else bin="$repo/build"; fi
if [ -n "${CORPUS:-}" ]; then corpus=$(abspath "$CORPUS"); else corpus="$repo/../shared/corpus"; fi

[ -d "$corpus" ] || skip "corpus folder not found: $corpus"
command -v tshark >/dev/null 2>&1 || skip "tshark not found in PATH (install Debian's tshark)"
[ -x "$python" ] || skip "$python not found"

shopt -s nullglob
captures=("$corpus"/*.pcap "$corpus"/*.pcapng)
[ ${#captures[@]} -gt 0 ] || skip "no *.pcap or *.pcapng in corpus folder $corpus"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-conformance.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

"$python" "$here/compare.py" \
    --wsstatsd "$bin/wsstatsd" \
    --tmp "$tmp" \
    --manifest "$corpus/MANIFEST.tsv" \
    --allow "$here/known-differences.tsv" \
    "${captures[@]}"
