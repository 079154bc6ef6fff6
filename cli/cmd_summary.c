/*
 * cli/cmd_summary.c — `summary`: the totals of the window. Connections and
 * how many were picked up mid-stream, outcomes, who closed first, how the
 * TCP connections ended, violations, nDPI's classification, and what the
 * captures overlapping the window lost (libpcap's drop counts), and the
 * TLS connections nDPI saw (their frames cannot be decoded), so that
 * missing data is never mistaken for good news.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/record.h"
#include "cli.h"

#define SUMMARY_BAR 16
#define KEY_WIDTH 48 /* table: longer keys are cut in the middle (never an address: see add_tls) */
#define MAX_NAMES 64
#define NDPI_ROWS 6

struct rows {
    struct out_table t;
    bool table; /* section title rows are for people only */
    long long total;
};

static void title(struct rows *r, const char *text)
{
    if (!r->table || !out_add_row(&r->t))
        return;
    out_null(&r->t, 0, NULL);
    out_null(&r->t, 1, text);
    out_null(&r->t, 2, "");
    out_null(&r->t, 3, "");
    out_null(&r->t, 4, "");
}

/* Tables only: "none" under a section title, no count to read. */
static void none_row(struct rows *r)
{
    if (!r->table || !out_add_row(&r->t))
        return;
    out_null(&r->t, 0, NULL);
    out_null(&r->t, 1, "  none");
    out_null(&r->t, 2, "");
    out_null(&r->t, 3, "");
    out_null(&r->t, 4, "");
}

/* A data row; share is of all connections unless `no_share`. The table
 * shows `shown` (NULL: the key). */
static void row_shown(struct rows *r, const char *section, const char *key, const char *shown, long long count,
                      bool no_share)
{
    if (!out_add_row(&r->t))
        return;
    char label[400], pct[16], bar[SUMMARY_BAR * 3 + 8];
    snprintf(label, sizeof label, "  %s", shown ? shown : key);
    out_text(&r->t, 0, section, NULL);
    out_text(&r->t, 1, key, label);
    out_int(&r->t, 2, count, NULL);
    if (no_share || r->total == 0) {
        out_null(&r->t, 3, "");
        out_null(&r->t, 4, "");
        return;
    }
    double share = (double)count / (double)r->total;
    percent_text(share, pct, sizeof pct);
    draw_bar(share, SUMMARY_BAR, bar, sizeof bar);
    out_real(&r->t, 3, share, pct);
    out_null(&r->t, 4, bar);
}

static void row(struct rows *r, const char *section, const char *key, long long count, bool no_share)
{
    row_shown(r, section, key, NULL, count, no_share);
}

/* Connections per violation name (a record lists several, comma-separated). */
struct names {
    struct named {
        long long count; /* first: by_count sorts these */
        char name[40];
    } e[MAX_NAMES];
    int n;
    long long others; /* names beyond MAX_NAMES */
};

static void add_violations(void *arg, const char *value, long long count)
{
    struct names *v = arg;
    for (const char *p = value; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int i = 0;
        while (i < v->n && (strlen(v->e[i].name) != len || memcmp(v->e[i].name, p, len) != 0))
            i++;
        if (i == v->n && v->n < MAX_NAMES)
            snprintf(v->e[v->n++].name, sizeof v->e[0].name, "%.*s", (int)len, p);
        if (i < v->n)
            v->e[i].count += count;
        p = comma ? comma + 1 : NULL;
    }
}

static void add_name(void *arg, const char *value, long long count)
{
    struct names *v = arg;
    if (v->n == MAX_NAMES) {
        v->others += count;
        return;
    }
    snprintf(v->e[v->n].name, sizeof v->e[0].name, "%s", value ? value : "(not classified)");
    v->e[v->n++].count = count;
}

static void connection_rows(struct rows *r, const struct summary_counts *s)
{
    title(r, "CONNECTIONS");
    row(r, "connections", "total", s->total, true);
    row(r, "connections", "handshake seen", s->handshake_seen, false);
    row(r, "connections", "picked up mid-stream", s->total - s->handshake_seen, false);
    title(r, "OUTCOME");
    for (int o = OUTCOME_CLEAN; o <= OUTCOME_REJECTED; o++)
        row(r, "outcome", outcome_name((enum outcome)o), s->outcomes[o], false);
    title(r, "CLOSED FIRST BY");
    row(r, "initiator", "client", s->by_client, false);
    row(r, "initiator", "server", s->by_server, false);
    row(r, "initiator", "(no close frame)", s->total - s->by_client - s->by_server, false);
    title(r, "TCP TERMINATION");
    for (int t = TERM_FIN_CLIENT; t <= TERM_LAST; t++)
        if (s->terminations[t])
            row(r, "termination", termination_name((enum termination)t), s->terminations[t], false);
}

static int by_count(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x < y) - (x > y);
}

static void violation_rows(struct rows *r, struct names *v)
{
    qsort(v->e, (size_t)v->n, sizeof v->e[0], by_count); /* largest first */
    title(r, "VIOLATIONS (connections with each)");
    if (v->n == 0)
        none_row(r);
    for (int i = 0; i < v->n; i++)
        row(r, "violations", v->e[i].name, v->e[i].count, false);
}

