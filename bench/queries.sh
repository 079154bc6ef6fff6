#!/usr/bin/env bash
# bench/queries.sh — "queries over a million records answer in well under a
# second" (docs/design.md §5), measured: each must take less than half a second.
#
#   1. Builds bench/out/queries-1m.db once (kept; skipped when it already
#      holds 1,000,000 records): the schema exactly as wsstatsd creates it
#      (wsstatsd -r on a one-connection capture, its rows then deleted), filled
#      by one sqlite3 transaction with 1,000,000 synthetic connection records
#      spread over the 7 days before 2026-11-01 00:00 UTC: 3 sensors (capture
#      files, so relative times count back from the newest record), ~200
#      servers, ~20,000 clients, 50 hosts, 200 paths, 30 user agents, a few
#      subprotocols; close codes as seen in the wild (1000 40 %, 1001 20 %,
#      1006 25 %, 1011, 1008, 4xxx, 1005, 1002, 1009, and NULL for unfinished
#      and rejected connections) with outcome, initiator, termination, both
#      close frames and the timestamps consistent with docs/design.md §3; 40 % of the
#      1006s torn down after exactly 60 s of silence (a proxy's idle timeout),
#      most 4000s closed by the server at a lifetime of one hour; violations
#      on 1 %. No ANALYZE: the database is what wsstatsd would leave (a kept
#      one whose page size is not what wsstatsd now creates is rebuilt). Takes
#      some 12 s on 2 cores (4 of them re-creating wsstatsd's indexes).
#   2. Times every query command of wsstats against it: each run 3 times with
#      output to /dev/null; the table shows the median wall time (ms), the
#      three runs and the exit status (the worst of the three). Filters use
#      the busiest server, port, host and path, a client with a single record,
#      one sensor, an outcome and a code; every group-by key. A command that
#      does not exist yet (exit 2) is reported as failed and the run goes on.
#
# Ends with a verdict line; exits 0 when every command succeeded in under
# LIMIT_MS (300 ms, issue 21; 500 before), else 1. BIN selects the build directory
# (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
OUT=bench/out
DB=$OUT/queries-1m.db
PY=/usr/bin/python3
ROWS=1000000
PROFILES=131072
END=1793491200 # 2026-11-01T00:00:00Z: the newest record ends about here
LIMIT_MS=${LIMIT_MS:-300} # issue 21 (500 before)
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

