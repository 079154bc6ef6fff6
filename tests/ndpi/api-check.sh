#!/bin/sh
# tests/ndpi/api-check.sh — the nDPI adapter's branches for newer releases
# compile (TAP output).
#
# app/dpi.c is compiled with -fsyntax-only -Werror against
# api-shim/, which declares the 4.6, 4.8 and 4.10 signatures of the calls
# that changed after 4.4; 4.12 must be refused with the adapter's #error.
# Only Debian's 4.2 is linked and run (tests/ndpi/run.sh).
set -u
cd "$(dirname "$0")/../.."
CC=${CC:-cc}
FLAGS="-std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -fsyntax-only -I tests/ndpi/api-shim"
n=0; fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$2"; }
log=$(mktemp); trap 'rm -f "$log"' EXIT
for v in 406 408 410; do
    if $CC $FLAGS -DSHIM_VER=$v -DWSSTATS_NDPI_VERSION=$v app/dpi.c >"$log" 2>&1; then
        ok "the nDPI adapter (app/dpi.c) compiles against nDPI $v's signatures"
    else
        notok "the nDPI adapter (app/dpi.c) compiles against nDPI $v's signatures" "$log"
    fi
done
if $CC $FLAGS -DSHIM_VER=410 -DWSSTATS_NDPI_VERSION=412 app/dpi.c >"$log" 2>&1; then
    notok "nDPI 4.12 is refused at compile time" "$log"
elif grep -q 'not supported by this adapter' "$log"; then
    ok "nDPI 4.12 is refused at compile time, with the adapter's message"
else
    notok "nDPI 4.12 is refused at compile time, with the adapter's message" "$log"
fi
echo "1..$n"
[ "$fail" -eq 0 ]
