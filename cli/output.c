/*
 * cli/output.c — table, JSON-lines (RFC 8259) and CSV (RFC 4180) rendering
 * (see output.h).
 *
 * Table widths are display columns: characters are decoded with mbrtowc()
 * and measured with wcwidth() under a UTF-8 LC_CTYPE made for the purpose
 * (newlocale/uselocale, so the environment's locale does not matter).
 */
#define _XOPEN_SOURCE 700 /* wcwidth() */
#include "output.h"

#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "../common/utf8.h"

/* Searching for the cut that keeps values apart costs (cells x widths x
 * log cells) comparisons: beyond this many cells x widths it is skipped. */
#define CUT_SEARCH_BUDGET 400000

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

/* ---- display width ------------------------------------------------------- */

/* A UTF-8 LC_CTYPE for this thread while text is measured. */
struct utf8_ctype {
    locale_t loc, old;
};

static void ctype_enter(struct utf8_ctype *u)
{
    static const char *const names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};
    u->loc = (locale_t)0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !u->loc; i++)
        u->loc = newlocale(LC_CTYPE_MASK, names[i], (locale_t)0);
    u->old = u->loc ? uselocale(u->loc) : (locale_t)0;
}

static void ctype_leave(struct utf8_ctype *u)
{
    if (!u->loc)
        return;
    uselocale(u->old);
    freelocale(u->loc);
}

/* The character at s (not at its end): returns its length in bytes and sets
 * its width in columns. An invalid or cut-off sequence is one byte of width
 * one; so is anything wcwidth() does not know. */
static size_t next_char(const char *s, int *width)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    wchar_t wc;
    size_t n = mbrtowc(&wc, s, strnlen(s, MB_LEN_MAX), &st);
    if (n == 0 || n == (size_t)-1 || n == (size_t)-2) {
        *width = 1;
        return 1;
    }
    int w = wcwidth(wc);
    *width = w < 0 ? 1 : w;
    return n;
}

/* Columns of s; the UTF-8 LC_CTYPE is in force. */
static int width_of(const char *s)
{
    int total = 0, w;
    while (*s) {
        s += next_char(s, &w);
        total += w;
    }
    return total;
}

int out_width(const char *s)
{
    struct utf8_ctype u;
    ctype_enter(&u);
    int w = width_of(s);
    ctype_leave(&u);
    return w;
}

/* Bytes of the longest head of s at most `max` columns wide; its width in *w. */
static size_t head_bytes(const char *s, int max, int *w)
{
    size_t at = 0;
    int used = 0, cw;
    while (s[at]) {
        size_t n = next_char(s + at, &cw);
        if (used + cw > max)
            break;
        used += cw;
        at += n;
    }
    *w = used;
    return at;
}

/* Where the shortest tail of s starting at or after byte `from` and at most
 * `max` columns wide begins; `total` is the width of s. */
static size_t tail_start(const char *s, size_t from, int total, int max)
{
    size_t at = 0;
    int used = 0, cw;
    while (s[at] && (at < from || total - used > max)) {
        at += next_char(s + at, &cw);
        used += cw;
    }
    return at;
}

/* s cut to `max` columns: its first `head` columns, the mark, and as much of
 * its end as fits (head = max - 1: the end is left out). New string; the
 * bytes of its head in *hb. */
static char *cut_text(const char *s, int total, int max, int head, size_t *hb)
{
    int hw;
    *hb = head_bytes(s, head, &hw);
    size_t tb = tail_start(s, *hb, total, max - 1 - hw);
    size_t tlen = strlen(s + tb), mark = strlen(OUT_CUT_MARK);
    char *out = malloc(*hb + mark + tlen + 1);
    if (!out)
        return NULL;
    memcpy(out, s, *hb);
    memcpy(out + *hb, OUT_CUT_MARK, mark);
    memcpy(out + *hb + mark, s + tb, tlen + 1);
    return out;
}

