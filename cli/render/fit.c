/*
 * cli/render/fit.c — a table for people: the grid of what each cell shows,
 * the column widths fitted to OUT_TABLE_WIDTH, the cuts that keep
 * different values apart, and the table printed aligned (see render.h).
 *
 * Calls text.c (widths, cuts, the UTF-8 LC_CTYPE) and data.c (a cell's
 * value as text).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_internal.h"

/* Searching for the cut that keeps values apart costs (cells x widths x
 * log cells) comparisons: beyond this many cells x widths it is skipped. */
#define CUT_SEARCH_BUDGET 400000

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

void fit_print_table(const struct out_table *t, FILE *out, bool wide)
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
