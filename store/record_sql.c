/*
 * store/record_sql.c — a record's columns as SQL values and back (the
 * rules are in record_sql.h): binding takes each column's value from
 * record_column_value() (model/columns.c), reading is one switch over enum
 * column_kind, for SQLite's typed values and for text (ClickHouse's
 * answers).
 */
#include "record_sql.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- binding ------------------------------------------------------------------ */

/* One column by its value's type; text that lives in v (the violations)
 * is copied, the rest is the record's or static (SQLITE_STATIC). */
static void bind_value(sqlite3_stmt *s, int i, const struct column_value *v)
{
    switch (v->type) {
    case VALUE_NULL: sqlite3_bind_null(s, i); break;
    case VALUE_INT: sqlite3_bind_int64(s, i, v->i); break;
    case VALUE_REAL: sqlite3_bind_double(s, i, v->d); break;
    case VALUE_TEXT:
        sqlite3_bind_text(s, i, v->text, -1, v->text == v->buf ? SQLITE_TRANSIENT : SQLITE_STATIC);
        break;
    }
}

void record_sql_bind(sqlite3_stmt *s, int first, const struct ws_record *r)
{
    struct column_value v;
    for (int k = 0; k < RECORD_NCOLUMNS; k++) {
        record_column_value(r, k, &v);
        bind_value(s, first + k, &v);
    }
}

/* ---- reading ------------------------------------------------------------------ */

int record_sql_time(double seconds, ts_us_t *us)
{
    if (!(fabs(seconds) < 9e12)) /* about 285,000 years either way, and not NaN */
        return -1;
    ts_us_t near = llround(seconds * 1e6);
    /* seconds * 1e6 is rounded twice (the division that made it, this
     * product): the exact inverse is near or within two of it */
    for (ts_us_t d = 0; d <= 2; d++) {
        for (int sign = 1; sign >= -1; sign -= 2) {
            ts_us_t c = near + sign * d;
            if ((double)c / 1e6 == seconds) {
                *us = c;
                return 0;
            }
        }
    }
    *us = near; /* not written by record_sql_bind(): the nearest */
    return 0;
}

size_t record_sql_strings_size(sqlite3_stmt *s, int first_col)
{
    size_t need = 0;
    for (int k = 0; k < RECORD_NCOLUMNS; k++)
        if (record_columns[k].kind == COL_TEXT && sqlite3_column_type(s, first_col + k) != SQLITE_NULL)
            need += (size_t)sqlite3_column_bytes(s, first_col + k) + 1;
    return need;
}

/* Where read text goes: a caller's buffer, or nowhere (borrowed). */
struct text_room {
    char *at;
    size_t left;
};

static int read_text(sqlite3_stmt *s, int col, const char **out, struct text_room *room)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    if (!v) {
        *out = NULL;
        return 0;
    }
    if (!room->at) {
        *out = v;
        return 0;
    }
    size_t n = (size_t)sqlite3_column_bytes(s, col) + 1;
    if (n > room->left)
        return -1;
    memcpy(room->at, v, n);
    *out = room->at;
    room->at += n;
    room->left -= n;
    return 0;
}

static int read_addr(sqlite3_stmt *s, int col, char *out)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    size_t n = v ? (size_t)sqlite3_column_bytes(s, col) : 0;
    if (n >= IPADDR_TEXT_MAX)
        return -1;
    memcpy(out, v ? v : "", n);
    out[n] = '\0';
    return 0;
}

static int read_time(sqlite3_stmt *s, int col, ts_us_t *out)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL) {
        *out = TS_NONE;
        return 0;
    }
    return record_sql_time(sqlite3_column_double(s, col), out);
}

/* An enumerated column's name back to its value; NULL is `none`. */
static int read_side(sqlite3_stmt *s, int col, int *out)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    *out = -1;
    return v ? side_parse(v, out) : 0;
}

static int read_termination(sqlite3_stmt *s, int col, enum termination *out)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    *out = TERM_NONE;
    return v ? termination_parse(v, out) : 0;
}

static int read_outcome(sqlite3_stmt *s, int col, enum outcome *out)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    return v ? outcome_parse(v, out) : -1;
}

static int read_violations(sqlite3_stmt *s, int col, uint32_t *out)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    *out = 0;
    return v ? violations_parse(v, out) : 0;
}

static int read_column(sqlite3_stmt *s, int col, const struct record_column *c, void *f, struct text_room *room)
{
    bool null = sqlite3_column_type(s, col) == SQLITE_NULL;
    switch (c->kind) {
    case COL_TEXT: return read_text(s, col, (const char **)f, room);
    case COL_ADDR: return read_addr(s, col, f);
    case COL_PORT: *(uint16_t *)f = (uint16_t)sqlite3_column_int(s, col); return 0;
    case COL_OPT_INT: *(int *)f = null ? -1 : sqlite3_column_int(s, col); return 0;
    case COL_BOOL: *(int *)f = sqlite3_column_int(s, col) ? 1 : 0; return 0;
    case COL_TIME: return read_time(s, col, f);
    case COL_COUNT: *(uint64_t *)f = (uint64_t)sqlite3_column_int64(s, col); return 0;
    case COL_SIDE: return read_side(s, col, f);
    case COL_OUTCOME: return read_outcome(s, col, f);
    case COL_TERMINATION: return read_termination(s, col, f);
    case COL_VIOLATIONS: return read_violations(s, col, f);
    }
    return -1;
}

