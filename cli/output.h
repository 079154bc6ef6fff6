/*
 * cli/output.h — one result set, printed as an aligned table for people or
 * as JSON lines / CSV for scripts.
 *
 * A cell holds a typed value (for JSON and CSV) and, optionally, a display
 * string for the table (a formatted time, a name, a bar). JSON output is one
 * object per line whose field names are the column names.
 */
#ifndef WSSTATS_OUTPUT_H
#define WSSTATS_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum out_format { OUT_TABLE, OUT_JSON, OUT_CSV };

/* Tables fit OUT_TABLE_WIDTH columns by cutting the cells of the columns
 * that have a max_width (marked '~'), never below OUT_MIN_CUT characters;
 * columns without one (numbers, codes) are never cut. */
#define OUT_TABLE_WIDTH 80
#define OUT_MIN_CUT 12
#define OUT_MAX_COLS 64

struct out_col {
    const char *name;   /* JSON / CSV field name */
    const char *header; /* table header; NULL: column not shown in tables */
    bool right;         /* right-aligned in tables (numbers) */
    int max_width;      /* table cells are cut to this many characters; 0: never cut */
    bool table_only;    /* not a field of JSON / CSV (a bar, say) */
};

enum cell_type { CELL_NULL, CELL_INT, CELL_REAL, CELL_TEXT };

struct out_cell {
    enum cell_type type;
    int64_t i;
    double r;
    char *text;    /* CELL_TEXT value, owned */
    char *display; /* table text, owned; NULL: derived from the value */
};

struct out_table {
    int ncols;
    const struct out_col *cols;
    struct out_cell *cells; /* nrows * ncols */
    int nrows, cap;
};

/* Returns false on bad format names. */
bool out_format_parse(const char *s, enum out_format *f);

void out_init(struct out_table *t, int ncols, const struct out_col *cols);
/* Returns false when out of memory. */
bool out_add_row(struct out_table *t);
/* Setters act on the last row; `display` may be NULL. */
void out_int(struct out_table *t, int col, int64_t v, const char *display);
void out_real(struct out_table *t, int col, double v, const char *display);
void out_text(struct out_table *t, int col, const char *v, const char *display);
void out_null(struct out_table *t, int col, const char *display);

void out_print(const struct out_table *t, enum out_format f, FILE *out);
void out_free(struct out_table *t);

/* Writes s as a JSON string literal (quotes included); invalid UTF-8 bytes
 * become U+FFFD. */
void json_string(FILE *out, const char *s);

#endif
