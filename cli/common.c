/*
 * cli/common.c — presentation helpers shared by the wsstats commands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../model/codes.h"
#include "cli.h"

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

int fail_db(const struct cli *c, struct query_db *db)
{
    if (query_is_clickhouse(db))
        return fail(1, "%s", query_error(db)); /* names the URL, without its password */
    return fail(1, "%s: %s", c->db_path, query_error(db));
}

void print_wrapped(const char *text)
{
    out_wrap(stdout, text, 78);
}

void start_output(const struct cli *c, struct out_table *t)
{
    out_start(t, c->format, stdout, c->wide);
}

int finish_output(struct out_table *t)
{
    return out_finish(t) ? 0 : fail(1, "out of memory: some rows could not be shown");
}

void print_limit_note(long shown, long long all, const char *what)
{
    printf("\n(%ld of %lld %s shown; --limit 0 for all)\n", shown, all, what);
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

/* Whole minutes, hours or days with the next unit when it is not zero:
 * "12m 3s", "15m", "2h 5m", "3d". */
static void coarse_text(double s, char *buf, size_t len)
{
    static const struct {
        long seconds, next; /* the unit, and the one shown after it */
        char unit, next_unit;
    } units[] = {{86400, 3600, 'd', 'h'}, {3600, 60, 'h', 'm'}, {60, 1, 'm', 's'}};
    long v = (long)s;
    size_t i = 0;
    while (i + 1 < sizeof units / sizeof units[0] && v < units[i].seconds)
        i++;
    long rest = v % units[i].seconds / units[i].next;
    int n = snprintf(buf, len, "%ld%c", v / units[i].seconds, units[i].unit);
    if (rest && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " %ld%c", rest, units[i].next_unit);
}

/* In the unit that `scale` calls for. */
static void seconds_in(double s, double scale, char *buf, size_t len)
{
    if (scale < 1)
        snprintf(buf, len, "%.0fms", s * 1000);
    else if (scale < 10)
        snprintf(buf, len, "%.2fs", s);
    else if (scale < 120)
        snprintf(buf, len, "%.1fs", s);
    else
        coarse_text(s, buf, len);
}

void seconds_text(double s, char *buf, size_t len)
{
    seconds_in(s, s, buf, len);
}

void seconds_range_text(double lo, double hi, char *buf, size_t len)
{
    char a[32], b[32];
    seconds_in(lo, hi, a, sizeof a);
    seconds_in(hi, hi, b, sizeof b);
    snprintf(buf, len, "%s..%s", a, b);
}

void exact_duration_text(double s, char *buf, size_t len)
{
    static const struct {
        long seconds;
        char unit;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    long v = (long)s;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof units / sizeof units[0] && used < len; i++) {
        if (v / units[i].seconds == 0)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%ld%c", v / units[i].seconds, units[i].unit);
        v %= units[i].seconds;
    }
    if (!buf[0])
        snprintf(buf, len, "0s");
}

void percent_text(double share, char *buf, size_t len)
{
    snprintf(buf, len, "%.1f%%", share * 100);
}
