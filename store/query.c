/*
 * store/query.c — filters, time windows and the queries behind wsstats.
 *
 * Every statement is built from the fixed fragments below plus '?'
 * placeholders; user values only ever reach SQLite through sqlite3_bind_*.
 */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dissect/record.h"

/* ---- WHERE clauses -------------------------------------------------------- */

enum bind_type { BIND_DOUBLE, BIND_INT, BIND_TEXT };

struct bind {
    enum bind_type type;
    double d;
    long long i;
    const char *t;
};

#define WHERE_MAX_BINDS 64

/* A WHERE clause of fixed fragments and the values to bind to them. */
struct where {
    char sql[2048];
    struct bind binds[WHERE_MAX_BINDS];
    int n, placeholders;
    bool any; /* a condition was added */
};

/* Appends a fragment, numbering its '?' placeholders ?1, ?2, ... in the
 * order they appear, so that extra parameters of a statement (?1000 and up)
 * may stand anywhere. Fragments bind their values in the same order. */
static void where_sql(struct where *w, const char *fragment)
{
    size_t used = strlen(w->sql);
    for (const char *p = fragment; *p && used + 8 < sizeof w->sql; p++) {
        if (*p == '?')
            used += (size_t)snprintf(w->sql + used, sizeof w->sql - used, "?%d", ++w->placeholders);
        else
            w->sql[used++] = *p;
    }
    w->sql[used] = '\0';
}

/* Starts a condition: " WHERE " or " AND ". */
static void where_and(struct where *w)
{
    where_sql(w, w->any ? " AND " : " WHERE ");
    w->any = true;
}

static void bind_double(struct where *w, double v)
{
    if (w->n < WHERE_MAX_BINDS)
        w->binds[w->n++] = (struct bind){.type = BIND_DOUBLE, .d = v};
}

static void bind_int(struct where *w, long long v)
{
    if (w->n < WHERE_MAX_BINDS)
        w->binds[w->n++] = (struct bind){.type = BIND_INT, .i = v};
}

static void bind_text(struct where *w, const char *v)
{
    if (w->n < WHERE_MAX_BINDS)
        w->binds[w->n++] = (struct bind){.type = BIND_TEXT, .t = v};
}

static void where_endpoint(struct where *w, const char *ip_col, const char *port_col, const char *ip, int port)
{
    char frag[96];
    if (ip) {
        where_and(w);
        snprintf(frag, sizeof frag, "%s = ?", ip_col);
        where_sql(w, frag);
        bind_text(w, ip);
    }
    if (port >= 0) {
        where_and(w);
        snprintf(frag, sizeof frag, "%s = ?", port_col);
        where_sql(w, frag);
        bind_int(w, port);
    }
}

/* Host names are case-insensitive (RFC 9110 §4.2.3); the Host header may
 * carry a port, which a filter without one ignores. */
static void where_host(struct where *w, const char *host)
{
    where_and(w);
    if (strchr(host, ':') && host[0] != '[') {
        where_sql(w, "host = ? COLLATE NOCASE");
        bind_text(w, host);
        return;
    }
    /* "host:port" sorts between "host:" and "host;" (';' follows ':'):
     * a range the case-insensitive host index serves */
    where_sql(w, "(host = ? COLLATE NOCASE OR (host > ? || ':' COLLATE NOCASE AND host < ? || ';' COLLATE NOCASE))");
    bind_text(w, host);
    bind_text(w, host);
    bind_text(w, host);
}

/* The request target: exact, or with a query string; "/p*" is a prefix. */
static void where_path(struct where *w, const char *path, char *prefix_buf, size_t buflen)
{
    size_t n = strlen(path);
    where_and(w);
    if (n > 0 && path[n - 1] == '*') {
        snprintf(prefix_buf, buflen, "%.*s", (int)(n - 1), path);
        where_sql(w, "substr(path, 1, length(?)) = ?");
        bind_text(w, prefix_buf);
        bind_text(w, prefix_buf);
        return;
    }
    where_sql(w, "(path = ? OR substr(path, 1, length(?) + 1) = ? || char(63))");
    bind_text(w, path);
    bind_text(w, path);
    bind_text(w, path);
}

