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
-- unique: the shipper asks max(id) for its sensor before it sends, and
-- each INSERT is one atomic part, so nothing is shipped twice. Ordered for
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
-- on connections_all) before the sensors that write it are upgraded; an
-- older sensor's rows get the column's default (NULL).
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

-- Sharded set-ups: the tables above on every shard (in a database of the
-- same name), and over them, on every node that is asked, a Distributed
-- table per table; the shippers write to the local tables of their shard
-- (or to connections_all with a sharding key of sipHash64(sensor), which
-- keeps a sensor on one shard: max(id) stays exact). `wsstats_cluster` is
-- the cluster's name in the servers' remote_servers configuration:
--
-- CREATE TABLE wsstats.connections_all AS wsstats.connections
--     ENGINE = Distributed(wsstats_cluster, wsstats, connections, sipHash64(sensor));
-- CREATE TABLE wsstats.captures_all AS wsstats.captures
--     ENGINE = Distributed(wsstats_cluster, wsstats, captures, sipHash64(sensor));
-- CREATE TABLE wsstats.tls_flows_all AS wsstats.tls_flows
--     ENGINE = Distributed(wsstats_cluster, wsstats, tls_flows, sipHash64(sensor));
-- (FINAL over a Distributed table is applied on each shard: a sensor's rows
-- are on one shard, so each key's newest row is found there.)