/* Wraps text at `width` columns, two spaces before continuation lines;
 * breaks a word that is longer than a line where the line ends. */
static void wrap(FILE *out, const char *text, int width)
{
    int col = 0, cw;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, " ");
        char *word = strndup(p, len);
        int ww = word ? width_of(word) : (int)len;
        free(word);
        if (col > 0 && col + 1 + ww > width && ww <= width - 2) {
            fputs("\n  ", out);
            col = 2;
        } else if (col > 0) {
            fputc(' ', out);
            col++;
        }
        for (size_t i = 0; i < len;) { /* a word too long for any line: broken */
            size_t n = next_char(p + i, &cw);
            if (col + cw > width && col > 2) {
                fputs("\n  ", out);
                col = 2;
            }
            fwrite(p + i, 1, n, out);
            col += cw;
            i += n;
        }
        p += len;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

void out_wrap(FILE *out, const char *text, int width)
{
    struct utf8_ctype u;
    ctype_enter(&u);
    wrap(out, text, width);
    ctype_leave(&u);
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

static void write_row(const struct out_table *t, int r, enum out_format f, FILE *out);
static void write_csv_header(const struct out_table *t, FILE *out);

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

static const struct out_cell *cell_at(const struct out_table *t, int r, int c)
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
static const char *value_text(const struct out_cell *c, char *buf, size_t len)
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

static void write_csv_header(const struct out_table *t, FILE *out)
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
static void write_row(const struct out_table *t, int r, enum out_format f, FILE *out)
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

/* ---- tables ------------------------------------------------------------------ */

/* The cells of a table as shown: text (control characters flattened) and
 * width per shown column, and each column's width. */
struct grid {
    const struct out_table *t;
    int cols[OUT_MAX_COLS]; /* the shown columns' indexes */
    int ncols;
    char **text; /* nrows x ncols, row-major */
    int *width;
    int colw[OUT_MAX_COLS];
};

static char **grid_text(struct grid *g, int r, int k)
{
    return &g->text[(size_t)r * (size_t)g->ncols + (size_t)k];
}

static int *grid_width(struct grid *g, int r, int k)
{
    return &g->width[(size_t)r * (size_t)g->ncols + (size_t)k];
}

/* What a cell shows: its display string, "-" for NULL, else its value. */
static char *cell_string(const struct out_cell *cell)
{
    char buf[64];
    const char *s = cell->display ? cell->display : cell->type == CELL_NULL ? "-" : value_text(cell, buf, sizeof buf);
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++) /* keep one row on one line */
            if ((uint8_t)*p < 0x20)
                *p = ' ';
    return d;
}

static bool grid_fill(struct grid *g, const struct out_table *t)
{
    memset(g, 0, sizeof *g);
    g->t = t;
    for (int c = 0; c < t->ncols && g->ncols < OUT_MAX_COLS; c++)
        if (t->cols[c].header)
            g->cols[g->ncols++] = c;
    size_t n = (size_t)t->nrows * (size_t)g->ncols;
    g->text = calloc(n ? n : 1, sizeof *g->text);
    g->width = calloc(n ? n : 1, sizeof *g->width);
    if (!g->text || !g->width)
        return false;
    for (int k = 0; k < g->ncols; k++)
        g->colw[k] = width_of(t->cols[g->cols[k]].header);
    for (int r = 0; r < t->nrows; r++) {
        for (int k = 0; k < g->ncols; k++) {
            char *s = cell_string(cell_at(t, r, g->cols[k]));
            if (!s)
                return false;
            *grid_text(g, r, k) = s;
            int w = *grid_width(g, r, k) = width_of(s);
            g->colw[k] = w > g->colw[k] ? w : g->colw[k];
        }
    }
    return true;
}

static void grid_free(struct grid *g)
{
    size_t n = (size_t)g->t->nrows * (size_t)g->ncols;
    for (size_t i = 0; g->text && i < n; i++)
        free(g->text[i]);
    free(g->text);
    free(g->width);
}

