/*
 * query/query_internal.h — what the query module's files share: the
 * handle, the WHERE clause a filter makes, and the keys' SQL.
 *
 * The files and who calls whom (one direction only): db.c (open, close,
 * snapshot, span); where.c (a filter as SQL, statements prepared with it);
 * keys.c (the group-by keys' columns, outcome names); codes.c (top-codes,
 * timeline, count), groups.c (group-by), summary.c, connections.c (the
 * records), durations.c, tls.c (TLS flows and captures), each -> where.c
 * and keys.c. Counting is common/countmap.h's.
 */
#ifndef WSSTATS_QUERY_INTERNAL_H
#define WSSTATS_QUERY_INTERNAL_H

#include <sqlite3.h>

#include "query.h"

struct store;

struct query_db {
    struct store *store; /* opened STORE_READ */
    sqlite3 *db;         /* the store's connection */
    char err[512];       /* this module's own error ("": SQLite's) */
};

/* Prepares head + WHERE + tail; "%W" in head stands for the WHERE clause
 * when it must sit inside the statement (a CTE) rather than after head.
 * `cond`, if not NULL, is one more fixed condition (no placeholders).
 * Returns the number of parameters bound (?1 ..), or -1. */
int query_prepare_cond(sqlite3 *db, const char *head, const struct query_filter *f, const char *cond,
                       const char *tail, sqlite3_stmt **s);
int query_prepare(sqlite3 *db, const char *head, const struct query_filter *f, const char *tail, sqlite3_stmt **s);

/* Each key: its command-line name, the columns it groups by (k1, k2; k2
 * "NULL" for one-column keys), and how they make the value shown. */
struct query_key_sql {
    const char *name, *k1, *k2, *shown;
};
const struct query_key_sql *query_key_sql(enum query_key k);

/* Grouping by a constant as well would make SQLite sort instead of
 * walking the index in order: one-column keys group by k1 alone. */
bool query_key_one_column(enum query_key k);

/* Whether the index of key k holds every column f tests (groups.c). */
bool query_filter_covered(const struct query_filter *f, enum query_key k);

/* The outcome (enum outcome) a row's text names, -1 if none. */
int query_outcome_index(const unsigned char *text);

#endif
