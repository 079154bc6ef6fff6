/*
 * cli/cmd_groups.c — `group-by KEY`: connections per host, path (without
 * its query string), server, client, subprotocol, user agent or sensor,
 * largest first, each with its three most frequent close codes. JSON and
 * CSV rows are written as each group is complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define GROUP_BAR 8
#define TOP_CODES_TEXT 160
#define KEY_WIDTH 40      /* table: longer keys are cut in the middle */
#define TOP_CODES_WIDTH 30 /* table: a longer list is cut at its end */

/* The group being read: the query gives one row per group and top code. */
struct group {
    char *key; /* NULL: the records have none */
    long long total;
    int ncodes;
    char top_text[TOP_CODES_TEXT]; /* table: "1006 61%, 1000 30%" */
    char top_csv[TOP_CODES_TEXT];  /* CSV: "1006:40,1000:20,unfinished:3" */
    char top_json[TOP_CODES_TEXT * 2]; /* JSON: [{"code":1006,"count":40},...] */
};

struct groups {
    struct cli *c;
    struct out_table t;
    struct group cur;
    bool have;
    long long all; /* connections in all groups */
    bool oom;
};

static void append(char *buf, size_t len, const char *sep, const char *item)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? sep : "", item);
}

/* The group read so far becomes a row. */
static void emit(struct groups *gs)
{
    if (!gs->have)
        return;
    struct group *g = &gs->cur;
    double share = gs->all ? (double)g->total / (double)gs->all : 0;
    char pct[16], bar[GROUP_BAR * 3 + 8], json[sizeof g->top_json + 4];
    percent_text(share, pct, sizeof pct);
    draw_bar(share, GROUP_BAR, bar, sizeof bar);
    snprintf(json, sizeof json, "[%s]", g->top_json);
    if (out_add_row(&gs->t)) {
        out_text(&gs->t, 0, g->key, g->key ? NULL : "(none)");
        out_int(&gs->t, 1, g->total, NULL);
        out_real(&gs->t, 2, share, pct);
        out_null(&gs->t, 3, bar);
        out_json(&gs->t, 4, json, g->top_csv, g->top_text);
    }
    free(g->key);
    memset(g, 0, sizeof *g);
    gs->have = false;
}

static void collect(void *arg, const struct group_row *r, long long all)
{
    struct groups *gs = arg;
    gs->all = all;
    if (r->rank == 1 || !gs->have) {
        emit(gs);
        gs->cur.key = r->key ? strdup(r->key) : NULL;
        gs->oom |= r->key && !gs->cur.key;
        gs->cur.total = r->total;
        gs->have = true;
    }
    struct group *g = &gs->cur;
    char label[16], item[96];
    code_short(r->code.code, r->code.outcome, label, sizeof label);
    snprintf(item, sizeof item, "%s %.0f%%", label, 100.0 * (double)r->code.count / (double)g->total);
    append(g->top_text, sizeof g->top_text, ", ", item);
    const char *why = r->code.outcome ? r->code.outcome : "none";
    if (r->code.code >= 0) {
        snprintf(item, sizeof item, "%d:%lld", r->code.code, r->code.count);
        append(g->top_csv, sizeof g->top_csv, ",", item);
        snprintf(item, sizeof item, "{\"code\":%d,\"count\":%lld}", r->code.code, r->code.count);
    } else {
        snprintf(item, sizeof item, "%s:%lld", why, r->code.count);
        append(g->top_csv, sizeof g->top_csv, ",", item);
        snprintf(item, sizeof item, "{\"code\":null,\"outcome\":\"%s\",\"count\":%lld}", why, r->code.count);
    }
    append(g->top_json, sizeof g->top_json, ",", item);
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

/* The table after the query: heading, rows, and a note when --limit cut it. */
static int print_table(struct groups *gs, enum query_key k, long long ngroups)
{
    struct cli *c = gs->c;
    char extra[64];
    snprintf(extra, sizeof extra, "; %lld group%s by %s", ngroups, ngroups == 1 ? "" : "s", query_key_name(k));
    print_heading(c, gs->all, NULL, extra);
    if (gs->t.rows == 0) {
        printf("(no connections in this window)\n");
        return 0;
    }
    int rc = finish_output(&gs->t);
    if (rc == 0 && c->limit > 0 && ngroups > c->limit)
        print_limit_note(c->limit, ngroups, "groups");
    return rc;
}

int cmd_group_by(struct cli *c, struct query_db *db)
{
    enum query_key k;
    if (!c->arg)
        return fail(2, "group-by: by what? host, path, server, client, subprotocol, user-agent or sensor");
    if (!query_key_parse(c->arg, &k) || k > KEY_SENSOR)
        return fail(2, "group-by: '%s' is not one of host, path, server, client, subprotocol, user-agent, sensor",
                    c->arg);
    char field[32], header[32];
    field_name(k, field, sizeof field);
    header_name(k, header, sizeof header);
    bool address = k == KEY_SERVER || k == KEY_CLIENT; /* never cut */
    const struct out_col cols[] = {
        {field, header, false, address ? 0 : KEY_WIDTH, false},
        {"count", "COUNT", true, 0, false},
        {"share", "SHARE", true, 0, false},
        {"bar", "", false, 0, true},
        {"top_codes", "TOP CODES", false, -TOP_CODES_WIDTH, false},
    };
    struct groups gs = {.c = c};
    out_init(&gs.t, 5, cols);
    start_output(c, &gs.t);
    long long ngroups;
    int rc = query_group_by(db, &c->filter, k, c->limit, collect, &gs, &ngroups) < 0 ? fail_db(c, db) : 0;
    emit(&gs);
    if (rc == 0 && gs.oom)
        rc = fail(1, "out of memory");
    if (rc == 0 && c->format == OUT_TABLE)
        rc = print_table(&gs, k, ngroups);
    else if (rc == 0)
        rc = finish_output(&gs.t);
    free(gs.cur.key);
    out_free(&gs.t);
    return rc;
}