rows_in() { [ -s "$1" ] && sqlite3 "$1" "SELECT count(*) FROM connections" 2>/dev/null || echo 0; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

build_db() {
    echo "building $DB ($ROWS records) ..."
    local t0
    t0=$(now_ms)
    PYTHONPATH=tests/tools "$PY" -c "from pcapgen import *; concurrent_websockets('$TMP/one.pcap', 1)"
    rm -f "$DB" "$DB-wal" "$DB-shm" "$DB.tmp" "$DB.tmp-wal" "$DB.tmp-shm"
    "$BIN/wsstatsd" -q -r "$TMP/one.pcap" -w "$DB.tmp"
    local index="FROM sqlite_master WHERE type = 'index' AND tbl_name = 'connections' AND sql IS NOT NULL"
    local DROPINDEX MKINDEX
    DROPINDEX=$(sqlite3 "$DB.tmp" "SELECT group_concat('DROP INDEX ' || name || ';', ' ') $index")
    MKINDEX=$(sqlite3 "$DB.tmp" "SELECT group_concat(sql || ';', char(10)) $index")
    sqlite3 "$DB.tmp" >/dev/null <<SQL
.bail on
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
PRAGMA temp_store = MEMORY;
BEGIN;
DELETE FROM connections;
DELETE FROM captures;
-- the indexes are made again after the insert (faster than keeping them up)
$DROPINDEX

-- three sensors, one capture file each (kind 'file': relative times count
-- back from the newest record); counters filled in at the end
INSERT INTO captures (id, sensor, source, kind, started_at, ended_at, first_packet_at, last_packet_at, status)
SELECT i + 1, s, '/var/lib/wsstats/' || s, 'file', $END + 3600 + i * 60, $END + 4200 + i * 60,
       NULL, NULL, 'complete'
FROM (SELECT 0 AS i, 'edge-fra.pcapng' AS s UNION ALL SELECT 1, 'edge-iad.pcapng' UNION ALL SELECT 2, 'edge-sin.pcapng');

-- 50 hosts
CREATE TEMP TABLE hosts (i INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO hosts
WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 49)
SELECT i, json_extract('["api","ws","realtime","chat","stream","push","live","game","feed","notify"]', '\$[' || (i % 10) || ']')
          || '.' || json_extract('["example.com","example.net","example.org","shop.test","corp.test"]', '\$[' || (i / 10) || ']')
FROM r;

-- 200 paths: 20 stems in 10 variants, some with a query string
CREATE TEMP TABLE paths (i INTEGER PRIMARY KEY, path TEXT NOT NULL);
INSERT INTO paths
WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 199),
     s(i, stem) AS (SELECT i, json_extract('["/ws","/socket.io/","/cable","/graphql","/api/v1/stream","/live","/chat",
         "/notifications","/market/ticker","/game/lobby","/signal","/sockjs/websocket","/mqtt","/events","/feed",
         "/rpc","/subscriptions","/hub/chat","/realtime","/push"]', '\$[' || (i % 20) || ']') FROM r)
SELECT i, CASE i / 20
    WHEN 0 THEN stem
    WHEN 1 THEN stem || '/v2'
    WHEN 2 THEN stem || '?EIO=4&transport=websocket'
    WHEN 3 THEN stem || '?token=' || lower(hex(randomblob(8)))
    WHEN 4 THEN stem || '/room/' || i
    WHEN 5 THEN stem || '?lang=en'
    WHEN 6 THEN '/tenant' || i || stem
    WHEN 7 THEN stem || '/' || i
    WHEN 8 THEN stem || '?compress=1'
    ELSE stem || '?session=' || lower(hex(randomblob(6)))
END FROM s;

-- 30 user agents; the first 24 are browsers (they send Origin)
CREATE TEMP TABLE agents (i INTEGER PRIMARY KEY, ua TEXT NOT NULL);
INSERT INTO agents
WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 29)
SELECT i, CASE
    WHEN i < 10 THEN 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/' || (112 + i) || '.0.0.0 Safari/537.36'
    WHEN i < 15 THEN 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/' || (105 + i) || '.0.0.0 Safari/537.36'
    WHEN i < 20 THEN 'Mozilla/5.0 (X11; Linux x86_64; rv:' || (105 + i) || '.0) Gecko/20100101 Firefox/' || (105 + i) || '.0'
    WHEN i < 24 THEN 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_' || (i - 20) || ' like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.' || (i - 20) || ' Mobile/15E148 Safari/604.1'
    ELSE json_extract('["okhttp/4.12.0","Python/3.11 websockets/12.0","Go-http-client/1.1","Dart/3.2 (dart:io)",
                       "Java-http-client/17.0.9","Apache-HttpClient/4.5.14 (Java/17.0.9)"]', '\$[' || (i - 24) || ']')
END FROM r;

-- ~200 servers (IPv4 and a few IPv6), each seen by one sensor, and ~20,000
-- clients (every eighth IPv6)
CREATE TEMP TABLE servers (i INTEGER PRIMARY KEY, ip TEXT NOT NULL, port INTEGER NOT NULL, sensor TEXT NOT NULL,
    vlan INTEGER, capture_id INTEGER NOT NULL);
INSERT INTO servers
WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 199)
SELECT i,
    CASE WHEN i >= 190 THEN printf('2001:db8:5::%x', i) ELSE printf('10.1.%d.%d', i / 50, i % 50 + 1) END,
    CASE WHEN i % 7 = 3 THEN 8080 WHEN i % 11 = 5 THEN 9001 ELSE 443 END,
    CASE i % 3 WHEN 0 THEN 'edge-fra.pcapng' WHEN 1 THEN 'edge-iad.pcapng' ELSE 'edge-sin.pcapng' END,
    iif(i % 3 = 2, 120, NULL), -- the third sensor sits on a VLAN trunk
    i % 3 + 1
