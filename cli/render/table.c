/*
 * cli/render/table.c — a result set's rows and typed cells (the out_*
 * API of render.h): parsing the format's name, adding rows and setting
 * cells, streaming JSON and CSV rows as they come, printing what is held,
 * and freeing it.
 *
 * Calls data.c (JSON and CSV rows, the CSV header) and fit.c (tables).
 */
#include <stdlib.h>
#include <string.h>

#include "render_internal.h"

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

/* ---- rows ------------------------------------------------------------------- */

void out_init(struct out_table *t, int ncols, const struct out_col *cols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->cols = cols;
    t->out = stdout;
}

void out_start(struct out_table *t, enum out_format f, FILE *out, bool wide)
{
    t->format = f;
    t->out = out;
    t->wide = wide;
    t->started = true;
}

static void free_cells(struct out_cell *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].text);
        free(c[i].json);
        free(c[i].display);
    }
}

/* Streaming JSON / CSV: the row held is written and dropped. */
static void flush_row(struct out_table *t)
{
    if (t->nrows == 0)
        return;
    if (t->format == OUT_CSV && !t->header_done) {
        write_csv_header(t, t->out);
        t->header_done = true;
    }
    write_row(t, 0, t->format, t->out);
    free_cells(t->cells, t->ncols);
    t->nrows = 0;
}

static bool streaming(const struct out_table *t)
{
    return t->started && t->format != OUT_TABLE;
}

bool out_add_row(struct out_table *t)
{
    if (streaming(t))
        flush_row(t);
    if (t->nrows == t->cap) {
        int cap = t->cap ? t->cap * 2 : streaming(t) ? 1 : 64;
        struct out_cell *c = cap > t->cap ? realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof *c) : NULL;
        if (!c) {
            t->failed = true;
            return false;
        }
        t->cells = c;
        t->cap = cap;
    }
    memset(&t->cells[(size_t)t->nrows * (size_t)t->ncols], 0, (size_t)t->ncols * sizeof *t->cells);
    t->nrows++;
    t->rows++;
    return true;
}

/* The cell `col` of the last row, or NULL if adding that row failed. */
static struct out_cell *last_cell(struct out_table *t, int col)
{
    if (t->failed || t->nrows == 0 || col < 0 || col >= t->ncols)
        return NULL;
    struct out_cell *c = &t->cells[(size_t)(t->nrows - 1) * (size_t)t->ncols + (size_t)col];
    free(c->text);
    free(c->json);
    free(c->display);
    memset(c, 0, sizeof *c);
    return c;
}

/* A copy of s (NULL stays NULL); running out of memory marks the table. */
static char *dup_or_null(struct out_table *t, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        t->failed = true;
    return d;
}

/* The last row's cell `col`, emptied and given its type and display text;
 * NULL if adding that row failed. */
static struct out_cell *set_cell(struct out_table *t, int col, enum cell_type type, const char *display)
{
    struct out_cell *c = last_cell(t, col);
    if (c) {
        c->type = type;
        c->display = dup_or_null(t, display);
    }
    return c;
}

void out_int(struct out_table *t, int col, int64_t v, const char *display)
{
    struct out_cell *c = set_cell(t, col, CELL_INT, display);
    if (c)
        c->i = v;
}

void out_real(struct out_table *t, int col, double v, const char *display)
{
    struct out_cell *c = set_cell(t, col, CELL_REAL, display);
    if (c)
        c->r = v;
}

void out_text(struct out_table *t, int col, const char *v, const char *display)
{
    struct out_cell *c = set_cell(t, col, v ? CELL_TEXT : CELL_NULL, display);
    if (c && v)
        c->text = dup_or_null(t, v);
}

void out_null(struct out_table *t, int col, const char *display)
{
    set_cell(t, col, CELL_NULL, display);
}

void out_json(struct out_table *t, int col, const char *json, const char *text, const char *display)
{
    struct out_cell *c = set_cell(t, col, CELL_JSON, display);
    if (c) {
        c->json = dup_or_null(t, json);
        c->text = dup_or_null(t, text);
    }
}

/* ---- printing ---------------------------------------------------------------- */

void out_print(const struct out_table *t, enum out_format f, FILE *out)
{
    if (f == OUT_TABLE) {
        fit_print_table(t, out, t->wide);
        return;
    }
    if (f == OUT_CSV)
        write_csv_header(t, out);
    for (int r = 0; r < t->nrows; r++)
        write_row(t, r, f, out);
}

bool out_finish(struct out_table *t)
{
    if (!streaming(t)) {
        out_print(t, t->format, t->out);
        return !t->failed;
    }
    flush_row(t);
    if (t->format == OUT_CSV && !t->header_done) {
        write_csv_header(t, t->out);
        t->header_done = true;
    }
    return !t->failed;
}

void out_free(struct out_table *t)
{
    if (t->cells)
        free_cells(t->cells, t->nrows * t->ncols);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
