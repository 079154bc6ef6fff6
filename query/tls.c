/*
 * query/tls.c — what the other tables say: TLS flows per server and name
 * (tls_flows, by hour), and the captures' figures (captures) for a window;
 * and both tables' rows as they are, for shipping (query_side_rows).
 */
#include <stdio.h>
#include <string.h>

#include "query_internal.h"

/* ?1 since, ?2 until, ?3 sensor: NULL (bound to nothing) when not given. */
static void bind_window_and_sensor(sqlite3_stmt *s, const struct query_filter *f)
{
    if (f->has_since)
        sqlite3_bind_double(s, 1, f->since);
    if (f->has_until)
        sqlite3_bind_double(s, 2, f->until);
    if (f->sensor)
        sqlite3_bind_text(s, 3, f->sensor, -1, SQLITE_STATIC);
}

int query_tls(struct query_db *q, const struct query_filter *f, tls_count_fn fn, void *arg)
{
    if (query_sqlite_only(q))
        return -1;
    sqlite3 *db = q->db;
    static const char sql[] =
        "SELECT server_ip, server_port, sni, sum(connections) AS n FROM tls_flows"
        " WHERE (?1 IS NULL OR hour > ?1 - 3600) AND (?2 IS NULL OR hour < ?2)"
        " AND (?3 IS NULL OR sensor = ?3) AND (?4 IS NULL OR server_ip = ?4) AND (?5 IS NULL OR server_port = ?5)"
        " GROUP BY 1, 2, 3 ORDER BY n DESC, 1, 2, 3";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return strstr(sqlite3_errmsg(db), "no such table") ? 0 : -1;
    bind_window_and_sensor(s, f);
    if (f->server_ip)
        sqlite3_bind_text(s, 4, f->server_ip, -1, SQLITE_STATIC);
    if (f->server_port >= 0)
        sqlite3_bind_int(s, 5, f->server_port);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct tls_count t = {
            .server_ip = (const char *)sqlite3_column_text(s, 0),
            .server_port = sqlite3_column_int(s, 1),
            .sni = (const char *)sqlite3_column_text(s, 2),
            .count = sqlite3_column_int64(s, 3),
        };
        fn(arg, &t);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int query_captures(struct query_db *q, const struct query_filter *f, struct capture_totals *t)
{
    if (query_sqlite_only(q))
        return -1;
    sqlite3 *db = q->db;
    /* A capture overlaps [since, until) when it ended (or runs) after since
     * and started before until. */
    static const char sql[] =
        "SELECT count(*), sum(kind = 'live'), sum(packets), sum(bytes), sum(drops), sum(if_drops), sum(tcp_flows),"
        " sum(status = 'running'), sum(status = 'interrupted'),"
        " sum(status NOT IN ('running', 'interrupted', 'complete', 'stopped', 'reopened'))"
        " FROM captures WHERE (?1 IS NULL OR coalesce(last_packet_at, ended_at, started_at) >= ?1)"
        " AND (?2 IS NULL OR coalesce(first_packet_at, started_at) < ?2) AND (?3 IS NULL OR sensor = ?3)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    bind_window_and_sensor(s, f);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        long long *out[] = {&t->captures, &t->live,    &t->packets,     &t->bytes, &t->drops,
                            &t->if_drops, &t->tcp_flows, &t->running, &t->interrupted, &t->failed};
        for (int i = 0; i < (int)(sizeof out / sizeof out[0]); i++)
            *out[i] = sqlite3_column_int64(s, i);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

#define SIDE_MAX_COLUMNS 64

/* One row's columns as query_values (the text valid until the next step). */
static int side_row(sqlite3_stmt *s, int n, const char *const *names, side_row_fn fn, void *arg)
{
    struct query_value v[SIDE_MAX_COLUMNS];
    for (int i = 0; i < n; i++) {
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER: v[i] = (struct query_value){.type = QV_INT, .i = sqlite3_column_int64(s, i)}; break;
        case SQLITE_FLOAT: v[i] = (struct query_value){.type = QV_REAL, .d = sqlite3_column_double(s, i)}; break;
        case SQLITE_NULL: v[i] = (struct query_value){.type = QV_NULL}; break;
        default: v[i] = (struct query_value){.type = QV_TEXT, .text = (const char *)sqlite3_column_text(s, i)};
        }
    }
    return fn(arg, n, names, v);
}

int query_side_rows(struct query_db *q, enum query_side_table t, double from, side_row_fn fn, void *arg)
{
    if (query_sqlite_only(q))
        return -1;
    static const char *const sql[] = {
        [QUERY_CAPTURES] = "SELECT * FROM captures WHERE id >= ?1 ORDER BY id",
        [QUERY_TLS_FLOWS] = "SELECT * FROM tls_flows WHERE ?1 < 0 OR updated_at >= ?1",
    };
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, sql[t], -1, &s, NULL) != SQLITE_OK) {
        bool absent = t == QUERY_TLS_FLOWS && strstr(sqlite3_errmsg(q->db), "no such table"); /* schema v1 */
        return absent ? 0 : -1;
    }
    int n = sqlite3_column_count(s);
    if (n > SIDE_MAX_COLUMNS) {
        sqlite3_finalize(s);
        snprintf(q->err, sizeof q->err, "%d columns in the %s table: more than this wsstats reads", n,
                 t == QUERY_CAPTURES ? "captures" : "tls_flows");
        return -1;
    }
    const char *names[SIDE_MAX_COLUMNS];
    for (int i = 0; i < n; i++)
        names[i] = sqlite3_column_name(s, i);
    if (t == QUERY_CAPTURES)
        sqlite3_bind_int64(s, 1, (sqlite3_int64)from);
    else
        sqlite3_bind_double(s, 1, from);
    int rc, stopped = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && !(stopped = side_row(s, n, names, fn, arg)))
        ;
    sqlite3_finalize(s);
    return stopped ? stopped : rc == SQLITE_DONE ? 0 : -1;
}
