/*
 * ship/rows.c — a record as a row of ClickHouse's TabSeparated format:
 * the columns of contrib/clickhouse/schema.sql's connections, from the
 * record's one declaration (model/columns.h) by each value's type.
 *
 * TabSeparated (ClickHouse's "Formats"): fields split by tabs, rows by
 * line feeds, NULL as \N, and in strings a backslash, tab, line feed and
 * carriage return escaped with a backslash. TabSeparated rather than
 * JSONEachRow: the faster of the two for ClickHouse to take
 * (bench/README.md).
 *
 * The times are the record's microseconds: SQLite holds t / 10^6 as a
 * double, and from 2001 to 2255 (10^15 <= t < 2^53, where t is exact as a
 * double) they are written as that decimal,
 * I.FFFFFF, whose correctly rounded double is the one SQLite holds; two
 * million such times of 2020-2027, parsed by ClickHouse 18.16, all came
 * back bit for bit (bench/README.md). Earlier times (a test capture's,
 * near zero: below 10^4 s, 18.16 read 271 of 1,333,333 such decimals one
 * unit in the last place off), and the side tables' reals, as 17
 * significant digits.
 *
 * The rows are built in a buffer of ours, a span per copy, not through
 * stdio a byte at a time (the shipper's largest cost, bench/README.md).
 */
#include "ship_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../model/columns.h"

#define FIXED_TIME_FROM 1000000000000000LL    /* 10^15 us: 2001-09-09 */
#define FIXED_TIME_UNTIL (1LL << 53)         /* 2255: beyond it, (double)t is not t */

const char *rows_clickhouse_column(const char *name)
{
    return strcmp(name, "sensor") == 0 ? "source" : strcmp(name, "source") == 0 ? "source_path" : name;
}

void rows_insert_sql(char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "INSERT INTO connections (sensor, id");
    for (int k = 0; k < RECORD_NCOLUMNS && used < len; k++)
        used += (size_t)snprintf(buf + used, len - used, ", %s", rows_clickhouse_column(record_columns[k].name));
    if (used < len)
        snprintf(buf + used, len - used, ", capture_id) FORMAT TabSeparated");
}

/* Room for n more bytes (and a NUL); false once an allocation failed. */
static bool reserve(struct rowbuf *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void rowbuf_put(struct rowbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_char(struct rowbuf *b, char c)
{
    rowbuf_put(b, &c, 1);
}

void rowbuf_free(struct rowbuf *b)
{
    free(b->p);
    *b = (struct rowbuf){0};
}

void rows_write_text(struct rowbuf *b, const char *s)
{
    for (;;) {
        size_t span = strcspn(s, "\\\t\n\r");
        rowbuf_put(b, s, span);
        s += span;
        if (!*s)
            return;
        char escaped[2] = {'\\', *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : '\\'};
        rowbuf_put(b, escaped, 2);
        s++;
    }
}

/* v's decimal digits, ending at end; how many. */
static size_t digits(char *end, unsigned long long v)
{
    char *p = end;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    return (size_t)(end - p);
}

static void write_int(struct rowbuf *b, long long v)
{
    char buf[24], *end = buf + sizeof buf;
    size_t n = digits(end, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
    if (v < 0)
        end[-(long)++n] = '-';
    rowbuf_put(b, end - n, n);
}

static void write_real(struct rowbuf *b, double d)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%.17g", d);
    rowbuf_put(b, buf, (size_t)n);
}

/* A time, t microseconds since the epoch, as seconds (see the top). */
static void write_time(struct rowbuf *b, ts_us_t t)
{
    if (t < FIXED_TIME_FROM || t >= FIXED_TIME_UNTIL) {
        write_real(b, (double)t / 1e6);
        return;
    }
    char buf[32], *end = buf + sizeof buf;
    unsigned long long us = (unsigned long long)t % 1000000;
    for (int i = 0; i < 6; i++, us /= 10)
        *--end = (char)('0' + us % 10);
    *--end = '.';
    size_t n = 7 + digits(end, (unsigned long long)t / 1000000);
    rowbuf_put(b, buf + sizeof buf - n, n);
}

static void write_column(struct rowbuf *b, const struct query_row *row, int k)
{
    const struct record_column *c = &record_columns[k];
    struct column_value v;
    if (c->kind == COL_TIME && *(const ts_us_t *)record_field(&row->rec, c) != TS_NONE) {
        write_time(b, *(const ts_us_t *)record_field(&row->rec, c));
        return;
    }
    record_column_value(&row->rec, k, &v);
    switch (v.type) {
    case VALUE_INT: write_int(b, v.i); break;
    case VALUE_REAL: write_real(b, v.d); break;
    case VALUE_NULL: /* the String columns that are not Nullable there: empty */
        if (c->kind != COL_ADDR && strcmp(c->name, "sensor") != 0)
            rowbuf_put(b, "\\N", 2);
        break;
    case VALUE_TEXT: rows_write_text(b, v.text); break;
    }
}

void rows_write(struct rowbuf *b, const char *sensor, const struct query_row *row)
{
    rows_write_text(b, sensor);
    put_char(b, '\t');
    write_int(b, row->id);
    for (int k = 0; k < RECORD_NCOLUMNS; k++) {
        put_char(b, '\t');
        write_column(b, row, k);
    }
    put_char(b, '\t');
    if (row->has_capture)
        write_int(b, row->capture_id);
    else
        rowbuf_put(b, "\\N", 2);
    put_char(b, '\n');
}

void rows_write_value(struct rowbuf *b, const struct query_value *v)
{
    switch (v->type) {
    case QV_INT: write_int(b, v->i); break;
    case QV_REAL: write_real(b, v->d); break;
    case QV_NULL: rowbuf_put(b, "\\N", 2); break;
    case QV_TEXT: rows_write_text(b, v->text); break;
    }
}

void rows_write_uint(struct rowbuf *b, unsigned long long v)
{
    char buf[24], *end = buf + sizeof buf;
    size_t n = digits(end, v);
    rowbuf_put(b, end - n, n);
}
