/*
 * cli/render/text.c — the display width of UTF-8 text, and the two things
 * done with it: cutting a string to a width with OUT_CUT_MARK where text
 * was left out, and wrapping prose at a width (see render.h).
 *
 * Widths are display columns: characters are decoded with mbrtowc() and
 * measured with wcwidth() under a UTF-8 LC_CTYPE made for the purpose
 * (newlocale/uselocale, so the environment's locale does not matter).
 * Calls nothing else of the renderer's.
 */
#define _XOPEN_SOURCE 700 /* wcwidth() */
#include <limits.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "render_internal.h"

/* ---- display width ------------------------------------------------------- */

void ctype_enter(struct utf8_ctype *u)
{
    static const char *const names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};
    u->loc = (locale_t)0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !u->loc; i++)
        u->loc = newlocale(LC_CTYPE_MASK, names[i], (locale_t)0);
    u->old = u->loc ? uselocale(u->loc) : (locale_t)0;
}

void ctype_leave(struct utf8_ctype *u)
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
int width_of(const char *s)
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
char *cut_text(const char *s, int total, int max, int head, size_t *hb)
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