FROM r;
CREATE TEMP TABLE clients (i INTEGER PRIMARY KEY, ip TEXT NOT NULL);
INSERT INTO clients
WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 19999)
SELECT i, CASE WHEN i % 8 = 7 THEN printf('2001:db8:%x:%x::%x', i / 4096, i % 4096 / 16, i % 16 + 1)
               ELSE printf('100.%d.%d.%d', 64 + i / 65024, i / 254 % 256, i % 254 + 1) END
FROM r;

-- 131,072 connection profiles: everything about a record except when it
-- ended and who talked to whom. Each record then picks one at random, so
-- the costly expressions run once per profile, not once per record. Times
-- are offsets back from ended_at in microseconds. cat is a draw in 0..9999.
CREATE TEMP TABLE profiles (id INTEGER PRIMARY KEY, code, reason, initiator, outcome, termination, midstream,
    http_status, subprotocol, extensions, o_started, o_upgraded, client_close_code, client_close_reason,
    o_client_close, server_close_code, server_close_reason, o_server_close, frames_client, frames_server,
    msg_c, msg_s, bytes_client, bytes_server, pings, o_last_frame, o_last_data, violations);
INSERT INTO profiles
WITH RECURSIVE
r(id, cat, ui, uo, pt, ul, u1, u2, uidle, um, iv, umc, ums, usz) AS (
    SELECT 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    UNION ALL
    SELECT id + 1, abs(random() % 10000), (random() & 65535) / 65536.0, (random() & 65535) / 65536.0,
           abs(random() % 100), (random() & 65535) / 65536.0, (random() & 65535) / 65536.0,
           (random() & 65535) / 65536.0, (random() & 65535) / 65536.0, random() & 65535, random() & 65535,
           (random() & 65535) / 65536.0, (random() & 65535) / 65536.0, (random() & 65535) / 65536.0
    FROM r WHERE id < $PROFILES),
k AS MATERIALIZED (SELECT *,
    CASE WHEN cat < 4000 THEN 1000 WHEN cat < 6000 THEN 1001 WHEN cat < 8500 THEN 1006
         WHEN cat < 8900 THEN 1011 WHEN cat < 9100 THEN 1008
         WHEN cat < 9350 THEN CASE cat % 5 WHEN 2 THEN 4001 WHEN 3 THEN 4003 WHEN 4 THEN 4500 ELSE 4000 END
         WHEN cat < 9450 THEN 1005 WHEN cat < 9480 THEN 1002 WHEN cat < 9500 THEN 1009 END AS code,
    CASE WHEN cat >= 9750 THEN 'rejected' WHEN cat >= 9500 THEN 'unfinished'
         WHEN cat >= 6000 AND cat < 8500 THEN 'abnormal'
         WHEN uo < 0.9 THEN 'clean' ELSE 'half_closed' END AS outcome,
    um % 200 = 7 AND cat < 9750 AS midstream -- picked up mid-stream: no handshake seen
    FROM r WHERE id > 0),
m AS MATERIALIZED (SELECT *,
    CASE WHEN code IS NULL OR code = 1006 THEN NULL
         WHEN code = 1000 THEN iif(ui < 0.6, 'client', 'server')
         WHEN code = 1001 THEN iif(ui < 0.8, 'client', 'server')
         WHEN code = 1005 THEN iif(ui < 0.7, 'client', 'server')
         WHEN code = 1002 THEN iif(ui < 0.5, 'client', 'server')
         ELSE iif(ui < 0.1, 'client', 'server') END AS initiator,
    code IS 1006 AND ui < 0.4 AS idle_cluster, -- a proxy cutting silent connections after 60 s
    outcome = 'rejected' AS rejected
    FROM k),
