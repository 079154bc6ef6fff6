/*
 * cli/cmd_durations.c — `durations`: how long connections lived, and how
 * long they had been quiet when they were closed. A cluster of many
 * connections closed after one fixed idle time is the fingerprint of a
 * proxy's or load balancer's idle timeout (nginx's proxy_read_timeout is
 * 60 s by default); a cluster of one fixed lifetime points at a maximum
 * connection age. Only connections that ended (outcome clean, half_closed
 * or abnormal) are measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stats.h"

#define MAX_CLUSTERS 3
#define IDLE_FLOOR 1.0 /* idle times below this are ordinary closes, not timeouts */
#define LIFETIME_FLOOR 1.0
#define HIST_BAR 12

struct measures {
    struct sample *lifetime, *idle;
    size_t n, cap;
    bool oom;
};

static void collect(void *arg, const struct duration_row *d)
{
    struct measures *m = arg;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        struct sample *a = realloc(m->lifetime, cap * sizeof *a);
        if (a)
            m->lifetime = a;
        struct sample *b = a ? realloc(m->idle, cap * sizeof *b) : NULL;
        if (!a || !b) {
            m->oom = true;
            return;
        }
        m->idle = b;
        m->cap = cap;
    }
    m->lifetime[m->n] = (struct sample){d->lifetime, d->code, (uint32_t)m->n};
    m->idle[m->n] = (struct sample){d->idle, d->code, (uint32_t)m->n};
    m->n++;
}

struct measure {
    const char *name, *title;
    const struct sample *s;
    struct cluster clusters[MAX_CLUSTERS];
    int nclusters;
};

/* ---- json / csv ------------------------------------------------------------ */

static const struct out_col data_cols[] = {
    {"measure", NULL, false, 0, false}, {"count", NULL, true, 0, false}, {"share", NULL, true, 0, false},
    {"min", NULL, true, 0, false},      {"p50", NULL, true, 0, false},   {"p90", NULL, true, 0, false},
    {"p99", NULL, true, 0, false},      {"max", NULL, true, 0, false},   {"code", NULL, true, 0, false},
};

static void add_distribution(struct out_table *t, const struct measure *m, size_t n)
{
    if (!out_add_row(t))
        return;
    out_text(t, 0, m->name, NULL);
    out_int(t, 1, (int64_t)n, NULL);
    out_real(t, 2, 1.0, NULL);
    static const double ps[] = {0, 50, 90, 99, 100};
    for (int i = 0; i < 5; i++) {
        if (n)
            out_real(t, 3 + i, samples_percentile(m->s, n, ps[i]), NULL);
        else
            out_null(t, 3 + i, NULL);
    }
    out_null(t, 8, NULL);
}

static void add_cluster(struct out_table *t, const char *name, const struct cluster *k, size_t n)
{
    if (!out_add_row(t))
        return;
    out_text(t, 0, name, NULL);
    out_int(t, 1, (int64_t)k->count, NULL);
    out_real(t, 2, n ? (double)k->count / (double)n : 0, NULL);
    out_real(t, 3, k->lo, NULL);
    out_real(t, 4, k->median, NULL);
    out_null(t, 5, NULL);
    out_null(t, 6, NULL);
    out_real(t, 7, k->hi, NULL);
    if (k->code >= 0)
        out_int(t, 8, k->code, NULL);
    else
        out_null(t, 8, NULL);
}

static int print_data(struct cli *c, struct measure *ms, size_t n)
{
    struct out_table t;
    out_init(&t, 9, data_cols);
    start_output(c, &t);
    for (int i = 0; i < 2; i++)
        add_distribution(&t, &ms[i], n);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < ms[i].nclusters; k++)
            add_cluster(&t, i == 0 ? "lifetime_cluster" : "idle_cluster", &ms[i].clusters[k], n);
    int rc = finish_output(&t);
    out_free(&t);
    return rc;
}

/* ---- table ------------------------------------------------------------------ */

static void print_percentiles(struct measure *ms, size_t n)
{
    static const struct out_col cols[] = {
        {"measure", "", false, 0, false}, {"min", "MIN", true, 0, false}, {"p50", "P50", true, 0, false},
        {"p90", "P90", true, 0, false},   {"p99", "P99", true, 0, false}, {"max", "MAX", true, 0, false},
    };
    static const double ps[] = {0, 50, 90, 99, 100};
    struct out_table t;
    out_init(&t, 6, cols);
    for (int i = 0; i < 2 && out_add_row(&t); i++) {
        out_text(&t, 0, ms[i].title, NULL);
        for (int p = 0; p < 5; p++) {
            char buf[32];
            seconds_text(samples_percentile(ms[i].s, n, ps[p]), buf, sizeof buf);
            out_text(&t, 1 + p, buf, NULL);
        }
    }
    out_print(&t, OUT_TABLE, stdout);
    out_free(&t);
}