static void where_codes(struct where *w, const struct query_filter *f)
{
    where_and(w);
    where_sql(w, "(");
    for (int i = 0; i < f->ncodes; i++) {
        if (i)
            where_sql(w, " OR ");
        if (f->codes[i].lo < 0) {
            where_sql(w, "close_code IS NULL");
        } else {
            where_sql(w, "close_code BETWEEN ? AND ?");
            bind_int(w, f->codes[i].lo);
            bind_int(w, f->codes[i].hi);
        }
    }
    where_sql(w, ")");
}

static void where_outcomes(struct where *w, unsigned set)
{
    where_and(w);
    where_sql(w, "outcome IN (");
    bool first = true;
    for (int o = OUTCOME_CLEAN; o <= OUTCOME_REJECTED; o++) {
        if (!(set & (1u << o)))
            continue;
        where_sql(w, first ? "?" : ", ?");
        bind_text(w, outcome_name((enum outcome)o));
        first = false;
    }
    where_sql(w, ")");
}

/* Room for the prefix copy of a "/p*" path filter. */
struct where_scratch {
    char path_prefix[1024];
};

static void build_where(const struct query_filter *f, struct where *w, struct where_scratch *scratch)
{
    memset(w, 0, sizeof *w);
    if (f->has_since) {
        where_and(w);
        where_sql(w, "ended_at >= ?");
        bind_double(w, f->since);
    }
    if (f->has_until) {
        where_and(w);
        where_sql(w, "ended_at < ?");
        bind_double(w, f->until);
    }
    where_endpoint(w, "server_ip", "server_port", f->server_ip, f->server_port);
    where_endpoint(w, "client_ip", "client_port", f->client_ip, f->client_port);
    if (f->host)
        where_host(w, f->host);
    if (f->path)
        where_path(w, f->path, scratch->path_prefix, sizeof scratch->path_prefix);
    if (f->sensor) {
        where_and(w);
        where_sql(w, "sensor = ?");
        bind_text(w, f->sensor);
    }
    if (f->ncodes)
        where_codes(w, f);
    if (f->outcomes)
        where_outcomes(w, f->outcomes);
}

static void bind_all(sqlite3_stmt *s, const struct where *w, int first)
{
    for (int i = 0; i < w->n; i++) {
        const struct bind *b = &w->binds[i];
        switch (b->type) {
        case BIND_DOUBLE: sqlite3_bind_double(s, first + i, b->d); break;
        case BIND_INT: sqlite3_bind_int64(s, first + i, b->i); break;
        case BIND_TEXT: sqlite3_bind_text(s, first + i, b->t, -1, SQLITE_TRANSIENT); break;
        }
    }
}

/* Prepares head + WHERE + tail; "%W" in head stands for the WHERE clause
 * when it must sit inside the statement (a CTE) rather than after head.
 * `cond`, if not NULL, is one more fixed condition (no placeholders). */
static int prepare_cond(sqlite3 *db, const char *head, const struct query_filter *f, const char *cond,
                        const char *tail, sqlite3_stmt **s)
{
    struct where w;
    struct where_scratch scratch;
    build_where(f, &w, &scratch);
    if (cond) {
        where_and(&w);
        where_sql(&w, cond);
    }
    char sql[8192];
    const char *mark = strstr(head, "%W");
    if (mark)
        snprintf(sql, sizeof sql, "%.*s%s%s%s", (int)(mark - head), head, w.sql, mark + 2, tail);
    else
        snprintf(sql, sizeof sql, "%s%s%s", head, w.sql, tail);
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
        return -1;
    bind_all(*s, &w, 1); /* texts are copied: the scratch may go */
    return w.n;
}

static int prepare(sqlite3 *db, const char *head, const struct query_filter *f, const char *tail, sqlite3_stmt **s)
{
    return prepare_cond(db, head, f, NULL, tail, s);
}

/* ---- window and snapshot --------------------------------------------------- */

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

