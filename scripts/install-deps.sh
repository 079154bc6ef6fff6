#!/usr/bin/env bash
# scripts/install-deps.sh — install what wsstats needs to build, test and
# demo, and nothing that is already there.
#
# Debian packages through apt-get (as root; `apt-get update` runs once, only
# when something is missing), then the Node test peers' npm packages from
# tests/peers/package-lock.json. Safe to run again: it does nothing when all
# is present. Used by `make demo` and `make check`.
set -euo pipefail
cd "$(dirname "$0")/.."

# package -> why
BUILD_PKGS=(gcc make pkg-config libpcap-dev libndpi-dev libsqlite3-dev libgcrypt20-dev libmicrohttpd-dev libcurl4-openssl-dev)
TEST_PKGS=(libcmocka-dev tcpdump tshark python3 python3-websockets sqlite3 clang nginx openssl curl time prometheus clickhouse-server clickhouse-client)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# Node may come from Debian or from elsewhere: judge by the commands.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing Debian packages: ${missing[*]}" >&2
        echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # nginx and prometheus are only test peers (their tests run their own on free ports):
    # keep its package from starting the system service on port 80, with
    # Debian's policy-rc.d mechanism, unless the machine already has a policy.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    rc=0
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
    [ "$own_policy" = 1 ] && rm -f "$policy"
    [ "$rc" = 0 ] || { echo "install-deps: apt-get failed (exit $rc)" >&2; exit "$rc"; }
fi

# Node's ws package for the end-to-end tests and the demo's traffic.
if [ -f tests/peers/package.json ] && [ ! -d tests/peers/node_modules/ws ]; then
    echo "install-deps: installing the Node test peers' packages (npm ci)"
    (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
exit 0