/* Log-spaced ranges, the same for both measures, side by side. */
static void print_histogram(struct measure *ms, size_t n)
{
    static const double edges[] = {0, 1, 10, 60, 600, 3600, 86400};
    static const char *const labels[] = {"< 1s", "1s - 10s", "10s - 1m", "1m - 10m", "10m - 1h", "1h - 1d", ">= 1d"};
    enum { NR = sizeof labels / sizeof labels[0] };
    size_t counts[2][NR] = {{0}};
    for (int m = 0; m < 2; m++)
        for (size_t i = 0; i < n; i++) {
            int r = NR - 1;
            while (r > 0 && ms[m].s[i].v < edges[r])
                r--;
            counts[m][r]++;
        }
    static const struct out_col cols[] = {
        {"range", "", false, 0, false},      {"lifetime", "LIFETIME", true, 0, false},
        {"lbar", "", false, 0, true},        {"idle", "IDLE BEFORE CLOSE", true, 0, false},
        {"ibar", "", false, 0, true},
    };
    struct out_table t;
    out_init(&t, 5, cols);
    for (int r = 0; r < NR && out_add_row(&t); r++) {
        out_text(&t, 0, labels[r], NULL);
        for (int m = 0; m < 2; m++) {
            char bar[HIST_BAR * 3 + 8];
            double share = n ? (double)counts[m][r] / (double)n : 0;
            draw_bar(share, HIST_BAR, bar, sizeof bar);
            out_int(&t, 1 + 2 * m, (int64_t)counts[m][r], counts[m][r] ? NULL : ".");
            out_null(&t, 2 + 2 * m, bar);
        }
    }
    out_print(&t, OUT_TABLE, stdout);
    out_free(&t);
}

static void print_cluster(const struct cluster *k, size_t n, bool idle)
{
    char at[32], range[64], text[512], code[96] = "";
    seconds_text(k->median, at, sizeof at);
    seconds_range_text(k->lo, k->hi, range, sizeof range);
    const char *how_many = k->code_count == k->count ? "all" : "mostly";
    if (k->code_count * 2 > k->count && k->code >= 0)
        snprintf(code, sizeof code, ", %s %d %s", how_many, k->code, code_title(k->code, NULL));
    else if (k->code_count * 2 > k->count)
        snprintf(code, sizeof code, ", %s without a close code", how_many);
    snprintf(text, sizeof text,
             "%s cluster: %zu of %zu connections (%.0f%%) %s %s (%s)%s: %s", idle ? "Idle-timeout" : "Lifetime",
             k->count, n, 100.0 * (double)k->count / (double)n, idle ? "were closed after" : "lived", at, range, code,
             idle ? "the fingerprint of an idle timeout, such as a proxy's or load balancer's (nginx "
                    "proxy_read_timeout, 60s by default)."
                  : "the fingerprint of a maximum connection lifetime (a load balancer's or server's "
                    "connection age limit, or a token expiry).");
    print_wrapped(text);
}

static void print_table(struct cli *c, struct measure *ms, size_t n)
{
    print_heading(c, (long long)n, " measured", NULL);
    if (n == 0) {
        printf("(no connections ended in this window)\n");
        return;
    }
    print_percentiles(ms, n);
    putchar('\n');
    print_histogram(ms, n);
    bool any = false;
    for (int i = 1; i >= 0; i--) {
        for (int k = 0; k < ms[i].nclusters; k++) {
            putchar('\n');
            print_cluster(&ms[i].clusters[k], n, i == 1);
            any = true;
        }
    }
    if (!any)
        printf("\nNo cluster: no fixed idle time or lifetime stands out.\n");
}

/* Drops lifetime clusters made mostly of connections in an idle cluster:
 * a connection quiet from its start is closed by an idle timeout at a fixed
 * lifetime too, and the idle timeout is the explanation. */
static void drop_explained_lifetimes(struct measure *life, const struct measure *idle, size_t n)
{
    bool *idle_member = calloc(n ? n : 1, sizeof *idle_member);
    if (!idle_member)
        return;
    for (int k = 0; k < idle->nclusters; k++)
        for (size_t i = idle->clusters[k].first; i < idle->clusters[k].end; i++)
            idle_member[idle->s[i].id] = true;
    int kept = 0;
    for (int k = 0; k < life->nclusters; k++) {
        size_t shared = 0;
        const struct cluster *lc = &life->clusters[k];
        for (size_t i = lc->first; i < lc->end; i++)
            shared += idle_member[life->s[i].id];
        if (shared * 2 <= lc->end - lc->first)
            life->clusters[kept++] = *lc;
    }
    life->nclusters = kept;
    free(idle_member);
}

int cmd_durations(struct cli *c, struct query_db *db)
{
    struct measures m = {0};
    int rc = query_durations(db, &c->filter, collect, &m);
    if (rc < 0 || m.oom) {
        free(m.lifetime);
        free(m.idle);
        return rc < 0 ? fail_db(c, db) : fail(1, "out of memory");
    }
    if (!samples_sort(m.lifetime, m.n) || !samples_sort(m.idle, m.n)) {
        free(m.lifetime);
        free(m.idle);
        return fail(1, "out of memory");
    }
    struct measure ms[2] = {
        {.name = "lifetime", .title = "lifetime", .s = m.lifetime},
        {.name = "idle_before_close", .title = "idle before close", .s = m.idle},
    };
    ms[0].nclusters = samples_clusters(m.lifetime, m.n, LIFETIME_FLOOR, ms[0].clusters, MAX_CLUSTERS);
    ms[1].nclusters = samples_clusters(m.idle, m.n, IDLE_FLOOR, ms[1].clusters, MAX_CLUSTERS);
    drop_explained_lifetimes(&ms[0], &ms[1], m.n);
    rc = 0;
    if (c->format == OUT_TABLE)
        print_table(c, ms, m.n);
    else
        rc = print_data(c, ms, m.n);
    free(m.lifetime);
    free(m.idle);
    return rc;
}