int query_begin(sqlite3 *db)
{
    return sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void query_end(sqlite3 *db)
{
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* ---- codes ---------------------------------------------------------------- */

/* Columns (code, why, count) at `col` of the current row. */
static struct code_count code_count_at(sqlite3_stmt *s, int col)
{
    return (struct code_count){
        .code = sqlite3_column_type(s, col) == SQLITE_NULL ? -1 : sqlite3_column_int(s, col),
        .outcome = (const char *)sqlite3_column_text(s, col + 1),
        .count = sqlite3_column_int64(s, col + 2),
    };
}

#define WHY "CASE WHEN close_code IS NULL THEN outcome END"

/* Rows of (close_code, outcome, count) folded into DESIGN's report rows:
 * a code's outcomes add up; connections without a code stay apart by
 * outcome. Sorted most frequent first. */
struct fold {
    struct folded {
        struct code_count c; /* first: by_count_desc sorts these */
        char outcome[16];
    } rows[1024];
    int n;
};

static void fold_add(struct fold *fo, int code, const char *outcome, long long count)
{
    const char *why = code < 0 && outcome ? outcome : "";
    for (int i = 0; i < fo->n; i++) {
        if (fo->rows[i].c.code == code && strcmp(fo->rows[i].outcome, why) == 0) {
            fo->rows[i].c.count += count;
            return;
        }
    }
    if (fo->n == 1024)
        return; /* at most 65536 codes exist; 1024 distinct is beyond any report */
    struct folded *r = &fo->rows[fo->n++];
    r->c = (struct code_count){.code = code, .count = count};
    snprintf(r->outcome, sizeof r->outcome, "%s", why);
}

static int by_count_desc(const void *a, const void *b)
{
    const struct code_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    if ((x->code < 0) != (y->code < 0))
        return x->code < 0 ? 1 : -1; /* codes before "no code" */
    return x->code - y->code;
}

int query_top_codes(sqlite3 *db, const struct query_filter *f, code_count_fn fn, void *arg)
{
    sqlite3_stmt *s;
    if (prepare(db, "SELECT close_code, outcome, count(*) FROM connections", f, " GROUP BY close_code, outcome", &s) < 0)
        return -1;
    struct fold *fo = calloc(1, sizeof *fo);
    if (!fo) {
        sqlite3_finalize(s);
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fold_add(fo, sqlite3_column_type(s, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 0),
                 (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2));
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE) {
        qsort(fo->rows, (size_t)fo->n, sizeof fo->rows[0], by_count_desc);
        for (int i = 0; i < fo->n; i++) {
            struct folded *r = &fo->rows[i];
            r->c.outcome = r->c.code < 0 ? r->outcome : NULL;
            fn(arg, &r->c);
        }
    }
    free(fo);
    return rc == SQLITE_DONE ? 0 : -1;
}

int query_connections(sqlite3 *db, const struct query_filter *f, long limit, sqlite3_stmt **stmt)
{
    if (prepare(db, "SELECT * FROM connections", f, " ORDER BY ended_at DESC, id DESC LIMIT ?1000", stmt) < 0)
        return -1;
    sqlite3_bind_int64(*stmt, 1000, limit > 0 ? limit : -1);
    return 0;
}

int query_timeline(sqlite3 *db, const struct query_filter *f, double bucket, bucket_count_fn fn, void *arg)
{
    sqlite3_stmt *s;
    if (prepare(db,
                "SELECT CAST(ended_at / ?1000 AS INTEGER) AS b, close_code, " WHY " AS why, count(*) AS n"
                " FROM connections",
                f, " GROUP BY b, close_code, why ORDER BY b, n DESC, close_code", &s) < 0)
        return -1;
    sqlite3_bind_double(s, 1000, bucket);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct code_count c = code_count_at(s, 1);
        fn(arg, (double)sqlite3_column_int64(s, 0) * bucket, &c);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- keys ------------------------------------------------------------------- */

/* Each key: its command-line name, the columns it groups by (k1, k2; k2
 * NULL for one-column keys; plain columns, so that the covering indexes of
 * schema v2 give the groups in order), and how they make the value shown. */
static const struct {
    const char *name, *k1, *k2, *shown;
} keys[KEY_COUNT_] = {
    [KEY_HOST] = {"host", "host COLLATE NOCASE", "NULL", "k1"}, /* RFC 9110 §4.2.3 */
    [KEY_PATH] = {"path", "path", "NULL", "k1"},
    [KEY_SERVER] = {"server", "server_ip", "server_port",
                    "CASE WHEN instr(k1, ':') THEN '[' || k1 || ']' ELSE k1 END || ':' || k2"},
    [KEY_CLIENT] = {"client", "client_ip", "NULL", "k1"},
    [KEY_SUBPROTOCOL] = {"subprotocol", "subprotocol", "NULL", "k1"},
    [KEY_USER_AGENT] = {"user-agent", "user_agent", "NULL", "k1"},
    [KEY_SENSOR] = {"sensor", "sensor", "NULL", "k1"},
    [KEY_VIOLATIONS] = {"violations", "violations", "NULL", "k1"},
    [KEY_NDPI] = {"ndpi", "ndpi_protocol", "NULL", "k1"},
};

/* Grouping by a constant as well would make SQLite sort instead of
 * walking the index in order: one-column keys group by k1 alone. */
static bool one_column(enum query_key k)
{
    return strcmp(keys[k].k2, "NULL") == 0;
}

const char *query_key_name(enum query_key k)
{
    return k < KEY_COUNT_ ? keys[k].name : "?";
}

bool query_key_parse(const char *name, enum query_key *k)
{
    for (int i = 0; i < KEY_COUNT_; i++) {
        if (strcmp(name, keys[i].name) == 0) {
            *k = (enum query_key)i;
            return true;
        }
    }
    return false;
}

int query_group_by(sqlite3 *db, const struct query_filter *f, enum query_key k, long limit, group_row_fn fn,
                   void *arg, long long *ngroups, long long *total)
{
    char head[4096];
    snprintf(head, sizeof head,
             "WITH raw AS (SELECT %s AS k1, %s AS k2, close_code, outcome, count(*) AS n FROM connections%%W"
             "  GROUP BY %s),"
             " per AS (SELECT %s AS k, close_code AS code, CASE WHEN close_code IS NULL THEN outcome END AS why,"
             "  sum(n) AS n FROM raw GROUP BY 1, 2, 3),"
             " tot AS (SELECT k, sum(n) AS total FROM per GROUP BY k),"
             " top AS (SELECT k, total FROM tot ORDER BY total DESC, k LIMIT ?1000),"
             " ranked AS (SELECT per.*, row_number() OVER"
             "  (PARTITION BY per.k ORDER BY n DESC, code IS NULL, code, why) AS rn FROM per JOIN top ON per.k IS top.k)"
             " SELECT top.k, top.total, ranked.code, ranked.why, ranked.n, ranked.rn,"
             "  (SELECT count(*) FROM tot), (SELECT sum(total) FROM tot)"
             " FROM top JOIN ranked ON ranked.k IS top.k WHERE ranked.rn <= 3"
             " ORDER BY top.total DESC, top.k, ranked.rn",
             keys[k].k1, keys[k].k2, one_column(k) ? "1, 3, 4" : "1, 2, 3, 4", keys[k].shown);
    sqlite3_stmt *s;
    if (prepare(db, head, f, "", &s) < 0)
        return -1;
    sqlite3_bind_int64(s, 1000, limit > 0 ? limit : -1);
    int rc;
    *ngroups = *total = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct group_row g = {
            .key = (const char *)sqlite3_column_text(s, 0),
            .total = sqlite3_column_int64(s, 1),
            .code = code_count_at(s, 2),
            .rank = sqlite3_column_int(s, 5),
        };
        *ngroups = sqlite3_column_int64(s, 6);
        *total = sqlite3_column_int64(s, 7);
        fn(arg, &g);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int query_tally(sqlite3 *db, const struct query_filter *f, enum query_key k, tally_fn fn, void *arg)
{
    char head[1024];
    snprintf(head, sizeof head,
             "SELECT %s AS k, sum(n) AS n FROM (SELECT %s AS k1, %s AS k2, count(*) AS n FROM connections",
             keys[k].shown, keys[k].k1, keys[k].k2);
    sqlite3_stmt *s;
    /* records without violations are most: the partial index skips them */
    if (prepare_cond(db, head, f, k == KEY_VIOLATIONS ? "violations IS NOT NULL" : NULL,
                     one_column(k) ? " GROUP BY 1) GROUP BY k ORDER BY n DESC, k"
                                   : " GROUP BY 1, 2) GROUP BY k ORDER BY n DESC, k",
                     &s) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int query_summary(sqlite3 *db, const struct query_filter *f, struct summary_counts *out)
{
    sqlite3_stmt *s;
    if (prepare(db,
                "SELECT outcome, close_initiator, termination, handshake_seen, count(*) FROM connections", f,
                " GROUP BY 1, 2, 3, 4", &s) < 0)
        return -1;
    memset(out, 0, sizeof *out);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *outcome = (const char *)sqlite3_column_text(s, 0);
        const char *initiator = (const char *)sqlite3_column_text(s, 1);
        const char *termination = (const char *)sqlite3_column_text(s, 2);
        long long n = sqlite3_column_int64(s, 4);
        out->total += n;
        out->handshake_seen += sqlite3_column_int(s, 3) ? n : 0;
        for (int o = OUTCOME_CLEAN; o <= OUTCOME_REJECTED; o++)
            if (outcome && strcmp(outcome, outcome_name((enum outcome)o)) == 0)
                out->outcomes[o] += n;
        for (int t = TERM_FIN_CLIENT; t <= TERM_CAPTURE_END; t++)
            if (termination && strcmp(termination, termination_name((enum termination)t)) == 0)
                out->terminations[t] += n;
        if (initiator && strcmp(initiator, "client") == 0)
            out->by_client += n;
        else if (initiator && strcmp(initiator, "server") == 0)
            out->by_server += n;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- durations -------------------------------------------------------------- */

/* A column's REAL value, or `none` for NULL. */
static double column_or(sqlite3_stmt *s, int col, double none)
{
    return sqlite3_column_type(s, col) == SQLITE_NULL ? none : sqlite3_column_double(s, col);
}

/* Lifetime and idle time before close of the current row (see query.h);
 * computed here rather than in SQL, which is several times slower at it. */
static struct duration_row duration_of(sqlite3_stmt *s)
{
    double started = sqlite3_column_double(s, 0), ended = sqlite3_column_double(s, 1);
    double upgraded = column_or(s, 2, started), last_data = column_or(s, 3, 0), last_frame = column_or(s, 4, 0);
    double cc = column_or(s, 5, -1), sc = column_or(s, 6, -1);
    double first_close = cc < 0 ? sc : sc < 0 ? cc : cc < sc ? cc : sc;
    double active = upgraded > last_data ? upgraded : last_data;
    if (first_close < 0 && last_frame > active)
        active = last_frame;
    double idle = (first_close >= 0 ? first_close : ended) - active;
    return (struct duration_row){
        .lifetime = ended - started,
        .idle = idle > 0 ? idle : 0, /* a close frame reordered before the last data */
        .code = sqlite3_column_type(s, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 7),
    };
}

int query_durations(sqlite3 *db, const struct query_filter *f, duration_fn fn, void *arg)
{
    sqlite3_stmt *s;
    /* '+outcome': scan the rows, rather than one index lookup per row */
    if (prepare_cond(db,
                     "SELECT started_at, ended_at, upgraded_at, last_data_at, last_frame_at, client_close_at,"
                     " server_close_at, close_code FROM connections",
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

/* ---- TLS ---------------------------------------------------------------- */

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

int query_tls(sqlite3 *db, const struct query_filter *f, tls_count_fn fn, void *arg)
{
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

/* ---- captures --------------------------------------------------------------- */

int query_captures(sqlite3 *db, const struct query_filter *f, struct capture_totals *t)
{
    /* A capture overlaps [since, until) when it ended (or runs) after since
     * and started before until. */
    static const char sql[] =
        "SELECT count(*), sum(kind = 'live'), sum(packets), sum(bytes), sum(drops), sum(if_drops), sum(tcp_flows)"
        " FROM captures WHERE (?1 IS NULL OR coalesce(last_packet_at, ended_at, started_at) >= ?1)"
        " AND (?2 IS NULL OR coalesce(first_packet_at, started_at) < ?2) AND (?3 IS NULL OR sensor = ?3)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    bind_window_and_sensor(s, f);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        long long *out[] = {&t->captures, &t->live, &t->packets, &t->bytes, &t->drops, &t->if_drops, &t->tcp_flows};
        for (int i = 0; i < 7; i++)
            *out[i] = sqlite3_column_int64(s, i);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}
