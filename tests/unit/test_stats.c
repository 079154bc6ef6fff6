/*
 * tests/unit/test_stats.c — cli/stats.c, percentiles and the fixed-time
 * clusters behind `wsstats durations`.
 *
 * Proves: the radix sort orders like qsort (stably; negative and NaN as
 * 0); nearest-rank percentiles of sorted samples (and 0 for none); a
 * proxy-style cluster (many closes at 60 s within timer jitter, among
 * closes spread over minutes) is found with its range, median, count and
 * dominant code; a second, smaller cluster is found too; values below the
 * floor are never a cluster; a broad uniform spread, too few samples and
 * a share under 10% are not called clusters.
 */
#include <math.h>
#include <stdlib.h>

#include "unit.h"

#include "../../cli/stats.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The radix sort against qsort, on values spanning microseconds to days,
 * with duplicates; negative values and NaN sort as 0. */
static void sort_matches_qsort(void **state)
{
    (void)state;
    enum { N = 5000 };
    static struct sample s[N];
    static double want[N];
    uint32_t x = 12345;
    for (size_t i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        double v = (double)(x >> 8) / (double)(1u << (x % 24));
        if (i % 97 == 0)
            v = 60.0; /* duplicates */
        s[i] = (struct sample){v, (int)i, i};
        want[i] = v;
    }
    s[7].v = -3.5;
    want[7] = 0;
    s[8].v = NAN;
    want[8] = 0;
    samples_sort(s, N);
    qsort(want, N, sizeof want[0], cmp_double);
    for (size_t i = 0; i < N; i++) {
        double got = s[i].v > 0 ? s[i].v : 0;
        if (got != want[i]) {
            print_error("position %zu: got %g, want %g\n", i, got, want[i]);
            fail();
        }
    }
    for (size_t i = 1; i < N; i++) /* stable: equal values keep their order */
        if (s[i].v == s[i - 1].v && s[i].v == 60.0)
            assert_true(s[i].id > s[i - 1].id);
}

static void percentiles(void **state)
{
    (void)state;
    struct sample s[10];
    for (int i = 0; i < 10; i++)
        s[i] = (struct sample){(double)(10 - i), 1000, (size_t)i};
    samples_sort(s, 10);
    assert_true(s[0].v == 1 && s[9].v == 10);
    assert_true(samples_percentile(s, 10, 0) == 1);
    assert_true(samples_percentile(s, 10, 50) == 5);
    assert_true(samples_percentile(s, 10, 90) == 9);
    assert_true(samples_percentile(s, 10, 99) == 10);
    assert_true(samples_percentile(s, 10, 100) == 10);
    assert_true(samples_percentile(s, 0, 50) == 0);
}

/* n values spread evenly over [lo, hi) with code 1000. */
static size_t spread(struct sample *s, size_t at, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        s[at + i] = (struct sample){lo + (hi - lo) * (double)i / (double)n, 1000, at + i};
    return at + n;
}

static size_t fixed(struct sample *s, size_t at, size_t n, double v, double jitter, int code)
{
    for (size_t i = 0; i < n; i++)
        s[at + i] = (struct sample){v + jitter * (double)(i % 7) / 7.0, code, at + i};
    return at + n;
}

static void proxy_cluster(void **state)
{
    (void)state;
    struct sample s[400];
    size_t n = spread(s, 0, 200, 0, 600);
    n = fixed(s, n, 90, 60.0, 0.08, 1006);
    n = fixed(s, n, 10, 60.01, 0.02, 1001);
    n = fixed(s, n, 40, 30.0, 0.05, 1006);
    samples_sort(s, n);
    struct cluster c[3];
    int k = samples_clusters(s, n, 1.0, c, 3);
    assert_int_equal(k, 2);
    assert_true(c[0].count >= 100 && c[0].count <= 102); /* the 60 s one, plus a spread value or two */
    assert_true(c[0].lo >= 59.9 && c[0].hi <= 60.2);
    assert_true(c[0].median >= 60.0 && c[0].median <= 60.08);
    assert_int_equal(c[0].code, 1006);
    assert_int_equal(c[0].code_count, 90);
    assert_true(c[1].count >= 40 && c[1].count <= 41);
    assert_true(c[1].median >= 30.0 && c[1].median < 30.1);
}

static void no_cluster(void **state)
{
    (void)state;
    struct sample s[1000];
    struct cluster c[3];
    size_t n = spread(s, 0, 1000, 0, 600); /* broad and even */
    assert_int_equal(samples_clusters(s, n, 1.0, c, 3), 0);
    n = fixed(s, 0, 4, 60, 0, 1006); /* too few */
    assert_int_equal(samples_clusters(s, n, 1.0, c, 3), 0);
    n = spread(s, 0, 600, 1000, 100000);
    n = fixed(s, n, 50, 60, 0, 1006); /* 50 of 650: under 10% */
    samples_sort(s, n);
    assert_int_equal(samples_clusters(s, n, 1.0, c, 3), 0);
    n = fixed(s, 0, 100, 0.2, 0.01, 1000); /* below the floor */
    assert_int_equal(samples_clusters(s, n, 1.0, c, 3), 0);
    assert_int_equal(samples_clusters(s, 0, 1.0, c, 3), 0);
}

static void all_one_value(void **state)
{
    (void)state;
    struct sample s[20];
    size_t n = fixed(s, 0, 20, 3.0, 0, 1006);
    struct cluster c[3];
    assert_int_equal(samples_clusters(s, n, 1.0, c, 3), 1);
    assert_int_equal(c[0].count, 20);
    assert_true(c[0].lo == 3.0 && c[0].hi == 3.0 && c[0].median == 3.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sort_matches_qsort),
        cmocka_unit_test(percentiles),
        cmocka_unit_test(proxy_cluster),
        cmocka_unit_test(no_cluster),
        cmocka_unit_test(all_one_value),
    };
    RUN_TESTS(tests);
}
