/*
 * query/codes.c — connections per close code: top-codes, timeline (per
 * bucket and code) and the count of a filter.
 *
 * Connections per (bucket, code) are counted here rather than by a GROUP
 * BY: then SQLite picks its index for the WHERE clause alone (grouping by
 * close_code drew it to the code index even when that meant a row lookup
 * per connection to test a filter), and no index gives timeline rows in
 * bucket order, where sorting a million rows costs several times the scan.
 */
#include <limits.h>
#include <string.h>

#include "../common/countmap.h"
#include "../model/record.h"
#include "query_internal.h"

static const struct code_key *key_of(const void *entry)
{
    return ((const struct countmap_entry *)entry)->key;
}

static long long count_of(const void *entry)
{
    return ((const struct countmap_entry *)entry)->n;
}

/* Time order; in a bucket the most frequent first, then no code, then by code. */
static int tl_order(const void *a, const void *b)
{
    const struct code_key *x = key_of(a), *y = key_of(b);
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    if (count_of(a) != count_of(b))
        return count_of(a) > count_of(b) ? -1 : 1;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    return x->why - y->why;
}

static int by_count_desc(const void *a, const void *b)
{
    const struct code_key *x = key_of(a), *y = key_of(b);
    if (count_of(a) != count_of(b))
        return count_of(a) < count_of(b) ? 1 : -1;
    if ((x->code < 0) != (y->code < 0))
        return x->code < 0 ? 1 : -1; /* codes before "no code" */
    return x->code != y->code ? x->code - y->code : x->why - y->why;
}

/* Counts the rows of s, (ended_at, code or -1, outcome), per bucket of
 * `bucket` seconds (0: one bucket) and code (connections without a code
 * per outcome) into m; returns the last sqlite3_step() status. */
/* The time's bucket, as SQL's CAST: toward zero; a time no bucket number
 * holds (1e300 in a damaged or forged file, NaN) at the end of the range. */
static long long bucket_of(double t, double bucket)
{
    double b = t / bucket;
    if (b > -9.2e18 && b < 9.2e18)
        return (long long)b;
    return b > 0 ? LLONG_MAX : LLONG_MIN;
}

static int count_by_code(sqlite3_stmt *s, double bucket, struct countmap *m)
{
    long last = -1; /* the rows of a code come together: most repeat the last key */
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct code_key k;
        memset(&k, 0, sizeof k); /* keys compare as bytes, padding included */
        k.bucket = bucket > 0 ? bucket_of(sqlite3_column_double(s, 0), bucket) : 0;
        k.code = sqlite3_column_int(s, 1);
        k.why = k.code < 0 ? query_outcome_index(sqlite3_column_text(s, 2)) : -1;
        if (last >= 0 && countmap_is(m, last, &k, sizeof k)) {
            countmap_at(m, last)->n++;
            continue;
        }
        if ((last = countmap_add(m, &k, sizeof k, 1)) < 0)
            return SQLITE_NOMEM;
    }
    return rc;
}

static struct code_count code_count_of(const struct countmap_entry *e)
{
    const struct code_key *k = e->key;
    return (struct code_count){
        .code = k->code,
        .outcome = k->why >= 0 ? outcome_name((enum outcome)k->why) : NULL,
        .count = e->n,
    };
}

/* The rows of head (see count_by_code()) counted and sorted into m; returns
 * the last sqlite3_step() status, or SQLITE_ERROR / SQLITE_NOMEM. */
static int count_sorted(struct query_db *q, const char *head, const struct query_filter *f, double bucket,
                        int (*order)(const void *, const void *), struct countmap *m)
{
    sqlite3_stmt *s;
    if (countmap_init(m, NULL) < 0)
        return SQLITE_NOMEM;
    if (q->ch) { /* the same counts, computed there */
        int rc = query_ch_count_codes(q, f, bucket, m) < 0 ? SQLITE_ERROR : SQLITE_DONE;
        countmap_sort(m, order);
        return rc;
    }
    if (query_prepare(q->db, head, f, "", &s) < 0)
        return SQLITE_ERROR;
    int rc = count_by_code(s, bucket, m);
    sqlite3_finalize(s);
    countmap_sort(m, order);
    return rc;
}

int query_top_codes(struct query_db *q, const struct query_filter *f, code_count_fn fn, void *arg)
{
    struct countmap m;
    int rc = count_sorted(q, "SELECT NULL, coalesce(close_code, -1), outcome FROM connections", f, 0,
                          by_count_desc, &m);
    for (size_t i = 0; rc == SQLITE_DONE && i < m.n; i++) {
        struct code_count c = code_count_of(&m.e[i]);
        fn(arg, &c);
    }
    countmap_free(&m);
    return rc == SQLITE_DONE ? 0 : -1;
}

int query_timeline(struct query_db *q, const struct query_filter *f, double bucket, bucket_count_fn fn, void *arg)
{
    struct countmap m;
    int rc = count_sorted(q, "SELECT ended_at, coalesce(close_code, -1), outcome FROM connections", f, bucket,
                          tl_order, &m);
    for (size_t i = 0; rc == SQLITE_DONE && i < m.n; i++) {
        struct code_count c = code_count_of(&m.e[i]);
        fn(arg, (double)key_of(&m.e[i])->bucket * bucket, &c);
    }
    countmap_free(&m);
    return rc == SQLITE_DONE ? 0 : -1;
}

int query_count(struct query_db *q, const struct query_filter *f, long long *n)
{
    if (q->ch)
        return query_ch_count(q, f, n);
    sqlite3_stmt *s;
    if (query_prepare(q->db, "SELECT count(*) FROM connections", f, "", &s) < 0)
        return -1;
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : -1;
}