static void ndpi_rows(struct rows *r, const struct names *n)
{
    title(r, "nDPI CLASSIFICATION");
    long long other = n->others;
    for (int i = 0; i < n->n; i++) {
        if (i < NDPI_ROWS)
            row(r, "ndpi_protocol", n->e[i].name, n->e[i].count, false);
        else
            other += n->e[i].count;
    }
    if (other)
        row(r, "ndpi_protocol", "(others)", other, false);
}

/* TLS flows per server: "api.example.com:443", or "[ip]:port" without SNI. */
#define TLS_ROWS 8
struct tls_rows {
    char name[TLS_ROWS][320];
    char shown[TLS_ROWS][320]; /* the table's: the address without what would not fit */
    long long count[TLS_ROWS];
    int n;
    long long total, others;
};

static void add_tls(void *arg, const struct tls_count *t)
{
    struct tls_rows *tr = arg;
    tr->total += t->count;
    if (tr->n == TLS_ROWS) {
        tr->others += t->count;
        return;
    }
    bool v6 = t->server_ip && strchr(t->server_ip, ':');
    char *name = tr->name[tr->n], *shown = tr->shown[tr->n];
    size_t len = sizeof tr->name[0];
    if (t->sni && *t->sni && t->server_ip && strcmp(t->sni, t->server_ip) != 0) {
        snprintf(name, len, "%s:%d (%s)", t->sni, t->server_port, t->server_ip);
        snprintf(shown, len, "%s:%d", t->sni, t->server_port); /* a name: it may be cut */
    } else {
        snprintf(name, len, "%s%s%s:%d (no server name)", v6 ? "[" : "", t->server_ip, v6 ? "]" : "",
                 t->server_port);
        snprintf(shown, len, "%s%s%s:%d", v6 ? "[" : "", t->server_ip, v6 ? "]" : "", t->server_port);
    }
    if (out_width(name) + 2 <= KEY_WIDTH) /* the whole of it fits: no address is cut */
        memcpy(shown, name, len);
    tr->count[tr->n++] = t->count;
}

static void tls_rows(struct rows *r, const struct tls_rows *tr)
{
    title(r, "TLS (nDPI): CANNOT BE DECODED");
    if (tr->n == 0)
        none_row(r);
    for (int i = 0; i < tr->n; i++)
        row_shown(r, "tls", tr->name[i], tr->shown[i], tr->count[i], true);
    if (tr->others)
        row(r, "tls", "(others)", tr->others, true);
}

/* "N TLS connections to api.example.com:443 could not be decoded." */
static void print_tls_sentences(const struct tls_rows *tr)
{
    if (tr->total == 0)
        return;
    printf("\n");
    for (int i = 0; i < tr->n && i < 3; i++) {
        char target[320];
        snprintf(target, sizeof target, "%s", tr->name[i]);
        char *paren = strstr(target, " (");
        if (paren)
            *paren = '\0';
        printf("%lld TLS connection%s to %s could not be decoded.\n", tr->count[i], tr->count[i] == 1 ? "" : "s",
               target);
    }
    if (tr->n > 3 || tr->others)
        printf("%lld TLS connections in all could not be decoded.\n", tr->total);
}

static void capture_rows(struct rows *r, const struct capture_totals *t)
{
    title(r, "CAPTURES (overlapping the window)");
    row(r, "captures", "captures", t->captures, true);
    row(r, "captures", "packets", t->packets, true);
    row(r, "captures", "bytes", t->bytes, true);
    row(r, "captures", "dropped by the kernel (libpcap)", t->drops, true);
    row(r, "captures", "dropped by the interface", t->if_drops, true);
    row(r, "captures", "TCP flows", t->tcp_flows, true);
    row(r, "captures", "still running", t->running, true);
    row(r, "captures", "interrupted (process gone)", t->interrupted, true);
    row(r, "captures", "ended by an error", t->failed, true);
}

int cmd_summary(struct cli *c, struct query_db *db)
{
    static const struct out_col cols[] = {
        {"section", NULL, false, 0, false}, {"key", "", false, KEY_WIDTH, false}, {"count", "COUNT", true, 0, false},
        {"share", "SHARE", true, 0, false}, {"bar", "", false, 0, true},
    };
    struct summary_counts s;
    struct capture_totals ct;
    struct names *v = calloc(2, sizeof *v);
    if (!v)
        return fail(1, "out of memory");
    struct tls_rows tr = {0};
    if (query_summary(db, &c->filter, &s, add_violations, &v[0], add_name, &v[1]) < 0 ||
        query_captures(db, &c->filter, &ct) < 0 || query_tls(db, &c->filter, add_tls, &tr) < 0) {
        free(v);
        return fail_db(c, db);
    }
    struct rows r = {.table = c->format == OUT_TABLE, .total = s.total};
    out_init(&r.t, 5, cols);
    start_output(c, &r.t);
    connection_rows(&r, &s);
    violation_rows(&r, &v[0]);
    ndpi_rows(&r, &v[1]);
    tls_rows(&r, &tr);
    capture_rows(&r, &ct);
    if (r.table)
        print_heading(c, s.total, NULL, NULL);
    int rc = finish_output(&r.t);
    if (r.table)
        print_tls_sentences(&tr);
    if (r.table && ct.drops + ct.if_drops > 0)
        printf("\nThe captures lost %lld packets: connections may be missing or marked 'gap'.\n",
               ct.drops + ct.if_drops);
    out_free(&r.t);
    free(v);
    return rc;
}
