/*
 * query/connections.c — the records themselves, newest first, as model
 * records (struct ws_record) read back by store/record_sql.c.
 *
 * The statement is SELECT *, so that a database of any schema this reads
 * gives the columns it has, in its table's order; the cursor maps each to
 * a record column (or the store's id and capture_id) once, and each row is
 * read into a record by the columns' kinds. A column an older schema lacks
 * is absent from the layout and gets its "none" value in the record. On
 * ClickHouse the same columns come as text rows (query_ch_cursor_next()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/columns.h"
#include "../store/record_sql.h"
#include "query_internal.h"

struct query_rows {
    struct query_db *q;
    sqlite3_stmt *s;
    struct ch_cursor *cur;         /* on ClickHouse, instead of s */
    int id_col, capture_col;       /* statement columns, -1: none */
    int col_of[RECORD_NCOLUMNS];   /* statement column of each record column, -1: none */
    int n;                         /* of layout */
    struct query_column layout[]; /* in the table's order */
};

static int record_column_named(const char *name)
{
    for (int k = 0; k < RECORD_NCOLUMNS; k++)
        if (strcmp(record_columns[k].name, name) == 0)
            return k;
    return -1;
}

/* The layout of s's columns: what each is, in the order they come. */
static void map_columns(struct query_rows *r)
{
    int ncols = sqlite3_column_count(r->s);
    r->id_col = r->capture_col = -1;
    for (int k = 0; k < RECORD_NCOLUMNS; k++)
        r->col_of[k] = -1;
    for (int i = 0; i < ncols; i++) {
        const char *name = sqlite3_column_name(r->s, i);
        int k = record_column_named(name);
        if (k >= 0 && r->col_of[k] < 0)
            r->col_of[k] = i;
        else if (strcmp(name, "id") == 0 && r->id_col < 0)
            r->id_col = i;
        else if (strcmp(name, "capture_id") == 0 && r->capture_col < 0)
            r->capture_col = i;
        else
            continue; /* no column this program writes */
        r->layout[r->n++] = (struct query_column){
            .name = k >= 0 ? record_columns[k].name : name,
            .column = k >= 0 ? k : i == r->id_col ? QUERY_COLUMN_ID : QUERY_COLUMN_CAPTURE,
        };
    }
}

/* The cursor over a prepared SELECT * (s is the cursor's from now on). */
static int rows_of(struct query_db *q, sqlite3_stmt *s, struct query_rows **rows)
{
    struct query_rows *r = calloc(1, sizeof *r + (size_t)sqlite3_column_count(s) * sizeof r->layout[0]);
    if (!r) {
        sqlite3_finalize(s);
        snprintf(q->err, sizeof q->err, "out of memory");
        return -1;
    }
    r->q = q;
    r->s = s;
    map_columns(r);
    *rows = r;
    return 0;
}

static int two_ints(void *arg, int n, const char *const *f)
{
    long long *v = arg;
    v[0] = n > 0 ? query_field_int(f[0], 0) : 0;
    v[1] = n > 1 ? query_field_int(f[1], 0) : 0;
    return 0;
}

/* The matches of f (and of cond, if not empty): how many, and the whole
 * second the newest ended (v[0], v[1]). */
static int ch_count_newest(struct query_db *q, const struct query_filter *f, const char *cond, long long *v)
{
    char where[4096], sql[4400];
    if (query_where_clickhouse(q, f, cond[0] ? cond : NULL, where, sizeof where) < 0)
        return -1;
    snprintf(sql, sizeof sql, "SELECT count(), toUInt32(max(ended)) FROM connections%s", where);
    v[0] = v[1] = 0;
    return query_ch_select(q, sql, two_ints, v);
}

/* ClickHouse 18.16 reads every column of every match to ORDER BY ...
 * LIMIT (no reading in order, and the table is ordered by sensor first):
 * so the newest `limit` matches are looked for in a window that ends with
 * the newest match and widens tenfold from a minute until it holds them
 * (a count each, over the window's days and marks only), and the ORDER BY
 * runs inside it (cond: its condition, or "" for none). A match outside
 * the window ended before every match in it: the same answer. */
