/*
 * query/durations.c — each ended connection's lifetime and idle time
 * before close, for `durations`.
 */
#include "query_internal.h"

/* Lifetime and idle time before close of the current row (see query.h);
 * computed here rather than in SQL, which is several times slower at it.
 * Times are epoch seconds, never 0: sqlite3_column_double() gives 0 for
 * NULL, which stands for "none" here (one call per column, not two). */
static struct duration_row duration_of(sqlite3_stmt *s)
{
    double started = sqlite3_column_double(s, 0), ended = sqlite3_column_double(s, 1);
    double upgraded = sqlite3_column_double(s, 2), last_data = sqlite3_column_double(s, 3);
    double last_frame = sqlite3_column_double(s, 4);
    double cc = sqlite3_column_double(s, 5), sc = sqlite3_column_double(s, 6);
    if (upgraded == 0)
        upgraded = started;
    double first_close = cc == 0 ? sc : sc == 0 ? cc : cc < sc ? cc : sc;
    double active = upgraded > last_data ? upgraded : last_data;
    if (first_close == 0 && last_frame > active)
        active = last_frame;
    double idle = (first_close != 0 ? first_close : ended) - active;
    return (struct duration_row){
        .lifetime = ended - started,
        .idle = idle > 0 ? idle : 0, /* a close frame reordered before the last data */
        .code = sqlite3_column_int(s, 7),
    };
}

int query_durations(struct query_db *q, const struct query_filter *f, duration_fn fn, void *arg)
{
    if (query_sqlite_only(q))
        return -1;
    sqlite3 *db = q->db;
    sqlite3_stmt *s;
    /* the outcome test is '+outcome' (see where_outcomes): a scan of the
     * rows, rather than an index lookup per row */
    if (query_prepare_cond(db,
                           "SELECT started_at, ended_at, upgraded_at, last_data_at, last_frame_at, client_close_at,"
                           " server_close_at, coalesce(close_code, -1) FROM connections",
                           f, "+outcome IN ('clean', 'half_closed', 'abnormal')", "", &s) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct duration_row d = duration_of(s);
        fn(arg, &d);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}
