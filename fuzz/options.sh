# fuzz/options.sh — libFuzzer options per target, for fuzz/run-target.sh and
# tests/fuzz/run.sh (sourced). fuzz_options TARGET sets the array `opts`:
# the largest input worth trying, and a dictionary of the protocol's words.
fuzz_options() {
    case $1 in
    decode) opts=(-max_len=4096) ;;
    http) opts=(-max_len=36864 -dict=fuzz/http.dict) ;; # two heads over the 16 KiB limit (wsconn.h)
    ws) opts=(-max_len=16384) ;;
    pipeline) opts=(-max_len=65536 -dict=fuzz/http.dict) ;;
    dbopen) opts=(-max_len=32768) ;; # twice the largest seed database (29 pages of 512 bytes)
    *) opts=() ;;
    esac
}
