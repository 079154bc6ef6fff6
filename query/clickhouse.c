/*
 * query/clickhouse.c — the reports' other back-end: the fleet's records in
 * ClickHouse (contrib/clickhouse/schema.sql), asked through remote/ over
 * its HTTP interface, the answers read as TabSeparated rows.
 *
 * The reports are computed there (GROUP BY), from the same description as
 * on SQLite: the filter is where.c's, written in ClickHouse's dialect, and
 * a count per (bucket, code) comes back as rows that codes.c counts and
 * orders exactly as it does SQLite's, so that the same records give the
 * same output. On ClickHouse `sensor` is the fleet's name of the sensor
 * that shipped a record (--sensor-name); the record's own interface or
 * file is `source` there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/countmap.h"
#include "../remote/clickhouse.h"
#include "query_internal.h"

#define CH_MAX_FIELDS 64

struct query_db *query_open_clickhouse(const char *url, const char *user, const char *password, char *err,
                                       size_t errlen)
{
    struct query_db *q = calloc(1, sizeof *q);
    struct ch *c = calloc(1, sizeof *c);
    if (!q || !c) {
        free(q);
        free(c);
        snprintf(err, errlen, "%s: out of memory", url);
        return NULL;
    }
    struct ch_target t = {.url = url, .user = user, .password = password};
    if (ch_open(c, &t, err, errlen) < 0) {
        ch_close(c);
        free(c);
        free(q);
        return NULL;
    }
    q->ch = c;
    return q;
}

void query_ch_close(struct query_db *q)
{
    ch_close(q->ch);
    free(q->ch);
}

/* One TabSeparated field unescaped in place (ClickHouse's escapes: \b \f
 * \r \n \t \0 \' \\ and any other escaped byte as itself); NULL for \N. */
static char *unescape_field(char *s)
{
    if (strcmp(s, "\\N") == 0)
        return NULL;
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '\\' || !r[1]) {
            *w++ = *r;
            continue;
        }
        switch (*++r) {
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'r': *w++ = '\r'; break;
        case 'n': *w++ = '\n'; break;
        case 't': *w++ = '\t'; break;
        case '0': *w++ = '\0'; break;
        default: *w++ = *r;
        }
    }
    *w = '\0';
    return s;
}

/* An answer being read row by row. */
struct ch_cursor {
    struct ch_answer a;
    char *next, *end; /* the next row; the end of the text */
    const char *fields[CH_MAX_FIELDS];
};

int query_ch_cursor_open(struct query_db *q, const char *sql, struct ch_cursor **cursor)
{
    size_t n = strlen(sql);
    char *body = malloc(n + 32);
    struct ch_cursor *c = calloc(1, sizeof *c);
    if (!body || !c) {
        free(body);
        free(c);
        snprintf(q->err, sizeof q->err, "out of memory");
        return -1;
    }
    snprintf(body, n + 32, "%s FORMAT TabSeparated", sql);
    enum ch_result rc = ch_post(q->ch, NULL, NULL, body, strlen(body), &c->a, q->err, sizeof q->err);
    free(body);
    if (rc != CH_OK) {
        free(c->a.text);
        free(c);
        return -1;
    }
    c->next = c->a.text;
    c->end = c->a.text ? c->a.text + strlen(c->a.text) : NULL;
    q->err[0] = '\0';
    *cursor = c;
    return 0;
}

/* One TabSeparated row cut into its fields, unescaped in place. */
static int split_row(char *line, const char **fields)
{
    int nf = 0;
    for (char *field = line, *tab; field && nf < CH_MAX_FIELDS; field = tab) {
        tab = strchr(field, '\t');
        if (tab)
            *tab++ = '\0';
        fields[nf++] = unescape_field(field);
    }
    return nf;
}

int query_ch_cursor_next(struct ch_cursor *c, const char *const **fields)
{
    if (!c->next || c->next >= c->end) /* every row ends with a newline */
        return 0;
    char *line = c->next, *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    c->next = nl ? nl + 1 : c->end;
    int nf = split_row(line, c->fields);
    *fields = c->fields;
    return nf;
}

void query_ch_cursor_close(struct ch_cursor *c)
{
    if (!c)
        return;
    free(c->a.text);
    free(c);
}

