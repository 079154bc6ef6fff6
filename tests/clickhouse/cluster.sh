#!/bin/bash
# tests/clickhouse/cluster.sh — a sharded ClickHouse store (issue 24's cluster
# requirement): two clickhouse-server instances from Debian (18.16), started
# here on loopback with their own configuration, users and data directories,
# each a shard of the cluster wsstats_cluster of contrib/clickhouse/cluster.xml
# (its hosts and ports replaced by these servers'), the tables of
# contrib/clickhouse/schema.sql on both and its sharded section (the
# Distributed tables, database wsstats_all) on both too. Three sensors, from
# three different synthetic captures: tap-1 ships to shard 1, tap-2 and tap-3
# to shard 2, each to its shard's local tables; the same three also ship to
# a single-node database (wsstats_r on server 1), the reference.
#
#   config              both servers start with contrib's cluster.xml as a config.d
#                       drop-in; each sees wsstats_cluster as two shards, itself local
#   schema              schema.sql and its sharded section (its `--:` lines) load on
#                       both; the Distributed tables have the local ones' columns,
#                       the MATERIALIZED `ended` included
#   ship                wsstats export of each sensor to its shard and to the
#                       single-node database: exit 0, every record
#   shards-hold-their-sensors  each shard's local connections, captures and
#                       tls_flows hold its own sensors' rows and no others, each
#                       sensor's as many as its SQLite database has
#   distributed-is-the-union  count() through the Distributed tables (asked on
#                       either server) is the sum of the shards' counts and the
#                       single-node count; every row (connections; captures and
#                       tls_flows with FINAL) equals the single-node database's
#   reports-same-as-single-node  top-codes, timeline, group-by (every key, sensor
#                       included) and durations, with windows and filters (--since,
#                       --until, --code, --outcome, --sensor, --host, --server,
#                       --path), in table, json and csv, print through wsstats_all
#                       byte for byte what they print on the single-node database
#   reports-through-either-node  asked through server 2's Distributed tables too
#   summary-connections the same for summary (the captures and TLS counts of
#                       every shard) and connections
#   shard-down          shard 2 stopped: a report through wsstats_all is exit 1 and
#                       one line, not a report on part of the fleet
#
# Output follows tests/CONTRACT.md. Skips (exit 0) without clickhouse-server
# and clickhouse-client. The servers are stopped and the temporary directory
# removed by the EXIT trap.
set -u
SUITE=clickhouse-cluster
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null ||
    skip_all "no clickhouse-server/clickhouse-client (apt-get install clickhouse-server clickhouse-client)"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wsstats-chc.XXXXXX")
SERVER1=''
SERVER2=''
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    local p
    for p in "$SERVER1" "$SERVER2"; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
read -r HTTP1 TCP1 INTER1 HTTP2 TCP2 INTER2 <<<"$(cap_free_ports 6)"
ALL1="http://127.0.0.1:$HTTP1/?database=wsstats_all"
ALL2="http://127.0.0.1:$HTTP2/?database=wsstats_all"
SINGLE="http://127.0.0.1:$HTTP1/?database=wsstats_r"

