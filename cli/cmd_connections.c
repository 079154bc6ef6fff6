/*
 * cli/cmd_connections.c — `connections`: the records, newest first. Tables
 * show what identifies a connection and how it ended; JSON and CSV carry
 * every column of the record (DESIGN §2), typed as stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "duration.h"

/* Table columns; CLIENT and SERVER give way first when 80 columns are
 * not enough (long IPv6 addresses). */
static const struct {
    const char *column, *header;
    bool right;
    int max_width;
} conn_table[] = {
    {"ended_at", "ENDED (UTC)", false, 0}, {"client", "CLIENT", false, 21},  {"server", "SERVER", false, 21},
    {"close_code", "CODE", true, 0},       {"close_initiator", "BY", false, 0}, {"outcome", "OUTCOME", false, 0},
};

static void endpoint_text(sqlite3_stmt *s, int ip_col, int port_col, char *buf, size_t len)
{
    const char *ip = (const char *)sqlite3_column_text(s, ip_col);
    int port = sqlite3_column_int(s, port_col);
    if (ip && strchr(ip, ':'))
        snprintf(buf, len, "[%s]:%d", ip, port);
    else
        snprintf(buf, len, "%s:%d", ip ? ip : "?", port);
}

static int column_index(sqlite3_stmt *s, const char *name)
{
    for (int i = 0; i < sqlite3_column_count(s); i++)
        if (strcmp(sqlite3_column_name(s, i), name) == 0)
            return i;
    return -1;
}

static void print_connections_table(sqlite3_stmt *s)
{
    enum { NC = sizeof conn_table / sizeof conn_table[0] };
    struct out_col cols[NC];
    for (int i = 0; i < NC; i++)
        cols[i] = (struct out_col){conn_table[i].column, conn_table[i].header, conn_table[i].right,
                                   conn_table[i].max_width, false};
    int ci = column_index(s, "client_ip"), cp = column_index(s, "client_port");
    int si = column_index(s, "server_ip"), sp = column_index(s, "server_port");
    int direct[NC];
    for (int i = 0; i < NC; i++)
        direct[i] = column_index(s, conn_table[i].column);
    struct out_table t;
    out_init(&t, NC, cols);
    while (sqlite3_step(s) == SQLITE_ROW && out_add_row(&t)) {
        char buf[128];
        time_format(sqlite3_column_double(s, direct[0]), buf, sizeof buf);
        out_text(&t, 0, buf + 5, NULL); /* MM-DD HH:MM:SS */
        endpoint_text(s, ci, cp, buf, sizeof buf);
        out_text(&t, 1, buf, NULL);
        endpoint_text(s, si, sp, buf, sizeof buf);
        out_text(&t, 2, buf, NULL);
        for (int i = 3; i < NC; i++)
            out_text(&t, i, (const char *)sqlite3_column_text(s, direct[i]), NULL);
    }
    if (t.nrows == 0)
        printf("(no connections in this window)\n");
    else
        out_print(&t, OUT_TABLE, stdout);
    out_free(&t);
}

/* JSON / CSV: every column, typed as stored. */
static void print_connections_data(sqlite3_stmt *s, enum out_format f)
{
    int n = sqlite3_column_count(s);
    struct out_col *cols = calloc((size_t)n, sizeof *cols);
    if (!cols)
        return;
    for (int i = 0; i < n; i++)
        cols[i] = (struct out_col){sqlite3_column_name(s, i), sqlite3_column_name(s, i), false, 0, false};
    struct out_table t;
    out_init(&t, n, cols);
    while (sqlite3_step(s) == SQLITE_ROW && out_add_row(&t)) {
        for (int i = 0; i < n; i++) {
            switch (sqlite3_column_type(s, i)) {
            case SQLITE_INTEGER: out_int(&t, i, sqlite3_column_int64(s, i), NULL); break;
            case SQLITE_FLOAT: out_real(&t, i, sqlite3_column_double(s, i), NULL); break;
            case SQLITE_NULL: out_null(&t, i, NULL); break;
            default: out_text(&t, i, (const char *)sqlite3_column_text(s, i), NULL); break;
            }
        }
    }
    out_print(&t, f, stdout);
    out_free(&t);
    free(cols);
}

int cmd_connections(struct cli *c, sqlite3 *db)
{
    sqlite3_stmt *s;
    if (query_connections(db, &c->filter, c->limit, &s) < 0)
        return fail_db(c, db);
    if (c->format == OUT_TABLE) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s%s, newest first", c->window, c->filters_desc[0] ? "; " : "",
                 c->filters_desc);
        if (c->limit)
            snprintf(text + strlen(text), sizeof text - strlen(text), ", at most %ld", c->limit);
        print_wrapped(text);
        putchar('\n');
        print_connections_table(s);
    } else {
        print_connections_data(s, c->format);
    }
    sqlite3_finalize(s);
    return 0;
}