static int ch_newest_window(struct query_db *q, const struct query_filter *f, long limit, char *cond, size_t len)
{
    long long all[2], in[2];
    cond[0] = '\0';
    if (ch_count_newest(q, f, cond, all) < 0)
        return -1;
    for (long long w = 60; all[0] > limit && all[1] - w > 0; w *= 10) {
        snprintf(cond, len, "ended >= toDateTime(%lld)", all[1] - w);
        if (ch_count_newest(q, f, cond, in) < 0)
            return -1;
        if (in[0] >= limit)
            return 0;
    }
    cond[0] = '\0';
    return 0;
}

/* On ClickHouse: the columns in the SQLite table's order (id, the record's,
 * capture_id), `sensor` the shipping sensor's name (as --sensor and
 * group-by sensor there); ids are a sensor's own, so the sensor breaks a
 * tie of end time and id. */
static int ch_connections(struct query_db *q, const struct query_filter *f, long limit, struct query_rows **rows)
{
    char cond[64] = "", where[4096], sql[6144], lim[32] = "";
    if (limit > 0 && ch_newest_window(q, f, limit, cond, sizeof cond) < 0)
        return -1;
    if (query_where_clickhouse(q, f, cond[0] ? cond : NULL, where, sizeof where) < 0)
        return -1;
    if (limit > 0)
        snprintf(lim, sizeof lim, " LIMIT %ld", limit);
    snprintf(sql, sizeof sql,
             "SELECT id, " RECORD_COLUMN_LIST "capture_id FROM connections%s ORDER BY ended_at DESC, id DESC, sensor%s",
             where, lim);
    struct query_rows *r = calloc(1, sizeof *r + (RECORD_NCOLUMNS + 2) * sizeof r->layout[0]);
    if (!r) {
        snprintf(q->err, sizeof q->err, "out of memory");
        return -1;
    }
    if (query_ch_cursor_open(q, sql, &r->cur) < 0) {
        free(r);
        return -1;
    }
    r->q = q;
    r->id_col = 0;
    r->layout[r->n++] = (struct query_column){.name = "id", .column = QUERY_COLUMN_ID};
    for (int k = 0; k < RECORD_NCOLUMNS; k++) {
        r->col_of[k] = k + 1;
        r->layout[r->n++] = (struct query_column){.name = record_columns[k].name, .column = k};
    }
    r->capture_col = RECORD_NCOLUMNS + 1;
    r->layout[r->n++] = (struct query_column){.name = "capture_id", .column = QUERY_COLUMN_CAPTURE};
    *rows = r;
    return 0;
}

int query_connections(struct query_db *q, const struct query_filter *f, long limit, bool by_time,
                      struct query_rows **rows)
{
    if (q->ch)
        return ch_connections(q, f, limit, rows);
    sqlite3_stmt *s;
    /* connections_ended_at is in every schema this reads (v1 and v2) */
    if (query_prepare(q->db,
                      by_time ? "SELECT * FROM connections INDEXED BY connections_ended_at"
                              : "SELECT * FROM connections",
                      f, " ORDER BY ended_at DESC, id DESC LIMIT ?1000", &s) < 0)
        return -1;
    sqlite3_bind_int64(s, 1000, limit > 0 ? limit : -1);
    return rows_of(q, s, rows);
}

int query_meta_int(struct query_db *q, const char *key, long long *v)
{
    if (query_sqlite_only(q))
        return -1;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1", -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_ROW ? 1 : 0;
    if (rc)
        *v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc;
}

