/*
 * cli/cmd_connections.c — `connections`: the records, newest first. Tables
 * show what identifies a connection and how it ended; JSON and CSV carry
 * every column of the record (DESIGN §2), typed as stored, written as they
 * are read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/duration.h"

/* Table columns. Addresses are never cut (an address cut short names
 * another, or none); a table of long IPv6 addresses may be wider than 80
 * columns. */
static const struct {
    const char *column, *header;
    bool right;
} conn_table[] = {
    {"ended_at", "ENDED (UTC)", false}, {"client", "CLIENT", false},        {"server", "SERVER", false},
    {"close_code", "CODE", true},       {"close_initiator", "BY", false}, {"outcome", "OUTCOME", false},
};
enum { NCONN = sizeof conn_table / sizeof conn_table[0] };

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

/* Where the table's values are in the record. */
struct conn_columns {
    int client_ip, client_port, server_ip, server_port;
    int direct[NCONN];
};

static void find_columns(sqlite3_stmt *s, struct conn_columns *cc)
{
    cc->client_ip = column_index(s, "client_ip");
    cc->client_port = column_index(s, "client_port");
    cc->server_ip = column_index(s, "server_ip");
    cc->server_port = column_index(s, "server_port");
    for (int i = 0; i < NCONN; i++)
        cc->direct[i] = column_index(s, conn_table[i].column);
}

static void add_table_row(struct out_table *t, sqlite3_stmt *s, const struct conn_columns *cc)
{
    if (!out_add_row(t))
        return;
    char buf[128];
    time_format(sqlite3_column_double(s, cc->direct[0]), buf, sizeof buf);
    out_text(t, 0, buf + 5, NULL); /* MM-DD HH:MM:SS */
    endpoint_text(s, cc->client_ip, cc->client_port, buf, sizeof buf);
    out_text(t, 1, buf, NULL);
    endpoint_text(s, cc->server_ip, cc->server_port, buf, sizeof buf);
    out_text(t, 2, buf, NULL);
    for (int i = 3; i < NCONN; i++)
        out_text(t, i, (const char *)sqlite3_column_text(s, cc->direct[i]), NULL);
}

/* The table; `all`: how many records the filter selects (-1: all are
 * shown). Returns an exit status. */
static int print_connections_table(struct cli *c, sqlite3 *db, sqlite3_stmt *s, long long all)
{
    struct out_col cols[NCONN];
    for (int i = 0; i < NCONN; i++)
        cols[i] = (struct out_col){conn_table[i].column, conn_table[i].header, conn_table[i].right, 0, false};
    struct conn_columns cc;
    find_columns(s, &cc);
    struct out_table t;
    out_init(&t, NCONN, cols);
    start_output(c, &t);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        add_table_row(&t, s, &cc);
    int rc = step == SQLITE_DONE ? 0 : fail_db(c, db);
    if (rc == 0 && t.rows == 0)
        printf("(no connections in this window)\n");
    else if (rc == 0)
        rc = finish_output(&t);
    if (rc == 0 && all > t.rows)
        print_limit_note(c->limit, all, "connections");
    out_free(&t);
    return rc;
}

/* JSON / CSV: every column, typed as stored, each row written as it is
 * read. Returns an exit status. */
static int print_connections_data(struct cli *c, sqlite3 *db, sqlite3_stmt *s)
{
    int n = sqlite3_column_count(s);
    struct out_col *cols = calloc((size_t)n, sizeof *cols);
    if (!cols)
        return fail(1, "out of memory");
    for (int i = 0; i < n; i++)
        cols[i] = (struct out_col){sqlite3_column_name(s, i), sqlite3_column_name(s, i), false, 0, false};
    struct out_table t;
    out_init(&t, n, cols);
    start_output(c, &t);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW && out_add_row(&t)) {
        for (int i = 0; i < n; i++) {
            switch (sqlite3_column_type(s, i)) {
            case SQLITE_INTEGER: out_int(&t, i, sqlite3_column_int64(s, i), NULL); break;
            case SQLITE_FLOAT: out_real(&t, i, sqlite3_column_double(s, i), NULL); break;
            case SQLITE_NULL: out_null(&t, i, NULL); break;
            default: out_text(&t, i, (const char *)sqlite3_column_text(s, i), NULL); break;
            }
        }
    }
    int rc = finish_output(&t);
    if (rc == 0 && step != SQLITE_DONE)
        rc = fail_db(c, db);
    out_free(&t);
    free(cols);
    return rc;
}

int cmd_connections(struct cli *c, sqlite3 *db)
{
    /* With a limit, the count says how to find the newest matches: walking
     * back in time finds `limit` of them among about limit * records / all
     * records, collecting them all reads `all` (the count is cheap, from a
     * covering index, and tables report it when they are cut). */
    long long all = -1;
    if (c->limit > 0 && query_count(db, &c->filter, &all) < 0)
        return fail_db(c, db);
    bool by_time = all > 0 && (double)all * (double)all > (double)c->limit * (double)c->records;
    sqlite3_stmt *s;
    if (query_connections(db, &c->filter, c->limit, by_time, &s) < 0)
        return fail_db(c, db);
    int rc;
    if (c->format == OUT_TABLE) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s%s, newest first", c->window, c->filters_desc[0] ? "; " : "",
                 c->filters_desc);
        if (c->limit)
            snprintf(text + strlen(text), sizeof text - strlen(text), ", at most %ld", c->limit);
        print_wrapped(text);
        putchar('\n');
        rc = print_connections_table(c, db, s, all);
    } else {
        rc = print_connections_data(c, db, s);
    }
    sqlite3_finalize(s);
    return rc;
}
