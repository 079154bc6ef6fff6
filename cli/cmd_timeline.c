/*
 * cli/cmd_timeline.c — `timeline [--bucket DURATION]`: connections per time
 * bucket per close code. Tables show every bucket of the window (empty ones
 * too, so gaps are visible) with the window's most frequent codes as
 * columns and a bar of the bucket's total; JSON and CSV give one row per
 * non-empty (bucket, code), written as it comes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/duration.h"

#define CODE_COLUMNS 4       /* codes shown as columns; the rest is "other" */
#define TIMELINE_BAR 18
#define MAX_TABLE_BUCKETS 5000
#define AUTO_BUCKETS 40      /* about how many buckets a chosen size gives */

struct cell {
    double start;
    struct code_count cc;
    char outcome[16];
};

struct timeline {
    struct cell *cells; /* tables: every (bucket, code) */
    size_t n, cap;
    bool oom;
    struct out_table *data; /* JSON / CSV: rows go here as they come */
    double bucket;
};

static void add_data_row(struct out_table *t, double bucket, double start, const struct code_count *cc)
{
    if (!out_add_row(t))
        return;
    out_real(t, 0, start, NULL);
    out_real(t, 1, bucket, NULL);
    if (cc->code >= 0) {
        out_int(t, 2, cc->code, NULL);
        out_null(t, 3, NULL);
    } else {
        out_null(t, 2, NULL);
        out_text(t, 3, cc->outcome ? cc->outcome : "", NULL);
    }
    out_int(t, 4, cc->count, NULL);
}

static void collect(void *arg, double start, const struct code_count *cc)
{
    struct timeline *tl = arg;
    if (tl->data) {
        add_data_row(tl->data, tl->bucket, start, cc);
        return;
    }
    if (tl->n == tl->cap) {
        size_t cap = tl->cap ? tl->cap * 2 : 256;
        struct cell *c = realloc(tl->cells, cap * sizeof *c);
        if (!c) {
            tl->oom = true;
            return;
        }
        tl->cells = c;
        tl->cap = cap;
    }
    struct cell *c = &tl->cells[tl->n++];
    c->start = start;
    c->cc = *cc;
    snprintf(c->outcome, sizeof c->outcome, "%s", cc->outcome ? cc->outcome : "");
    c->cc.outcome = NULL;
}

/* A bucket size giving about AUTO_BUCKETS buckets over the span. */
static double choose_bucket(double span)
{
    static const double sizes[] = {1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600,
                                   86400, 7 * 86400};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (span / sizes[i] <= AUTO_BUCKETS)
            return sizes[i];
    return 30 * 86400;
}

static const struct out_col data_cols[] = {
    {"bucket", "BUCKET", false, 0, false}, {"bucket_seconds", "SECONDS", true, 0, false},
    {"code", "CODE", true, 0, false},      {"outcome", "OUTCOME", false, 0, false},
    {"count", "COUNT", true, 0, false},
};

/* The codes with the most connections in the window, as column keys. */
struct column_key {
    int code;
    char outcome[16];
    long long total;
};

static bool same_key(const struct column_key *k, const struct cell *e)
{
    return k->code == e->cc.code && (k->code >= 0 || strcmp(k->outcome, e->outcome) == 0);
}

static int by_total(const void *a, const void *b)
{
    const struct column_key *x = a, *y = b;
    if (x->total != y->total)
        return x->total < y->total ? 1 : -1;
    return x->code - y->code;
}

static int top_columns(const struct timeline *tl, struct column_key *keys, int max, bool *other)
{
    struct column_key all[256];
    int n = 0;
    *other = false;
    for (size_t i = 0; i < tl->n; i++) {
        int k = 0;
        while (k < n && !same_key(&all[k], &tl->cells[i]))
            k++;
        if (k == n) {
            if (n == 256) {
                *other = true;
                continue;
            }
            all[n] = (struct column_key){.code = tl->cells[i].cc.code};
            snprintf(all[n].outcome, sizeof all[n].outcome, "%s", tl->cells[i].outcome);
            n++;
        }
        all[k].total += tl->cells[i].cc.count;
    }
    qsort(all, (size_t)n, sizeof all[0], by_total);
    if (n > max)
        *other = true;
    n = n < max ? n : max;
    memcpy(keys, all, (size_t)n * sizeof *keys);
    return n;
}

/* "19:30" / "19:30:05" / "11-23 19:30" / "2026-11-23". */
static void bucket_label(double start, double bucket, bool many_days, char *buf, size_t len)
{
    char t[32];
    time_format(start, t, sizeof t); /* 2026-11-23 19:30:05 */
    if (bucket >= 86400)
        snprintf(buf, len, "%.10s", t);
    else if (many_days)
        snprintf(buf, len, "%.*s", bucket >= 60 ? 11 : 14, t + 5);
    else
        snprintf(buf, len, "%.*s", bucket >= 60 ? 5 : 8, t + 11);
}

