/*
 * cli/output.c — table, JSON-lines (RFC 8259) and CSV (RFC 4180) rendering.
 */
#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "../dissect/utf8.h"

bool out_format_parse(const char *s, enum out_format *f)
{
    if (strcmp(s, "table") == 0)
        *f = OUT_TABLE;
    else if (strcmp(s, "json") == 0)
        *f = OUT_JSON;
    else if (strcmp(s, "csv") == 0)
        *f = OUT_CSV;
    else
        return false;
    return true;
}

void out_init(struct out_table *t, int ncols, const struct out_col *cols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->cols = cols;
}

bool out_add_row(struct out_table *t)
{
    if (t->nrows == t->cap) {
        int cap = t->cap ? t->cap * 2 : 64;
        struct out_cell *c = realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof *c);
        if (!c)
            return false;
        t->cells = c;
        t->cap = cap;
    }
    memset(&t->cells[(size_t)t->nrows * (size_t)t->ncols], 0, (size_t)t->ncols * sizeof *t->cells);
    t->nrows++;
    return true;
}

static struct out_cell *last_cell(struct out_table *t, int col)
{
    return &t->cells[(size_t)(t->nrows - 1) * (size_t)t->ncols + (size_t)col];
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void out_int(struct out_table *t, int col, int64_t v, const char *display)
{
    struct out_cell *c = last_cell(t, col);
    c->type = CELL_INT;
    c->i = v;
    c->display = dup_or_null(display);
}

void out_real(struct out_table *t, int col, double v, const char *display)
{
    struct out_cell *c = last_cell(t, col);
    c->type = CELL_REAL;
    c->r = v;
    c->display = dup_or_null(display);
}

void out_text(struct out_table *t, int col, const char *v, const char *display)
{
    struct out_cell *c = last_cell(t, col);
    if (!v) {
        out_null(t, col, display);
        return;
    }
    c->type = CELL_TEXT;
    c->text = strdup(v);
    c->display = dup_or_null(display);
}

void out_null(struct out_table *t, int col, const char *display)
{
    struct out_cell *c = last_cell(t, col);
    c->type = CELL_NULL;
    c->display = dup_or_null(display);
}

/* The value as plain text (CSV, and tables without a display string). */
static void value_text(const struct out_cell *c, char *buf, size_t len)
{
    switch (c->type) {
    case CELL_NULL: buf[0] = '\0'; break;
    case CELL_INT: snprintf(buf, len, "%lld", (long long)c->i); break;
    case CELL_REAL: snprintf(buf, len, "%.6f", c->r); break;
    case CELL_TEXT: snprintf(buf, len, "%s", c->text); break;
    }
}

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

static void print_json(const struct out_table *t, FILE *out)
{
    for (int r = 0; r < t->nrows; r++) {
        fputc('{', out);
        bool first = true;
        for (int c = 0; c < t->ncols; c++) {
            const struct out_cell *cell = &t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
            if (t->cols[c].table_only)
                continue;
            if (!first)
                fputc(',', out);
            first = false;
            json_string(out, t->cols[c].name);
            fputc(':', out);
            switch (cell->type) {
            case CELL_NULL: fputs("null", out); break;
            case CELL_INT: fprintf(out, "%lld", (long long)cell->i); break;
            case CELL_REAL: fprintf(out, "%.6f", cell->r); break;
            case CELL_TEXT: json_string(out, cell->text); break;
            }
        }
        fputs("}\n", out);
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

static void print_csv(const struct out_table *t, FILE *out)
{
    char buf[4096];
    for (int r = -1; r < t->nrows; r++) {
        bool first = true;
        for (int c = 0; c < t->ncols; c++) {
            if (t->cols[c].table_only)
                continue;
            if (!first)
                fputc(',', out);
            first = false;
            if (r < 0)
                csv_field(out, t->cols[c].name);
            else {
                value_text(&t->cells[(size_t)r * (size_t)t->ncols + (size_t)c], buf, sizeof buf);
                csv_field(out, buf);
            }
        }
        fputs("\r\n", out);
    }
}

/* Characters (code points) in a UTF-8 string. */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        if (((uint8_t)*s & 0xc0) != 0x80)
            w++;
    return w;
}

/* Cuts s (in place) to at most max characters, marking the cut with '~'. */
static void cut_to_width(char *s, int max)
{
    if (max <= 0 || text_width(s) <= max)
        return;
    int w = 0;
    for (char *p = s; *p; p++) {
        if (((uint8_t)*p & 0xc0) != 0x80 && ++w == max) {
            p[0] = '~';
            p[1] = '\0';
            return;
        }
    }
}

static void cell_display(const struct out_table *t, int r, int c, int max, char *buf, size_t len)
{
    const struct out_cell *cell = &t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
    if (cell->display)
        snprintf(buf, len, "%s", cell->display);
    else if (cell->type == CELL_NULL)
        snprintf(buf, len, "-");
    else
        value_text(cell, buf, len);
    for (char *p = buf; *p; p++) /* keep one row on one line */
        if ((uint8_t)*p < 0x20)
            *p = ' ';
    cut_to_width(buf, max);
}

static void print_padded(FILE *out, const char *s, int width, bool right, bool last)
{
    int pad = width - text_width(s);
    if (right)
        fprintf(out, "%*s%s", pad > 0 ? pad : 0, "", s);
    else if (last)
        fputs(s, out);
    else
        fprintf(out, "%s%*s", s, pad > 0 ? pad : 0, "");
}

/* Prints one table line without trailing blanks. */
static void put_line(FILE *out, char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ')
        line[--n] = '\0';
    fputs(line, out);
    fputc('\n', out);
}

/* Narrows the columns that may be cut (those with a max_width) until the
 * table fits OUT_TABLE_WIDTH, widest first, never below OUT_MIN_CUT. */
static void fit_width(const struct out_table *t, int *width, int last)
{
    for (;;) {
        int total = 0, widest = -1;
        for (int c = 0; c <= last; c++) {
            if (!t->cols[c].header)
                continue;
            total += width[c] + (total ? 2 : 0);
            if (t->cols[c].max_width > 0 && width[c] > OUT_MIN_CUT && (widest < 0 || width[c] > width[widest]))
                widest = c;
        }
        if (total <= OUT_TABLE_WIDTH || widest < 0)
            return;
        int cut = total - OUT_TABLE_WIDTH;
        width[widest] = width[widest] - cut < OUT_MIN_CUT ? OUT_MIN_CUT : width[widest] - cut;
    }
}

static void print_table(const struct out_table *t, FILE *out)
{
    int width[OUT_MAX_COLS] = {0};
    char buf[1024];
    int last = -1;
    for (int c = 0; c < t->ncols && c < OUT_MAX_COLS; c++) {
        if (!t->cols[c].header)
            continue;
        last = c;
        width[c] = text_width(t->cols[c].header);
        for (int r = 0; r < t->nrows; r++) {
            cell_display(t, r, c, t->cols[c].max_width, buf, sizeof buf);
            int w = text_width(buf);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    fit_width(t, width, last);
    for (int r = -1; r < t->nrows; r++) {
        char *line = NULL;
        size_t line_len = 0;
        FILE *lf = open_memstream(&line, &line_len);
        if (!lf)
            return;
        bool first = true;
        for (int c = 0; c <= last; c++) {
            if (!t->cols[c].header)
                continue;
            if (!first)
                fputs("  ", lf);
            first = false;
            if (r < 0)
                snprintf(buf, sizeof buf, "%s", t->cols[c].header);
            else
                cell_display(t, r, c, t->cols[c].max_width > 0 ? width[c] : 0, buf, sizeof buf);
            print_padded(lf, buf, width[c], t->cols[c].right, c == last);
        }
        fclose(lf);
        put_line(out, line);
        free(line);
    }
}

void out_print(const struct out_table *t, enum out_format f, FILE *out)
{
    switch (f) {
    case OUT_TABLE: print_table(t, out); break;
    case OUT_JSON: print_json(t, out); break;
    case OUT_CSV: print_csv(t, out); break;
    }
}

void out_free(struct out_table *t)
{
    for (int i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i].text);
        free(t->cells[i].display);
    }
    free(t->cells);
    memset(t, 0, sizeof *t);
}
