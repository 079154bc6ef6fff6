/*
 * ship/ship.h — records to ClickHouse (issue 24): a sensor's committed
 * records, read from its SQLite database in id order, sent in batches to
 * ClickHouse's HTTP interface with libcurl (contrib/clickhouse/schema.sql).
 *
 * Exactly once (settle.c): each sensor has one shipper, and it never sends
 * while an INSERT of its sensor may still run on the server (each INSERT
 * is named by a query_id, and one whose outcome is unknown, a timeout or
 * a connection cut after the body was sent, is waited for until it has
 * left system.processes). An INSERT is a part per day of its records and
 * per block, committed one by one, so what ClickHouse holds need not be a
 * prefix of the ids: before it goes on, the shipper counts the records of
 * a range against the rows ClickHouse holds of it, and where they differ
 * sends only the ids ClickHouse lacks. The id up to which every record is
 * in ClickHouse is also kept in the database's meta table
 * (`clickhouse_shipped:SENSOR`), when it is writable.
 */
#ifndef WSSTATS_SHIP_H
#define WSSTATS_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "../query/query.h"

struct ship_options {
    const char *url;      /* http://host:8123/?database=wsstats */
    const char *user;     /* NULL: none (or the URL's) */
    const char *password;
    const char *sensor;   /* the fleet's name of this sensor */
    size_t batch;         /* records an INSERT (0: SHIP_BATCH) */
    long timeout_s;       /* one request (0: CH_TIMEOUT_S, remote/clickhouse.h) */
};

#define SHIP_BATCH 50000

struct ship_result {
    uint64_t sent;      /* records this run shipped (that ClickHouse then held) */
    long long from;     /* the highest id ClickHouse held for the sensor before */
    long long to;       /* after: every record up to it is in ClickHouse */
    long long filled;   /* of `sent`, records below `from` that ClickHouse lacked */
    int retries;        /* INSERTs whose outcome was unknown, asked again */
    long long backlog;  /* ship_database: records left unshipped after it (-1: unknown) */
    double oldest;      /* ... the end time of the first of them to end (0: none or unknown) */
    int known;          /* ClickHouse said what it holds: from and to are its word */
    long long captures, tls; /* captures rows and TLS counts sent (ship/side.c) */
};

/* Ships the records of db (opened by query_open on db_path) that
 * ClickHouse lacks for the sensor. `verified`: the r->to of this caller's
 * last run against the same ClickHouse (-1: none), which spares counting
 * the records again when ClickHouse holds nothing beyond it. Returns 0, or
 * -1 with one line in err naming the URL (without its password) and the
 * cause. */
int ship_export(struct query_db *db, const char *db_path, const struct ship_options *o, long long verified,
                struct ship_result *r, char *err, size_t errlen);

/* The same over the database at db_path, opened for reading (a WAL reader
 * beside a running writer) for this one call, in one read transaction;
 * r->backlog counts what is left after what ClickHouse holds, or, when it
 * could not be asked, after `held` (the caller's last r->to; -1: none),
 * which is also ship_export's `verified`. For wsstatsd --clickhouse. */
int ship_database(const char *db_path, const struct ship_options *o, long long held, struct ship_result *r,
                  char *err, size_t errlen);

/* --clickhouse-auth FILE: "user:password" on its first line (a file, so
 * that the password is never on a command line ps shows). Returns 0, or -1
 * with the reason in err. */
int ship_read_auth(const char *path, char *user, size_t ulen, char *password, size_t plen, char *err, size_t errlen);

/* The meta key of the last id ClickHouse acknowledged for the sensor
 * ("clickhouse_shipped:SENSOR"; the store's retention keeps what is
 * above it). */
void ship_cursor_key(const char *sensor, char *key, size_t len);

/* Whether url is one the shipper takes (http:// or https://). */
int ship_url_ok(const char *url);

/* Whether name is a sensor name (letters, digits, . _ - and at most 64). */
int ship_sensor_name_ok(const char *name);

#endif
