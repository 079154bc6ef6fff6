/*
 * query/groups.c — group-by: connections per group (host, path, server,
 * ...), each group with its three most frequent codes.
 *
 * Connections per group and code are counted here from the rows SQLite
 * groups by (key, code, outcome) in index order: sorting and ranking them
 * in SQL cost more than the scan. Groups are a countmap of their key (host
 * names compare without regard to ASCII case, as the index does), each
 * with its list of codes. On ClickHouse the same rows come from the same
 * key description (keys.c, in its dialect), grouped there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/countmap.h"
#include "../model/record.h"
#include "query_internal.h"

struct grp_code {
    int code, why; /* why: the outcome of a connection without a code, else -1 */
    long long n;
};

/* A group's codes: the countmap entry's data. */
struct grp_codes {
    int n, cap;
    struct grp_code c[];
};

/* Adds n connections with (code, why) to the group's list; false when out
 * of memory. */
static bool grp_count(struct countmap_entry *g, int code, int why, long long n)
{
    struct grp_codes *gc = g->data;
    for (int i = 0; gc && i < gc->n; i++) {
        if (gc->c[i].code == code && gc->c[i].why == why) {
            gc->c[i].n += n;
            return true;
        }
    }
    if (!gc || gc->n == gc->cap) {
        int cap = gc ? gc->cap * 2 : 4;
        struct grp_codes *more = realloc(gc, sizeof *gc + (size_t)cap * sizeof gc->c[0]);
        if (!more)
            return false;
        if (!gc)
            more->n = 0;
        more->cap = cap;
        g->data = gc = more;
    }
    gc->c[gc->n++] = (struct grp_code){.code = code, .why = why, .n = n};
    return true;
}

/* Largest first; then no key first, then by key. */
static int by_total(const void *a, const void *b)
{
    const struct countmap_entry *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
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

static void emit_group(const struct countmap_entry *g, long long all, group_row_fn fn, void *arg)
{
    struct grp_codes *gc = g->data;
    if (gc->n > 1)
        qsort(gc->c, (size_t)gc->n, sizeof gc->c[0], by_count);
    for (int r = 0; r < gc->n && r < 3; r++) {
        struct group_row row = {
            .key = g->key,
            .total = g->n,
            .rank = r + 1,
            .code = {.code = gc->c[r].code,
                     .outcome = gc->c[r].why >= 0 ? outcome_name((enum outcome)gc->c[r].why) : NULL,
                     .count = gc->c[r].n},
        };
        fn(arg, &row, all);
    }
}

/* Hands the `limit` largest groups (<= 0: all) to fn, each with its top
 * three codes; frees the map. */
static void grp_emit(struct countmap *m, long limit, group_row_fn fn, void *arg, bool call, long long *ngroups)
{
    long long all = 0;
    for (size_t i = 0; i < m->n; i++)
        all += m->e[i].n;
    *ngroups = (long long)m->n;
    countmap_sort(m, by_total);
    for (size_t i = 0; i < m->n; i++) {
        if (call && (limit <= 0 || i < (size_t)limit))
            emit_group(&m->e[i], all, fn, arg);
        free(m->e[i].data);
    }
    countmap_free(m);
}

/* One row (key, code, outcome, n) into m; *last: the previous row's
 * group (rows of a group mostly come together). False when out of memory. */
static bool add_group_row(struct countmap *m, long *last, const char *key, int code, const unsigned char *outcome,
                          long long n)
{
    size_t len = key ? strlen(key) : 0;
    int why = code < 0 ? query_outcome_index(outcome) : -1;
    if (*last < 0 || !countmap_is(m, *last, key, len))
        *last = countmap_add(m, key, len, 0);
    if (*last < 0 || !grp_count(countmap_at(m, *last), code, why, n))
        return false;
    countmap_at(m, *last)->n += n;
    return true;
}

/* Counts the rows of s, (key, code, outcome, n), into m; returns the last
 * sqlite3_step() status. */
static int count_groups(sqlite3_stmt *s, struct countmap *m)
{
    long last = -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (!add_group_row(m, &last, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
                           sqlite3_column_text(s, 2), sqlite3_column_int64(s, 3)))
            return SQLITE_NOMEM;
    return rc;
}

/* ClickHouse's rows, the same four fields. */
struct ch_groups {
    struct countmap *m;
    long last;
};

static int ch_group_row(void *arg, int n, const char *const *f)
{
    struct ch_groups *g = arg;
    if (n < 4)
        return -1;
    return add_group_row(g->m, &g->last, f[0], (int)query_field_int(f[1], -1),
                         (const unsigned char *)(f[2] ? f[2] : ""), query_field_int(f[3], 0))
               ? 0
               : -1;
}

/* The same groups counted by ClickHouse, from the same key description. */
static int ch_count_groups(struct query_db *q, const struct query_filter *f, enum query_key k, struct countmap *m)
{
    const struct query_key_sql *ks = query_key_sql(k);
    char where[4096], sql[6144];
    if (query_where_clickhouse(q, f, NULL, where, sizeof where) < 0)
        return -1;
    snprintf(sql, sizeof sql,
             "SELECT %s AS k, coalesce(close_code, -1) AS c, outcome, n FROM"
             " (SELECT %s AS k1, %s AS k2, close_code, outcome, count() AS n FROM connections%s"
             " GROUP BY k1, k2, close_code, outcome)",
             query_key_shown(ks, DIALECT_CLICKHOUSE), query_key_k1(ks, DIALECT_CLICKHOUSE), ks->k2, where);
    struct ch_groups g = {m, -1};
    return query_ch_select(q, sql, ch_group_row, &g);
}

int query_group_by(struct query_db *q, const struct query_filter *f, enum query_key k, long limit, group_row_fn fn,
                   void *arg, long long *ngroups)
{
    struct countmap m;
    struct countmap_options o = {.fold_case = k == KEY_HOST};
    if (q->ch) {
        int rc = countmap_init(&m, &o) < 0 ? -1 : ch_count_groups(q, f, k, &m);
        grp_emit(&m, limit, fn, arg, rc == 0, ngroups);
        return rc;
    }
    const struct query_key_sql *ks = query_key_sql(k);
    bool one = query_key_one_column(k);
    bool covered = query_filter_covered(f, k); /* '+': the grouping does not pick the index */
    char head[2048];
    snprintf(head, sizeof head,
             "SELECT %s AS k, coalesce(close_code, -1), outcome, n FROM"
             " (SELECT %s%s AS k1, %s%s AS k2, close_code, outcome, count(*) AS n FROM connections%%W GROUP BY %s)",
             ks->shown, covered ? "" : "+", ks->k1, covered || one ? "" : "+", ks->k2, one ? "1, 3, 4" : "1, 2, 3, 4");
    sqlite3_stmt *s;
    if (query_prepare(q->db, head, f, "", &s) < 0)
        return -1;
    int rc = countmap_init(&m, &o) < 0 ? SQLITE_NOMEM : count_groups(s, &m);
    sqlite3_finalize(s);
    grp_emit(&m, limit, fn, arg, rc == SQLITE_DONE, ngroups);
    return rc == SQLITE_DONE ? 0 : -1;
}