/* A column's narrowest cut when the table is fitted: OUT_MIN_CUT, or its
 * header's width if that is more. */
static int min_cut(const struct grid *g, int k)
{
    int hw = width_of(g->t->cols[g->cols[k]].header);
    return hw > OUT_MIN_CUT ? hw : OUT_MIN_CUT;
}

/* Caps the columns that may be cut at their max_width (or their header's
 * width), then narrows them until the table fits OUT_TABLE_WIDTH, widest
 * first, never below min_cut(). */
static void fit_width(struct grid *g)
{
    for (int k = 0; k < g->ncols; k++) {
        int cap = abs(g->t->cols[g->cols[k]].max_width), hw = width_of(g->t->cols[g->cols[k]].header);
        cap = cap > hw ? cap : hw;
        if (g->t->cols[g->cols[k]].max_width != 0 && g->colw[k] > cap)
            g->colw[k] = cap;
    }
    for (;;) {
        int total = 0, widest = -1;
        for (int k = 0; k < g->ncols; k++) {
            total += g->colw[k] + (k ? 2 : 0);
            if (g->t->cols[g->cols[k]].max_width != 0 && g->colw[k] > min_cut(g, k) &&
                (widest < 0 || g->colw[k] > g->colw[widest]))
                widest = k;
        }
        if (total <= OUT_TABLE_WIDTH || widest < 0)
            return;
        int narrower = g->colw[widest] - (total - OUT_TABLE_WIDTH);
        g->colw[widest] = narrower < min_cut(g, widest) ? min_cut(g, widest) : narrower;
    }
}

/* A cell to cut: its row, text and width, and what it shows when cut
 * keeping `head` columns in front. */
struct cut {
    int row;
    const char *full;
    int width, head;
    char *shown;
    size_t hb; /* bytes of shown before the mark */
};

static bool recut(struct cut *c, int max, int head)
{
    char *s = cut_text(c->full, c->width, max, head, &c->hb);
    if (!s)
        return false;
    free(c->shown);
    c->shown = s;
    c->head = head;
    return true;
}

static int by_shown(const void *a, const void *b)
{
    const struct cut *x = a, *y = b;
    int d = strcmp(x->shown, y->shown);
    return d ? d : strcmp(x->full, y->full);
}

/* Sorts the cuts by what they show; returns how many different texts they
 * show, and sets *values to how many different values they stand for. */
static size_t count_shown(struct cut *cuts, size_t n, size_t *values)
{
    qsort(cuts, n, sizeof *cuts, by_shown);
    size_t d = 0;
    *values = 0;
    for (size_t i = 0; i < n; i++) { /* equal values show equal texts: they sort together */
        d += i == 0 || strcmp(cuts[i].shown, cuts[i - 1].shown) != 0;
        *values += i == 0 || strcmp(cuts[i].full, cuts[i - 1].full) != 0;
    }
    return d;
}

/* Cuts them all keeping `head` columns; returns the texts shown (0: out of
 * memory), and the values in *values. */
static size_t cut_all(struct cut *cuts, size_t n, int max, int head, size_t *values)
{
    *values = 0;
    for (size_t i = 0; i < n; i++)
        if (!recut(&cuts[i], max, head))
            return 0;
    return count_shown(cuts, n, values);
}

/* The i-th head to try: `from` first, then nearer it before farther. */
static int nth_head(int from, int i)
{
    return from + (i % 2 ? -(i + 1) / 2 : i / 2);
}

/* The one head for the whole column that shows the most values apart:
 * half the width unless another split does better (user agents that
 * differ only in a version number near their end, say). */
static int column_head(struct cut *cuts, size_t n, int max)
{
    size_t values, best_shown = cut_all(cuts, n, max, max / 2, &values);
    int best = max / 2;
    if (best_shown == 0 || best_shown == values || (size_t)max * n > CUT_SEARCH_BUDGET)
        return best;
    for (int i = 1; i < 2 * max; i++) {
        int head = nth_head(max / 2, i);
        if (head < 1 || head > max - 2)
            continue;
        size_t shown = cut_all(cuts, n, max, head, &values);
        if (shown > best_shown) {
            best_shown = shown;
            best = head;
        }
    }
    return best;
}