static int print_chart(struct cli *c, const struct timeline *tl, double first, double last)
{
    struct column_key keys[CODE_COLUMNS];
    bool other;
    int nk = top_columns(tl, keys, CODE_COLUMNS, &other);
    size_t nb = (size_t)((last - first) / c->bucket + 0.5) + 1;
    long long *counts = calloc(nb * (CODE_COLUMNS + 2), sizeof *counts); /* per bucket: keys, other, total */
    if (!counts)
        return fail(1, "out of memory");
    long long peak = 0;
    for (size_t i = 0; i < tl->n; i++) {
        const struct cell *e = &tl->cells[i];
        size_t b = (size_t)((e->start - first) / c->bucket + 0.5);
        if (b >= nb)
            continue;
        int k = 0;
        while (k < nk && !same_key(&keys[k], e))
            k++;
        long long *row = &counts[b * (CODE_COLUMNS + 2)];
        row[k < nk ? k : CODE_COLUMNS] += e->cc.count;
        row[CODE_COLUMNS + 1] += e->cc.count;
        if (row[CODE_COLUMNS + 1] > peak)
            peak = row[CODE_COLUMNS + 1];
    }
    struct out_col cols[CODE_COLUMNS + 4];
    char headers[CODE_COLUMNS][16];
    int nc = 0;
    cols[nc++] = (struct out_col){"bucket", "BUCKET (UTC)", false, 0, false};
    cols[nc++] = (struct out_col){"total", "TOTAL", true, 0, false};
    for (int k = 0; k < nk; k++) {
        code_short(keys[k].code, keys[k].outcome, headers[k], sizeof headers[k]);
        cols[nc++] = (struct out_col){headers[k], headers[k], true, 0, false};
    }
    if (other)
        cols[nc++] = (struct out_col){"other", "other", true, 0, false};
    cols[nc++] = (struct out_col){"bar", "", false, 0, true};
    struct out_table t;
    out_init(&t, nc, cols);
    char a[32], b[32];
    time_format(first, a, sizeof a);
    time_format(last, b, sizeof b);
    bool many_days = strncmp(a, b, 10) != 0;
    for (size_t i = 0; i < nb && out_add_row(&t); i++) {
        const long long *row = &counts[i * (CODE_COLUMNS + 2)];
        char label[32], bar[TIMELINE_BAR * 3 + 8];
        bucket_label(first + (double)i * c->bucket, c->bucket, many_days, label, sizeof label);
        int col = 0;
        out_text(&t, col++, label, NULL);
        out_int(&t, col++, row[CODE_COLUMNS + 1], NULL);
        for (int k = 0; k < nk; k++)
            out_int(&t, col++, row[k], row[k] ? NULL : ".");
        if (other)
            out_int(&t, col++, row[CODE_COLUMNS], row[CODE_COLUMNS] ? NULL : ".");
        draw_bar(peak ? (double)row[CODE_COLUMNS + 1] / (double)peak : 0, TIMELINE_BAR, bar, sizeof bar);
        out_null(&t, col, bar);
    }
    start_output(c, &t);
    int rc = finish_output(&t);
    out_free(&t);
    free(counts);
    return rc;
}

static int print_table(struct cli *c, const struct timeline *tl, double first, double last)
{
    long long total = 0;
    for (size_t i = 0; i < tl->n; i++)
        total += tl->cells[i].cc.count;
    char size[32], extra[64];
    exact_duration_text(c->bucket, size, sizeof size);
    snprintf(extra, sizeof extra, "; per %s", size);
    print_heading(c, total, NULL, extra);
    if (tl->n > 0)
        return print_chart(c, tl, first, last);
    printf("(no connections in this window)\n");
    return 0;
}

int cmd_timeline(struct cli *c, struct query_db *db)
{
    double lo = c->window_lo, hi = c->window_hi;
    if (c->bucket <= 0)
        c->bucket = choose_bucket(hi - lo);
    double first = floor(lo / c->bucket) * c->bucket;
    double last = floor((hi > lo ? hi - 1e-6 : lo) / c->bucket) * c->bucket;
    if (c->format == OUT_TABLE && c->has_records && (last - first) / c->bucket + 1 > MAX_TABLE_BUCKETS)
        return fail(2, "timeline: %.0f buckets of %s are too many for a table; choose a larger --bucket "
                       "or a shorter window",
                    (last - first) / c->bucket + 1, c->bucket_text ? c->bucket_text : "that size");
    struct timeline tl = {.bucket = c->bucket};
    struct out_table data;
    out_init(&data, 5, data_cols);
    if (c->format != OUT_TABLE) {
        start_output(c, &data);
        tl.data = &data;
    }
    int rc = query_timeline(db, &c->filter, c->bucket, collect, &tl) < 0 ? fail_db(c, db) : 0;
    if (rc == 0 && tl.oom)
        rc = fail(1, "out of memory");
    if (rc == 0 && c->format != OUT_TABLE)
        rc = finish_output(&data);
    if (rc == 0 && c->format == OUT_TABLE)
        rc = print_table(c, &tl, first, last);
    out_free(&data);
    free(tl.cells);
    return rc;
}