struct select_rows {
    ch_row_fn fn;
    void *arg;
};

static int select_line(void *arg, char *line)
{
    struct select_rows *r = arg;
    const char *fields[CH_MAX_FIELDS];
    int nf = split_row(line, fields);
    return r->fn(r->arg, nf, fields);
}

int query_ch_select(struct query_db *q, const char *sql, ch_row_fn fn, void *arg)
{
    size_t n = strlen(sql);
    char *body = malloc(n + 32);
    if (!body) {
        snprintf(q->err, sizeof q->err, "out of memory");
        return -1;
    }
    snprintf(body, n + 32, "%s FORMAT TabSeparated", sql);
    struct select_rows r = {fn, arg};
    int stopped = 0;
    enum ch_result rc = ch_select(q->ch, body, select_line, &r, &stopped, q->err, sizeof q->err);
    free(body);
    if (rc != CH_OK)
        return -1;
    if (stopped < 0) {
        snprintf(q->err, sizeof q->err, "ClickHouse's answer has a row this wsstats cannot use (or memory ran out)");
        return -1;
    }
    q->err[0] = '\0';
    return 0;
}

/* ---- the span and the count --------------------------------------------- */

long long query_field_int(const char *field, long long null_value)
{
    return field ? strtoll(field, NULL, 10) : null_value;
}

double query_field_real(const char *field)
{
    return field ? strtod(field, NULL) : 0;
}

static int span_row(void *arg, int n, const char *const *f)
{
    struct query_span *span = arg;
    if (n < 4)
        return -1;
    span->live = query_field_int(f[0], 0) != 0;
    span->count = query_field_int(f[1], 0);
    span->first = query_field_real(f[2]);
    span->last = query_field_real(f[3]);
    return 0;
}

int query_ch_span(struct query_db *q, struct query_span *span)
{
    memset(span, 0, sizeof *span);
    return query_ch_select(q,
                           "SELECT (SELECT count() FROM captures WHERE kind = 'live') > 0, count(), min(ended_at),"
                           " max(ended_at) FROM connections",
                           span_row, span);
}

static int count_row(void *arg, int n, const char *const *f)
{
    *(long long *)arg = n > 0 ? query_field_int(f[0], 0) : 0;
    return 0;
}

int query_ch_count(struct query_db *q, const struct query_filter *f, long long *n)
{
    char where[4096], sql[4400];
    if (query_where_clickhouse(q, f, NULL, where, sizeof where) < 0)
        return -1;
    snprintf(sql, sizeof sql, "SELECT count() FROM connections%s", where);
    *n = 0;
    return query_ch_select(q, sql, count_row, n);
}

/* ---- counts per (bucket, code) ------------------------------------------ */

struct code_rows {
    struct countmap *m;
};

static int code_row(void *arg, int n, const char *const *f)
{
    struct code_rows *r = arg;
    if (n < 4)
        return -1;
    struct code_key k;
    memset(&k, 0, sizeof k); /* keys compare as bytes, padding included */
    k.bucket = query_field_int(f[0], 0);
    k.code = (int)query_field_int(f[1], -1);
    k.why = k.code < 0 ? query_outcome_index((const unsigned char *)(f[2] ? f[2] : "")) : -1;
    return countmap_add(r->m, &k, sizeof k, query_field_int(f[3], 0)) < 0 ? -1 : 0;
}

int query_ch_count_codes(struct query_db *q, const struct query_filter *f, double bucket, struct countmap *m)
{
    char where[4096], sql[4600], time[96];
    if (query_where_clickhouse(q, f, NULL, where, sizeof where) < 0)
        return -1;
    /* the bucket as codes.c's bucket_of(): the quotient toward zero */
    if (bucket > 0)
        snprintf(time, sizeof time, "toInt64(ended_at / %.17g)", bucket);
    else
        snprintf(time, sizeof time, "0");
    /* the outcome matters only without a code: grouped by it only then */
    snprintf(sql, sizeof sql,
             "SELECT %s AS b, coalesce(close_code, -1) AS c, if(c < 0, outcome, '') AS o, count()"
             " FROM connections%s GROUP BY b, c, o",
             time, where);
    struct code_rows r = {m};
    return query_ch_select(q, sql, code_row, &r);
}
