-- tests/data/schema-v1.sql — a wsstats database of schema version 1, as SQL text:
-- store/schema.sql.h's steps 0 -> 1, 3 records (every kind NULL and not), one captures row.
-- tests/unit/test_store_schema.c migrates it. Made once by a script; never edited (old schemas do not change).
BEGIN TRANSACTION;
CREATE TABLE captures (  id INTEGER PRIMARY KEY,  sensor TEXT NOT NULL,  source TEXT NOT NULL,  kind TEXT NOT NULL CHECK (kind IN ('live', 'file')),  started_at REAL NOT NULL,  ended_at REAL,  first_packet_at REAL,  last_packet_at REAL,  packets INTEGER NOT NULL DEFAULT 0,  bytes INTEGER NOT NULL DEFAULT 0,  drops INTEGER NOT NULL DEFAULT 0,  if_drops INTEGER NOT NULL DEFAULT 0,  tcp_flows INTEGER NOT NULL DEFAULT 0,  connections INTEGER NOT NULL DEFAULT 0,  status TEXT NOT NULL DEFAULT 'running');
INSERT INTO "captures" VALUES(1,'old.pcap','/caps/old.pcap','file',1700000000.5,1700000001.25,1690000000.0,1690000100.0,1234,567890,0,0,7,3,'complete');
CREATE TABLE connections (  id INTEGER PRIMARY KEY,  sensor TEXT NOT NULL,  client_ip TEXT NOT NULL, client_port INTEGER NOT NULL,  server_ip TEXT NOT NULL, server_port INTEGER NOT NULL,  vlan INTEGER,  started_at REAL NOT NULL, upgraded_at REAL, ended_at REAL NOT NULL,  host TEXT, path TEXT, origin TEXT, user_agent TEXT, subprotocol TEXT, extensions TEXT,  http_status INTEGER,  handshake_seen INTEGER NOT NULL,  close_code INTEGER, close_reason TEXT,  close_initiator TEXT CHECK (close_initiator IN ('client', 'server')),  client_close_code INTEGER, client_close_reason TEXT, client_close_at REAL,  server_close_code INTEGER, server_close_reason TEXT, server_close_at REAL,  outcome TEXT NOT NULL CHECK (outcome IN ('clean', 'half_closed', 'abnormal', 'unfinished', 'rejected')),  termination TEXT NOT NULL,  frames_client INTEGER NOT NULL, frames_server INTEGER NOT NULL,  messages_client INTEGER NOT NULL, messages_server INTEGER NOT NULL,  bytes_client INTEGER NOT NULL, bytes_server INTEGER NOT NULL,  pings INTEGER NOT NULL, pongs INTEGER NOT NULL,  last_frame_at REAL, last_data_at REAL,  violations TEXT,  ndpi_protocol TEXT,  capture_id INTEGER REFERENCES captures(id));
INSERT INTO "connections" VALUES(1,'old.pcap','10.0.0.1',40000,'10.0.0.200',443,NULL,1690000000.125,1690000000.25,1690000010.5,'example.test','/chat/0',NULL,'ua/1.0',NULL,'permessage-deflate',101,1,1000,'bye','client',1000,'bye',1690000009.0,1000,NULL,1690000009.5,'clean','fin_client',3,4,2,3,0,0,0,0,1690000009.0,1690000008.0,NULL,NULL,1);
INSERT INTO "connections" VALUES(2,'old.pcap','10.0.0.2',40001,'2001:db8::2',443,7,1690000001.125,1690000001.25,1690000011.5,'example.test','/chat/1','https://example.test','ua/1.0',NULL,NULL,101,1,1001,NULL,'client',1001,NULL,1690000010.0,1001,NULL,1690000010.5,'clean','fin_client',4,5,2,3,100,200,1,1,1690000010.0,1690000009.0,NULL,'WebSocket',1);
INSERT INTO "connections" VALUES(3,'old.pcap','10.0.0.3',40002,'10.0.0.200',443,NULL,1690000002.125,1690000002.25,1690000012.5,'example.test','/chat/2',NULL,'ua/1.0',NULL,NULL,101,1,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'unfinished','capture_end',5,6,2,3,200,400,2,2,1690000011.0,1690000010.0,'gap,truncated',NULL,1);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','1');
CREATE INDEX connections_ended_at ON connections (ended_at);
CREATE INDEX connections_code ON connections (close_code, ended_at);
CREATE INDEX connections_server ON connections (server_ip, server_port);
CREATE INDEX connections_host ON connections (host);
COMMIT;
PRAGMA user_version = 1;
