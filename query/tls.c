/*
 * query/tls.c — what the other tables say: TLS flows per server and name
 * (tls_flows, by hour), and the captures' figures (captures) for a window;
 * and both tables' rows as they are, for shipping (query_side_rows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_internal.h"

/* The side tables' filters, written once for both back-ends: the
 * conditions of the values given, each with one placeholder (numbered
 * ?1, ?2, ... as they are added). */
enum { SIDE_BINDS = 5 };

struct side_where {
    char sql[1024];
    struct query_value v[SIDE_BINDS];
    int n;
};

/* Adds " WHERE cond" or " AND cond", cond's '?' standing for v. */
static void side_cond(struct side_where *w, const char *before, const char *after, struct query_value v)
{
    size_t used = strlen(w->sql);
    if (w->n >= SIDE_BINDS)
        return;
    w->v[w->n++] = v;
    snprintf(w->sql + used, sizeof w->sql - used, "%s%s?%d%s", w->n > 1 ? " AND " : " WHERE ", before, w->n, after);
}

/* The window (the conditions on the table's times), --sensor and, with
 * `server`, --server. */
static void side_where(struct side_where *w, const struct query_filter *f, const char *since, const char *since_after,
                       const char *until, bool server)
{
    memset(w, 0, sizeof *w);
    if (f->has_since)
        side_cond(w, since, since_after, (struct query_value){.type = QV_REAL, .d = f->since});
    if (f->has_until)
        side_cond(w, until, "", (struct query_value){.type = QV_REAL, .d = f->until});
    if (f->sensor)
        side_cond(w, "sensor = ", "", (struct query_value){.type = QV_TEXT, .text = f->sensor});
    if (server && f->server_ip)
        side_cond(w, "server_ip = ", "", (struct query_value){.type = QV_TEXT, .text = f->server_ip});
    if (server && f->server_port >= 0)
        side_cond(w, "server_port = ", "", (struct query_value){.type = QV_INT, .i = f->server_port});
}

static void bind_values(sqlite3_stmt *s, const struct query_value *v, int n)
{
    for (int i = 0; i < n; i++) {
        switch (v[i].type) {
        case QV_NULL: break; /* unbound: NULL */
        case QV_INT: sqlite3_bind_int64(s, i + 1, v[i].i); break;
        case QV_REAL: sqlite3_bind_double(s, i + 1, v[i].d); break;
        case QV_TEXT: sqlite3_bind_text(s, i + 1, v[i].text, -1, SQLITE_STATIC); break;
        }
    }
}

/* Runs `from` (up to the table's name), the conditions and `tail` on
 * either back-end: each row to fn as text fields (NULL for NULL), as
 * query_ch_select() hands them. On ClickHouse the tables are
 * ReplacingMergeTrees whose rows are replaced when a sensor ships newer
 * figures: read FINAL. */
static int side_select(struct query_db *q, const char *from, const struct side_where *w, const char *tail,
                       ch_row_fn fn, void *arg, bool absent_ok)
{
    char text[3072];
    if (q->ch) {
        char ch[4096];
        snprintf(text, sizeof text, "%s FINAL%s%s", from, w->sql, tail);
        return query_ch_render(q, text, w->v, w->n, ch, sizeof ch) < 0 ? -1 : query_ch_select(q, ch, fn, arg);
    }
    snprintf(text, sizeof text, "%s%s%s", from, w->sql, tail);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, text, -1, &s, NULL) != SQLITE_OK)
        return absent_ok && strstr(sqlite3_errmsg(q->db), "no such table") ? 0 : -1;
    bind_values(s, w->v, w->n);
    int rc, n = sqlite3_column_count(s), stopped = 0;
    const char *fields[16];
    while (!stopped && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < n && i < 16; i++)
            fields[i] = (const char *)sqlite3_column_text(s, i);
        stopped = fn(arg, n < 16 ? n : 16, fields);
    }
    sqlite3_finalize(s);
    return stopped < 0 ? -1 : rc == SQLITE_DONE ? 0 : -1;
}

struct tls_rows {
    tls_count_fn fn;
    void *arg;
};

static int tls_row(void *arg, int n, const char *const *f)
{
    struct tls_rows *r = arg;
    if (n < 4)
        return -1;
    struct tls_count t = {
        .server_ip = f[0],
        .server_port = (int)query_field_int(f[1], 0),
        .sni = f[2],
        .count = query_field_int(f[3], 0),
    };
    r->fn(r->arg, &t);
    return 0;
}

int query_tls(struct query_db *q, const struct query_filter *f, tls_count_fn fn, void *arg)
{
    /* by hour: the hours that overlap the window; a database without the
     * table (schema v1) has none */
    struct side_where w;
    side_where(&w, f, "hour > ", " - 3600", "hour < ", true);
    struct tls_rows r = {fn, arg};
    return side_select(q, "SELECT server_ip, server_port, sni, sum(connections) AS n FROM tls_flows", &w,
                       " GROUP BY server_ip, server_port, sni ORDER BY n DESC, server_ip, server_port, sni", tls_row,
                       &r, true);
}

static int captures_row(void *arg, int n, const char *const *f)
{
    struct capture_totals *t = arg;
    long long *out[] = {&t->captures, &t->live,      &t->packets, &t->bytes,       &t->drops,
                        &t->if_drops, &t->tcp_flows, &t->running, &t->interrupted, &t->failed};
    if (n < (int)(sizeof out / sizeof out[0]))
        return -1;
    for (int i = 0; i < (int)(sizeof out / sizeof out[0]); i++)
        *out[i] = query_field_int(f[i], 0);
    return 0;
}

int query_captures(struct query_db *q, const struct query_filter *f, struct capture_totals *t)
{
    /* A capture overlaps [since, until) when it ended (or runs) after since
     * and started before until. */
    struct side_where w;
    side_where(&w, f, "coalesce(last_packet_at, ended_at, started_at) >= ", "",
               "coalesce(first_packet_at, started_at) < ", false);
    memset(t, 0, sizeof *t);
    return side_select(q,
                       "SELECT count(*), sum(kind = 'live'), sum(packets), sum(bytes), sum(drops), sum(if_drops),"
                       " sum(tcp_flows), sum(status = 'running'), sum(status = 'interrupted'),"
                       " sum(status NOT IN ('running', 'interrupted', 'complete', 'stopped', 'reopened'))"
                       " FROM captures",
                       &w, "", captures_row, t, false);
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
