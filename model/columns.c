/*
 * model/columns.c — the record's column list as data, and each kind's
 * rule for the value a field stands for (see columns.h).
 */
#include "columns.h"

#include <stdint.h>

#define COLUMN_ENTRY(column, kind, field) {#column, kind, offsetof(struct ws_record, field)},

const struct record_column record_columns[RECORD_NCOLUMNS] = {RECORD_COLUMNS(COLUMN_ENTRY)};

static void value_text(struct column_value *v, const char *text)
{
    if (text && *text) {
        v->type = VALUE_TEXT;
        v->text = text;
    }
}

static void value_int(struct column_value *v, long long i)
{
    v->type = VALUE_INT;
    v->i = i;
}

static void value_time(struct column_value *v, ts_us_t t)
{
    if (t != TS_NONE) {
        v->type = VALUE_REAL;
        v->d = (double)t / 1e6;
    }
}

static void value_violations(struct column_value *v, uint32_t bits)
{
    violations_format(bits, v->buf, sizeof v->buf);
    value_text(v, v->buf);
}

void record_column_value(const struct ws_record *r, int k, struct column_value *v)
{
    const struct record_column *c = &record_columns[k];
    const void *f = record_field(r, c);
    v->type = VALUE_NULL;
    v->i = 0;
    v->d = 0;
    v->text = NULL;
    switch (c->kind) {
    case COL_TEXT: value_text(v, *(const char *const *)f); break;
    case COL_ADDR: value_text(v, (const char *)f); break;
    case COL_PORT: value_int(v, *(const uint16_t *)f); break;
    case COL_OPT_INT:
        if (*(const int *)f >= 0)
            value_int(v, *(const int *)f);
        break;
    case COL_BOOL: value_int(v, *(const int *)f ? 1 : 0); break;
    case COL_TIME: value_time(v, *(const ts_us_t *)f); break;
    case COL_COUNT: value_int(v, (long long)*(const uint64_t *)f); break;
    case COL_SIDE: value_text(v, side_name(*(const int *)f)); break;
    case COL_OUTCOME: value_text(v, outcome_name(*(const enum outcome *)f)); break;
    case COL_TERMINATION: value_text(v, termination_name(*(const enum termination *)f)); break;
    case COL_VIOLATIONS: value_violations(v, *(const uint32_t *)f); break;
    }
}
