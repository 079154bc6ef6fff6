#!/usr/bin/env bash
# fuzz/run-target.sh — fuzzes one target for a while (`make fuzz` runs it
# once per target).
#
#   fuzz/run-target.sh BUILD TARGET SECONDS [libFuzzer flags...]
#
# Corpus: BUILD/corpus/TARGET (kept between runs; new inputs go there),
# read together with the seeds (BUILD/seeds/TARGET) and the regression
# inputs (tests/fuzz/regressions/TARGET). libFuzzer stops at the first crash,
# leak or timeout; this script keeps the input (BUILD/findings/TARGET/) and
# starts the target again for the time left, so one run can find several
# bugs (after the same crash FUZZ_MAX_REPEAT (3) times it stops; with
# FUZZ_ARGS='-fork=1 -ignore_crashes=1' libFuzzer itself fuzzes on past
# crashes, in one run). At the end it writes BUILD/logs/TARGET.summary:
# executions, exec/s, coverage, corpus size and one line per finding (the
# sanitizer's SUMMARY line, or the failed invariant, and the first frame in
# the project's code).
# Exits 1 if anything was found. The full output is in BUILD/logs/TARGET.log.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$PWD
build=$1 t=$2 secs=$3
shift 3
bin=$build/fuzz_$t
corpus=$build/corpus/$t
seeds=$build/seeds/$t
regress=tests/fuzz/regressions/$t
findings=$build/findings/$t
logs=$build/logs
mkdir -p "$corpus" "$seeds" "$findings" "$logs"
log=$logs/$t.log
summary=$logs/$t.summary
: >"$log"

# shellcheck source=options.sh
. fuzz/options.sh
fuzz_options "$t"
dirs=("$corpus" "$seeds")

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# signature LOG: what went wrong and where, in one line
signature() {
    local what where
    what=$(grep -m1 -E '^fuzz invariant failed|^SUMMARY: |^==[0-9]+== ?ERROR: libFuzzer' "$1")
    local frames
    frames=$(grep -E '^ +#[0-9]+ 0x[0-9a-f]+ in ' "$1")
    where=$(grep -m1 -E "$root/(common|model|capture|flow|app|engine|store|query)/" <<<"$frames")
    [ -n "$where" ] || where=$(grep -m1 -E "$root/fuzz/fuzz_[a-z]+\.c" <<<"$frames")
    where=$(sed -E "s/^ +#[0-9]+ 0x[0-9a-f]+ in //; s|$root/||g" <<<"$where")
    echo "${what:-exit without a report}${where:+ | at $where}"
}

# Regression inputs join the corpus, unless one still crashes (the bug is
# not fixed yet): then the run would stop at once on it.
if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
    if "$bin" -runs=1 "$regress"/* >"$logs/$t.replay.log" 2>&1; then
        dirs+=("$regress")
    else
        echo "fuzz/$t: a regression input still crashes (see $logs/$t.replay.log); not used as corpus"
    fi
fi

start=$SECONDS
execs=0 nfound=0
declare -A count first # by signature: how many inputs, the first one kept
order=()
# note SIGNATURE INPUT
note() {
    nfound=$((nfound + 1))
    if [ -z "${count[$1]:-}" ]; then
        order+=("$1")
        count[$1]=0
        first[$1]=$2
    fi
    count[$1]=$((count[$1] + 1))
}
fork=0
for a in "$@"; do case $a in -fork=*) fork=1 ;; esac; done
repeat=${FUZZ_MAX_REPEAT:-3}
while :; do
    left=$((start + secs - SECONDS))
    [ "$left" -gt 0 ] || break
    part=$(mktemp)
    "$bin" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$findings/" "${opts[@]}" "$@" "${dirs[@]}" >"$part" 2>&1
    rc=$?
    cat "$part" >>"$log"
    n=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$part" | tail -n 1)
    [ -n "$n" ] || n=$(sed -nE 's/^#([0-9]+):? .*cov: .*/\1/p' "$part" | tail -n 1)
    execs=$((execs + ${n:-0}))
    if [ "$fork" = 1 ]; then
        # -fork=N -ignore_crashes=1: one run; the reports are all in its log
        # (the parent shows the first line of each job's report)
        mapfile -t sigs < <(grep -E 'fuzz invariant failed|runtime error:|ERROR: [A-Za-z]+Sanitizer|ERROR: libFuzzer' "$part" |
            sed -E 's/==[0-9]+==//; s/0x[0-9a-f]+/0x.../g' | sort | uniq -c | sort -rn | sed -E 's/^ *//')
        for sg in "${sigs[@]}"; do note "${sg#* } (fork mode: ${sg%% *} reports; inputs in $findings/)" "-"; done
        rm -f "$part"
        break
    fi
    if [ "$rc" -eq 0 ]; then
        rm -f "$part"
        break
    fi
    kept=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$part" | tail -n 1)
    if [ -z "$kept" ] || [ ! -f "$kept" ]; then
        note "exited $rc without keeping an input: $(signature "$part")" "-"
        rm -f "$part"
        break
    fi
    cp "$part" "$kept.log"
    sig=$(signature "$part")
    note "$sig" "$kept"
    rm -f "$part"
    # an input of the corpus that crashes now (the code changed) would stop
    # every restart at once: it moves out (it is kept as the finding)
    sha=${kept##*-}
    [ -f "$corpus/$sha" ] && rm -f "$corpus/$sha"
    if [ "${count[$sig]}" -ge "$repeat" ]; then
        # a bug that common stops every run at once: fuzzing past it needs
        # it fixed, or FUZZ_ARGS='-fork=1 -ignore_crashes=1'
        note "stopped $((start + secs - SECONDS))s early: the same crash $repeat times (fix it, or fuzz past it: FUZZ_ARGS='-fork=1 -ignore_crashes=1')" "-"
        nfound=$((nfound - 1))
        break
    fi
done

elapsed=$((SECONDS - start))
last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
size=$(find "$corpus" -type f | wc -l)
{
    printf 'fuzz/%s: %ds, %d executions (%d/s), cov %s ft %s, corpus %d files, %d finding(s), %d distinct\n' \
        "$t" "$elapsed" "$execs" $((execs / (elapsed > 0 ? elapsed : 1))) "${cov:-?}" "${ft:-?}" "$size" \
        "$nfound" "${#order[@]}"
    for sig in "${order[@]}"; do
        echo "  ${count[$sig]}x $sig"
        case ${first[$sig]} in
        -) ;;
        *) echo "     first input: ${first[$sig]} (report: ${first[$sig]}.log)" ;;
        esac
    done
} >"$summary"
cat "$summary"
[ "$nfound" -eq 0 ]
