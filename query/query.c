/*
 * query/query.c — filters, time windows and the queries behind wsstats.
 *
 * Every statement is built from the fixed fragments below plus '?'
 * placeholders; user values only ever reach SQLite through sqlite3_bind_*.
 *
 * The database carries no ANALYZE statistics, so SQLite picks indexes by
 * the shape of a statement. Two habits keep its picks good: filters are
 * index ranges (never functions of a column), and counting by code or by
 * group is done here over the rows SQLite streams rather than by a GROUP
 * BY that would draw it to an index in grouping order (one row lookup per
 * connection to test a filter) or make it sort a million rows. Rows come
 * out of a report by callback, never held in full by this module, except
 * the counts (one per code, bucket or group).
 */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/record.h"

/* ---- WHERE clauses -------------------------------------------------------- */

enum bind_type { BIND_DOUBLE, BIND_INT, BIND_TEXT };

struct bind {
    enum bind_type type;
    double d;
    long long i;
    const char *t;
    int len; /* of t in bytes; -1: up to its NUL */
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
    where_sql(w, "(path = ? OR (path >= ? || char(63) AND path < ? || char(64)))");
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
    where_sql(w, "+outcome IN (");
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

static void build_where(const struct query_filter *f, struct where *w, struct where_scratch *scratch)
{
    memset(w, 0, sizeof *w);
    memset(scratch, 0, sizeof *scratch);
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
    int rc = scratch.failed ? -1 : sqlite3_prepare_v2(db, sql, -1, s, NULL) == SQLITE_OK ? 0 : -1;
    if (rc == 0)
        bind_all(*s, &w, 1); /* texts are copied: the scratch may go */
    free(scratch.path_upper);
    return rc < 0 ? -1 : w.n;
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

/* ---- counting by code ---------------------------------------------------------- */

/* Connections per (bucket, code), counted here rather than by a GROUP BY:
 * then SQLite picks its index for the WHERE clause alone (grouping by
 * close_code drew it to the code index even when that meant a row lookup
 * per connection to test a filter), and no index gives timeline rows in
 * bucket order, where sorting a million rows costs several times the scan. Open addressing, kept at most half
 * full. `why` is the outcome (enum outcome) of a connection without a code,
 * else -1. */
struct tl_entry {
    long long bucket, n; /* n 0: a free slot */
    int code, why;
};

struct tl_map {
    struct tl_entry *e;
    size_t cap, used;
};

static size_t tl_hash(long long bucket, int code, int why, size_t cap)
{
    unsigned long long h = (unsigned long long)bucket * 0x9e3779b97f4a7c15ull;
    h ^= ((unsigned long long)(unsigned)code << 8 | (unsigned)(why + 1)) * 0xff51afd7ed558ccdull;
    return (size_t)(h ^ h >> 29) & (cap - 1);
}

static struct tl_entry *tl_slot(struct tl_entry *e, size_t cap, long long bucket, int code, int why)
{
    size_t i = tl_hash(bucket, code, why, cap);
    while (e[i].n && !(e[i].bucket == bucket && e[i].code == code && e[i].why == why))
        i = (i + 1) & (cap - 1);
    return &e[i];
}

static bool tl_grow(struct tl_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct tl_entry *e = calloc(cap, sizeof *e);
    if (!e)
        return false;
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].n)
            *tl_slot(e, cap, m->e[i].bucket, m->e[i].code, m->e[i].why) = m->e[i];
    free(m->e);
    m->e = e;
    m->cap = cap;
    return true;
}

/* Counts one connection; false when out of memory. */
static bool tl_add(struct tl_map *m, long long bucket, int code, int why)
{
    if ((m->used + 1) * 2 > m->cap && !tl_grow(m))
        return false;
    struct tl_entry *e = tl_slot(m->e, m->cap, bucket, code, why);
    if (!e->n) {
        *e = (struct tl_entry){.bucket = bucket, .code = code, .why = why};
        m->used++;
    }
    e->n++;
    return true;
}

/* Time order; in a bucket the most frequent first, then no code, then by code. */
static int tl_order(const void *a, const void *b)
{
    const struct tl_entry *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    return x->why - y->why;
}

/* The outcome of a connection without a code (enum outcome), -1 if unknown. */
static int outcome_index(const unsigned char *text)
{
    for (int o = OUTCOME_CLEAN; text && o <= OUTCOME_REJECTED; o++)
        if (strcmp((const char *)text, outcome_name((enum outcome)o)) == 0)
            return o;
    return -1;
}

