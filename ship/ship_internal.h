/*
 * ship/ship_internal.h — what the shipper's files share: the rows'
 * encoding (rows.c) and the side tables (side.c); ClickHouse's client is
 * remote/'s.
 */
#ifndef WSSTATS_SHIP_INTERNAL_H
#define WSSTATS_SHIP_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "ship.h"
#include "../remote/clickhouse.h"

/* "INSERT INTO connections (sensor, id, source, ...) FORMAT TabSeparated" */
void rows_insert_sql(char *buf, size_t len);
/* A SQLite column's name in ClickHouse: the database's own `sensor` (the
 * interface or file) is `source` there, and a captures row's `source` (the
 * path as given) `source_path`; the rest keep theirs. */
const char *rows_clickhouse_column(const char *name);
/* An INSERT's body as it is built: grows by doubling, NUL-terminated;
 * `failed` once an allocation failed (the body is then incomplete). */
struct rowbuf {
    char *p;
    size_t len, cap;
    bool failed;
};
void rowbuf_put(struct rowbuf *b, const char *s, size_t n);
void rowbuf_free(struct rowbuf *b);
/* One record as a TabSeparated line of that INSERT. */
void rows_write(struct rowbuf *b, const char *sensor, const struct query_row *row);
/* A string, escaped for TabSeparated; any value of a side table (\N for
 * NULL); an unsigned integer. */
void rows_write_text(struct rowbuf *b, const char *s);
void rows_write_value(struct rowbuf *b, const struct query_value *v);
void rows_write_uint(struct rowbuf *b, unsigned long long v);

/* The captures rows and TLS counts that may have changed since the last
 * round (side.c): 0, or -1 with the reason in err; r->captures and r->tls
 * count what was sent. */
int ship_side_tables(struct ch *c, struct query_db *db, const char *db_path, const char *sensor,
                     struct ship_result *r, char *err, size_t errlen);

/* One run of the shipper (export.c, settle.c): its ClickHouse, its
 * database and what it has done so far. */
struct shipping {
    struct ch c;
    struct query_db *db;
    const char *db_path; /* for the meta table's cursor */
    const char *sensor;
    size_t batch;
    struct ship_result *r;
    char insert[2048]; /* rows_insert_sql() */
    char *err;
    size_t errlen;
};

/* Consecutive records of the database: n of them, ids first to last. */
struct chunk {
    long long first, last;
    long long n;
};

/* Ids ClickHouse holds, ascending (settle.c). */
struct id_set {
    long long *id;
    size_t n, cap;
};

/* One INSERT (insert.c): its chunk, its body, and once posted its result. */
struct insert {
    struct shipping *s;
    struct chunk k;
    struct rowbuf body;
    long long rows;
    char query_id[160];
    enum ch_result rc;
    char err[1024];
};
/* The INSERT of chunk k's records but those in held (NULL: none), named
 * wsstats-SENSOR-FIRST-LAST: 0, or -1 (err). */
int insert_prepare(struct shipping *s, const struct chunk *k, const struct id_set *held, struct insert *p);
/* Posts it (p->rc, p->err); a pthread start routine. */
void *insert_post(void *p);
/* What came of a post: 1 acknowledged; 0 unknown, and since gone from
 * system.processes; -1 failed, or still running after the timeout (err). */
int insert_outcome(struct shipping *s, const struct insert *p);
/* insert_prepare, insert_post and insert_outcome in one. */
int ship_send_chunk(struct shipping *s, const struct chunk *k, const struct id_set *held);
/* Waits until the INSERT query_id (NULL: any INSERT of this sensor's) has
 * left system.processes, at most the request timeout. 0, or -1 (err). */
int insert_wait_gone(struct shipping *s, const char *query_id);
/* The records after *cursor, a chunk an INSERT, the next encoded while
 * ClickHouse takes one (send.c); *cursor moves past each chunk that is
 * whole in ClickHouse. 0, or -1 (err). */
int ship_records(struct shipping *s, long long *cursor);
/* Every record up to id is in ClickHouse: the meta table's cursor (insert.c). */
void ship_remember(struct shipping *s, long long id);

/* The highest id ClickHouse holds for the sensor (0: none). 0 or -1. */
int settle_held_max(struct shipping *s, long long *id);
/* Makes the chunk whole in ClickHouse: sends what it lacks of it, until
 * nothing is lacking. `before`: the chunk's records ClickHouse held before
 * this run touched it (-1: what it holds now); *made: the records this run
 * added. 0, or -1 (err). */
int settle_chunk(struct shipping *s, const struct chunk *k, long long before, long long *made);
/* Where this run starts: *cursor, the id up to which every record of the
 * database is in ClickHouse. `verified`: a cursor this caller proved
 * earlier against the same ClickHouse (-1: none). 0, or -1 (err). */
int settle_start(struct shipping *s, long long verified, long long *cursor);

#endif
