-- contrib/clickhouse/schema.sql — the central store for a fleet of wsstats
-- sensors (issue 24): `wsstats export --clickhouse URL` ships each sensor's
-- records here (README, "ClickHouse").
--
--   clickhouse-client --multiquery < contrib/clickhouse/schema.sql
--
-- Types every ClickHouse from 18.16 (Debian 12's) to current releases
-- takes: times are Float64 epoch seconds, as in SQLite (no DateTime64 in
-- 18.16), and a DateTime derived from them partitions by day.
--
-- connections: one row per WebSocket connection, the SQLite record's
-- columns in its order, its SQLite id, and the fleet's `sensor`
-- (--sensor-name, default the host name); the record's own sensor column
-- (the interface or file it came from) is `source` here. (sensor, id) is
-- unique: each sensor has one shipper, which sends only what is not
-- here. (An INSERT whose records end on several days is a part per day,
-- committed one by one, so a server killed mid-commit can hold a later id
-- without an earlier one: the shipper counts a range's ids here against
-- its own before it goes on, and sends the missing ones.) Ordered for
-- the reports' filters: sensor, then time, then code.
--
-- captures and tls_flows: the SQLite tables of the same names, which
-- change after they are first written (a running capture's figures, an
-- hour's count): each shipping sends the rows that may have changed with a
-- newer `version`, and ReplacingMergeTree keeps the newest row of each key.
-- Until a merge has happened the older ones are still there: read them
-- with FINAL (SELECT ... FROM wsstats.captures FINAL). The SQLite
-- captures row's `sensor` is `source` here, as in connections, and its
-- `source` (the path as given) `source_path`.
--
-- A new column of the record: ALTER TABLE connections ADD COLUMN ... (and
-- on wsstats_all.connections in a sharded set-up, below) before the
-- sensors that write it are upgraded; an older sensor's rows get the
-- column's default (NULL).
CREATE DATABASE IF NOT EXISTS wsstats;

CREATE TABLE IF NOT EXISTS wsstats.connections (
    sensor String,
    id UInt64,
    source String,
    client_ip String, client_port UInt16,
    server_ip String, server_port UInt16,
    vlan Nullable(Int32),
    started_at Float64, upgraded_at Nullable(Float64), ended_at Float64,
    host Nullable(String), path Nullable(String), origin Nullable(String), user_agent Nullable(String),
    subprotocol Nullable(String), extensions Nullable(String),
    http_status Nullable(Int32),
    handshake_seen UInt8,
    close_code Nullable(Int32), close_reason Nullable(String),
    close_initiator Nullable(String),
    client_close_code Nullable(Int32), client_close_reason Nullable(String), client_close_at Nullable(Float64),
    server_close_code Nullable(Int32), server_close_reason Nullable(String), server_close_at Nullable(Float64),
    outcome String,
    termination String,
    frames_client UInt64, frames_server UInt64,
    messages_client UInt64, messages_server UInt64,
    bytes_client UInt64, bytes_server UInt64,
    pings UInt64, pongs UInt64,
    last_frame_at Nullable(Float64), last_data_at Nullable(Float64),
    violations Nullable(String),
    ndpi_protocol Nullable(String),
    capture_id Nullable(UInt64),
    ended DateTime MATERIALIZED toDateTime(toUInt32(ended_at))
) ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(ended)
ORDER BY (sensor, ended, assumeNotNull(close_code), id);

CREATE TABLE IF NOT EXISTS wsstats.captures (
    sensor String,
    id UInt64,
    source String, source_path String,
    kind String,
    started_at Float64, ended_at Nullable(Float64),
    first_packet_at Nullable(Float64), last_packet_at Nullable(Float64),
    packets UInt64, bytes UInt64, drops UInt64, if_drops UInt64, tcp_flows UInt64, connections UInt64,
    status String,
    received Nullable(UInt64),
    host Nullable(String), pid Nullable(Int64),
    file_name Nullable(String), file_size Nullable(Int64),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (sensor, id);

CREATE TABLE IF NOT EXISTS wsstats.tls_flows (
    sensor String,
    hour Float64,
    source String,
    server_ip String, server_port UInt16,
    sni String,
    connections UInt64,
    updated_at Nullable(Float64),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(toDateTime(toUInt32(hour)))
ORDER BY (sensor, hour, source, server_ip, server_port, sni);

-- Sharded set-ups: a cluster of shards, each holding the tables above in
-- database wsstats (this file, run on every shard's nodes), and over them,
-- on the nodes the reports are asked through, a Distributed table per table
-- in a database of its own, wsstats_all, under the SAME names: the reports
-- read `connections`, `captures` and `tls_flows` of the URL's database, so
--
--   wsstats --clickhouse 'http://any-querying-node:8123/?database=wsstats_all' top-codes
--
-- reports over the whole fleet, as `?database=wsstats` does over one node.
-- `wsstats_cluster` is the cluster's name in those nodes' remote_servers
-- configuration (contrib/clickhouse/cluster.xml). The statements are the
-- lines below that begin with `--:`; on each querying node, after this
-- file:
--
--   sed -n 's/^--: //p' contrib/clickhouse/schema.sql | clickhouse-client --multiquery
--
--: CREATE DATABASE IF NOT EXISTS wsstats_all;
--: CREATE TABLE IF NOT EXISTS wsstats_all.connections AS wsstats.connections
--:     ENGINE = Distributed(wsstats_cluster, wsstats, connections, sipHash64(sensor));
--: CREATE TABLE IF NOT EXISTS wsstats_all.captures AS wsstats.captures
--:     ENGINE = Distributed(wsstats_cluster, wsstats, captures, sipHash64(sensor));
--: CREATE TABLE IF NOT EXISTS wsstats_all.tls_flows AS wsstats.tls_flows
--:     ENGINE = Distributed(wsstats_cluster, wsstats, tls_flows, sipHash64(sensor));
--
-- (AS copies the local table's columns, the MATERIALIZED `ended` too, as
-- of when it runs: a column added to the local tables later is added to
-- the Distributed ones too, ALTER TABLE wsstats_all.connections ADD COLUMN.)
--
-- Shippers write to their shard's LOCAL tables, `?database=wsstats` on a
-- node of that shard, never to wsstats_all: an INSERT into a Distributed
-- table is acknowledged once the rows are queued in files on the node it
-- was sent to, and they are forwarded to their shard later, in the
-- background (unless insert_distributed_sync = 1), so its acknowledgement
-- would not mean that the rows are stored, and shipping each record
-- exactly once relies on that meaning. Each sensor stays on one shard: its
-- shipper asks that shard's tables for the highest id it holds (on another
-- shard it would find none and ship everything again), and FINAL, applied
-- on each shard by itself, finds the newest captures and TLS rows of a key
-- only when all of them are on one shard. (The sharding key,
-- sipHash64(sensor), decides only where an INSERT into a Distributed table
-- goes; shippers choose their shard themselves.) A query through
-- wsstats_all fails while a shard is down, rather than report on part of
-- the fleet (skip_unavailable_shards = 0, the default).
