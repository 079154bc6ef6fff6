/*
 * cli/render/render_internal.h — what the renderer's files share: the
 * UTF-8 LC_CTYPE, and the functions one file calls in another. Not for use
 * outside cli/render/ (render.h is the API).
 *
 * Files and who calls whom (no cycles): table.c (rows and cells, the
 * out_* API) -> data.c, fit.c; fit.c (tables fitted and printed) ->
 * text.c, data.c; data.c (JSON and CSV) and text.c (display width, cuts,
 * wrapping) call nothing of the renderer's.
 */
#ifndef WSSTATS_RENDER_INTERNAL_H
#define WSSTATS_RENDER_INTERNAL_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "render.h"

/* ---- text.c ---------------------------------------------------------------- */

/* A UTF-8 LC_CTYPE for this thread while text is measured. */
struct utf8_ctype {
    locale_t loc, old;
};

void ctype_enter(struct utf8_ctype *u);
void ctype_leave(struct utf8_ctype *u);
/* Columns of s; the UTF-8 LC_CTYPE is in force. */
int width_of(const char *s);
/* s cut to `max` columns: its first `head` columns, the mark, and as much of
 * its end as fits (head = max - 1: the end is left out). New string; the
 * bytes of its head in *hb. */
char *cut_text(const char *s, int total, int max, int head, size_t *hb);

/* ---- data.c ---------------------------------------------------------------- */

const struct out_cell *cell_at(const struct out_table *t, int r, int c);
/* The value as plain text (CSV, and tables without a display string):
 * into buf for numbers, else the cell's own text. */
const char *value_text(const struct out_cell *c, char *buf, size_t len);
void write_csv_header(const struct out_table *t, FILE *out);
/* Row r as one JSON object on a line, or one CSV record. */
void write_row(const struct out_table *t, int r, enum out_format f, FILE *out);

/* ---- fit.c ----------------------------------------------------------------- */

/* The table fitted to OUT_TABLE_WIDTH (unless `wide`) and printed, header
 * first; under the UTF-8 LC_CTYPE. */
void fit_print_table(const struct out_table *t, FILE *out, bool wide);

#endif
