/*
 * cli/cmd_groups.c — `group-by KEY`: connections per host, path, server,
 * client, subprotocol, user agent or sensor, largest first, each with its
 * three most frequent close codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define GROUP_BAR 8
#define TOP_CODES_TEXT 96

struct group {
    char *key; /* NULL: the records have none */
    long long total;
    char top_text[TOP_CODES_TEXT]; /* table: "1006 61%, 1000 30%" */
    char top_data[TOP_CODES_TEXT]; /* json/csv: "1006:40,1000:20" */
};

struct groups {
    struct group *g;
    size_t n, cap;
    bool oom;
};

static struct group *group_for(struct groups *gs, const struct group_row *r)
{
    if (r->rank > 1 && gs->n > 0)
        return &gs->g[gs->n - 1];
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? gs->cap * 2 : 64;
        struct group *g = realloc(gs->g, cap * sizeof *g);
        if (!g)
            return NULL;
        gs->g = g;
        gs->cap = cap;
    }
    struct group *g = &gs->g[gs->n++];
    memset(g, 0, sizeof *g);
    g->key = r->key ? strdup(r->key) : NULL;
    g->total = r->total;
    return g;
}

static void append(char *buf, size_t len, const char *sep, const char *item)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? sep : "", item);
}

static void collect(void *arg, const struct group_row *r)
{
    struct groups *gs = arg;
    struct group *g = group_for(gs, r);
    if (!g) {
        gs->oom = true;
        return;
    }
    char label[16], item[48];
    code_short(r->code.code, r->code.outcome, label, sizeof label);
    snprintf(item, sizeof item, "%s %.0f%%", label, 100.0 * (double)r->code.count / (double)g->total);
    append(g->top_text, sizeof g->top_text, ", ", item);
    if (r->code.code >= 0)
        snprintf(item, sizeof item, "%d:%lld", r->code.code, r->code.count);
    else
        snprintf(item, sizeof item, "%s:%lld", r->code.outcome ? r->code.outcome : "none", r->code.count);
    append(g->top_data, sizeof g->top_data, ",", item);
}

/* "user-agent" -> "user_agent": JSON field names are column names. */
static void field_name(enum query_key k, char *buf, size_t len)
{
    snprintf(buf, len, "%s", query_key_name(k));
    for (char *p = buf; *p; p++)
        if (*p == '-')
            *p = '_';
}

static void header_name(enum query_key k, char *buf, size_t len)
{
    snprintf(buf, len, "%s", query_key_name(k));
    for (char *p = buf; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
}

static void print_groups(struct cli *c, enum query_key k, const struct groups *gs, long long ngroups,
                         long long total)
{
    char field[32], header[32];
    field_name(k, field, sizeof field);
    header_name(k, header, sizeof header);
    const struct out_col cols[] = {
        {field, header, false, 40, false},        {"count", "COUNT", true, 0, false},
        {"share", "SHARE", true, 0, false},        {"bar", "", false, 0, true},
        {"top_codes", "TOP CODES", false, 0, false},
    };
    struct out_table t;
    out_init(&t, 5, cols);
    for (size_t i = 0; i < gs->n && out_add_row(&t); i++) {
        const struct group *g = &gs->g[i];
        double share = total ? (double)g->total / (double)total : 0;
        char pct[16], bar[GROUP_BAR * 3 + 8];
        percent_text(share, pct, sizeof pct);
        draw_bar(share, GROUP_BAR, bar, sizeof bar);
        out_text(&t, 0, g->key, g->key ? NULL : "(none)");
        out_int(&t, 1, g->total, NULL);
        out_real(&t, 2, share, pct);
        out_null(&t, 3, bar);
        out_text(&t, 4, g->top_data, g->top_text);
    }
    if (c->format == OUT_TABLE) {
        char extra[128];
        snprintf(extra, sizeof extra, "; %lld group%s by %s", ngroups, ngroups == 1 ? "" : "s", query_key_name(k));
        if (c->limit > 0 && ngroups > c->limit)
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", the %ld largest shown (--limit)",
                     c->limit);
        print_heading(c, total, NULL, extra);
        if (gs->n == 0) {
            printf("(no connections in this window)\n");
            out_free(&t);
            return;
        }
    }
    out_print(&t, c->format, stdout);
    out_free(&t);
}

int cmd_group_by(struct cli *c, sqlite3 *db)
{
    enum query_key k;
    if (!c->arg)
        return fail(2, "group-by: by what? host, path, server, client, subprotocol, user-agent or sensor");
    if (!query_key_parse(c->arg, &k) || k > KEY_SENSOR)
        return fail(2, "group-by: '%s' is not one of host, path, server, client, subprotocol, user-agent, sensor",
                    c->arg);
    struct groups gs = {0};
    long long ngroups, total;
    int rc = query_group_by(db, &c->filter, k, c->limit, collect, &gs, &ngroups, &total);
    if (rc == 0 && !gs.oom)
        print_groups(c, k, &gs, ngroups, total);
    for (size_t i = 0; i < gs.n; i++)
        free(gs.g[i].key);
    free(gs.g);
    if (rc < 0)
        return fail_db(c, db);
    return gs.oom ? fail(1, "out of memory") : 0;
}
