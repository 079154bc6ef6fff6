/*
 * ship/rows.c — a record as a row of ClickHouse's TabSeparated format:
 * the columns of contrib/clickhouse/schema.sql's connections, from the
 * record's one declaration (model/columns.h) by each value's type.
 *
 * TabSeparated (ClickHouse's "Formats"): fields split by tabs, rows by
 * line feeds, NULL as \N, and in strings a backslash, tab, line feed and
 * carriage return escaped with a backslash. Reals are written with 17
 * significant digits, which read back as the same double: ClickHouse holds
 * the times SQLite holds. TabSeparated rather than JSONEachRow: the
 * faster of the two for ClickHouse to take (bench/README.md).
 */
#include "ship_internal.h"

#include <string.h>

#include "../model/columns.h"

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

void rows_write_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\\\", out); break;
        case '\t': fputs("\\t", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        default: fputc(*s, out);
        }
    }
}

void rows_write(FILE *out, const char *sensor, const struct query_row *row)
{
    rows_write_text(out, sensor);
    fprintf(out, "\t%lld", row->id);
    for (int k = 0; k < RECORD_NCOLUMNS; k++) {
        struct column_value v;
        record_column_value(&row->rec, k, &v);
        fputc('\t', out);
        switch (v.type) {
        case VALUE_INT: fprintf(out, "%lld", v.i); break;
        case VALUE_REAL: fprintf(out, "%.17g", v.d); break;
        case VALUE_NULL: /* the String columns that are not Nullable there: empty */
            if (record_columns[k].kind != COL_ADDR && strcmp(record_columns[k].name, "sensor") != 0)
                fputs("\\N", out);
            break;
        case VALUE_TEXT: rows_write_text(out, v.text); break;
        }
    }
    if (row->has_capture)
        fprintf(out, "\t%lld\n", row->capture_id);
    else
        fputs("\t\\N\n", out);
}

void rows_write_value(FILE *out, const struct query_value *v)
{
    switch (v->type) {
    case QV_INT: fprintf(out, "%lld", v->i); break;
    case QV_REAL: fprintf(out, "%.17g", v->d); break;
    case QV_NULL: fputs("\\N", out); break;
    case QV_TEXT: rows_write_text(out, v->text); break;
    }
}