t AS MATERIALIZED (SELECT *,
    CASE outcome
        WHEN 'clean' THEN CASE WHEN pt < 80 THEN 'fin_server' WHEN pt < 92 THEN 'fin_client' WHEN pt < 97 THEN 'rst_client' ELSE 'rst_server' END
        WHEN 'half_closed' THEN CASE WHEN pt < 35 THEN 'rst_client' WHEN pt < 60 THEN 'fin_server' WHEN pt < 75 THEN 'fin_client' WHEN pt < 90 THEN 'idle_timeout' ELSE 'capture_end' END
        WHEN 'abnormal' THEN CASE WHEN idle_cluster THEN iif(pt < 70, 'rst_server', 'fin_server')
                                  WHEN pt < 45 THEN 'rst_client' WHEN pt < 65 THEN 'fin_client' WHEN pt < 85 THEN 'rst_server' ELSE 'fin_server' END
        WHEN 'unfinished' THEN CASE WHEN pt < 60 THEN 'idle_timeout' WHEN pt < 70 THEN 'evicted' ELSE 'capture_end' END
        ELSE iif(pt < 85, 'fin_server', 'fin_client') END AS termination,
    CASE WHEN code IS NULL OR code = 1006 THEN NULL
         WHEN code = 1000 THEN iif(ui < 0.3, 'bye', NULL)
         WHEN code = 1001 THEN iif(initiator = 'server', 'server shutting down', iif(ui < 0.2, 'page unload', NULL))
         WHEN code = 1011 THEN iif(ui < 0.5, 'internal error', 'upstream timeout')
         WHEN code = 1008 THEN iif(ui < 0.6, 'unauthorized', 'invalid token')
         WHEN code = 1002 THEN 'protocol error'
         WHEN code = 1009 THEN 'message too big'
         WHEN code = 4000 THEN 'session expired'
         WHEN code = 4001 THEN 'unauthorized'
         WHEN code = 4003 THEN 'forbidden'
         WHEN code = 4500 THEN 'server error' END AS reason,
    -- the active part of the lifetime: log-uniform 0.2 s .. 4 h; sessions the
    -- server ends with 4000 after one hour; none for a rejected upgrade
    CASE WHEN rejected THEN 0 WHEN code IS 4000 AND initiator = 'server' THEN 3600 - 0.4 * u2
         ELSE exp(ln(0.2) + ul * ln(72000.0)) + idle_cluster END AS active,
    iif(midstream, 0, 0.002 + 0.15 * u2 * u2) AS hs, -- SYN to 101
    iif(outcome = 'clean', 0.0005 + 0.03 * u2, 0) AS gap, -- first close frame to the answer
    initiator IS 'client' OR outcome = 'clean' AS c_sent, -- the client sent a close frame
    initiator IS 'server' OR outcome = 'clean' AS s_sent
    FROM m),
v AS MATERIALIZED (SELECT *,
    -- last frame to ended_at
    CASE WHEN idle_cluster THEN 60 + 0.02 * u1
         WHEN termination = 'idle_timeout' THEN 900 + u1 -- wsstatsd's default --idle-timeout 15m
         WHEN termination = 'evicted' THEN 600 * u1
         WHEN termination = 'capture_end' THEN 3600 * u1
         ELSE 0.001 + 0.05 * u1 END AS td,
    iif(rejected OR idle_cluster OR um % 2 = 1, 0, cast(active / 30 AS INTEGER)) AS pings, -- keepalive every 30 s
    iif(rejected, 0, cast(active / 60 * umc * 3 AS INTEGER) + (umc < 0.7)) AS msg_c,
    iif(rejected, 0, cast(active / 10 * ums * 4 AS INTEGER) + (ums < 0.9)) AS msg_s
    FROM t)
