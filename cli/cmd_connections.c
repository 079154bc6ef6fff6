/*
 * cli/cmd_connections.c — `connections`: the records, newest first. Tables
 * show what identifies a connection and how it ended; JSON and CSV carry
 * every column of the record (docs/design.md §2) that the database's table
 * has, in its order, each by its kind's rule (model/columns.h), written as
 * they are read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../common/duration.h"
#include "../model/columns.h"

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

static void endpoint_text(const char *ip, int port, char *buf, size_t len)
{
    if (strchr(ip, ':'))
        snprintf(buf, len, "[%s]:%d", ip, port);
    else
        snprintf(buf, len, "%s:%d", *ip ? ip : "?", port);
}

static void add_table_row(struct out_table *t, const struct ws_record *r)
{
    if (!out_add_row(t))
        return;
    char buf[128];
    time_format((double)r->ended_at / 1e6, buf, sizeof buf);
    out_text(t, 0, buf + 5, NULL); /* MM-DD HH:MM:SS */
    endpoint_text(r->client_ip, r->client_port, buf, sizeof buf);
    out_text(t, 1, buf, NULL);
    endpoint_text(r->server_ip, r->server_port, buf, sizeof buf);
    out_text(t, 2, buf, NULL);
    snprintf(buf, sizeof buf, "%d", r->close_code);
    out_text(t, 3, r->close_code >= 0 ? buf : NULL, NULL);
    out_text(t, 4, side_name(r->close_initiator), NULL);
    out_text(t, 5, outcome_name(r->outcome), NULL);
}

/* The table; `all`: how many records the filter selects (-1: all are
 * shown). Returns an exit status. */
static int print_connections_table(struct cli *c, struct query_db *db, struct query_rows *rows, long long all)
{
    struct out_col cols[NCONN];
    for (int i = 0; i < NCONN; i++)
        cols[i] = (struct out_col){conn_table[i].column, conn_table[i].header, conn_table[i].right, 0, false};
    struct out_table t;
    out_init(&t, NCONN, cols);
    start_output(c, &t);
    struct query_row row;
    int step;
    while ((step = query_rows_next(rows, &row)) > 0)
        add_table_row(&t, &row.rec);
    int rc = step == 0 ? 0 : fail_db(c, db);
    if (rc == 0 && t.rows == 0)
        printf("(no connections in this window)\n");
    else if (rc == 0)
        rc = finish_output(&t);
    if (rc == 0 && all > t.rows)
        print_limit_note(c->limit, all, "connections");
    out_free(&t);
    return rc;
}

/* One cell of JSON / CSV: a record column by its kind's rule
 * (model/columns.h), as the store wrote it. */
static void add_record_cell(struct out_table *t, int i, const struct ws_record *r, int k)
{
    struct column_value v;
    record_column_value(r, k, &v);
    switch (v.type) {
    case VALUE_INT: out_int(t, i, v.i, NULL); break;
    case VALUE_REAL: out_real(t, i, v.d, NULL); break;
    case VALUE_NULL: out_null(t, i, NULL); break;
    case VALUE_TEXT: out_text(t, i, v.text, NULL); break;
    }
}

static void add_data_row(struct out_table *t, const struct query_column *layout, int n, const struct query_row *row)
{
    for (int i = 0; i < n; i++) {
        if (layout[i].column == QUERY_COLUMN_ID)
            out_int(t, i, row->id, NULL);
        else if (layout[i].column == QUERY_COLUMN_CAPTURE && row->has_capture)
            out_int(t, i, row->capture_id, NULL);
        else if (layout[i].column == QUERY_COLUMN_CAPTURE)
            out_null(t, i, NULL);
        else
            add_record_cell(t, i, &row->rec, layout[i].column);
    }
}

/* JSON / CSV: every column the table has, in its order, each row written
 * as it is read. Returns an exit status. */
int print_connections_data(struct cli *c, struct query_db *db, struct query_rows *rows)
{
    const struct query_column *layout;
    int n = query_rows_layout(rows, &layout);
    struct out_col *cols = calloc((size_t)n, sizeof *cols);
    if (!cols)
        return fail(1, "out of memory");
    for (int i = 0; i < n; i++)
        cols[i] = (struct out_col){layout[i].name, layout[i].name, false, 0, false};
    struct out_table t;
    out_init(&t, n, cols);
    start_output(c, &t);
    struct query_row row;
    int step;
    while ((step = query_rows_next(rows, &row)) > 0 && out_add_row(&t))
        add_data_row(&t, layout, n, &row);
    int rc = finish_output(&t);
    if (rc == 0 && step < 0)
        rc = fail_db(c, db);
    out_free(&t);
    free(cols);
    return rc;
}

int cmd_connections(struct cli *c, struct query_db *db)
{
    /* With a limit, the count says how to find the newest matches: walking
     * back in time finds `limit` of them among about limit * records / all
     * records, collecting them all reads `all` (the count is cheap, from a
     * covering index, and tables report it when they are cut). */
    long long all = -1;
    if (c->limit > 0 && query_count(db, &c->filter, &all) < 0)
        return fail_db(c, db);
    bool by_time = all > 0 && (double)all * (double)all > (double)c->limit * (double)c->records;
    struct query_rows *rows;
    if (query_connections(db, &c->filter, c->limit, by_time, &rows) < 0)
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
        rc = print_connections_table(c, db, rows, all);
    } else {
        rc = print_connections_data(c, db, rows);
    }
    query_rows_close(rows);
    return rc;
}
