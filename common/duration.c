/*
 * common/duration.c — parsing and printing of durations and ISO 8601 times.
 */
#include "duration.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t unit_us(const char **p)
{
    static const struct {
        const char *name;
        int64_t us;
    } units[] = {{"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000LL},
                 {"d", 86400000000LL}, {"w", 604800000000LL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t n = strlen(units[i].name);
        if (strncmp(*p, units[i].name, n) == 0 && !isalpha((unsigned char)(*p)[n])) {
            *p += n;
            return units[i].us;
        }
    }
    return 0;
}

bool duration_parse(const char *s, int64_t *us)
{
    const char *p = s;
    int64_t total = 0;
    if (!*p)
        return false;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return false;
        int64_t v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v > 1000000000LL)
                return false;
            v = v * 10 + (*p++ - '0');
        }
        int64_t unit = *p ? unit_us(&p) : 1000000; /* a bare number is seconds */
        if (unit == 0 || v > INT64_MAX / unit / 2)
            return false;
        total += v * unit;
        if (total < 0 || total > 100LL * 365 * 86400000000LL)
            return false;
    }
    *us = total;
    return true;
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool parse_zone(const char *p, int *offset_s)
{
    *offset_s = 0;
    if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0'))
        return true;
    if (*p != '+' && *p != '-')
        return false;
    int sign = *p++ == '-' ? -1 : 1, hh, mm = 0;
    if (!digits(&p, 2, &hh))
        return false;
    if (*p == ':')
        p++;
    if (*p && !digits(&p, 2, &mm))
        return false;
    if (*p || hh > 23 || mm > 59)
        return false;
    *offset_s = sign * (hh * 3600 + mm * 60);
    return true;
}

bool time_parse_iso(const char *s, double *t)
{
    const char *p = s;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y, mo, d, h = 0, mi = 0, sec = 0;
    double frac = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d))
        return false;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return false;
            if (*p == '.' || *p == ',') {
                double scale = 0.1;
                for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
                    frac += (*p - '0') * scale;
            }
        }
    }
    int offset;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || !parse_zone(p, &offset))
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t base = timegm(&tm);
    struct tm check;
    gmtime_r(&base, &check);
    if (check.tm_mday != d || check.tm_mon != mo - 1) /* 2026-02-31 is no date */
        return false;
    *t = (double)base - offset + frac;
    return true;
}

void time_format(double t, char *buf, size_t len)
{
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

void duration_format(double seconds, char *buf, size_t len)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 1)
        snprintf(buf, len, "%.0fms", seconds * 1000);
    else if (seconds < 60)
        snprintf(buf, len, "%.3gs", seconds);
    else if (seconds < 3600)
        snprintf(buf, len, "%dm %ds", (int)seconds / 60, (int)seconds % 60);
    else if (seconds < 86400)
        snprintf(buf, len, "%dh %dm", (int)seconds / 3600, (int)seconds % 3600 / 60);
    else
        snprintf(buf, len, "%dd %dh", (int)(seconds / 86400), (int)seconds % 86400 / 3600);
}