/* Whether one value could show as both a and b: each head begins the
 * other, and each tail ends the other. */
static bool confusable(const struct cut *a, const struct cut *b)
{
    size_t mark = strlen(OUT_CUT_MARK);
    const char *ta = a->shown + a->hb + mark, *tb = b->shown + b->hb + mark;
    size_t la = strlen(ta), lb = strlen(tb), h = a->hb < b->hb ? a->hb : b->hb, t = la < lb ? la : lb;
    return memcmp(a->shown, b->shown, h) == 0 && memcmp(ta + la - t, tb + lb - t, t) == 0;
}

/* Whether no cut of [a, b) could be taken for a cut of another value. */
static bool group_apart(const struct cut *cuts, size_t n, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        for (size_t j = 0; j < n; j++)
            if (j != i && strcmp(cuts[i].full, cuts[j].full) != 0 && confusable(&cuts[i], &cuts[j]))
                return false;
    return true;
}

/* Cells that still look alike (sorted together by count_shown()) get a
 * head of their own, the nearest the column's that tells them apart from
 * each other and from the rest: what they show must differ in what it
 * shows of the values, not only in where the cut is. */
static void separate_groups(struct cut *cuts, size_t n, int max, int head)
{
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && strcmp(cuts[b].shown, cuts[a].shown) == 0)
            b++;
        bool alike = strcmp(cuts[a].full, cuts[b - 1].full) != 0;
        for (int i = 1; alike && i < 2 * max && (b - a) * n * (size_t)max <= CUT_SEARCH_BUDGET; i++) {
            int h = nth_head(head, i);
            if (h < 1 || h > max - 2)
                continue;
            bool ok = true;
            for (size_t k = a; k < b && ok; k++)
                ok = recut(&cuts[k], max, h);
            alike = !(ok && group_apart(cuts, n, a, b));
        }
        for (size_t k = a; alike && k < b; k++) /* no head helps: back to the column's */
            recut(&cuts[k], max, head);
        a = b;
    }
}

/* The cells of column k wider than it, cut: in the middle (max_width > 0)
 * or at the end. Returns the cuts (NULL when out of memory), their number
 * in *n, and in *apart whether every different value shows differently. */
static struct cut *plan_cuts(struct grid *g, int k, size_t *n, bool *apart)
{
    int max = g->colw[k];
    bool middle = g->t->cols[g->cols[k]].max_width > 0;
    *n = 0;
    *apart = true;
    struct cut *cuts = calloc(g->t->nrows > 0 ? (size_t)g->t->nrows : 1, sizeof *cuts);
    if (!cuts)
        return NULL;
    for (int r = 0; r < g->t->nrows; r++)
        if (*grid_width(g, r, k) > max)
            cuts[(*n)++] = (struct cut){.row = r, .full = *grid_text(g, r, k), .width = *grid_width(g, r, k)};
    int head = middle ? column_head(cuts, *n, max) : max - 1;
    size_t values, shown = cut_all(cuts, *n, max, head, &values);
    if (middle && shown < values) {
        separate_groups(cuts, *n, max, head);
        *apart = count_shown(cuts, *n, &values) == values;
    }
    return cuts;
}

static void free_cuts(struct cut *cuts, size_t n)
{
    for (size_t i = 0; cuts && i < n; i++)
        free(cuts[i].shown);
    free(cuts);
}

/* Whether the cells of column k, cut to the column's width, still show
 * every different value differently. */
static bool column_apart(struct grid *g, int k)
{
    size_t n;
    bool apart;
    struct cut *cuts = plan_cuts(g, k, &n, &apart);
    free_cuts(cuts, n);
    return apart;
}