SELECT id, code, reason, initiator, outcome, termination, midstream,
    iif(midstream, NULL, iif(rejected, CASE iv % 12 WHEN 5 THEN 401 WHEN 6 THEN 401 WHEN 7 THEN 404 WHEN 8 THEN 400
        WHEN 9 THEN 426 WHEN 10 THEN 429 WHEN 11 THEN 503 ELSE 403 END, 101)) AS http_status,
    iif(midstream OR rejected, NULL, CASE WHEN um % 100 < 55 THEN NULL WHEN um % 100 < 70 THEN 'graphql-transport-ws'
        WHEN um % 100 < 78 THEN 'graphql-ws' WHEN um % 100 < 86 THEN 'mqtt' WHEN um % 100 < 92 THEN 'wamp.2.json'
        WHEN um % 100 < 97 THEN 'v12.stomp' ELSE 'actioncable-v1-json' END) AS subprotocol,
    iif(midstream OR rejected, NULL, CASE WHEN um / 100 % 10 < 5 THEN 'permessage-deflate'
        WHEN um / 100 % 10 < 6 THEN 'permessage-deflate; client_max_window_bits=15' END) AS extensions,
    cast((td + gap + active + hs) * 1e6 AS INTEGER) AS o_started,
    iif(midstream OR rejected, NULL, cast((td + gap + active) * 1e6 AS INTEGER)) AS o_upgraded,
    CASE WHEN initiator = 'client' THEN code WHEN outcome = 'clean' THEN code END AS client_close_code,
    iif(initiator = 'client', reason, NULL) AS client_close_reason,
    cast((CASE WHEN initiator = 'client' THEN td + gap WHEN outcome = 'clean' THEN td END) * 1e6 AS INTEGER) AS o_client_close,
    CASE WHEN initiator = 'server' THEN code WHEN outcome = 'clean' THEN code END AS server_close_code,
    iif(initiator = 'server', reason, NULL) AS server_close_reason,
    cast((CASE WHEN initiator = 'server' THEN td + gap WHEN outcome = 'clean' THEN td END) * 1e6 AS INTEGER) AS o_server_close,
    msg_c + pings + c_sent AS frames_client, msg_s + pings + s_sent AS frames_server,
    msg_c, msg_s,
    cast(msg_c * (20 + 200 * usz) AS INTEGER) + 2 * c_sent AS bytes_client,
    cast(msg_s * (50 + 4000 * usz * usz) AS INTEGER) + 2 * s_sent AS bytes_server,
    pings,
    cast((CASE WHEN rejected THEN NULL WHEN outcome = 'clean' THEN td ELSE td + gap END) * 1e6 AS INTEGER) AS o_last_frame,
    cast((CASE WHEN rejected OR msg_c + msg_s = 0 THEN NULL WHEN idle_cluster THEN td + gap
            ELSE min(td + gap + active, td + gap + uidle * uidle * active * 0.8) END) * 1e6 AS INTEGER) AS o_last_data,
    CASE WHEN iv % 100 <> 0 THEN NULL WHEN iv / 100 % 10 < 4 THEN 'gap' ELSE CASE iv / 100 % 10
        WHEN 4 THEN 'gap,truncated' WHEN 5 THEN 'data_after_close' WHEN 6 THEN 'unmasked_client_frame'
        WHEN 7 THEN 'rsv_without_extension' WHEN 8 THEN 'non_minimal_length' ELSE 'bad_accept' END END AS violations
FROM v;

INSERT INTO connections (sensor, client_ip, client_port, server_ip, server_port, vlan,
    started_at, upgraded_at, ended_at, host, path, origin, user_agent, subprotocol, extensions,
    http_status, handshake_seen, close_code, close_reason, close_initiator,
    client_close_code, client_close_reason, client_close_at,
    server_close_code, server_close_reason, server_close_at,
    outcome, termination, frames_client, frames_server, messages_client, messages_server,
    bytes_client, bytes_server, pings, pongs, last_frame_at, last_data_at, violations,
    ndpi_protocol, capture_id)
