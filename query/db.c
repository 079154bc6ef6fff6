/*
 * query/db.c — the read side's handle on a database: opened through the
 * store's one open path (store_open(STORE_READ): never created, never
 * migrated, the schema version checked once there), one read transaction
 * per report, the span of the records, and the last error's text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "query_internal.h"

_Static_assert(QUERY_OPEN_ERROR_MAX >= STORE_MSG_MAX, "an open error fits");

struct query_db *query_open(const char *path, char *err, size_t errlen)
{
    struct query_db *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    struct store_open_error e;
    q->store = store_open(path, STORE_READ, NULL, &e);
    if (!q->store) {
        snprintf(err, errlen, "%s", e.msg);
        free(q);
        return NULL;
    }
    q->db = store_db(q->store);
    return q;
}

void query_close(struct query_db *q)
{
    if (!q)
        return;
    if (q->ch) {
        query_ch_close(q);
        free(q);
        return;
    }
    char err[600];
    store_close(q->store, err, sizeof err); /* read-only: nothing to lose */
    free(q);
}

const char *query_error(const struct query_db *q)
{
    return q->err[0] || !q->db ? q->err : sqlite3_errmsg(q->db);
}

int query_span(struct query_db *q, struct query_span *span)
{
    if (q->ch)
        return query_ch_span(q, span);
    sqlite3 *db = q->db;
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

/* ClickHouse has no read transaction: each query sees what is merged
 * and inserted by then. */
int query_begin(struct query_db *q)
{
    if (q->ch)
        return 0;
    return sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void query_end(struct query_db *q)
{
    if (q->ch)
        return;
    sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
}


bool query_is_clickhouse(const struct query_db *q)
{
    return q->ch != NULL;
}
