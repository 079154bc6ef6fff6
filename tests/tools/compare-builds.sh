#!/usr/bin/env bash
# tests/tools/compare-builds.sh — do two builds behave alike on these captures?
#
#   tests/tools/compare-builds.sh [--no-reports] [--ignore REGEX] OLD NEW CAPTURE|FOLDER...
#
# OLD and NEW are build folders holding wsstatsd and wsstats (for example a
# `git worktree` of the previous commit, built, and ./build). For a change
# that must not change behaviour (a refactor, docs/design.md §7), each
# capture (pcap or pcapng; a folder stands for the captures in it) is read
# by both daemons and compared:
#
#   - the exit status, and stderr of `wsstatsd -v` without its peak RSS line
#     (and without lines matching --ignore's extended regex, for a known change);
#   - every column of every record in `connections` except id and capture_id,
#     and every row of `tls_flows` except when it changed, as sorted sets;
#   - `captures` without ids and wall-clock times;
#   - unless --no-reports: every wsstats report, in table, JSON and CSV, of
#     each build's CLI on its own database.
#
# Prints one line per capture ("same" or "DIFF" with the first differences)
# and ends with "N compared, N differ"; exits 1 when any differ, 2 on usage.
set -u
PY=/usr/bin/python3
reports=1 ignore='^$'
while [ $# -gt 0 ]; do
    case $1 in
    --no-reports) reports=0 ;;
    --ignore) ignore=${2:-}; shift ;;
    *) break ;;
    esac
    shift
done
if [ $# -lt 3 ]; then
    echo "usage: tests/tools/compare-builds.sh [--no-reports] [--ignore REGEX] OLD NEW CAPTURE|FOLDER..." >&2
    exit 2
fi
OLD=$1 NEW=$2
shift 2
for b in "$OLD" "$NEW"; do
    for exe in wsstatsd wsstats; do
        [ -x "$b/$exe" ] || { echo "compare-builds: $b/$exe: no such executable" >&2; exit 2; }
    done
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# dump DB: the tables, ids and wall times left out, rows sorted
dump() {
    "$PY" - "$1" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
skip = {"connections": {"id", "capture_id"}, "tls_flows": {"updated_at"},
        "captures": {"id", "started_at", "ended_at", "pid", "file_name", "file_size"}}  # when and as which process the daemon ran, not what it read;
# file_name, file_size: schema 5 (builds before it have neither); the file's own name and size;
# tls_flows.updated_at: schema 6, the commit's wall clock
tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
for t in tables:
    if t not in skip:
        continue
    cols = [r[1] for r in db.execute("PRAGMA table_info(%s)" % t) if r[1] not in skip[t]]
    rows = sorted(repr(r) for r in db.execute("SELECT %s FROM %s" % (",".join(cols), t)))
    print("%s %d rows (%s)" % (t, len(rows), ",".join(cols)))
    for r in rows:
        print(t, r)
PYEOF
}

REPORTS=("top-codes" "top-codes --code 1000-1010,none" "connections --limit 0" "connections"
    "connections --limit 3" "connections --outcome clean,abnormal" "timeline" "timeline --bucket 1m"
    "group-by host" "group-by path" "group-by server" "group-by client" "group-by subprotocol"
    "group-by user-agent" "group-by sensor" "durations" "summary" "summary --outcome clean"
    "summary --since 2020-01-01")

# reports BUILD DB OUT: every report, in each format, with its exit status
reports() {
    local cmd fmt
    for cmd in "${REPORTS[@]}"; do
        for fmt in table json csv; do
            # shellcheck disable=SC2086 # the report's words are meant to split
            "$1/wsstats" --db "$2" $cmd --format "$fmt" --wide >"$T/r.out" 2>&1
            printf '== %s --format %s: exit %d\n' "$cmd" "$fmt" $?
            cat "$T/r.out"
        done
    done >"$3"
}

# run BUILD CAPTURE TAG: read the capture; leaves $T/TAG.db, .err, .txt, .rep
run() {
    rm -f "$T"/w.db* "$T/$3".db*
    "$1/wsstatsd" -v -r "$2" -w "$T/w.db" 2>"$T/$3.raw" # one path: it is in the messages
    echo "exit $?" >"$T/$3.err"
    grep -v 'peak RSS' "$T/$3.raw" | grep -Ev -- "$ignore" >>"$T/$3.err"
    if [ -f "$T/w.db" ]; then
        "$PY" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' "$T/w.db" "$T/$3.db"
        rm -f "$T"/w.db*
        dump "$T/$3.db" >"$T/$3.txt" 2>&1
    else
        echo "no database" >"$T/$3.txt"
    fi
    : >"$T/$3.rep"
    [ $reports = 1 ] && [ -f "$T/$3.db" ] && reports "$1" "$T/$3.db" "$T/$3.rep"
}

captures() {
    local a
    for a in "$@"; do
        if [ -d "$a" ]; then
            find "$a" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort
        else
            echo "$a"
        fi
    done
}

n=0 d=0
while IFS= read -r cap; do
    n=$((n + 1))
    run "$OLD" "$cap" old
    run "$NEW" "$cap" new
    rows=$(sed -n 's/^connections \([0-9]*\) rows.*/\1/p' "$T/old.txt")
    same=1
    for part in err txt rep; do
        if ! cmp -s "$T/old.$part" "$T/new.$part"; then
            [ $same = 1 ] && echo "DIFF $cap"
            same=0
            diff "$T/old.$part" "$T/new.$part" | head -6 | sed 's/^/  /'
        fi
    done
    if [ $same = 1 ]; then echo "same $cap (${rows:-0} records)"; else d=$((d + 1)); fi
done < <(captures "$@")
echo "$n compared, $d differ"
[ $d = 0 ]
