#!/usr/bin/env bash
# tests/layout/run.sh — the folders are the architecture (docs/design.md,
# "Modules"): a folder includes only the folders below it in the layers
# (capture knows no flow, flow no application parser, nothing below the
# engine the store, the CLI no SQLite), the system headers of a library
# only where it belongs (pcap in capture/, nDPI in app/dpi.c, SQLite in
# store/ and query/), no two source files call each other (directly or
# round a longer cycle; from the objects' symbol tables of $BIN), and no
# source file is longer than MAX_LINES (650). Each check is also run on a
# small tree that breaks it, so that it is seen to fail. Last, the tool that
# proves a refactor (tests/tools/compare-builds.sh) is seen to pass a build
# against itself and to catch one changed column.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-build}
PY=/usr/bin/python3
L=tests/layout/layers.py
MAX_LINES=650
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FAILED=0
pass() { echo "ok - $1"; }
fail() { echo "not ok - $1"; shift; sed 's/^/#  /' "$@"; FAILED=1; }

check() { # check NAME ARGS...: the real tree passes
    local name=$1
    shift
    if "$PY" "$L" "$@" >"$T/out" 2>&1; then pass "$name"; else fail "$name" "$T/out"; fi
}
check_fails() { # check_fails NAME EXPECTED ARGS...: the broken tree is caught, with EXPECTED in the finding
    local name=$1 expected=$2
    shift 2
    if "$PY" "$L" "$@" >"$T/out" 2>&1; then
        echo "the check passed a tree that breaks it" >>"$T/out"
        fail "$name" "$T/out"
    elif grep -q -- "$expected" "$T/out"; then
        pass "$name"
    else
        fail "$name" "$T/out"
    fi
}

check layout/includes-follow-the-layers includes .
check layout/no-call-cycle-between-files calls . "$BIN/obj"
check "layout/no-source-file-over-$MAX_LINES-lines" lengths . "$MAX_LINES"

# A tree that breaks each rule once.
B=$T/bad
mkdir -p "$B/common" "$B/flow" "$B/app" "$B/store" "$B/cli" "$B/obj/common"
printf '#include "../app/app.h"\n' >"$B/flow/table.c"
printf '/* x */\n' >"$B/app/app.h"
printf '#include <sqlite3.h>\n' >"$B/cli/cli.c"
printf '#include <pcap/pcap.h>\n' >"$B/store/s.c"
check_fails layout/includes-check-catches-flow-including-app "flow/table.c: includes \"../app/app.h\" (app/)" includes "$B"
check_fails layout/includes-check-catches-sqlite-in-the-cli "cli/cli.c: includes <sqlite3.h>" includes "$B"
check_fails layout/includes-check-catches-pcap-outside-capture "store/s.c: includes <pcap/pcap.h>" includes "$B"
rm -f "$B/flow/table.c" "$B/cli/cli.c" "$B/store/s.c"
printf 'void b(void);\nvoid a(void);\nvoid a(void) { b(); }\n' >"$B/common/a.c"
printf 'void a(void);\nvoid b(void);\nvoid b(void) { a(); }\n' >"$B/common/b.c"
for f in a b; do cc -c -o "$B/obj/common/$f.o" "$B/common/$f.c"; done
check_fails layout/calls-check-catches-a-cycle "call cycle between common/a.c, common/b.c" calls "$B" "$B/obj"
seq 1 $((MAX_LINES + 1)) | sed 's#.*#/* line */#' >"$B/common/long.h"
check_fails layout/lengths-check-catches-a-long-file "common/long.h: $((MAX_LINES + 1)) lines" lengths "$B" "$MAX_LINES"

# tests/tools/compare-builds.sh, the refactor's proof: a build equals itself,
# and a build whose records differ in one column of one record is caught.
CB=tests/tools/compare-builds.sh
PYTHONPATH=tests/tools "$PY" -c "from pcapgen import concurrent_websockets; concurrent_websockets('$T/cb.pcap', 20)"
if "$CB" "$BIN" "$BIN" "$T/cb.pcap" >"$T/out" 2>&1 && grep -q "^same .*(20 records)" "$T/out"; then
    pass layout/compare-builds-finds-a-build-equal-to-itself
else
    fail layout/compare-builds-finds-a-build-equal-to-itself "$T/out"
fi
mkdir -p "$T/changed"
ln -s "$(cd "$BIN" && pwd)/wsstats" "$T/changed/wsstats"
{ # a daemon that writes one close reason differently
    echo "#!$PY"
    echo "import sqlite3, subprocess, sys"
    echo "rc = subprocess.call(['$(cd "$BIN" && pwd)/wsstatsd'] + sys.argv[1:])"
    echo "db = sqlite3.connect(sys.argv[sys.argv.index('-w') + 1])"
    echo "db.execute(\"UPDATE connections SET close_reason = 'x' WHERE id = 7\")"
    echo "db.commit()"
    echo "sys.exit(rc)"
} >"$T/changed/wsstatsd"
chmod +x "$T/changed/wsstatsd"
if "$CB" --no-reports "$BIN" "$T/changed" "$T/cb.pcap" >"$T/out" 2>&1; then
    echo "compare-builds found no difference" >>"$T/out"
    fail layout/compare-builds-catches-one-changed-column "$T/out"
elif grep -q "^DIFF " "$T/out" && grep -q "^1 compared, 1 differ" "$T/out"; then
    pass layout/compare-builds-catches-one-changed-column
else
    fail layout/compare-builds-catches-one-changed-column "$T/out"
fi

exit $FAILED
