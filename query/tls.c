/*
 * query/tls.c — what the other tables say: TLS flows per server and name
 * (tls_flows, by hour), and the captures' figures (captures) for a window.
 */
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
