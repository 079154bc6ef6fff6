#!/usr/bin/env bash
# tests/run.sh — runs every test suite and ends with "N passed, N failed".
#
# Suites print one line per case, `ok - NAME` or `not ok - NAME` (cmocka in
# TAP mode: `ok N - NAME`). Everything runs twice: with the normal build
# (build/) and with the ASan+UBSan build (build-asan/), where any sanitizer
# report fails the suite. A suite that exits non-zero without a `not ok`
# line (a crash, a sanitizer abort) counts as one failure.
#
# QUICK=1 (make quick) runs the normal build only and leaves out the slow
# suites (live capture, hostile floods, fuzzing, the tap property runs,
# concurrent readers, ThreadSanitizer): about a minute, for the edit-test
# loop. BUILDS overrides which builds run (default: build build-asan).
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT
passed=0
failed=0

# run_suite LABEL CMD...: runs it, shows failures, adds up the counts.
run_suite() {
    local label=$1
    shift
    local out="$LOG/out" start=$SECONDS
    "$@" >"$out" 2>"$LOG/err"
    local rc=$?
    local p f
    p=$(grep -cE '^ok( [0-9]+)? - ' "$out")
    f=$(grep -cE '^not ok( [0-9]+)? - ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $label exited $rc without a failing case (crash or sanitizer report):"
        tail -n 30 "$LOG/err" | sed 's/^/#  /'
        f=1
    fi
    grep -E '^ok( [0-9]+)? - .*# SKIP' "$out" | sed "s|^|[$label] |"
    if [ "$f" -gt 0 ]; then
        grep -E -A15 '^not ok( [0-9]+)? - ' "$out" | grep -E '^(not ok|#)' | sed "s|^|[$label] |"
        grep -qE 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$LOG/err" && tail -n 40 "$LOG/err" | sed "s|^|[$label] stderr: |"
    fi
    printf '%-34s %4d passed, %d failed  (%ds)\n' "$label" "$p" "$f" $((SECONDS - start))
    passed=$((passed + p))
    failed=$((failed + f))
}

QUICK=${QUICK:-0}
BUILDS=${BUILDS:-$([ "$QUICK" = 1 ] && echo build || echo "build build-asan")}
slow() { [ "$QUICK" != 1 ]; } # the suites `make quick` leaves out

for build in $BUILDS; do
    tag=${build#build}
    tag=${tag:+asan/}
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] && run_suite "${tag}unit/$(basename "$t")" "$t"
    done
    run_suite "${tag}cli" env BIN="$build" tests/cli/run.sh
    run_suite "${tag}cli-commands" env BIN="$build" tests/cli/commands.sh
    slow && run_suite "${tag}cli-concurrent" env BIN="$build" tests/cli/concurrent.sh
    run_suite "${tag}proxy" env BIN="$build" tests/proxy/run.sh
    run_suite "${tag}http" env BIN="$build" tests/http/run.sh
    run_suite "${tag}store" env BIN="$build" tests/store/run.sh
    run_suite "${tag}edges" env BIN="$build" tests/store/edges.sh
    slow && run_suite "${tag}kills" env BIN="$build" tests/store/kills.sh
    slow && run_suite "${tag}live" env BIN="$build" tests/live/run.sh
    slow && run_suite "${tag}link" env BIN="$build" tests/live/link.sh
    slow && run_suite "${tag}prometheus" env BIN="$build" tests/prometheus/run.sh
    slow && run_suite "${tag}clickhouse" env BIN="$build" tests/clickhouse/run.sh
    # the cluster and the kills in the normal build only (their C paths are
    # the clickhouse suite's, which runs under ASan, its cut proxy making
    # INSERTs of unknown outcome; make check's 20 minutes)
    slow && [ "$build" = build ] && run_suite "clickhouse-cluster" env BIN="$build" tests/clickhouse/cluster.sh
    slow && [ "$build" = build ] && run_suite "clickhouse-faults" env BIN="$build" tests/clickhouse/faults.sh
    run_suite "${tag}ndpi" env BIN="$build" tests/ndpi/run.sh
    slow && run_suite "${tag}hostile" env BIN="$build" tests/hostile/run.sh
    slow && run_suite "${tag}fuzz" env BIN="$build" tests/fuzz/run.sh
    [ -x tests/e2e/run.sh ] && run_suite "${tag}e2e" env BIN="$build" tests/e2e/run.sh
    run_suite "${tag}violations" env BIN="$build" tests/e2e/violations.sh
    [ -x tests/conformance/run.sh ] && run_suite "${tag}conformance" env BIN="$build" tests/conformance/run.sh
    run_suite "${tag}facts" env BIN="$build" tests/conformance/facts.sh
    # The property runs' 100 seeds in the normal build; under ASan 25 (their
    # 100 took 150 of the suite's 160 s there), the same code paths.
    slow && run_suite "${tag}tap" env BIN="$build" FLOOD_RSS_CHECK=$([ "$build" = build ] && echo 1 || echo 0) \
        TAP_SEEDS=${TAP_SEEDS:-$([ "$build" = build ] && echo 100 || echo 25)} tests/tap/run.sh
done

# The nDPI adapter's branches for releases newer than Debian's (compiled
# against stand-in headers; once, with either compiler's view the same).
run_suite "ndpi-api" tests/ndpi/api-check.sh

# The layout (docs/design.md §6): include directions, no call cycle between
# source files (from the gcc build's objects), no source file over 650 lines.
run_suite "layout" env BIN=build tests/layout/run.sh

# ThreadSanitizer (build-tsan/, from `make tsan`): the ring between the
# packet loop and the classifier thread, and the suites where all three
# threads work (TLS reports from the classifier thread, a failing database
# retried by the writer, live capture with signals, rotation and retention
# on the writer thread, records end to end). Any report fails the suite.
if [ -x build-tsan/wsstatsd ] && slow; then
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:exitcode=88}
    run_suite "tsan/unit/test_ring" build-tsan/tests/test_ring
    run_suite "tsan/ndpi" env BIN=build-tsan tests/ndpi/run.sh
    run_suite "tsan/store" env BIN=build-tsan tests/store/run.sh
    run_suite "tsan/live" env BIN=build-tsan tests/live/run.sh
    run_suite "tsan/e2e" env BIN=build-tsan tests/e2e/run.sh
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