static int by_count_desc(const void *a, const void *b)
{
    const struct tl_entry *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    if ((x->code < 0) != (y->code < 0))
        return x->code < 0 ? 1 : -1; /* codes before "no code" */
    return x->code != y->code ? x->code - y->code : x->why - y->why;
}

/* Counts the rows of s, (ended_at, code or -1, outcome), per bucket of
 * `bucket` seconds (0: one bucket) and code (connections without a code
 * per outcome) into m; returns the last sqlite3_step() status. */
static int count_by_code(sqlite3_stmt *s, double bucket, struct tl_map *m)
{
    struct tl_entry *last = NULL; /* the rows of a code come together: most repeat the last key */
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        /* as SQL's CAST: toward zero */
        long long b = bucket > 0 ? (long long)(sqlite3_column_double(s, 0) / bucket) : 0;
        int code = sqlite3_column_int(s, 1);
        int why = code < 0 ? outcome_index(sqlite3_column_text(s, 2)) : -1;
        if (last && last->bucket == b && last->code == code && last->why == why) {
            last->n++;
            continue;
        }
        if (!tl_add(m, b, code, why))
            return SQLITE_NOMEM;
        last = tl_slot(m->e, m->cap, b, code, why);
    }
    return rc;
}

/* The entries of m packed at its start; returns how many. */
static size_t tl_pack(struct tl_map *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].n)
            m->e[n++] = m->e[i];
    return n;
}

static struct code_count code_count_of(const struct tl_entry *e)
{
    return (struct code_count){
        .code = e->code,
        .outcome = e->why >= 0 ? outcome_name((enum outcome)e->why) : NULL,
        .count = e->n,
    };
}

int query_top_codes(sqlite3 *db, const struct query_filter *f, code_count_fn fn, void *arg)
{
    sqlite3_stmt *s;
    if (prepare(db, "SELECT NULL, coalesce(close_code, -1), outcome FROM connections", f, "", &s) < 0)
        return -1;
    struct tl_map m = {0};
    int rc = count_by_code(s, 0, &m);
    sqlite3_finalize(s);
    size_t n = tl_pack(&m);
    if (n > 1)
        qsort(m.e, n, sizeof *m.e, by_count_desc);
    for (size_t i = 0; rc == SQLITE_DONE && i < n; i++) {
        struct code_count c = code_count_of(&m.e[i]);
        fn(arg, &c);
    }
    free(m.e);
    return rc == SQLITE_DONE ? 0 : -1;
}

int query_connections(sqlite3 *db, const struct query_filter *f, long limit, bool by_time, sqlite3_stmt **stmt)
{
    /* connections_ended_at is in every schema this reads (v1 and v2) */
    if (prepare(db, by_time ? "SELECT * FROM connections INDEXED BY connections_ended_at" : "SELECT * FROM connections",
                f, " ORDER BY ended_at DESC, id DESC LIMIT ?1000", stmt) < 0)
        return -1;
    sqlite3_bind_int64(*stmt, 1000, limit > 0 ? limit : -1);
    return 0;
}

