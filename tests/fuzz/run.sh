#!/usr/bin/env bash
# tests/fuzz/run.sh — the fuzz part of `make check` (issue 8).
#
# Builds the libFuzzer targets (make fuzz-build fuzz-seeds: build-fuzz/, clang
# with -fsanitize=fuzzer,address,undefined), then
#   1. replays every regression input, tests/fuzz/regressions/TARGET/*: one
#      line `fuzz/regressions/TARGET` per target. Every crash a fuzzer ever
#      found is kept there, so a fixed bug stays fixed;
#   2. fuzzes each target for FUZZ_SMOKE_SECONDS (8) from its seeds and
#      regression inputs (those only once they all pass): one line `fuzz/smoke/TARGET`, not ok on a crash,
#      leak, timeout (10 s an input) or failed invariant, with the first
#      lines of the report and where the input was kept.
# Step 2 runs only with BIN=build (tests/run.sh calls this twice, with
# BIN=build and BIN=build-asan; the fuzz binaries are the same both times).
# Without clang and its libFuzzer everything is skipped.
#
# Environment: BIN (build), FUZZ_SMOKE_SECONDS (8), FUZZ_TARGETS
# (decode http ws pipeline dbopen), FUZZ_BUILD (build-fuzz).
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=../../fuzz/options.sh
. fuzz/options.sh
BIN=${BIN:-build}
SECS=${FUZZ_SMOKE_SECONDS:-8}
TARGETS=${FUZZ_TARGETS:-decode http ws pipeline dbopen}
FB=${FUZZ_BUILD:-build-fuzz}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failed=0

pass() { echo "ok - $1"; }
fail() {
    local name=$1
    shift
    echo "not ok - $name"
    local l
    for l in "$@"; do echo "#  $l"; done
    failed=1
}
# report LOG: the first lines that say what went wrong
report() {
    grep -E 'fuzz invariant failed|ERROR: |SUMMARY: |runtime error|^ +#[0-9]+ 0x|ALARM|out-of-memory' "$1" |
        grep -vE ' in (fuzzer::|__libc_start|_start |main )|libFuzzer|compiler-rt' | head -n 12
}

# clang with libFuzzer?
command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1 || {
    echo "ok - fuzz/all # SKIP no clang (libFuzzer needs clang)"
    exit 0
}
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$TMP/probe.c"
"${FUZZ_CC:-clang}" -fsanitize=fuzzer,address,undefined "$TMP/probe.c" -o "$TMP/probe" >/dev/null 2>&1 || {
    echo "ok - fuzz/all # SKIP ${FUZZ_CC:-clang} cannot link -fsanitize=fuzzer (no libFuzzer runtime)"
    exit 0
}

if ! make --no-print-directory fuzz-build fuzz-seeds FUZZ_BUILD="$FB" >"$TMP/build.log" 2>&1; then
    fail fuzz/build "make fuzz-build fuzz-seeds failed:" "$(tail -n 20 "$TMP/build.log")"
    exit 1
fi
pass fuzz/build

# 1. regression inputs, every run
declare -A replay_ok
for t in $TARGETS; do
    replay_ok[$t]=0
    inputs=(tests/fuzz/regressions/"$t"/*)
    [ -e "${inputs[0]}" ] || inputs=()
    if [ "${#inputs[@]}" -eq 0 ]; then
        pass "fuzz/regressions/$t (no inputs yet)"
        continue
    fi
    # one at a time, so that every input that still crashes is named
    bad=()
    for f in "${inputs[@]}"; do
        "$FB/fuzz_$t" -runs=1 "$f" >"$TMP/replay.log" 2>&1 && continue
        [ "${#bad[@]}" -eq 0 ] && cp "$TMP/replay.log" "$TMP/replay-first.log"
        bad+=("$f")
    done
    if [ "${#bad[@]}" -eq 0 ]; then
        pass "fuzz/regressions/$t (${#inputs[@]} inputs)"
        replay_ok[$t]=1
    else
        mapfile -t lines < <(report "$TMP/replay-first.log")
        fail "fuzz/regressions/$t" "${#bad[@]} of ${#inputs[@]} inputs still fail: ${bad[*]}" \
            "first report (${bad[0]}):" "${lines[@]}"
    fi
done

# 2. a short fuzz run per target, once
if [ "$BIN" != build ]; then
    echo "ok - fuzz/smoke # SKIP runs once, with BIN=build"
    exit "$failed"
fi
for t in $TARGETS; do
    fuzz_options "$t"
    keep=$FB/findings/smoke/$t
    mkdir -p "$keep" "$TMP/corpus-$t"
    dirs=("$TMP/corpus-$t" "$FB/seeds/$t")
    # a regression input that still crashes would end the run at once
    [ "${replay_ok[$t]}" = 1 ] && dirs+=("tests/fuzz/regressions/$t")
    start=$SECONDS
    "$FB/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$keep/" "${opts[@]}" "${dirs[@]}" >"$TMP/smoke.log" 2>&1
    rc=$?
    stats=$(grep -E '^#[0-9]+.*cov: ' "$TMP/smoke.log" | tail -n 1 | sed -E 's/^#([0-9]+)[^c]*(cov: [0-9]+ ft: [0-9]+).*exec\/s: ([0-9]+).*/\1 runs, \2, \3 exec\/s/')
    if [ "$rc" -eq 0 ]; then
        pass "fuzz/smoke/$t ($((SECONDS - start))s: $stats)"
    else
        cp "$TMP/smoke.log" "$keep/last-failure.log"
        kept=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$TMP/smoke.log" | tail -n 1)
        mapfile -t lines < <(report "$TMP/smoke.log")
        fail "fuzz/smoke/$t" "exit $rc after $((SECONDS - start))s; input kept: ${kept:-none}" \
            "make it a regression: cp ${kept:-INPUT} tests/fuzz/regressions/$t/" \
            "full log: $keep/last-failure.log" "${lines[@]}"
    fi
done
exit "$failed"