int query_count_after(struct query_db *q, long long after, long long *n, double *oldest)
{
    if (query_sqlite_only(q))
        return -1;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, "SELECT count(*), coalesce(min(ended_at), 0) FROM connections WHERE id > ?1", -1, &s,
                           NULL) != SQLITE_OK) {
        snprintf(q->err, sizeof q->err, "%s", sqlite3_errmsg(q->db));
        return -1;
    }
    sqlite3_bind_int64(s, 1, after);
    int rc = sqlite3_step(s) == SQLITE_ROW ? 0 : -1;
    *n = rc == 0 ? sqlite3_column_int64(s, 0) : 0;
    *oldest = rc == 0 ? sqlite3_column_double(s, 1) : 0;
    sqlite3_finalize(s);
    return rc;
}

int query_id_span(struct query_db *q, long long after, long long upto, long limit, struct query_id_span *span)
{
    if (query_sqlite_only(q))
        return -1;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db,
                           "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM"
                           " (SELECT id FROM connections WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(q->err, sizeof q->err, "%s", sqlite3_errmsg(q->db));
        return -1;
    }
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, upto);
    sqlite3_bind_int64(s, 3, limit > 0 ? limit : -1);
    int rc = sqlite3_step(s) == SQLITE_ROW ? 0 : -1;
    if (rc == 0)
        *span = (struct query_id_span){sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                                       sqlite3_column_int64(s, 2)};
    else
        snprintf(q->err, sizeof q->err, "%s", sqlite3_errmsg(q->db));
    sqlite3_finalize(s);
    return rc;
}

int query_records_after(struct query_db *q, long long after, long limit, struct query_rows **rows)
{
    if (query_sqlite_only(q))
        return -1;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(q->db, "SELECT * FROM connections WHERE id > ?1 ORDER BY id LIMIT ?2", -1, &s, NULL) !=
        SQLITE_OK) {
        snprintf(q->err, sizeof q->err, "%s", sqlite3_errmsg(q->db));
        return -1;
    }
    sqlite3_bind_int64(s, 1, after);
    sqlite3_bind_int64(s, 2, limit > 0 ? limit : -1);
    return rows_of(q, s, rows);
}

int query_rows_layout(const struct query_rows *r, const struct query_column **layout)
{
    *layout = r->layout;
    return r->n;
}

static int ch_rows_next(struct query_rows *r, struct query_row *row)
{
    const char *const *f;
    int n = query_ch_cursor_next(r->cur, &f);
    if (n <= 0)
        return 0;
    memset(row, 0, sizeof *row);
    row->id = n > r->id_col ? query_field_int(f[r->id_col], 0) : 0;
    row->has_capture = n > r->capture_col && f[r->capture_col];
    row->capture_id = row->has_capture ? query_field_int(f[r->capture_col], 0) : 0;
    int bad = 0;
    if (n != RECORD_NCOLUMNS + 2 || record_sql_read_text(f, n, r->col_of, &row->rec, &bad) < 0) {
        snprintf(r->q->err, sizeof r->q->err, "connection %lld: column %s holds a value this program never writes",
                 row->id, n != RECORD_NCOLUMNS + 2 ? "count" : record_columns[bad].name);
        return -1;
    }
    return 1;
}

int query_rows_next(struct query_rows *r, struct query_row *row)
{
    if (r->cur)
        return ch_rows_next(r, row);
    int rc = sqlite3_step(r->s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return -1;
    memset(row, 0, sizeof *row);
    row->id = r->id_col >= 0 ? sqlite3_column_int64(r->s, r->id_col) : 0;
    row->has_capture = r->capture_col >= 0 && sqlite3_column_type(r->s, r->capture_col) != SQLITE_NULL;
    row->capture_id = row->has_capture ? sqlite3_column_int64(r->s, r->capture_col) : 0;
    int bad = 0;
    if (record_sql_read_mapped(r->s, r->col_of, &row->rec, NULL, 0, &bad) < 0) {
        snprintf(r->q->err, sizeof r->q->err, "connection %lld: column %s holds a value this program never writes",
                 row->id, record_columns[bad].name);
        return -1;
    }
    return 1;
}

void query_rows_close(struct query_rows *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->s);
    query_ch_cursor_close(r->cur);
    free(r);
}
