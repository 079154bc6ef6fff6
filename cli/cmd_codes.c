/*
 * cli/cmd_codes.c — `top-codes` (the headline report), `codes` and
 * `explain CODE` (the registry of docs/design.md §3, from model/codes.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/codes.h"
#include "cli.h"

#define TOP_BAR_WIDTH 20
#define MAX_CODE_ROWS 1024

struct code_rows {
    struct code_count rows[MAX_CODE_ROWS];
    char outcomes[MAX_CODE_ROWS][16];
    int n;
    long long total;
};

static void collect_code(void *arg, const struct code_count *c)
{
    struct code_rows *cr = arg;
    cr->total += c->count;
    if (cr->n == MAX_CODE_ROWS)
        return;
    cr->rows[cr->n] = *c;
    snprintf(cr->outcomes[cr->n], sizeof cr->outcomes[0], "%s", c->outcome ? c->outcome : "");
    cr->rows[cr->n].outcome = cr->outcomes[cr->n];
    cr->n++;
}

static void add_code_row(struct out_table *t, const struct code_count *r, long long total)
{
    double share = total ? (double)r->count / (double)total : 0;
    char pct[16], b[TOP_BAR_WIDTH * 3 + 8];
    percent_text(share, pct, sizeof pct);
    draw_bar(share, TOP_BAR_WIDTH, b, sizeof b);
    if (!out_add_row(t))
        return;
    if (r->code >= 0) {
        out_int(t, 0, r->code, NULL);
        out_null(t, 2, NULL);
    } else {
        out_null(t, 0, "-");
        out_text(t, 2, r->outcome, NULL);
    }
    out_text(t, 1, code_title(r->code, r->outcome), NULL);
    out_int(t, 3, r->count, NULL);
    out_real(t, 4, share, pct);
    out_null(t, 5, b);
}

int cmd_top_codes(struct cli *c, struct query_db *db)
{
    static const struct out_col cols[] = {
        {"code", "CODE", true, 0, false},   {"name", "NAME", false, 34, false},
        {"outcome", NULL, false, 0, false}, {"count", "COUNT", true, 0, false},
        {"share", "SHARE", true, 0, false}, {"bar", "", false, 0, true},
    };
    struct code_rows *cr = calloc(1, sizeof *cr);
    if (!cr)
        return fail(1, "out of memory");
    if (query_top_codes(db, &c->filter, collect_code, cr) < 0) {
        free(cr);
        return fail_db(c, db);
    }
    struct out_table t;
    out_init(&t, 6, cols);
    start_output(c, &t);
    for (int i = 0; i < cr->n; i++)
        add_code_row(&t, &cr->rows[i], cr->total);
    int rc = 0;
    if (c->format == OUT_TABLE) {
        print_heading(c, cr->total, NULL, NULL);
        if (cr->n == 0)
            printf("(no connections in this window)\n");
    }
    if (c->format != OUT_TABLE || cr->n > 0)
        rc = finish_output(&t);
    out_free(&t);
    free(cr);
    return rc;
}

/* Table text of a registry entry's code: "1000", or "1016-2999". */
static void code_range_text(const struct close_code_info *e, char *buf, size_t len)
{
    if (e->lo == e->hi)
        snprintf(buf, len, "%d", e->lo);
    else
        snprintf(buf, len, "%d-%d", e->lo, e->hi);
}

int cmd_codes(struct cli *c, struct query_db *db)
{
    (void)db;
    /* code is a number as in every other command (null for a range);
     * lo and hi give the range */
    static const struct out_col cols[] = {
        {"code", "CODE", false, 0, false},     {"lo", NULL, false, 0, false},
        {"hi", NULL, false, 0, false},         {"name", "NAME", false, 0, false},
        {"on_the_wire", "ON THE WIRE", false, 0, false}, {"meaning", NULL, false, 0, false},
    };
    int n;
    const struct close_code_info *tab = close_code_table(&n);
    struct out_table t;
    out_init(&t, 6, cols);
    start_output(c, &t);
    for (int i = 0; i < n && out_add_row(&t); i++) {
        char range[32];
        code_range_text(&tab[i], range, sizeof range);
        if (tab[i].lo == tab[i].hi)
            out_int(&t, 0, tab[i].lo, NULL);
        else
            out_null(&t, 0, range);
        out_int(&t, 1, tab[i].lo, NULL);
        out_int(&t, 2, tab[i].hi, NULL);
        out_text(&t, 3, tab[i].name, NULL);
        out_text(&t, 4, tab[i].may_be_sent ? "allowed" : "never", NULL);
        out_text(&t, 5, tab[i].meaning, NULL);
    }
    int rc = finish_output(&t);
    if (c->format == OUT_TABLE)
        printf("\n'wsstats explain CODE' tells what a code means.\n");
    out_free(&t);
    return rc;
}

int cmd_explain(struct cli *c, struct query_db *db)
{
    (void)db;
    if (!c->arg)
        return fail(2, "explain: which code? (e.g. wsstats explain 1006)");
    char *end;
    errno = 0;
    long code = strtol(c->arg, &end, 10);
    if (errno || *end || end == c->arg || code < 0 || code > 65535)
        return fail(2, "explain: '%s' is not a close code (0 to 65535)", c->arg);
    const struct close_code_info *e = close_code_lookup((int)code);
    const char *name = e ? e->name : "Invalid";
    const char *meaning = e ? e->meaning : "Outside every range RFC 6455 defines (5000 and above): never valid.";
    bool allowed = e && e->may_be_sent;
    if (c->format == OUT_TABLE) {
        printf("%ld  %s\n", code, name);
        char text[512];
        snprintf(text, sizeof text, "%s %s", meaning,
                 allowed ? "An endpoint may send this code in a close frame."
                         : "An endpoint must never send this code in a close frame (RFC 6455 §7.4).");
        print_wrapped(text);
        return 0;
    }
    static const struct out_col cols[] = {
        {"code", "CODE", false, 0, false},
        {"name", "NAME", false, 0, false},
        {"on_the_wire", "ON THE WIRE", false, 0, false},
        {"meaning", "MEANING", false, 0, false},
    };
    struct out_table t;
    out_init(&t, 4, cols);
    start_output(c, &t);
    if (out_add_row(&t)) {
        out_int(&t, 0, code, NULL);
        out_text(&t, 1, name, NULL);
        out_text(&t, 2, allowed ? "allowed" : "never", NULL);
        out_text(&t, 3, meaning, NULL);
    }
    int rc = finish_output(&t);
    out_free(&t);
    return rc;
}
