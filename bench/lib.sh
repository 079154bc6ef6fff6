# shellcheck shell=bash
# bench/lib.sh — what the timed runs of `make bench` share (speed.sh,
# dense.sh): running a program N times and taking the median, the table
# rows, the floor and its buffer. Sourced, not run; expects BIN and OUT.
#
#   runs N LOG CMD...      "WALL CPU RSS" of the median of N runs (DB, when
#                          set, is removed before each run)
#   median_line LINE...    the line with the median first field
#   row NAME PACKETS BYTES SECONDS RSS_KIB CPU
#   floor_buffer FILE      the floor's fastest stdio buffer over FILE, of
#                          FLOOR_BUFFERS (3 runs each), into FLOOR_BUFFER;
#                          prints what it measured
#   peak_kib LOG           the peak RSS that wsstatsd -v / floor -v logged

FLOOR=$BIN/bench/floor
FLOOR_BUFFERS=${FLOOR_BUFFERS:-"16384 65536 131072 262144 1048576 4194304"}

build_floor() {
    [ -x "$FLOOR" ] && [ ! bench/floor.c -nt "$FLOOR" ] && return 0
    if grep -q 'bench/bench.mk' Makefile; then
        make --no-print-directory BUILD="$BIN" "$FLOOR"
    else
        make --no-print-directory -f Makefile -f bench/bench.mk BUILD="$BIN" "$FLOOR"
    fi
}

machine_line() {
    echo "== machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p; T; q' /proc/cpuinfo)," \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr);" \
        "$(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
fsize() { stat -c %s "$1"; }
peak_kib() { sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$1" | tail -1; }
dbrm() { rm -f "$1" "$1-wal" "$1-shm" "$1-journal"; }

# row NAME PACKETS FILE_BYTES SECONDS PEAK_KIB CPU_SECONDS
row() {
    awk -v n="$1" -v p="$2" -v b="$3" -v s="$4" -v r="$5" -v c="$6" 'BEGIN {
        printf "%-34s %9d %8.1f %8.3f %7.2f %11.0f %9.1f %8.1f\n", n, p, b / 1e6, s, c, p / s, b / 1e6 / s, r / 1024 }'
}
row_header() {
    printf '%-34s %9s %8s %8s %7s %11s %9s %8s\n' RUN PACKETS MB SECONDS CPU PACKETS/S MB/S "RSS MiB"
}

# timed FILE CMD...: user and system seconds and peak RSS (KiB) into FILE,
# by GNU time (zeros without it)
timed() {
    local out=$1
    shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%U %S %M' -o "$out" "$@"
    else
        echo '0 0 0' >"$out"
        "$@"
    fi
}

median_line() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }'; }

# runs N LOG CMD...: "WALL CPU RSS" of the run with the median wall time of
# N runs (the log is the last run's); CPU = user + system seconds, RSS in KiB
runs() {
    local n=$1 log=$2 t=() t0 t1
    shift 2
    for ((i = 0; i < n; i++)); do
        [ -n "${DB:-}" ] && dbrm "$DB"
        t0=$(now_ns)
        if ! timed "$log.cpu" "$@" >"$log" 2>&1; then
            echo "bench: failed: $* (see $log)" >&2
            sed 's/^/   /' "$log" | tail -5 >&2
            exit 1
        fi
        t1=$(now_ns)
        t+=("$(secs "$t0" "$t1") $(awk '{ printf "%.2f %d", $1 + $2, $3 }' "$log.cpu")")
    done
    median_line "${t[@]}"
}

# floor_buffer FILE: the fastest stdio buffer for the floor over FILE (the
# median of 3 runs of its own loop's time for each size), into FLOOR_BUFFER
floor_buffer() {
    local file=$1 best='' best_s='' size s line sizes=''
    for size in $FLOOR_BUFFERS; do
        local t=()
        for _ in 1 2 3; do
            line=$("$FLOOR" -b "$size" "$file") || exit 1
            t+=("$(awk '{ print $6 }' <<<"$line")")
        done
        s=$(median_line "${t[@]}")
        sizes+=" $((size / 1024)) KiB ${s} s;"
        if [ -z "$best" ] || awk -v a="$s" -v b="$best_s" 'BEGIN { exit !(a < b) }'; then
            best=$size best_s=$s
        fi
    done
    # shellcheck disable=SC2034 # read by the caller
    FLOOR_BUFFER=$best
    echo "   floor's stdio buffer: $((best / 1024)) KiB, the fastest over $(basename "$file") of${sizes%;} (its loop's own time, median of 3)"
}