WITH RECURSIVE
-- per record: when it ended (ut, jitter), a profile, a server (~200, a few
-- busy ones), a client (~20,000), its port, host, path and user agent
s(n, ut, prof, srv, cli, cport, ih, ip, ia) AS (
    SELECT 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    UNION ALL
    SELECT n + 1, random() & 65535, 1 + abs(random() % $PROFILES),
        cast(200 * power((random() & 65535) / 65536.0, 2) AS INTEGER),
        cast(20000 * power((random() & 65535) / 65536.0, 2) AS INTEGER),
        32768 + abs(random() % 28232), abs(random() % 3),
        cast(200 * power((random() & 65535) / 65536.0, 2) AS INTEGER),
        cast(30 * power((random() & 65535) / 65536.0, 2) AS INTEGER)
    FROM s WHERE n < $ROWS),
t AS (SELECT s.*, p.*, sv.ip AS server_ip, sv.port, sv.sensor, sv.vlan, sv.capture_id, c.ip AS client_ip,
    h.name AS host, pa.path, a.ua, a.i < 24 AS browser,
    -- ended_at (in microseconds) runs forward with the record id, as wsstatsd writes them
    ($END - 7 * 86400) * 1000000 + (n - 1) * (7 * 86400 * 1000000 / $ROWS) + ut * (7 * 86400 * 1000000 / $ROWS) / 65536 AS ended
    FROM s JOIN profiles p ON p.id = s.prof
    JOIN servers sv ON sv.i = s.srv
    JOIN clients c ON c.i = s.cli
    JOIN hosts h ON h.i = (s.srv * 7 + s.ih) % 50 -- a server serves one host, mostly
    JOIN paths pa ON pa.i = s.ip
    JOIN agents a ON a.i = s.ia
    WHERE n > 0)
SELECT sensor, client_ip, cport, server_ip, port, vlan,
    (ended - o_started) / 1e6, (ended - o_upgraded) / 1e6, ended / 1e6,
    iif(midstream, NULL, host), iif(midstream, NULL, path),
    iif(midstream OR NOT browser, NULL, 'https://' || host),
    iif(midstream, NULL, ua),
    subprotocol, extensions, http_status, NOT midstream,
    code, reason, initiator,
    client_close_code, client_close_reason, (ended - o_client_close) / 1e6,
    server_close_code, server_close_reason, (ended - o_server_close) / 1e6,
    outcome, termination, frames_client, frames_server, msg_c, msg_s, bytes_client, bytes_server,
    pings, pings, (ended - o_last_frame) / 1e6, (ended - o_last_data) / 1e6, violations,
    iif(midstream, NULL, 'HTTP'),
    capture_id
FROM t;
$MKINDEX

UPDATE captures SET connections = c.n, tcp_flows = c.n * 13 / 10, packets = c.frames + c.n * 9,
    bytes = c.bytes + c.n * 1400, drops = captures.id * 37, first_packet_at = c.first, last_packet_at = c.last
FROM (SELECT capture_id, count(*) AS n, sum(frames_client + frames_server) AS frames,
             sum(bytes_client + bytes_server) AS bytes, min(started_at) AS first, max(ended_at) AS last
      FROM connections GROUP BY capture_id) AS c
WHERE c.capture_id = captures.id;
COMMIT;
PRAGMA journal_mode = WAL;
SQL
    local n
    n=$(rows_in "$DB.tmp")
    if [ "$n" != "$ROWS" ]; then
        echo "queries.sh: $DB.tmp holds $n records, expected $ROWS" >&2
        exit 1
    fi
    mv "$DB.tmp" "$DB"
    echo "   built in $(($(now_ms) - t0)) ms, $(($(stat -c %s "$DB") / 1048576)) MiB"
}