/* A column the table lacks (an older schema): the value that says "none". */
static void read_absent(const struct record_column *c, void *f)
{
    switch (c->kind) {
    case COL_TEXT: *(const char **)f = NULL; break;
    case COL_ADDR: *(char *)f = '\0'; break;
    case COL_PORT: *(uint16_t *)f = 0; break;
    case COL_OPT_INT: *(int *)f = -1; break;
    case COL_BOOL: *(int *)f = 0; break;
    case COL_TIME: *(ts_us_t *)f = TS_NONE; break;
    case COL_COUNT: *(uint64_t *)f = 0; break;
    case COL_SIDE: *(int *)f = -1; break;
    case COL_OUTCOME: *(enum outcome *)f = OUTCOME_UNFINISHED; break;
    case COL_TERMINATION: *(enum termination *)f = TERM_NONE; break;
    case COL_VIOLATIONS: *(uint32_t *)f = 0; break;
    }
}

int record_sql_read_mapped(sqlite3_stmt *s, const int *col_of, struct ws_record *r, char *strings, size_t cap,
                           int *bad)
{
    struct text_room room = {strings, strings ? cap : 0};
    for (int k = 0; k < RECORD_NCOLUMNS; k++) {
        void *f = record_field_mut(r, &record_columns[k]);
        if (col_of[k] < 0)
            read_absent(&record_columns[k], f);
        else if (read_column(s, col_of[k], &record_columns[k], f, &room) < 0) {
            if (bad)
                *bad = k;
            return -1;
        }
    }
    return 0;
}

int record_sql_read(sqlite3_stmt *s, int first_col, struct ws_record *r, char *strings, size_t cap)
{
    int col_of[RECORD_NCOLUMNS];
    for (int k = 0; k < RECORD_NCOLUMNS; k++)
        col_of[k] = first_col + k;
    return record_sql_read_mapped(s, col_of, r, strings, cap, NULL);
}

char *record_sql_insert_rows(int rows)
{
    sqlite3_str *q = sqlite3_str_new(NULL);
    sqlite3_str_appendall(q, "INSERT INTO connections (" RECORD_COLUMN_LIST "capture_id) VALUES ");
    for (int i = 0; i < rows; i++)
        sqlite3_str_appendall(q, i ? ", (" RECORD_PLACEHOLDERS "?)" : "(" RECORD_PLACEHOLDERS "?)");
    return sqlite3_str_finish(q);
}

/* ---- reading text --------------------------------------------------------------- */

static int text_int(const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

static int text_time(const char *v, ts_us_t *out)
{
    if (!v) {
        *out = TS_NONE;
        return 0;
    }
    char *end;
    double d = strtod(v, &end);
    return end == v || *end ? -1 : record_sql_time(d, out);
}

static int text_addr(const char *v, char *out)
{
    size_t n = v ? strlen(v) : 0;
    if (n >= IPADDR_TEXT_MAX)
        return -1;
    memcpy(out, v ? v : "", n);
    out[n] = '\0';
    return 0;
}

/* One column from its text by the rules of record_sql.h (NULL: SQL NULL). */
static int read_text_column(const char *v, const struct record_column *c, void *f)
{
    long long n = 0;
    switch (c->kind) {
    case COL_TEXT: *(const char **)f = v; return 0;
    case COL_ADDR: return text_addr(v, f);
    case COL_PORT:
        if (!v || text_int(v, 0, 65535, &n) < 0)
            return -1;
        *(uint16_t *)f = (uint16_t)n;
        return 0;
    case COL_OPT_INT:
        *(int *)f = -1;
        if (v && text_int(v, INT_MIN, INT_MAX, &n) < 0)
            return -1;
        *(int *)f = v ? (int)n : -1;
        return 0;
    case COL_BOOL:
        if (!v || text_int(v, 0, 1, &n) < 0)
            return -1;
        *(int *)f = (int)n;
        return 0;
    case COL_TIME: return text_time(v, f);
    case COL_COUNT:
        if (!v || text_int(v, 0, LLONG_MAX, &n) < 0)
            return -1;
        *(uint64_t *)f = (uint64_t)n;
        return 0;
    case COL_SIDE: *(int *)f = -1; return v ? side_parse(v, f) : 0;
    case COL_OUTCOME: return v ? outcome_parse(v, f) : -1;
    case COL_TERMINATION: *(enum termination *)f = TERM_NONE; return v && *v ? termination_parse(v, f) : 0;
    case COL_VIOLATIONS: *(uint32_t *)f = 0; return v ? violations_parse(v, f) : 0;
    }
    return -1;
}

int record_sql_read_text(const char *const *fields, int nfields, const int *col_of, struct ws_record *r, int *bad)
{
    for (int k = 0; k < RECORD_NCOLUMNS; k++) {
        void *f = record_field_mut(r, &record_columns[k]);
        if (col_of[k] < 0)
            read_absent(&record_columns[k], f);
        else if (col_of[k] >= nfields || read_text_column(fields[col_of[k]], &record_columns[k], f) < 0) {
            if (bad)
                *bad = k;
            return -1;
        }
    }
    return 0;
}
