/*
 * cli/common.c — presentation helpers shared by the wsstats commands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../dissect/codes.h"
#include "cli.h"
#include "duration.h"

int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wsstats: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int fail_db(const struct cli *c, sqlite3 *db)
{
    return fail(1, "%s: %s", c->db_path, sqlite3_errmsg(db));
}

/* Wraps text at 78 columns with a two-space indent after the first line. */
void print_wrapped(const char *text)
{
    int col = 0;
    const char *p = text;
    while (*p) {
        const char *sp = strchr(p, ' ');
        int len = sp ? (int)(sp - p) : (int)strlen(p);
        if (col > 0 && col + 1 + len > 78) {
            printf("\n  ");
            col = 2;
        } else if (col > 0) {
            putchar(' ');
            col++;
        }
        printf("%.*s", len, p);
        col += len;
        p += len;
        while (*p == ' ')
            p++;
    }
    putchar('\n');
}

void print_heading(const struct cli *c, long long count, const char *which, const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text, "%lld connection%s%s, %s%s%s%s", count, count == 1 ? "" : "s", which ? which : "",
             c->window, c->filters_desc[0] ? "; " : "", c->filters_desc, extra ? extra : "");
    print_wrapped(text);
    putchar('\n');
}

void draw_bar(double share, int width, char *buf, size_t len)
{
    static const char *const eighths[] = {"", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589"};
    if (share > 1)
        share = 1;
    int units = (int)(share * width * 8 + 0.5);
    if (units == 0 && share > 0)
        units = 1; /* never draw something present as nothing */
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < units / 8 && used + 4 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "\u2588");
    if (used + 4 < len)
        snprintf(buf + used, len - used, "%s", eighths[units % 8]);
}

void code_label(int code, char *buf, size_t len)
{
    if (code < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%d", code);
}

const char *code_title(int code, const char *outcome)
{
    if (code >= 0)
        return close_code_name(code);
    if (outcome && strcmp(outcome, "rejected") == 0)
        return "(handshake rejected)";
    if (outcome && strcmp(outcome, "unfinished") == 0)
        return "(still open when seen last)";
    return "(no close code)";
}

void code_short(int code, const char *outcome, char *buf, size_t len)
{
    if (code >= 0)
        snprintf(buf, len, "%d", code);
    else if (outcome && strcmp(outcome, "rejected") == 0)
        snprintf(buf, len, "rej");
    else
        snprintf(buf, len, "open");
}

void seconds_text(double s, char *buf, size_t len)
{
    if (s < 1)
        snprintf(buf, len, "%.0fms", s * 1000);
    else if (s < 10)
        snprintf(buf, len, "%.2fs", s);
    else if (s < 60)
        snprintf(buf, len, "%.1fs", s);
    else
        duration_format(s, buf, len);
}

void percent_text(double share, char *buf, size_t len)
{
    snprintf(buf, len, "%.1f%%", share * 100);
}