/* A middle-cut column that cannot keep its values apart takes width, up to
 * its max_width, from the other columns that may be cut (lists first):
 * telling two user agents apart matters more than a list's third item. */
static void widen_to_keep_apart(struct grid *g)
{
    for (int k = 0; k < g->ncols; k++) {
        int want = g->t->cols[g->cols[k]].max_width, natural = width_of(g->t->cols[g->cols[k]].header);
        for (int r = 0; r < g->t->nrows; r++)
            natural = *grid_width(g, r, k) > natural ? *grid_width(g, r, k) : natural;
        want = want < natural ? want : natural;
        if (want <= g->colw[k] || column_apart(g, k))
            continue;
        for (int pass = 0; pass < 2 && g->colw[k] < want; pass++) {
            for (int j = 0; j < g->ncols && g->colw[k] < want; j++) {
                int mw = g->t->cols[g->cols[j]].max_width;
                if (j == k || mw == 0 || (pass == 0) != (mw < 0) || g->colw[j] <= min_cut(g, j))
                    continue;
                int give = g->colw[j] - min_cut(g, j) < want - g->colw[k] ? g->colw[j] - min_cut(g, j)
                                                                          : want - g->colw[k];
                g->colw[j] -= give;
                g->colw[k] += give;
            }
        }
    }
}

/* Cuts the cells of column k wider than the column. */
static void cut_column(struct grid *g, int k)
{
    size_t n;
    bool apart;
    struct cut *cuts = plan_cuts(g, k, &n, &apart);
    for (size_t i = 0; cuts && i < n; i++) {
        if (!cuts[i].shown)
            continue; /* out of memory: shown whole */
        char **s = grid_text(g, cuts[i].row, k);
        free(*s);
        *s = cuts[i].shown;
        cuts[i].shown = NULL;
        *grid_width(g, cuts[i].row, k) = width_of(*s);
    }
    free_cuts(cuts, n);
}

static void put_padded(FILE *out, const char *s, int w, int width, bool right, bool last)
{
    int pad = width - w > 0 ? width - w : 0;
    if (right)
        fprintf(out, "%*s%s", pad, "", s);
    else if (last)
        fputs(s, out);
    else
        fprintf(out, "%s%*s", s, pad, "");
}

/* One line: the header (r = -1) or row r, without trailing blanks. */
static void put_line(struct grid *g, int r, FILE *out)
{
    char *line = NULL;
    size_t len = 0;
    FILE *lf = open_memstream(&line, &len);
    if (!lf)
        return;
    for (int k = 0; k < g->ncols; k++) {
        const struct out_col *col = &g->t->cols[g->cols[k]];
        const char *s = r < 0 ? col->header : *grid_text(g, r, k);
        int w = r < 0 ? width_of(s) : *grid_width(g, r, k);
        if (k)
            fputs("  ", lf);
        put_padded(lf, s, w, g->colw[k], col->right, k == g->ncols - 1);
    }
    fclose(lf);
    while (len && line[len - 1] == ' ')
        line[--len] = '\0';
    fputs(line, out);
    fputc('\n', out);
    free(line);
}

static void print_table(const struct out_table *t, FILE *out, bool wide)
{
    struct utf8_ctype u;
    ctype_enter(&u);
    struct grid g;
    if (grid_fill(&g, t)) {
        if (!wide) {
            fit_width(&g);
            widen_to_keep_apart(&g);
            for (int k = 0; k < g.ncols; k++)
                if (t->cols[g.cols[k]].max_width != 0)
                    cut_column(&g, k);
        }
        for (int r = -1; r < t->nrows; r++)
            put_line(&g, r, out);
    } else {
        fputs("(out of memory for this table)\n", out);
    }
    grid_free(&g);
    ctype_leave(&u);
}

/* ---- printing ---------------------------------------------------------------- */

void out_print(const struct out_table *t, enum out_format f, FILE *out)
{
    if (f == OUT_TABLE) {
        print_table(t, out, t->wide);
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