# shellcheck source-path=SCRIPTDIR source=server.sh
. "$(dirname "$0")/server.sh"
# node N HTTP TCP INTERSERVER: server N's configuration in $TMP/nN, the
# cluster from contrib/clickhouse/cluster.xml with ch1.example and
# ch2.example (port 9000) made these two servers.
node() {
    local d=$TMP/n$1
    mkdir -p "$d/config.d"
    ch_config "$d" "$2" "$3" "$4"
    sed "/<host>ch1\.example<\/host>/{s//<host>127.0.0.1<\/host>/;n;s/<port>9000</<port>$TCP1</;}
         /<host>ch2\.example<\/host>/{s//<host>127.0.0.1<\/host>/;n;s/<port>9000</<port>$TCP2</;}" \
        "$ROOT/contrib/clickhouse/cluster.xml" >"$d/config.d/cluster.xml"
}
node 1 "$HTTP1" "$TCP1" "$INTER1"
node 2 "$HTTP2" "$TCP2" "$INTER2"
clickhouse-server --config-file="$TMP/n1/config.xml" >"$TMP/n1/stdout.log" 2>&1 &
SERVER1=$!
clickhouse-server --config-file="$TMP/n2/config.xml" >"$TMP/n2/stdout.log" 2>&1 &
SERVER2=$!
for n in 1 2; do
    eval "port=\$HTTP$n"
    # shellcheck disable=SC2154  # port is set by the eval
    cap_poll 30 curl -sf -o /dev/null "http://127.0.0.1:$port/ping" || {
        fail clickhouse-cluster/server-start "ClickHouse $n did not answer /ping" \
            "$(tail -5 "$TMP/n$n/stdout.log" "$TMP/n$n/error.log" 2>/dev/null)"
        exit 1
    }
done
ch1() { clickhouse-client --port "$TCP1" -q "$1"; }
ch2() { clickhouse-client --port "$TCP2" -q "$1"; }

q="SELECT cluster, shard_num, host_name, port, is_local FROM system.clusters WHERE cluster = 'wsstats_cluster' ORDER BY shard_num"
got1=$(ch1 "$q" 2>&1 | tr '\t\n' '  ')
got2=$(ch2 "$q" 2>&1 | tr '\t\n' '  ')
[ "$got1" = "wsstats_cluster 1 127.0.0.1 $TCP1 1 wsstats_cluster 2 127.0.0.1 $TCP2 0 " ] &&
    [ "$got2" = "wsstats_cluster 1 127.0.0.1 $TCP1 0 wsstats_cluster 2 127.0.0.1 $TCP2 1 " ] &&
    pass clickhouse-cluster/config ||
    fail clickhouse-cluster/config "system.clusters on server 1: $got1" "on server 2: $got2" \
        "(want shard 1 at 127.0.0.1:$TCP1, shard 2 at 127.0.0.1:$TCP2, each server local to itself)"

# ---- the schema: local tables on both, the Distributed ones on both, the
# single-node reference (wsstats_r) on server 1
bad=""
sharded=$(sed -n 's/^--: //p' "$ROOT/contrib/clickhouse/schema.sql")
for port in "$TCP1" "$TCP2"; do
    out=$(clickhouse-client --port "$port" --multiquery <"$ROOT/contrib/clickhouse/schema.sql" 2>&1) ||
        bad="$bad [schema.sql on :$port: $out]"
    out=$(clickhouse-client --port "$port" --multiquery <<<"$sharded" 2>&1) || bad="$bad [the sharded section on :$port: $out]"
    for t in connections captures tls_flows; do
        local_cols=$(clickhouse-client --port "$port" -q "DESCRIBE TABLE wsstats.$t" 2>&1)
        dist_cols=$(clickhouse-client --port "$port" -q "DESCRIBE TABLE wsstats_all.$t" 2>&1)
        engine=$(clickhouse-client --port "$port" -q "SELECT engine FROM system.tables WHERE database = 'wsstats_all' AND name = '$t'")
        [ "$engine" = Distributed ] && [ "$local_cols" = "$dist_cols" ] ||
            bad="$bad [wsstats_all.$t on :$port: engine '$engine', columns $(diff <(echo "$local_cols") <(echo "$dist_cols") | head -3 | tr '\n\t' '  ')]"
    done
done
[ "$(ch1 "SELECT default_kind FROM system.columns WHERE database = 'wsstats_all' AND table = 'connections' AND name = 'ended'")" = MATERIALIZED ] ||
    bad="$bad [wsstats_all.connections has no MATERIALIZED ended]"
[ "$(echo "$sharded" | grep -c 'ENGINE = Distributed(wsstats_cluster, wsstats, ')" = 3 ] ||
    bad="$bad [the sharded section has not 3 Distributed tables: $sharded]"
sed 's/wsstats\./wsstats_r./g; s/DATABASE IF NOT EXISTS wsstats;/DATABASE IF NOT EXISTS wsstats_r;/' \
    "$ROOT/contrib/clickhouse/schema.sql" | clickhouse-client --port "$TCP1" --multiquery >"$TMP/out" 2>&1 ||
    bad="$bad [wsstats_r: $(cat "$TMP/out")]"
[ -z "$bad" ] && pass clickhouse-cluster/schema || fail clickhouse-cluster/schema "$bad"

# ---- three sensors, three different captures: random connections (seeded)
# of every outcome, IPv4 and IPv6, hosts in two spellings, paths with a
# query, user agents, subprotocols, idle times from 50 ms to 40 s, over
# two overlapping minutes; then the same 40 connections in each (one link
# seen by every tap: equal times across sensors); and TLS flows for tap-1
# and tap-2.
PYTHONPATH="$ROOT/tests/tools" "$PY" - "$TMP" <<'EOF'
import base64, hashlib, random, sys
from pcapgen import GUID, Conversation, Pcap

HOSTS = ["api.example.test", "API.Example.test", "chat.example.test", "EXAMPLE.test", "feed.example.test"]
PATHS = ["/live", "/live?token=%d", "/chat", "/feed/v2", "/"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "okhttp/4.12.0",
          "Python/3.11 websockets/10.4", None]
PROTOS = [None, None, "chat.v1", "graphql-transport-ws"]
# how a connection ends: (kind, code, reason), and how often
ENDS = [("clean", 1000, "bye"), ("clean", 1000, ""), ("clean", 1001, "server going down"),
        ("clean", 4001, "über"), ("clean", None, ""), ("half", 1011, "oops"), ("half", 1008, "policy"),
        ("half", 1013, ""), ("fin", 0, ""), ("rst", 0, ""), ("open", 0, ""), ("rejected", 0, "")]
WEIGHTS = [30, 10, 8, 3, 2, 4, 3, 2, 8, 5, 3, 3]
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
MASK = {"mask": b"\x01\x02\x03\x04"}


def frame(c, side, opcode, payload):
    c.send_frame(side, opcode, payload, **(MASK if side == "client" else {}))


def conversation(p, rng, i, t0, net):
    if rng.random() < 0.2:
        client, server, sport = "fd00:%x::%x" % (net, i + 1), "fd00::8", 443
    else:
        client = "10.%d.%d.%d" % (net, (i >> 8) & 0xFF, i & 0xFF)
        server, sport = rng.choice([("10.8.0.1", 8080), ("10.8.0.2", 443), ("10.8.0.3", 443)])
    c = Conversation(p, client, 20000 + i, server, sport)
    host, path, agent, proto = rng.choice(HOSTS), rng.choice(PATHS), rng.choice(AGENTS), rng.choice(PROTOS)
    path = path % i if "%d" in path else path
    kind, code, reason = rng.choices(ENDS, WEIGHTS)[0]
    p.clock = t0  # the capture's packets are sorted by time when it is written
    c.syn()
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n") % (path, host, KEY.decode())
    req += "User-Agent: %s\r\n" % agent if agent else ""
    req += "Sec-WebSocket-Protocol: %s\r\n" % proto if proto else ""
    c.send("client", (req + "\r\n").encode())
    if kind == "rejected":
        c.send("server", b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        c.fin("server")
        c.fin("client")
        return
    resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + base64.b64encode(hashlib.sha1(KEY + GUID).digest()))
    resp += b"\r\nSec-WebSocket-Protocol: " + proto.encode() if proto else b""
    c.send("server", resp + b"\r\n\r\n")
    t = p.clock
    for _ in range(rng.randrange(0, 5)):
        t += rng.expovariate(1 / 0.8)
        p.clock = t
        frame(c, rng.choice(["client", "server"]), 1, b"x" * rng.randrange(1, 300))
    p.clock = t + rng.choice([0.05, 0.3, 1.5, 4.0, 12.0, 35.0]) * rng.uniform(0.8, 1.2)
    if kind == "open":
        return
    if kind in ("fin", "rst"):
        side = rng.choice(["client", "server"])
        c.fin(side) if kind == "fin" else c.rst(side)
        return
    first = "server" if code in (1001, 1011, 1008, 1013) else rng.choice(["client", "server"])
    frame(c, first, 8, b"" if code is None else code.to_bytes(2, "big") + reason.encode())
    if kind == "clean":
        frame(c, c.other(first), 8, b"" if code is None else code.to_bytes(2, "big"))
    c.fin("server")
    c.fin("client")


def capture(path, seed, n, start, net, span=120.0, shared=40):
    p = Pcap(path, start=start)
    rng = random.Random(seed)
    for i in range(n):
        conversation(p, rng, i, start + rng.uniform(0, span), net)
    rng = random.Random(0)
    for i in range(shared):
        conversation(p, rng, n + i, 1700000000.0 + rng.uniform(0, span), 200)
    p.close()


tmp = sys.argv[1]
capture(tmp + "/s1.pcap", 1, 700, 1700000000.0, 1)
capture(tmp + "/s2.pcap", 2, 600, 1700000050.0, 2)
capture(tmp + "/s3.pcap", 3, 300, 1700000090.0, 3)
EOF
"$PY" "$ROOT/tests/hostile/hostile.py" tlsflows "$TMP/tls.pcap" 200
"$BIN/wsstatsd" -q -r "$TMP/s1.pcap" -r "$TMP/tls.pcap" -w "$TMP/s1.db"
"$BIN/wsstatsd" -q -r "$TMP/s2.pcap" -r "$TMP/tls.pcap" -w "$TMP/s2.db"
"$BIN/wsstatsd" -q -r "$TMP/s3.pcap" -w "$TMP/s3.db"
rows() { sqlite3 "$1" "SELECT count(*) FROM connections"; }
# the single-node database gets copies: the captures and TLS counts shipped
# are remembered in the database (its meta table), per sensor, not per URL
for s in 1 2 3; do cp "$TMP/s$s.db" "$TMP/r$s.db"; done

# ---- shipping: each sensor to its shard's local tables, and to wsstats_r
# shellcheck disable=SC2034  # read by the eval
SHARD_OF_1=$HTTP1 SHARD_OF_2=$HTTP2 SHARD_OF_3=$HTTP2
bad=""
for s in 1 2 3; do
    eval "port=\$SHARD_OF_$s"
    for to in "s http://127.0.0.1:$port/?database=wsstats" "r $SINGLE"; do
        db=$TMP/${to%% *}$s.db url=${to#* }
        "$BIN/wsstats" export --db "$db" --clickhouse "$url" --sensor-name "tap-$s" 2>"$TMP/err"
        rc=$?
        grep -q "^wsstats: $(rows "$db") records shipped as sensor tap-$s " "$TMP/err" && [ $rc = 0 ] ||
            bad="$bad [tap-$s to $url: exit $rc, $(tr '\n' ' ' <"$TMP/err")]"
    done
done
[ -z "$bad" ] && pass clickhouse-cluster/ship || fail clickhouse-cluster/ship "$bad"

# ---- where the rows are: the shards hold their own sensors' rows, no others
# what SQL gives on PORT, one line
on() { clickhouse-client --port "$1" -q "$2" 2>&1 | tr '\t' , | paste -sd , -; }
bad=""
for shard in 1 2; do
    eval "port=\$TCP$shard"
    [ $shard = 1 ] && mine="tap-1" || mine="tap-2 tap-3"
    for t in connections captures tls_flows; do
        got=$(on "$port" "SELECT DISTINCT sensor FROM wsstats.$t ORDER BY sensor")
        want=$mine
        [ $t = tls_flows ] && want=${mine% tap-3}  # tap-3 has no TLS flows
        [ "$got" = "${want// /,}" ] || bad="$bad [shard $shard's $t: sensors '$got', want '${want// /,}']"
    done
    for s in $mine; do
        db=$TMP/s${s#tap-}.db
        got=$(on "$port" "SELECT count() FROM wsstats.connections WHERE sensor = '$s'")
        [ "$got" = "$(rows "$db")" ] || bad="$bad [shard $shard: $got rows of $s, its database $(rows "$db")]"
        got=$(on "$port" "SELECT count(), sum(packets) FROM wsstats.captures FINAL WHERE sensor = '$s'")
        want=$(sqlite3 -separator , "$db" "SELECT count(*), sum(packets) FROM captures")
        [ "$got" = "$want" ] || bad="$bad [shard $shard: captures of $s $got, its database $want]"
        got=$(on "$port" "SELECT sum(connections) FROM wsstats.tls_flows FINAL WHERE sensor = '$s'")
        want=$(sqlite3 "$db" "SELECT coalesce(sum(connections), 0) FROM tls_flows")
        [ "$got" = "$want" ] || bad="$bad [shard $shard: TLS flows of $s $got, its database $want]"
    done
done
[ -z "$bad" ] && pass clickhouse-cluster/shards-hold-their-sensors || fail clickhouse-cluster/shards-hold-their-sensors "$bad"

# ---- the Distributed tables: the union of the shards, equal to the single node
bad=""
n1=$(on "$TCP1" "SELECT count() FROM wsstats.connections")
n2=$(on "$TCP2" "SELECT count() FROM wsstats.connections")
sum=$(($(rows "$TMP/s1.db") + $(rows "$TMP/s2.db") + $(rows "$TMP/s3.db")))
single=$(on "$TCP1" "SELECT count() FROM wsstats_r.connections")
for port in "$TCP1" "$TCP2"; do
    all=$(on "$port" "SELECT count() FROM wsstats_all.connections")
    [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && [ "$all" = $((n1 + n2)) ] && [ "$all" = "$sum" ] && [ "$all" = "$single" ] ||
        bad="$bad [count() through :$port's wsstats_all $all; shard 1 $n1 + shard 2 $n2; single node $single; SQLite $sum]"
done
# every row, in one order, the same through wsstats_all as in wsstats_r (but
# the captures' and TLS counts' version: the time of the shipping round)
CAPTURES="sensor, id, source, source_path, kind, started_at, ended_at, first_packet_at, last_packet_at, packets,
    bytes, drops, if_drops, tcp_flows, connections, status, received, host, pid, file_name, file_size"
# (ORDER BY outside: 18.16 fails "SELECT cols FROM distributed FINAL ORDER BY
# ..." without a WHERE unless cols has the version: "Cannot find column
# version in source stream")
for q in "SELECT * FROM DB.connections ORDER BY sensor, id" \
    "SELECT * FROM (SELECT $CAPTURES FROM DB.captures FINAL) ORDER BY sensor, id" \
    "SELECT * FROM (SELECT sensor, hour, source, server_ip, server_port, sni, connections, updated_at
     FROM DB.tls_flows FINAL) ORDER BY sensor, hour, source, server_ip, server_port, sni"; do
    clickhouse-client --port "$TCP1" -q "${q//DB/wsstats_all}" >"$TMP/a.out" 2>&1
    clickhouse-client --port "$TCP1" -q "${q//DB/wsstats_r}" >"$TMP/b.out" 2>&1
    cmp -s "$TMP/a.out" "$TMP/b.out" && [ -s "$TMP/b.out" ] ||
        bad="$bad [$q: $(wc -l <"$TMP/a.out") and $(wc -l <"$TMP/b.out") lines, $(diff "$TMP/a.out" "$TMP/b.out" | head -3 | tr '\n' ' ')]"
done
[ -z "$bad" ] && pass clickhouse-cluster/distributed-is-the-union || fail clickhouse-cluster/distributed-is-the-union "$bad"

# ---- the reports: through wsstats_all what the single node prints
# same_report A B ARGS...: the report (every format) on URL A and URL B, byte
# for byte and exit status; differences appended to $bad, tables' digests
# to $TMP/sums
same_report() {
    local a=$1 b=$2 fmt ra rb
    shift 2
    for fmt in table json csv; do
        "$BIN/wsstats" --clickhouse "$a" "$@" --format $fmt >"$TMP/a.out" 2>&1
        ra=$?
        "$BIN/wsstats" --clickhouse "$b" "$@" --format $fmt >"$TMP/b.out" 2>&1
        rb=$?
        n=$((n + 1))
        [ $fmt = table ] && md5sum <"$TMP/b.out" >>"$TMP/sums"
        if [ $ra != $rb ] || [ $ra != 0 ] || ! cmp -s "$TMP/a.out" "$TMP/b.out"; then
            bad="$bad [$* --format $fmt: exit $ra/$rb: $(diff "$TMP/a.out" "$TMP/b.out" | head -6 | tr '\n' ' ')]"
        fi
    done
}
bad=""
n=0
: >"$TMP/sums"
while IFS= read -r args; do
    # shellcheck disable=SC2086  # the words are the arguments
    same_report "$ALL1" "$SINGLE" $args
done <<'EOF'
top-codes
top-codes --since 30s
top-codes --code 1000-1999,none
top-codes --outcome abnormal,unfinished
top-codes --sensor tap-2
top-codes --host api.example.test
top-codes --server 10.8.0.2:443
top-codes --path /live* --until 2023-11-14T22:15:00Z
timeline
timeline --bucket 10s --since 90s
timeline --code 1006 --bucket 30s --sensor tap-1
group-by host
group-by path --outcome clean
group-by server --limit 3
group-by client --since 20s
group-by user-agent --code 1000-1999
group-by subprotocol
group-by sensor
group-by sensor --code 1006 --since 1m
group-by sensor --host chat.example.test
durations
durations --outcome abnormal --since 1m
durations --sensor tap-3
durations --code 1001 --server 10.8.0.1
EOF
# a test that cannot fail is none: the filters changed what was printed,
# and every sensor is counted, from both shards
distinct=$(sort -u "$TMP/sums" | wc -l)
[ "$distinct" -ge 22 ] || bad="$bad [only $distinct different reports of 24: the filters did nothing]"
"$BIN/wsstats" --clickhouse "$ALL1" group-by sensor --format csv >"$TMP/out" 2>&1
for s in 1 2 3; do
    grep -q "^tap-$s,$(rows "$TMP/s$s.db")," "$TMP/out" || bad="$bad [group-by sensor lacks tap-$s's $(rows "$TMP/s$s.db"): $(head -4 "$TMP/out" | tr '\n' ' ')]"
done
[ -z "$bad" ] && pass "clickhouse-cluster/reports-same-as-single-node ($n reports)" ||
    fail clickhouse-cluster/reports-same-as-single-node "$bad"

bad=""
n=0
for args in "top-codes --since 1m" "timeline --bucket 20s" "group-by host --sensor tap-3" "group-by sensor" "durations"; do
    # shellcheck disable=SC2086  # the words are the arguments
    same_report "$ALL2" "$SINGLE" $args
done
[ -z "$bad" ] && pass "clickhouse-cluster/reports-through-either-node ($n reports)" ||
    fail clickhouse-cluster/reports-through-either-node "$bad"

# ---- summary and connections (their captures and TLS counts, their records)
bad=""
n=0
for cmd in summary connections; do
    while IFS= read -r args; do
        # shellcheck disable=SC2086  # the words are the arguments
        same_report "$ALL1" "$SINGLE" $cmd $args
    done <<EOF

--since 1m --sensor tap-2
--code 1006 --host api.example.test
$([ $cmd = connections ] && echo "--limit 0" || echo "--outcome clean,half_closed")
EOF
done
[ -z "$bad" ] && pass "clickhouse-cluster/summary-connections ($n reports)" ||
    fail clickhouse-cluster/summary-connections "$bad"

# ---- a shard down: no report on part of the fleet
kill -TERM "$SERVER2" 2>/dev/null && wait "$SERVER2" 2>/dev/null
SERVER2=
"$BIN/wsstats" --clickhouse "$ALL1" top-codes >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc = 1 ] && [ ! -s "$TMP/out" ] && [ "$(wc -l <"$TMP/err")" = 1 ] && grep -q "^wsstats: $ALL1: " "$TMP/err" &&
    pass clickhouse-cluster/shard-down ||
    fail clickhouse-cluster/shard-down "exit $rc (want 1)" "$(head -3 "$TMP/out")" "$(head -3 "$TMP/err")"
[ "$FAILED" = 0 ]
