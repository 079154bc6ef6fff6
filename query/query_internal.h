/*
 * query/query_internal.h — what the query module's files share: the
 * handle, the WHERE clause a filter makes, and the keys' SQL.
 *
 * The files and who calls whom (one direction only): db.c (open, close,
 * snapshot, span); where.c (a filter as SQL, statements prepared with it);
 * keys.c (the group-by keys' columns, outcome names); codes.c (top-codes,
 * timeline, count), groups.c (group-by), summary.c, connections.c (the
 * records), durations.c, tls.c (TLS flows and captures), each -> where.c
 * and keys.c; clickhouse.c (the same reports computed on ClickHouse, for
 * db.c and codes.c) -> where.c. Counting is common/countmap.h's.
 */
#ifndef WSSTATS_QUERY_INTERNAL_H
#define WSSTATS_QUERY_INTERNAL_H

#include <sqlite3.h>

#include "query.h"

struct store;
struct ch;

/* A handle on one of two back-ends: a SQLite database (store, db) or a
 * ClickHouse server (ch, clickhouse.c). */
struct query_db {
    struct store *store; /* opened STORE_READ */
    sqlite3 *db;         /* the store's connection */
    struct ch *ch;       /* ClickHouse (store and db NULL) */
    char err[1024];      /* this module's own error ("": SQLite's) */
};

enum query_dialect { DIALECT_SQLITE, DIALECT_CLICKHOUSE };

/* The filter (and `cond`, one more fixed condition, if not NULL) as a
 * ClickHouse WHERE clause (" WHERE ...", or "" when there is none), its
 * values written as literals. 0, or -1 (q->err set) when it does not fit
 * in len. */
int query_where_clickhouse(struct query_db *q, const struct query_filter *f, const char *cond, char *out, size_t len);

/* sql, its placeholders ?1 .. ?n standing for v[0] .. v[n-1], as
 * ClickHouse SQL: the values written as literals (no QV_NULL: 18.16
 * compares nothing with a NULL literal). 0, or -1 (q->err set) when it
 * does not fit in len. */
int query_ch_render(struct query_db *q, const char *sql, const struct query_value *v, int n, char *out, size_t len);

/* A count's key (codes.c): `why` is the outcome (enum outcome) of a
 * connection without a code, else -1. */
struct code_key {
    long long bucket;
    int code, why;
};

/* ---- clickhouse.c: the ClickHouse back-end ---- */
/* For the queries of a sensor's own database (shipping's): true (the
 * error set) on a ClickHouse handle. */
#include <stdio.h>
static inline bool query_sqlite_only(struct query_db *q)
{
    if (q->ch)
        snprintf(q->err, sizeof q->err, "a query of a sensor's own database, not of ClickHouse");
    return q->ch != NULL;
}
/* One row of an answer: its fields, NULL for \N. Returns 0 to go on, -1
 * to stop with an error. */
typedef int (*ch_row_fn)(void *arg, int n, const char *const *fields);
/* Runs sql (FORMAT TabSeparated is added) and hands each row to fn. 0, or
 * -1 with the reason in q->err. */
int query_ch_select(struct query_db *q, const char *sql, ch_row_fn fn, void *arg);
/* The same answer as a cursor: each call gives the next row's fields
 * (valid until the next call; NULL for \N) and their number, 0 at the
 * end. */
struct ch_cursor;
int query_ch_cursor_open(struct query_db *q, const char *sql, struct ch_cursor **c);
int query_ch_cursor_next(struct ch_cursor *c, const char *const **fields);
void query_ch_cursor_close(struct ch_cursor *c);
void query_ch_close(struct query_db *q);
/* A field of an answer row as a number: NULL (\N) is null_value, or 0. */
long long query_field_int(const char *field, long long null_value);
double query_field_real(const char *field);
int query_ch_span(struct query_db *q, struct query_span *span);
int query_ch_count(struct query_db *q, const struct query_filter *f, long long *n);
/* The connections per (bucket of `bucket` seconds, 0: one bucket; code;
 * outcome when there is no code), counted there, into m. */
struct countmap;
int query_ch_count_codes(struct query_db *q, const struct query_filter *f, double bucket, struct countmap *m);

/* Prepares head + WHERE + tail; "%W" in head stands for the WHERE clause
 * when it must sit inside the statement (a CTE) rather than after head.
 * `cond`, if not NULL, is one more fixed condition (no placeholders).
 * Returns the number of parameters bound (?1 ..), or -1. */
int query_prepare_cond(sqlite3 *db, const char *head, const struct query_filter *f, const char *cond,
                       const char *tail, sqlite3_stmt **s);
int query_prepare(sqlite3 *db, const char *head, const struct query_filter *f, const char *tail, sqlite3_stmt **s);

/* Each key: its command-line name, the columns it groups by (k1, k2; k2
 * "NULL" for one-column keys), and how they make the value shown; in
 * ClickHouse's dialect where it differs (NULL: the same text). */
struct query_key_sql {
    const char *name, *k1, *k2, *shown;
    const char *ch_k1, *ch_shown;
};
/* k1 and shown in the dialect. */
const char *query_key_k1(const struct query_key_sql *k, enum query_dialect d);
const char *query_key_shown(const struct query_key_sql *k, enum query_dialect d);
const struct query_key_sql *query_key_sql(enum query_key k);

/* Grouping by a constant as well would make SQLite sort instead of
 * walking the index in order: one-column keys group by k1 alone. */
bool query_key_one_column(enum query_key k);

/* Whether the index of key k holds every column f tests (groups.c). */
bool query_filter_covered(const struct query_filter *f, enum query_key k);

/* The outcome (enum outcome) a row's text names, -1 if none. */
int query_outcome_index(const unsigned char *text);

#endif
