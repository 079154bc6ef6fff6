/*
 * store/record_sql.c — a record's columns as SQL values and back (the
 * rules are in record_sql.h): one switch over enum column_kind each way.
 */
#include "record_sql.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* ---- binding ------------------------------------------------------------------ */

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void bind_int(sqlite3_stmt *s, int i, int64_t v, bool present)
{
    if (present)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static void bind_time(sqlite3_stmt *s, int i, ts_us_t t)
{
    if (t == TS_NONE)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_double(s, i, (double)t / 1e6);
}

static void bind_violations(sqlite3_stmt *s, int i, uint32_t bits)
{
    char text[256];
    violations_format(bits, text, sizeof text);
    if (text[0]) /* a local buffer: SQLite must copy it */
        sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static void bind_column(sqlite3_stmt *s, int i, const struct record_column *c, const void *f)
{
    switch (c->kind) {
    case COL_TEXT: bind_text(s, i, *(const char *const *)f); break;
    case COL_ADDR: bind_text(s, i, (const char *)f); break;
    case COL_PORT: sqlite3_bind_int(s, i, *(const uint16_t *)f); break;
    case COL_OPT_INT: bind_int(s, i, *(const int *)f, *(const int *)f >= 0); break;
    case COL_BOOL: sqlite3_bind_int(s, i, *(const int *)f ? 1 : 0); break;
    case COL_TIME: bind_time(s, i, *(const ts_us_t *)f); break;
    case COL_COUNT: sqlite3_bind_int64(s, i, (int64_t) * (const uint64_t *)f); break;
    case COL_SIDE: bind_text(s, i, side_name(*(const int *)f)); break;
    case COL_OUTCOME: bind_text(s, i, outcome_name(*(const enum outcome *)f)); break;
    case COL_TERMINATION: bind_text(s, i, termination_name(*(const enum termination *)f)); break;
    case COL_VIOLATIONS: bind_violations(s, i, *(const uint32_t *)f); break;
    }
}

void record_sql_bind(sqlite3_stmt *s, int first, const struct ws_record *r)
{
    for (int k = 0; k < RECORD_NCOLUMNS; k++)
        bind_column(s, first + k, &record_columns[k], record_field(r, &record_columns[k]));
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

int record_sql_read(sqlite3_stmt *s, int first_col, struct ws_record *r, char *strings, size_t cap)
{
    struct text_room room = {strings, strings ? cap : 0};
    for (int k = 0; k < RECORD_NCOLUMNS; k++)
        if (read_column(s, first_col + k, &record_columns[k], record_field_mut(r, &record_columns[k]), &room) < 0)
            return -1;
    return 0;
}
