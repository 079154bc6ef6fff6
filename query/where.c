/*
 * query/where.c — a filter as a WHERE clause of fixed fragments and the values
 * bound to its placeholders, and the statements prepared with it.
 *
 * SQL text is assembled only from fixed fragments; every value a user
 * typed is bound as a parameter, so quotes or SQL in a filter are matched
 * literally. Filters are index ranges (never functions of a column), so
 * that SQLite, without ANALYZE statistics, picks the filter's index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_internal.h"

enum bind_type { BIND_DOUBLE, BIND_INT, BIND_TEXT };

struct bind {
    enum bind_type type;
    double d;
    long long i;
    const char *t;
    int len; /* of t in bytes; -1: up to its NUL */
};

#define WHERE_MAX_BINDS 64

/* A WHERE clause of fixed fragments and the values to bind to them. A
 * filter is described once (build_where) and written in either dialect:
 * SQLite's, with the values bound, or ClickHouse's, with them written as
 * quoted literals (its HTTP interface in 18.16 binds nothing); the few
 * fragments whose SQL differs come in pairs. */
struct where {
    enum query_dialect dialect;
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

static void bind_text_n(struct where *w, const char *v, int len)
{
    if (w->n < WHERE_MAX_BINDS)
        w->binds[w->n++] = (struct bind){.type = BIND_TEXT, .t = v, .len = len};
}

static void bind_text(struct where *w, const char *v)
{
    bind_text_n(w, v, -1);
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

/* What a WHERE clause needs kept until its values are bound. */
struct where_scratch {
    char *path_upper; /* owned */
    bool failed;      /* out of memory */
};

/* Host names are case-insensitive (RFC 9110 §4.2.3); the Host header may
 * carry a port, which a filter without one ignores. */
static void where_host(struct where *w, const char *host)
{
    bool ch = w->dialect == DIALECT_CLICKHOUSE;
    where_and(w);
    if (strchr(host, ':') && host[0] != '[') {
        where_sql(w, ch ? "lower(host) = lower(?)" : "host = ? COLLATE NOCASE");
        bind_text(w, host);
        return;
    }
    /* "host:port" sorts between "host:" and "host;" (';' follows ':'):
     * a range the case-insensitive host index serves (ASCII case folding,
     * as NOCASE and ClickHouse's lower() do) */
    where_sql(w, ch ? "(lower(host) = lower(?) OR (lower(host) > concat(lower(?), ':')"
                      " AND lower(host) < concat(lower(?), ';')))"
                    : "(host = ? COLLATE NOCASE OR (host > ? || ':' COLLATE NOCASE AND host < ? || ';' COLLATE NOCASE))");
    bind_text(w, host);
    bind_text(w, host);
    bind_text(w, host);
}

/* The smallest string above every string that starts with the n bytes of
 * p: p with its last byte below 0xff raised by one and what follows that
 * byte dropped (a new string); NULL with *none set when there is none (p
 * empty or all 0xff), NULL alone when out of memory. */
static char *prefix_upper_bound(const char *p, size_t n, bool *none)
{
    *none = false;
    while (n > 0 && (unsigned char)p[n - 1] == 0xff)
        n--;
    if (n == 0) {
        *none = true;
        return NULL;
    }
    char *u = malloc(n + 1);
    if (!u)
        return NULL;
    memcpy(u, p, n);
    u[n - 1] = (char)((unsigned char)u[n - 1] + 1);
    u[n] = '\0';
    return u;
}

/* The request target: exact, or with a query string ("/p?..." sorts from
 * "/p?" to just before "/p@": '@' follows '?'); "/p*" is a prefix, the
 * range from "/p" to its upper bound. Ranges, so that the path index
 * serves them (paths compare as bytes). */
static void where_path(struct where *w, const char *path, struct where_scratch *scratch)
{
    size_t n = strlen(path);
    where_and(w);
    if (n > 0 && path[n - 1] == '*') {
        bool none;
        scratch->path_upper = prefix_upper_bound(path, n - 1, &none);
        if (!scratch->path_upper && !none) {
            scratch->failed = true;
            return;
        }
        where_sql(w, none ? "path >= ?" : "(path >= ? AND path < ?)");
        bind_text_n(w, path, (int)(n - 1));
        if (!none)
            bind_text(w, scratch->path_upper);
        return;
    }
    where_sql(w, w->dialect == DIALECT_CLICKHOUSE ? "(path = ? OR (path >= concat(?, '\\x3F') AND path < concat(?, '@')))"
                                                  : "(path = ? OR (path >= ? || char(63) AND path < ? || char(64)))");
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
    /* '+': an outcome is too common for its index to pay (one row lookup
     * per match); the covering indexes hold it for filtering */
    where_sql(w, w->dialect == DIALECT_CLICKHOUSE ? "outcome IN (" : "+outcome IN (");
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

/* On ClickHouse, a time bound also on `ended` (the end's whole second,
 * toDateTime(toUInt32(ended_at)), schema.sql), which the table is
 * partitioned by day and ordered by: the same rows (ended_at >= t implies
 * ended >= floor(t), ended_at < t implies ended <= floor(t)), but the
 * days and index marks outside the window are never read. */
static void where_ended_second(struct where *w, const char *op, double t)
{
    if (w->dialect != DIALECT_CLICKHOUSE || !(t >= 0 && t < 4294967296.0))
        return;
    char fragment[48];
    snprintf(fragment, sizeof fragment, " AND ended %s toDateTime(?)", op);
    where_sql(w, fragment);
    bind_int(w, (long long)t);
}

static void build_where(const struct query_filter *f, enum query_dialect dialect, struct where *w,
                        struct where_scratch *scratch)
{
    memset(w, 0, sizeof *w);
    memset(scratch, 0, sizeof *scratch);
    w->dialect = dialect;
    if (f->has_since) {
        where_and(w);
        where_sql(w, "ended_at >= ?");
        bind_double(w, f->since);
        where_ended_second(w, ">=", f->since);
    }
    if (f->has_until) {
        where_and(w);
        where_sql(w, "ended_at < ?");
        bind_double(w, f->until);
        where_ended_second(w, "<=", f->until);
    }
    where_endpoint(w, "server_ip", "server_port", f->server_ip, f->server_port);
    where_endpoint(w, "client_ip", "client_port", f->client_ip, f->client_port);
    if (f->host)
        where_host(w, f->host);
    if (f->path)
        where_path(w, f->path, scratch);
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
        case BIND_TEXT: sqlite3_bind_text(s, first + i, b->t, b->len, SQLITE_TRANSIENT); break;
        }
    }
}

int query_prepare_cond(sqlite3 *db, const char *head, const struct query_filter *f, const char *cond,
                       const char *tail, sqlite3_stmt **s)
{
    struct where w;
    struct where_scratch scratch;
    build_where(f, DIALECT_SQLITE, &w, &scratch);
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
    int rc = scratch.failed ? -1 : sqlite3_prepare_v2(db, sql, -1, s, NULL) == SQLITE_OK ? 0 : -1;
    if (rc == 0)
        bind_all(*s, &w, 1); /* texts are copied: the scratch may go */
    free(scratch.path_upper);
    return rc < 0 ? -1 : w.n;
}

int query_prepare(sqlite3 *db, const char *head, const struct query_filter *f, const char *tail, sqlite3_stmt **s)
{
    return query_prepare_cond(db, head, f, NULL, tail, s);
}

/* A value as a ClickHouse literal: a string quoted, its backslashes and
 * quotes escaped (ClickHouse's "String literals"). */
static size_t write_literal(const struct bind *b, char *out, size_t len)
{
    if (b->type == BIND_DOUBLE)
        return (size_t)snprintf(out, len, "%.17g", b->d);
    if (b->type == BIND_INT)
        return (size_t)snprintf(out, len, "%lld", b->i);
    size_t n = b->len >= 0 ? (size_t)b->len : strlen(b->t), used = 0;
    if (used + 1 < len)
        out[used++] = '\'';
    for (size_t i = 0; i < n && used + 3 < len; i++) {
        if (b->t[i] == '\\' || b->t[i] == '\'')
            out[used++] = '\\';
        out[used++] = b->t[i];
    }
    if (used + 1 < len)
        out[used++] = '\'';
    out[used < len ? used : len - 1] = '\0';
    return used;
}

/* w's SQL with its placeholders written as literals; 0, or -1 when it
 * does not fit in len. */
static int render_clickhouse(const struct where *w, char *out, size_t len)
{
    size_t used = 0;
    int rc = w->n > WHERE_MAX_BINDS ? -1 : 0;
    for (const char *p = w->sql; *p && rc == 0; p++) {
        if (*p != '?') {
            if (used + 1 >= len) {
                rc = -1;
                break;
            }
            out[used++] = *p;
            continue;
        }
        char *end;
        long k = strtol(p + 1, &end, 10) - 1;
        p = end - 1; /* the loop steps past the number's last digit */
        if (k < 0 || k >= w->n || used + 1 >= len)
            rc = -1;
        else
            used += write_literal(&w->binds[k], out + used, len - used);
        if (used + 1 >= len)
            rc = -1;
    }
    out[used < len ? used : len - 1] = '\0';
    return rc;
}

int query_where_clickhouse(struct query_db *q, const struct query_filter *f, const char *cond, char *out, size_t len)
{
    struct where w;
    struct where_scratch scratch;
    build_where(f, DIALECT_CLICKHOUSE, &w, &scratch);
    if (cond) {
        where_and(&w);
        where_sql(&w, cond);
    }
    int rc = scratch.failed ? -1 : render_clickhouse(&w, out, len);
    free(scratch.path_upper);
    if (rc < 0)
        snprintf(q->err, sizeof q->err, "the filter is too long for a query");
    return rc;
}

int query_ch_render(struct query_db *q, const char *sql, const struct query_value *v, int n, char *out, size_t len)
{
    struct where w = {.dialect = DIALECT_CLICKHOUSE, .n = n};
    int rc = n <= WHERE_MAX_BINDS && strlen(sql) < sizeof w.sql ? 0 : -1;
    for (int i = 0; i < n && rc == 0; i++) {
        switch (v[i].type) {
        case QV_NULL: rc = -1; break; /* 18.16 compares nothing with a NULL literal */
        case QV_INT: w.binds[i] = (struct bind){.type = BIND_INT, .i = v[i].i}; break;
        case QV_REAL: w.binds[i] = (struct bind){.type = BIND_DOUBLE, .d = v[i].d}; break;
        case QV_TEXT: w.binds[i] = (struct bind){.type = BIND_TEXT, .t = v[i].text, .len = -1}; break;
        }
    }
    if (rc == 0) {
        snprintf(w.sql, sizeof w.sql, "%s", sql);
        rc = render_clickhouse(&w, out, len);
    }
    if (rc < 0)
        snprintf(q->err, sizeof q->err, "a query too long for this wsstats");
    return rc;
}