int query_count(sqlite3 *db, const struct query_filter *f, long long *n)
{
    sqlite3_stmt *s;
    if (prepare(db, "SELECT count(*) FROM connections", f, "", &s) < 0)
        return -1;
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

int query_timeline(sqlite3 *db, const struct query_filter *f, double bucket, bucket_count_fn fn, void *arg)
{
    sqlite3_stmt *s;
    if (prepare(db, "SELECT ended_at, coalesce(close_code, -1), outcome FROM connections", f, "", &s) < 0)
        return -1;
    struct tl_map m = {0};
    int rc = count_by_code(s, bucket, &m);
    sqlite3_finalize(s);
    size_t n = tl_pack(&m);
    if (n > 1)
        qsort(m.e, n, sizeof *m.e, tl_order);
    for (size_t i = 0; rc == SQLITE_DONE && i < n; i++) {
        struct code_count c = code_count_of(&m.e[i]);
        fn(arg, (double)m.e[i].bucket * bucket, &c);
    }
    free(m.e);
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
    /* a path's query string is not part of its group ('?' is char(63) here:
     * a '?' in these fragments would be taken for a placeholder) */
    [KEY_PATH] = {"path", "path", "NULL",
                  "CASE WHEN instr(k1, char(63)) THEN substr(k1, 1, instr(k1, char(63)) - 1) ELSE k1 END"},
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

/* Whether the index of key k (its columns, then close_code, outcome,
 * ended_at) holds every column f tests. If not, the grouping must not
 * draw SQLite to that index: walking it in order would cost a row lookup
 * per connection to test the filter. */
static bool filter_covered(const struct query_filter *f, enum query_key k)
{
    return !((f->server_ip || f->server_port >= 0) && k != KEY_SERVER) && !(f->client_ip && k != KEY_CLIENT) &&
           f->client_port < 0 && !(f->host && k != KEY_HOST) && !(f->path && k != KEY_PATH) &&
           !(f->sensor && k != KEY_SENSOR);
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

/* Connections per group and code, counted here from the rows SQLite
 * groups by (key, code, outcome) in index order: sorting and ranking them
 * in SQL cost more than the scan. Open addressing, at most half full; host
 * names compare without regard to ASCII case, as the index does. */
struct grp_code {
    int code, why; /* why: the outcome of a connection without a code, else -1 */
    long long n;
};

struct grp {
    char *key; /* owned; NULL: the records have none */
    long long total; /* 0: a free slot */
    struct grp_code *codes;
    int ncodes, cap;
};

struct grp_map {
    struct grp *e;
    size_t cap, used;
    bool nocase;
};

static unsigned char fold(unsigned char c, bool nocase)
{
    return nocase && c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool same_key(const char *a, const char *b, bool nocase)
{
    if (!a || !b)
        return !a && !b;
    while (*a && fold((unsigned char)*a, nocase) == fold((unsigned char)*b, nocase))
        a++, b++;
    return fold((unsigned char)*a, nocase) == fold((unsigned char)*b, nocase);
}

static struct grp *grp_slot(struct grp *e, size_t cap, const char *key, bool nocase)
{
    unsigned long long h = key ? 1469598103934665603ull : 0x5bd1e995; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; p && *p; p++)
        h = (h ^ fold(*p, nocase)) * 1099511628211ull;
    size_t i = (size_t)(h ^ h >> 31) & (cap - 1);
    while (e[i].total && !same_key(e[i].key, key, nocase))
        i = (i + 1) & (cap - 1);
    return &e[i];
}

/* The group of key, made if new; NULL when out of memory. */
static struct grp *grp_find(struct grp_map *m, const char *key)
{
    if ((m->used + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct grp *e = calloc(cap, sizeof *e);
        if (!e)
            return NULL;
        for (size_t i = 0; i < m->cap; i++)
            if (m->e[i].total)
                *grp_slot(e, cap, m->e[i].key, m->nocase) = m->e[i];
        free(m->e);
        m->e = e;
        m->cap = cap;
    }
    struct grp *g = grp_slot(m->e, m->cap, key, m->nocase);
    if (!g->total && key && !(g->key = strdup(key)))
        return NULL;
    return g;
}

/* Adds n connections with (code, why) to g; false when out of memory. */
static bool grp_count(struct grp_map *m, struct grp *g, int code, int why, long long n)
{
    if (!g->total)
        m->used++;
    g->total += n;
    for (int i = 0; i < g->ncodes; i++) {
        if (g->codes[i].code == code && g->codes[i].why == why) {
            g->codes[i].n += n;
            return true;
        }
    }
    if (g->ncodes == g->cap) {
        int cap = g->cap ? g->cap * 2 : 4;
        struct grp_code *c = realloc(g->codes, (size_t)cap * sizeof *c);
        if (!c)
            return false;
        g->codes = c;
        g->cap = cap;
    }
    g->codes[g->ncodes++] = (struct grp_code){.code = code, .why = why, .n = n};
    return true;
}

/* Largest first; then no key first, then by key. */
static int by_total(const void *a, const void *b)
{
    const struct grp *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    if (!x->key || !y->key)
        return !x->key ? (y->key ? -1 : 0) : 1;
    return strcmp(x->key, y->key);
}

/* Most frequent first; codes before no code; then by code, and by the
 * outcome's name. */
static int by_count(const void *a, const void *b)
{
    const struct grp_code *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    if ((x->code < 0) != (y->code < 0))
        return x->code < 0 ? 1 : -1;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    if (x->why < 0 || y->why < 0)
        return x->why - y->why;
    return strcmp(outcome_name((enum outcome)x->why), outcome_name((enum outcome)y->why));
}

/* Hands the `limit` largest groups (<= 0: all) to fn, each with its top
 * three codes; frees the map. */
static void grp_emit(struct grp_map *m, long limit, group_row_fn fn, void *arg, bool call, long long *ngroups)
{
    size_t n = 0;
    long long all = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->e[i].total) {
            all += m->e[i].total;
            m->e[n++] = m->e[i];
        }
    }
    *ngroups = (long long)n;
    if (n > 1)
        qsort(m->e, n, sizeof *m->e, by_total);
    for (size_t i = 0; i < n; i++) {
        struct grp *g = &m->e[i];
        if (call && (limit <= 0 || i < (size_t)limit)) {
            if (g->ncodes > 1)
                qsort(g->codes, (size_t)g->ncodes, sizeof *g->codes, by_count);
            for (int r = 0; r < g->ncodes && r < 3; r++) {
                struct group_row row = {
                    .key = g->key,
                    .total = g->total,
                    .rank = r + 1,
                    .code = {.code = g->codes[r].code,
                             .outcome = g->codes[r].why >= 0 ? outcome_name((enum outcome)g->codes[r].why) : NULL,
                             .count = g->codes[r].n},
                };
                fn(arg, &row, all);
            }
        }
        free(g->key);
        free(g->codes);
    }
    free(m->e);
}

int query_group_by(sqlite3 *db, const struct query_filter *f, enum query_key k, long limit, group_row_fn fn,
                   void *arg, long long *ngroups)
{
    char head[2048];
    bool covered = filter_covered(f, k); /* '+': the grouping does not pick the index */
    snprintf(head, sizeof head,
             "SELECT %s AS k, coalesce(close_code, -1), outcome, n FROM"
             " (SELECT %s%s AS k1, %s%s AS k2, close_code, outcome, count(*) AS n FROM connections%%W GROUP BY %s)",
             keys[k].shown, covered ? "" : "+", keys[k].k1, covered || one_column(k) ? "" : "+", keys[k].k2,
             one_column(k) ? "1, 3, 4" : "1, 2, 3, 4");
    sqlite3_stmt *s;
    if (prepare(db, head, f, "", &s) < 0)
        return -1;
    struct grp_map m = {.nocase = k == KEY_HOST};
    struct grp *last = NULL; /* rows of a group mostly come together */
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s, 0);
        int code = sqlite3_column_int(s, 1);
        int why = code < 0 ? outcome_index(sqlite3_column_text(s, 2)) : -1;
        if (!last || !same_key(last->key, key, m.nocase))
            last = grp_find(&m, key);
        if (!last || !grp_count(&m, last, code, why, sqlite3_column_int64(s, 3))) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(s);
    grp_emit(&m, limit, fn, arg, rc == SQLITE_DONE, ngroups);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- summary ------------------------------------------------------------------ */

/* Counts per value of a key, largest first, from its index (a window or
 * filters would cost a row lookup per connection). */
static int tally_from_index(sqlite3 *db, enum query_key k, tally_fn fn, void *arg)
{
    static const struct query_filter none = {.server_port = -1, .client_port = -1};
    char head[1024];
    snprintf(head, sizeof head,
             "SELECT %s AS k, sum(n) AS n FROM (SELECT %s AS k1, %s AS k2, count(*) AS n FROM connections",
             keys[k].shown, keys[k].k1, keys[k].k2);
    sqlite3_stmt *s;
    /* records without violations are most: the partial index skips them */
    if (prepare_cond(db, head, &none, k == KEY_VIOLATIONS ? "violations IS NOT NULL" : NULL,
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

/* Adds a group of connections (outcome, initiator, termination,
 * handshake_seen) to the totals. */
static void summary_add(struct summary_counts *out, const char *outcome, const char *initiator,
                        const char *termination, bool handshake_seen, long long n)
{
    out->total += n;
    out->handshake_seen += handshake_seen ? n : 0;
    int o = outcome_index((const unsigned char *)outcome);
    if (o >= 0)
        out->outcomes[o] += n;
    for (int t = TERM_FIN_CLIENT; t <= TERM_CAPTURE_END; t++)
        if (termination && strcmp(termination, termination_name((enum termination)t)) == 0)
            out->terminations[t] += n;
    if (initiator && strcmp(initiator, "client") == 0)
        out->by_client += n;
    else if (initiator && strcmp(initiator, "server") == 0)
        out->by_server += n;
}

/* The totals from the covering index of (outcome, close_initiator,
 * termination, handshake_seen): the whole database, nothing filtered. */
static int totals_from_index(sqlite3 *db, struct summary_counts *out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT outcome, close_initiator, termination, handshake_seen, count(*) FROM connections"
                           " GROUP BY 1, 2, 3, 4",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        summary_add(out, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
                    (const char *)sqlite3_column_text(s, 2), sqlite3_column_int(s, 3) != 0,
                    sqlite3_column_int64(s, 4));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Connections per text value (NULL a value of its own), for the tallies
 * counted in the one pass over filtered records. Open addressing, at most
 * half full. */
struct name_map {
    struct name_count {
        char *name; /* owned; NULL: the NULL value */
        long long n; /* 0: a free slot */
    } *e;
    size_t cap, used;
};

static size_t name_hash(const char *name, size_t cap)
{
    unsigned long long h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; p && *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h ^ (name ? 0 : 0x5bd1e995)) & (cap - 1);
}

static struct name_count *name_slot(struct name_count *e, size_t cap, const char *name)
{
    size_t i = name_hash(name, cap);
    while (e[i].n && !(name ? e[i].name && strcmp(e[i].name, name) == 0 : !e[i].name))
        i = (i + 1) & (cap - 1);
    return &e[i];
}

/* Counts one connection with `name`; false when out of memory. */
static bool name_add(struct name_map *m, const char *name)
{
    if ((m->used + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct name_count *e = calloc(cap, sizeof *e);
        if (!e)
            return false;
        for (size_t i = 0; i < m->cap; i++)
            if (m->e[i].n)
                *name_slot(e, cap, m->e[i].name) = m->e[i];
        free(m->e);
        m->e = e;
        m->cap = cap;
    }
    struct name_count *c = name_slot(m->e, m->cap, name);
    if (!c->n) {
        if (name && !(c->name = strdup(name)))
            return false;
        m->used++;
    }
    c->n++;
    return true;
}

/* Largest first; NULL first among equals, then by name (as SQL sorts). */
static int by_count_then_name(const void *a, const void *b)
{
    const struct name_count *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    if (!x->name || !y->name)
        return !x->name ? (y->name ? -1 : 0) : 1;
    return strcmp(x->name, y->name);
}

/* Hands the counts to fn, largest first, and frees them. */
static void name_emit(struct name_map *m, tally_fn fn, void *arg, bool call)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].n)
            m->e[n++] = m->e[i];
    if (n > 1)
        qsort(m->e, n, sizeof *m->e, by_count_then_name);
    for (size_t i = 0; i < n; i++) {
        if (call)
            fn(arg, m->e[i].name, m->e[i].n);
        free(m->e[i].name);
    }
    free(m->e);
}

/* Filtered or windowed: one pass over the matching records (each needs a
 * row lookup or the scan of the table; three passes cost three times). */
static int summary_one_pass(sqlite3 *db, const struct query_filter *f, struct summary_counts *out,
                            tally_fn violations, void *varg, tally_fn ndpi, void *narg)
{
    sqlite3_stmt *s;
    if (prepare(db,
                "SELECT outcome, close_initiator, termination, handshake_seen, violations, ndpi_protocol"
                " FROM connections",
                f, "", &s) < 0)
        return -1;
    struct name_map vm = {0}, nm = {0};
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        summary_add(out, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
                    (const char *)sqlite3_column_text(s, 2), sqlite3_column_int(s, 3) != 0, 1);
        const char *v = (const char *)sqlite3_column_text(s, 4);
        if ((v && !name_add(&vm, v)) || !name_add(&nm, (const char *)sqlite3_column_text(s, 5))) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(s);
    name_emit(&vm, violations, varg, rc == SQLITE_DONE);
    name_emit(&nm, ndpi, narg, rc == SQLITE_DONE);
    return rc == SQLITE_DONE ? 0 : -1;
}

static bool filter_empty(const struct query_filter *f)
{
    return !f->has_since && !f->has_until && !f->server_ip && f->server_port < 0 && !f->client_ip &&
           f->client_port < 0 && !f->host && !f->path && !f->sensor && !f->ncodes && !f->outcomes;
}

int query_summary(sqlite3 *db, const struct query_filter *f, struct summary_counts *out, tally_fn violations,
                  void *varg, tally_fn ndpi, void *narg)
{
    memset(out, 0, sizeof *out);
    if (!filter_empty(f))
        return summary_one_pass(db, f, out, violations, varg, ndpi, narg);
    /* everything: three covering indexes beat one scan of the table */
    if (totals_from_index(db, out) < 0 || tally_from_index(db, KEY_VIOLATIONS, violations, varg) < 0)
        return -1;
    return tally_from_index(db, KEY_NDPI, ndpi, narg);
}

/* ---- durations -------------------------------------------------------------- */

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

int query_durations(sqlite3 *db, const struct query_filter *f, duration_fn fn, void *arg)
{
    sqlite3_stmt *s;
    /* the outcome test is '+outcome' (see where_outcomes): a scan of the
     * rows, rather than an index lookup per row */
    if (prepare_cond(db,
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
