/*
 * store/query.h — the read side: filters, time windows and the queries
 * behind the wsstats commands.
 *
 * SQL text is assembled only from fixed fragments; every value a user typed
 * is bound as a parameter.
 */
#ifndef WSSTATS_QUERY_H
#define WSSTATS_QUERY_H

#include <sqlite3.h>
#include <stdbool.h>

/* A connection belongs to the window when it ended in [since, until). */
struct query_filter {
    bool has_since, has_until;
    double since, until;
};

/* What the database holds: whether a live capture wrote it, and the span of
 * the records' end times (first, last; count 0 when it has none). */
struct query_span {
    bool live;
    long long count;
    double first, last;
};

int query_span(sqlite3 *db, struct query_span *span);

struct code_count {
    int code;            /* -1: no close code (see outcome) */
    const char *outcome; /* for code -1: "unfinished" or "rejected" */
    long long count;
};

typedef void (*code_count_fn)(void *arg, const struct code_count *c);

/* Close-code frequencies, most frequent first. Returns 0 or -1. */
int query_top_codes(sqlite3 *db, const struct query_filter *f, code_count_fn fn, void *arg);

/* The records, newest first, at most `limit` (<= 0: all). The caller steps
 * and finalizes *stmt; column names are the record's. */
int query_connections(sqlite3 *db, const struct query_filter *f, long limit, sqlite3_stmt **stmt);

#endif
