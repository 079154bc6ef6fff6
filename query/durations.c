/*
 * query/durations.c — each ended connection's lifetime and idle time
 * before close, for `durations`: the same columns from either back-end,
 * made into durations here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "query_internal.h"

/* The columns a duration is made of, in both back-ends' SELECT. */
enum { D_STARTED, D_ENDED, D_UPGRADED, D_LAST_DATA, D_LAST_FRAME, D_CLIENT_CLOSE, D_SERVER_CLOSE, D_TIMES };
static const char duration_columns[] = "SELECT started_at, ended_at, upgraded_at, last_data_at, last_frame_at,"
                                       " client_close_at, server_close_at, coalesce(close_code, -1) FROM connections";

/* Lifetime and idle time before close of one connection (see query.h),
 * from its times; computed here rather than in SQL, which is several times
 * slower at it. Times are epoch seconds, never 0: 0 stands for NULL. */
static struct duration_row duration_of(const double *t, int code)
{
    double started = t[D_STARTED], ended = t[D_ENDED], upgraded = t[D_UPGRADED], last_data = t[D_LAST_DATA];
    double last_frame = t[D_LAST_FRAME], cc = t[D_CLIENT_CLOSE], sc = t[D_SERVER_CLOSE];
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
        .code = code,
    };
}

/* ClickHouse's rows: the same columns. */
struct ch_durations {
    duration_fn fn;
    void *arg;
};

static int ch_duration_row(void *arg, int n, const char *const *f)
{
    struct ch_durations *d = arg;
    if (n < D_TIMES + 1)
        return -1;
    double t[D_TIMES];
    for (int i = 0; i < D_TIMES; i++)
        t[i] = query_field_real(f[i]); /* NULL: 0, as sqlite3_column_double() gives */
    struct duration_row row = duration_of(t, (int)query_field_int(f[D_TIMES], -1));
    d->fn(d->arg, &row);
    return 0;
}

static int ch_durations(struct query_db *q, const struct query_filter *f, duration_fn fn, void *arg)
{
    char where[4096], sql[4600];
    if (query_where_clickhouse(q, f, "outcome IN ('clean', 'half_closed', 'abnormal')", where, sizeof where) < 0)
        return -1;
    snprintf(sql, sizeof sql, "%s%s", duration_columns, where);
    struct ch_durations d = {fn, arg};
    return query_ch_select(q, sql, ch_duration_row, &d);
}

int query_durations(struct query_db *q, const struct query_filter *f, duration_fn fn, void *arg)
{
    if (q->ch)
        return ch_durations(q, f, fn, arg);
    sqlite3 *db = q->db;
    sqlite3_stmt *s;
    /* the outcome test is '+outcome' (see where_outcomes): a scan of the
     * rows, rather than an index lookup per row */
    if (query_prepare_cond(db, duration_columns, f, "+outcome IN ('clean', 'half_closed', 'abnormal')", "", &s) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        double t[D_TIMES];
        for (int i = 0; i < D_TIMES; i++)
            t[i] = sqlite3_column_double(s, i); /* one call per column: NULL gives 0 */
        struct duration_row d = duration_of(t, sqlite3_column_int(s, D_TIMES));
        fn(arg, &d);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}
