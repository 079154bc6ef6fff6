/*
 * cli/stats.c — percentiles and fixed-time clusters (see stats.h).
 */
#include "stats.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The sort key of a value: for doubles >= 0 the IEEE 754 bit pattern
 * orders like the number. Negative values and NaN (clock steps, damage)
 * count as 0. */
static uint64_t sort_key(double v)
{
    if (!(v > 0))
        return 0;
    uint64_t k;
    memcpy(&k, &v, sizeof k);
    return k;
}

/* LSD radix sort, 16 bits per pass, stable; a million samples sort in a
 * fraction of qsort's time (wsstats durations sorts two million). */
bool samples_sort(struct sample *s, size_t n)
{
    if (n < 2)
        return true;
    struct sample *tmp = malloc(n * sizeof *tmp);
    size_t *count = malloc(65536 * sizeof *count);
    if (!tmp || !count) {
        free(tmp);
        free(count);
        return false;
    }
    struct sample *from = s, *to = tmp;
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++)
            count[(sort_key(from[i].v) >> shift) & 0xffff]++;
        if (count[(sort_key(from[0].v) >> shift) & 0xffff] == n)
            continue; /* every key has the same digit here */
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            to[count[(sort_key(from[i].v) >> shift) & 0xffff]++] = from[i];
        struct sample *t = from;
        from = to;
        to = t;
    }
    if (from != s)
        memcpy(s, from, n * sizeof *s);
    free(tmp);
    free(count);
    return true;
}

double samples_percentile(const struct sample *s, size_t n, double p)
{
    if (n == 0)
        return 0;
    double rank = ceil(p / 100.0 * (double)n);
    size_t i = rank < 1 ? 0 : (size_t)rank - 1;
    return s[i < n ? i : n - 1].v;
}

static double cluster_width(double v)
{
    double rel = CLUSTER_REL_WIDTH * v;
    return rel > CLUSTER_ABS_WIDTH ? rel : CLUSTER_ABS_WIDTH;
}

/* Free samples within `width` below lo (v in [lo - width, lo)). */
static size_t count_below(const struct sample *s, size_t n, const bool *taken, double lo, double width)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += !taken[i] && s[i].v >= lo - width && s[i].v < lo;
    return c;
}

/* Free samples within `width` above hi (v in (hi, hi + width]). */
static size_t count_above(const struct sample *s, size_t n, const bool *taken, double hi, double width)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += !taken[i] && s[i].v > hi && s[i].v <= hi + width;
    return c;
}

/* The index range [*first, *end) of the densest window of free samples. */
static size_t densest_window(const struct sample *s, size_t n, const bool *taken, double floor, size_t *first,
                             size_t *end)
{
    size_t best = 0;
    size_t j = 0, inside = 0;
    for (size_t i = 0; i < n; i++) {
        if (j < i) {
            j = i;
            inside = 0;
        }
        while (j < n && s[j].v <= s[i].v + cluster_width(s[i].v)) {
            inside += !taken[j];
            j++;
        }
        if (!taken[i] && s[i].v >= floor && inside > best) {
            best = inside;
            *first = i;
            *end = j;
        }
        inside -= !taken[i];
    }
    return best;
}

/* The most frequent code among the free samples of [first, end). */
static void dominant_code(const struct sample *s, size_t first, size_t end, const bool *taken, struct cluster *c)
{
    c->code = -1;
    c->code_count = 0;
    size_t *tally = calloc(65537, sizeof *tally); /* codes -1 .. 65535 */
    if (!tally)
        return;
    for (size_t i = first; i < end; i++) {
        if (taken[i] || s[i].code < -1 || s[i].code > 65535)
            continue;
        size_t k = ++tally[s[i].code + 1];
        if (k > c->code_count || (k == c->code_count && s[i].code < c->code)) {
            c->code_count = k;
            c->code = s[i].code;
        }
    }
    free(tally);
}

static void describe_cluster(const struct sample *s, size_t first, size_t end, const bool *taken, struct cluster *c)
{
    size_t k = 0, mid = 0, count = 0;
    for (size_t i = first; i < end; i++)
        count += !taken[i];
    c->count = count;
    for (size_t i = first; i < end; i++) {
        if (taken[i])
            continue;
        if (k == 0)
            c->lo = s[i].v;
        c->hi = s[i].v;
        if (k++ == (count - 1) / 2)
            mid = i;
    }
    c->median = s[mid].v;
    c->first = first;
    c->end = end;
    dominant_code(s, first, end, taken, c);
}

int samples_clusters(const struct sample *s, size_t n, double floor, struct cluster *out, int max)
{
    bool *taken = calloc(n ? n : 1, sizeof *taken);
    if (!taken)
        return 0;
    int found = 0;
    double min_count = CLUSTER_MIN_SHARE * (double)n;
    if (min_count < CLUSTER_MIN_COUNT)
        min_count = CLUSTER_MIN_COUNT;
    while (found < max) {
        size_t first = 0, end = 0;
        size_t best = densest_window(s, n, taken, floor, &first, &end);
        if ((double)best < min_count)
            break;
        double lo = s[first].v, width = cluster_width(lo);
        size_t before = count_below(s, n, taken, lo, width);
        size_t after = count_above(s, n, taken, s[end - 1].v, width);
        double neighbours = (double)(before > after ? before : after);
        if ((double)best < CLUSTER_CONTRAST * neighbours)
            break;
        describe_cluster(s, first, end, taken, &out[found++]);
        for (size_t i = first; i < end; i++)
            taken[i] = true;
    }
    free(taken);
    return found;
}
