# tests/e2e/lib.sh — what the end-to-end scripts share, sourced after they
# set SUITE (the name of their skip line): where the binaries are (env BIN,
# default build, relative to the repo root), the capture helpers of
# tests/peers/capture.sh, and the reporting of tests/CONTRACT.md
# (pass, fail, skip_all; FAILED is 1 once anything failed).
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-build}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
# shellcheck source-path=SCRIPTDIR source=../peers/capture.sh
. "$ROOT/tests/peers/capture.sh"

FAILED=0
pass() { echo "ok - $1"; }
fail() { echo "not ok - $1"; shift; local l; for l in "$@"; do echo "#  $l"; done; FAILED=1; }
skip_all() {
    echo "$SUITE: skipped: $1" >&2
    echo "ok - $SUITE # SKIP $1"
    exit 0
}
