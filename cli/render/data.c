/*
 * cli/render/data.c — the forms for scripts: a row as one JSON object on
 * a line (JSON lines, RFC 8259 values) or as one CSV record (RFC 4180:
 * CRLF line ends, fields with a comma, quote or line break quoted, quotes
 * doubled), the CSV header, and a cell's value as plain text (see
 * render.h). Calls nothing else of the renderer's.
 */
#include <stdio.h>
#include <string.h>

#include "../../common/utf8.h"
#include "render_internal.h"

/* ---- JSON and CSV ----------------------------------------------------------- */

void json_string(FILE *out, const char *s)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t len = strlen(s);
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        uint8_t ch = p[i];
        if (ch == '"' || ch == '\\') {
            fprintf(out, "\\%c", ch);
            i++;
        } else if (ch < 0x20 || ch == 0x7f) {
            fprintf(out, "\\u%04x", ch);
            i++;
        } else if (ch < 0x80) {
            fputc(ch, out);
            i++;
        } else {
            size_t n = utf8_sequence(p + i, len - i);
            if (n == 0) {
                fputs("\\ufffd", out);
                i++;
            } else {
                fwrite(p + i, 1, n, out);
                i += n;
            }
        }
    }
    fputc('"', out);
}

const struct out_cell *cell_at(const struct out_table *t, int r, int c)
{
    return &t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
}

static void write_json_value(FILE *out, const struct out_cell *cell)
{
    switch (cell->type) {
    case CELL_NULL: fputs("null", out); break;
    case CELL_INT: fprintf(out, "%lld", (long long)cell->i); break;
    case CELL_REAL: fprintf(out, "%.6f", cell->r); break;
    case CELL_TEXT: json_string(out, cell->text ? cell->text : ""); break;
    case CELL_JSON: fputs(cell->json ? cell->json : "null", out); break;
    }
}

static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* The value as plain text (CSV, and tables without a display string):
 * into buf for numbers, else the cell's own text. */
const char *value_text(const struct out_cell *c, char *buf, size_t len)
{
    switch (c->type) {
    case CELL_INT: snprintf(buf, len, "%lld", (long long)c->i); return buf;
    case CELL_REAL: snprintf(buf, len, "%.6f", c->r); return buf;
    case CELL_TEXT:
    case CELL_JSON: return c->text ? c->text : "";
    case CELL_NULL: break;
    }
    return "";
}

void write_csv_header(const struct out_table *t, FILE *out)
{
    bool first = true;
    for (int c = 0; c < t->ncols; c++) {
        if (t->cols[c].table_only)
            continue;
        if (!first)
            fputc(',', out);
        first = false;
        csv_field(out, t->cols[c].name);
    }
    fputs("\r\n", out);
}

/* Row r as one JSON object on a line, or one CSV record. */
void write_row(const struct out_table *t, int r, enum out_format f, FILE *out)
{
    char buf[64];
    bool first = true;
    if (f == OUT_JSON)
        fputc('{', out);
    for (int c = 0; c < t->ncols; c++) {
        if (t->cols[c].table_only)
            continue;
        if (!first)
            fputc(',', out);
        first = false;
        const struct out_cell *cell = cell_at(t, r, c);
        if (f == OUT_JSON) {
            json_string(out, t->cols[c].name);
            fputc(':', out);
            write_json_value(out, cell);
        } else {
            csv_field(out, value_text(cell, buf, sizeof buf));
        }
    }
    fputs(f == OUT_JSON ? "}\n" : "\r\n", out);
}
