/*
 * store/query.c — filters, time windows and the queries behind wsstats.
 */
#include "query.h"

#include <stdio.h>
#include <string.h>

/* A WHERE clause of fixed fragments and the values to bind to them. */
struct where {
    char sql[512];
    double values[8];
    int n;
};

static void where_add(struct where *w, const char *fragment, double value)
{
    size_t used = strlen(w->sql);
    snprintf(w->sql + used, sizeof w->sql - used, "%s%s", w->n ? " AND " : " WHERE ", fragment);
    w->values[w->n++] = value;
}

static void build_where(const struct query_filter *f, struct where *w)
{
    memset(w, 0, sizeof *w);
    if (f->has_since)
        where_add(w, "ended_at >= ?", f->since);
    if (f->has_until)
        where_add(w, "ended_at < ?", f->until);
}

static int prepare(sqlite3 *db, const char *head, const struct where *w, const char *tail, sqlite3_stmt **s)
{
    char sql[2048];
    snprintf(sql, sizeof sql, "%s%s%s", head, w->sql, tail);
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
        return -1;
    for (int i = 0; i < w->n; i++)
        sqlite3_bind_double(*s, i + 1, w->values[i]);
    return 0;
}

int query_span(sqlite3 *db, struct query_span *span)
{
    sqlite3_stmt *s;
    static const char sql[] =
        "SELECT EXISTS (SELECT 1 FROM captures WHERE kind = 'live'),"
        " (SELECT count(*) FROM connections), (SELECT min(ended_at) FROM connections),"
        " (SELECT max(ended_at) FROM connections)";
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        span->live = sqlite3_column_int(s, 0) != 0;
        span->count = sqlite3_column_int64(s, 1);
        span->first = sqlite3_column_double(s, 2);
        span->last = sqlite3_column_double(s, 3);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

int query_top_codes(sqlite3 *db, const struct query_filter *f, code_count_fn fn, void *arg)
{
    struct where w;
    sqlite3_stmt *s;
    build_where(f, &w);
    if (prepare(db,
                "SELECT close_code, CASE WHEN close_code IS NULL THEN outcome END AS why, count(*) AS n"
                " FROM connections",
                &w, " GROUP BY close_code, why ORDER BY n DESC, close_code IS NULL, close_code, why", &s) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct code_count c = {
            .code = sqlite3_column_type(s, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 0),
            .outcome = (const char *)sqlite3_column_text(s, 1),
            .count = sqlite3_column_int64(s, 2),
        };
        fn(arg, &c);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int query_connections(sqlite3 *db, const struct query_filter *f, long limit, sqlite3_stmt **stmt)
{
    struct where w;
    build_where(f, &w);
    if (prepare(db, "SELECT * FROM connections", &w, " ORDER BY ended_at DESC, id DESC LIMIT ?", stmt) < 0)
        return -1;
    sqlite3_bind_int64(*stmt, w.n + 1, limit > 0 ? limit : -1);
    return 0;
}