# The page size wsstatsd gives a database it creates: a kept database made
# by an older build with another one is built again.
fresh_page_size() {
    PYTHONPATH=tests/tools "$PY" -c "from pcapgen import *; concurrent_websockets('$TMP/page.pcap', 1)"
    "$BIN/wsstatsd" -q -r "$TMP/page.pcap" -w "$TMP/page.db"
    sqlite3 "$TMP/page.db" "PRAGMA page_size"
}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), SQLite $(sqlite3 --version | cut -d' ' -f1)"
if [ -e "$DB.tmp" ] || [ "$(rows_in "$DB")" != "$ROWS" ] ||
    [ "$(sqlite3 "$DB" "PRAGMA page_size")" != "$(fresh_page_size)" ]; then
    build_db
else
    echo "using $DB ($ROWS records; delete it to rebuild)"
fi

# filter values: the busiest server, port, host and path (the most rows to
# count), a client with a single record (connections must search all the way
# back), and one sensor
top() { sqlite3 "$DB" "SELECT $1 FROM connections GROUP BY 1 ORDER BY count(*) $2, 1 LIMIT 1"; }
server=$(top "server_ip || ':' || server_port" DESC)
port=$(top server_port DESC)
host=$(top host DESC)
path=$(top "substr(path, 1, instr(path || '?', '?') - 1)" DESC)
client=$(top client_ip ASC)
sensor=$(sqlite3 "$DB" "SELECT sensor FROM captures ORDER BY id LIMIT 1")

commands=(
    "top-codes"
    "top-codes --since 1h"
    "connections --limit 50"
    "timeline --bucket 1h"
    "timeline --since 1d --bucket 5m"
    "group-by host"
    "group-by path"
    "group-by server"
    "group-by client"
    "group-by user-agent"
    "group-by sensor"
    "group-by subprotocol"
    "durations"
    "summary"
    "top-codes --server $server"
    "top-codes --server :$port"
    "connections --server $server"
    "top-codes --host $host"
    "top-codes --path $path"
    "top-codes --path $path*"
    "group-by host --path $path"
    "top-codes --code 1006"
    "top-codes --outcome abnormal"
    "connections --code 1006"
    "connections --client $client"
    "summary --code 1006"
    "summary --sensor $sensor --since 1d"
)

median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

echo
echo "== wsstats --db $DB ... ($BIN/wsstats; 3 runs each, output to /dev/null)"
printf '%-46s %9s  %-22s %4s  %s\n' COMMAND MEDIAN RUNS EXIT RESULT
slow=0 failed=0 passed=0
for cmd in "${commands[@]}"; do
    read -ra args <<<"$cmd"
    runs=() worst=0
    for _ in 1 2 3; do
        t0=$(date +%s%N)
        set +e
        "$BIN/wsstats" --db "$DB" "${args[@]}" >/dev/null 2>"$TMP/err"
        rc=$?
        set -e
        t1=$(date +%s%N)
        runs+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')")
        if [ "$rc" -ne 0 ]; then worst=$rc; fi
    done
    med=$(median3 "${runs[@]}")
    if [ "$worst" -ne 0 ]; then
        result="failed (exit $worst)"
        failed=$((failed + 1))
    elif awk -v m="$med" -v l="$LIMIT_MS" 'BEGIN { exit !(m >= l) }'; then
        result="SLOW (>= $LIMIT_MS ms)"
        slow=$((slow + 1))
    else
        result=ok
        passed=$((passed + 1))
    fi
    printf '%-46s %6s ms  %-22s %4s  %s\n' "$cmd" "$med" "$(IFS=/; echo "${runs[*]}")" "$worst" "$result"
    if [ "$worst" -ne 0 ]; then sed -n '1s/^/   stderr: /p' "$TMP/err"; fi
done

echo
total=${#commands[@]}
if [ "$passed" -eq "$total" ]; then
    echo "verdict: all $total queries over $ROWS records answered in under $LIMIT_MS ms"
else
    echo "verdict: NOT all under $LIMIT_MS ms: $passed of $total ok, $slow slow, $failed failed"
    exit 1
fi
