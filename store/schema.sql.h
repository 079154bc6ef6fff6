/*
 * store/schema.sql.h — the schema, as migration steps (docs/design.md §2).
 *
 * migrations[i] takes a database from user_version i to i+1. A new version
 * appends a step; steps are never edited once released.
 */
#ifndef WSSTATS_SCHEMA_SQL_H
#define WSSTATS_SCHEMA_SQL_H

static const char *const migrations[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE captures ("
    "  id INTEGER PRIMARY KEY,"
    "  sensor TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('live', 'file')),"
    "  started_at REAL NOT NULL,"
    "  ended_at REAL,"
    "  first_packet_at REAL,"
    "  last_packet_at REAL,"
    "  packets INTEGER NOT NULL DEFAULT 0,"
    "  bytes INTEGER NOT NULL DEFAULT 0,"
    "  drops INTEGER NOT NULL DEFAULT 0,"
    "  if_drops INTEGER NOT NULL DEFAULT 0,"
    "  tcp_flows INTEGER NOT NULL DEFAULT 0,"
    "  connections INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL DEFAULT 'running'"
    ");"
    "CREATE TABLE connections ("
    "  id INTEGER PRIMARY KEY,"
    "  sensor TEXT NOT NULL,"
    "  client_ip TEXT NOT NULL, client_port INTEGER NOT NULL,"
    "  server_ip TEXT NOT NULL, server_port INTEGER NOT NULL,"
    "  vlan INTEGER,"
    "  started_at REAL NOT NULL, upgraded_at REAL, ended_at REAL NOT NULL,"
    "  host TEXT, path TEXT, origin TEXT, user_agent TEXT, subprotocol TEXT, extensions TEXT,"
    "  http_status INTEGER,"
    "  handshake_seen INTEGER NOT NULL,"
    "  close_code INTEGER, close_reason TEXT,"
    "  close_initiator TEXT CHECK (close_initiator IN ('client', 'server')),"
    "  client_close_code INTEGER, client_close_reason TEXT, client_close_at REAL,"
    "  server_close_code INTEGER, server_close_reason TEXT, server_close_at REAL,"
    "  outcome TEXT NOT NULL CHECK (outcome IN ('clean', 'half_closed', 'abnormal', 'unfinished', 'rejected')),"
    "  termination TEXT NOT NULL,"
    "  frames_client INTEGER NOT NULL, frames_server INTEGER NOT NULL,"
    "  messages_client INTEGER NOT NULL, messages_server INTEGER NOT NULL,"
    "  bytes_client INTEGER NOT NULL, bytes_server INTEGER NOT NULL,"
    "  pings INTEGER NOT NULL, pongs INTEGER NOT NULL,"
    "  last_frame_at REAL, last_data_at REAL,"
    "  violations TEXT,"
    "  ndpi_protocol TEXT,"
    "  capture_id INTEGER REFERENCES captures(id)"
    ");"
    "CREATE INDEX connections_ended_at ON connections (ended_at);"
    "CREATE INDEX connections_code ON connections (close_code, ended_at);"
    "CREATE INDEX connections_server ON connections (server_ip, server_port);"
    "CREATE INDEX connections_host ON connections (host);"
    "INSERT INTO meta (key, value) VALUES ('schema_version', '1');",

    /* 1 -> 2: covering indexes, so that every report over a million
     * records is an index scan (bench/queries.sh): per close code, per
     * group-by key (with the code and outcome each group's top codes need),
     * for summary's totals, violations and nDPI classes; each ends with
     * ended_at, so that a time window is checked inside the index. Host
     * names are case-insensitive (RFC 9110 §4.2.3): so is their index. */
    "DROP INDEX connections_code;"
    "DROP INDEX connections_server;"
    "DROP INDEX connections_host;"
    "CREATE INDEX connections_code ON connections (close_code, outcome, ended_at);"
    "CREATE INDEX connections_host ON connections (host COLLATE NOCASE, close_code, outcome, ended_at);"
    "CREATE INDEX connections_path ON connections (path, close_code, outcome, ended_at);"
    "CREATE INDEX connections_server ON connections (server_ip, server_port, close_code, outcome, ended_at);"
    "CREATE INDEX connections_client ON connections (client_ip, close_code, outcome, ended_at);"
    "CREATE INDEX connections_subprotocol ON connections (subprotocol, close_code, outcome, ended_at);"
    "CREATE INDEX connections_user_agent ON connections (user_agent, close_code, outcome, ended_at);"
    "CREATE INDEX connections_sensor ON connections (sensor, close_code, outcome, ended_at);"
    "CREATE INDEX connections_totals ON connections (outcome, close_initiator, termination, handshake_seen, ended_at);"
    "CREATE INDEX connections_violations ON connections (violations) WHERE violations IS NOT NULL;"
    "CREATE INDEX connections_ndpi ON connections (ndpi_protocol);"
    /* TLS flows (any port) by hour, server and SNI: traffic nDPI saw as
     * TLS, whose WebSocket frames (if any) cannot be decoded. */
    "CREATE TABLE tls_flows ("
    "  hour REAL NOT NULL,"
    "  sensor TEXT NOT NULL,"
    "  server_ip TEXT NOT NULL, server_port INTEGER NOT NULL,"
    "  sni TEXT NOT NULL,"
    "  connections INTEGER NOT NULL,"
    "  PRIMARY KEY (hour, sensor, server_ip, server_port, sni)"
    ") WITHOUT ROWID;"
    "UPDATE meta SET value = '2' WHERE key = 'schema_version';",

    /* 2 -> 3: libpcap's count of the packets the kernel received for a
     * live capture (pcap_stats' ps_recv: what passed the filter, including
     * what it then dropped). It is not packets + drops: packets still in
     * the ring when the capture stopped are in neither. NULL for files and
     * for captures written before this version.
     * And the end-time index covers what `wsstats durations` reads (times,
     * outcome, code), so that report is an index scan, not a walk of the
     * table's rows (a third less time on a million records); it still
     * serves every time window as before. */
    ("ALTER TABLE captures ADD COLUMN received INTEGER;"
     "DROP INDEX connections_ended_at;"
     "CREATE INDEX connections_ended_at ON connections (ended_at, outcome, close_code, started_at, upgraded_at,"
     " last_data_at, last_frame_at, client_close_at, server_close_at);"
     "UPDATE meta SET value = '3' WHERE key = 'schema_version';"),

    /* 3 -> 4: the host and process id of the wsstatsd writing a capture,
     * so that the next writer can tell a `running` row whose process is
     * gone (kill -9, a crash, a power cut) and mark it `interrupted`
     * (store/captures.c). NULL for rows written before this version. */
    ("ALTER TABLE captures ADD COLUMN host TEXT;"
     "ALTER TABLE captures ADD COLUMN pid INTEGER;"
     "UPDATE meta SET value = '4' WHERE key = 'schema_version';"),

    /* 4 -> 5: what identifies a capture file (its base name and size; with
     * first_packet_at, the time of its first packet), so that a second run
     * over a file already recorded is refused (daemon/wsstatsd.c,
     * --append-again). NULL for live captures, standard input and rows
     * written before this version (those are matched by name and first
     * packet alone). */
    ("ALTER TABLE captures ADD COLUMN file_name TEXT;"
     "ALTER TABLE captures ADD COLUMN file_size INTEGER;"
     "UPDATE meta SET value = '5' WHERE key = 'schema_version';"),

    /* 5 -> 6: when each TLS count last changed (the writer's wall clock at
     * the commit), so that a shipper sends only the counts that changed
     * since its last round (ship/side.c). NULL for counts written before
     * this version (a first shipping sends every count). */
    ("ALTER TABLE tls_flows ADD COLUMN updated_at REAL;"
     "CREATE INDEX tls_flows_updated ON tls_flows (updated_at);"
     "UPDATE meta SET value = '6' WHERE key = 'schema_version';"),
};

#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

#endif
