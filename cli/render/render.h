/*
 * cli/render/render.h — one result set, printed as an aligned table for
 * people or as JSON lines / CSV for scripts: the CLI's rendering, used by
 * every command (the files of cli/render/ are described in
 * render_internal.h).
 *
 * A cell holds a typed value (for JSON and CSV) and, optionally, a display
 * string for the table (a formatted time, a name, a bar). JSON output is one
 * object per line whose field names are the column names.
 *
 * After out_start(), JSON and CSV rows are written as they come (each when
 * the next one starts, the last by out_finish()), so that memory stays flat
 * however many rows a query returns; a table keeps its rows until
 * out_finish(), for it aligns its columns to the widest cell. out_print()
 * prints every row held at once (what out_finish() does for tables).
 *
 * Widths are terminal columns (a CJK character or an emoji takes two, a
 * combining mark none), measured under a UTF-8 LC_CTYPE whatever the
 * environment's locale; an invalid byte counts as one column.
 */
#ifndef WSSTATS_RENDER_H
#define WSSTATS_RENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum out_format { OUT_TABLE, OUT_JSON, OUT_CSV };

/* Tables fit OUT_TABLE_WIDTH columns by cutting the cells of the columns
 * that have a max_width, the widest first, never below OUT_MIN_CUT columns;
 * columns without one (numbers, codes, addresses) are never cut. A cut
 * shows OUT_CUT_MARK where text was left out. */
#define OUT_TABLE_WIDTH 80
#define OUT_MIN_CUT 12
#define OUT_MAX_COLS 64
#define OUT_CUT_MARK "\u2026" /* … */

struct out_col {
    const char *name;   /* JSON / CSV field name */
    const char *header; /* table header; NULL: column not shown in tables */
    bool right;         /* right-aligned in tables (numbers) */
    /* Table cells wider than |max_width| columns are cut: > 0 in the middle,
     * keeping head and tail ("Mozilla/5.0 (Win…) Chrome/120.0"), where the
     * cut is moved when that keeps more different values apart; < 0 at the
     * end (a list whose first items matter most); 0: never cut. */
    int max_width;
    bool table_only; /* not a field of JSON / CSV (a bar, say) */
};

enum cell_type { CELL_NULL, CELL_INT, CELL_REAL, CELL_TEXT, CELL_JSON };

struct out_cell {
    enum cell_type type;
    int64_t i;
    double r;
    char *text;    /* CELL_TEXT value; CELL_JSON: its CSV (and table) text; owned */
    char *json;    /* CELL_JSON: the JSON value, written as it is; owned */
    char *display; /* table text, owned; NULL: derived from the value */
};

struct out_table {
    int ncols;
    const struct out_col *cols;
    struct out_cell *cells; /* nrows * ncols */
    int nrows, cap;
    long long rows; /* rows added in all, those already written included */
    /* set by out_start() */
    FILE *out;
    enum out_format format;
    bool started, wide;
    bool header_done; /* CSV: the header line is out */
    bool failed;      /* a row could not be added (out of memory) */
};

/* Returns false on bad format names. */
bool out_format_parse(const char *s, enum out_format *f);

void out_init(struct out_table *t, int ncols, const struct out_col *cols);
/* Where and how out_finish() prints; JSON and CSV rows are written as they
 * come from here on. `wide`: tables cut nothing and may exceed 80 columns. */
void out_start(struct out_table *t, enum out_format f, FILE *out, bool wide);
/* Returns false when out of memory: the row is lost, the setters ignore it
 * and out_finish() says so. */
bool out_add_row(struct out_table *t);
/* Setters act on the last row; `display` may be NULL. */
void out_int(struct out_table *t, int col, int64_t v, const char *display);
void out_real(struct out_table *t, int col, double v, const char *display);
void out_text(struct out_table *t, int col, const char *v, const char *display);
void out_null(struct out_table *t, int col, const char *display);
/* A value JSON gets as the fragment `json` (an array, say) and CSV and
 * tables as `text`. */
void out_json(struct out_table *t, int col, const char *json, const char *text, const char *display);

/* Prints what is pending: the table, or the last JSON / CSV row (and the CSV
 * header when there was none). Returns false if a row was lost. */
bool out_finish(struct out_table *t);
void out_print(const struct out_table *t, enum out_format f, FILE *out);
void out_free(struct out_table *t);

/* Writes s as a JSON string literal (quotes included); invalid UTF-8 bytes
 * become U+FFFD. */
void json_string(FILE *out, const char *s);

/* The terminal columns s takes. */
int out_width(const char *s);
/* Prints text wrapped at `width` columns, continuation lines indented by
 * two; a word longer than a line is broken where the line ends. */
void out_wrap(FILE *out, const char *text, int width);

#endif
