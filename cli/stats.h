/*
 * cli/stats.h — the arithmetic of `wsstats durations`: percentiles and the
 * search for clusters of equal values (many connections closing after the
 * same idle time is the fingerprint of a proxy's idle timeout).
 */
#ifndef WSSTATS_STATS_H
#define WSSTATS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A measured value and the close code of its connection (-1: none). */
struct sample {
    double v;
    int code;
    uint32_t id; /* which connection: relates a sample to others of the same one (16 bytes in all: a
                  * million of them sort faster) */
};

/* Sorts by value, ascending; values below 0 (and NaN) sort as 0. Returns
 * false, leaving s as it was, when out of memory. */
bool samples_sort(struct sample *s, size_t n);

/* The p-th percentile (0..100) of sorted samples, nearest rank; 0 if n = 0. */
double samples_percentile(const struct sample *s, size_t n, double p);

struct cluster {
    size_t count;
    double lo, hi, median;
    int code;        /* the most frequent close code in it (-1: none) */
    size_t code_count;
    size_t first, end; /* its samples: s[first..end) (less those of earlier clusters) */
};

/* Tolerance: values within max(CLUSTER_ABS_WIDTH, CLUSTER_REL_WIDTH x value)
 * of the cluster's start count as one fixed time (timers fire a little
 * late, packets take a little time). A cluster needs at least
 * CLUSTER_MIN_COUNT samples and CLUSTER_MIN_SHARE of all of them, and must
 * be CLUSTER_CONTRAST times denser than the same width on either side, so
 * that a broad spread of values is not called a cluster. Values below
 * `floor` (idle times of connections closed right after their last
 * message) are not searched. */
#define CLUSTER_ABS_WIDTH 0.25
#define CLUSTER_REL_WIDTH 0.03
#define CLUSTER_MIN_COUNT 5
#define CLUSTER_MIN_SHARE 0.10
#define CLUSTER_CONTRAST 4.0

/* Finds up to `max` clusters in sorted samples, largest first; returns how
 * many. Each cluster's [first, end) index range in s is kept in it. */
int samples_clusters(const struct sample *s, size_t n, double floor, struct cluster *out, int max);

#endif
