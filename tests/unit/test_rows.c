/*
 * tests/unit/test_rows.c — ship/rows.c, a record as a TabSeparated row of
 * ClickHouse's connections table.
 *
 * Proves: the four characters TabSeparated escapes (backslash, tab, line
 * feed, carriage return) are escaped and nothing else is; a row has the
 * sensor, the id, every column of the record and the capture id, tab
 * separated, ending in one line feed; a time from 2001 on is written as
 * the exact decimal of its microseconds (up to 2^53 of them), which reads back (strtod, a
 * correctly rounded parser) as the double SQLite holds, (double)us / 1e6,
 * over half a million values; an earlier time reads back the same with 17
 * digits; NULLs are \N; integers of every sign and size; a body that grows
 * far past its first allocation keeps every byte.
 */
#include "store_test.h"

#include <limits.h>
#include <stdlib.h>

#include "../../ship/ship_internal.h"

static char *text_of(const char *s)
{
    struct rowbuf b = {0};
    rows_write_text(&b, s);
    return b.p;
}

static void escapes_what_tabseparated_escapes(void **state)
{
    (void)state;
    char *got = text_of("a\\b\tc\nd\re'f\"g");
    assert_string_equal(got, "a\\\\b\\tc\\nd\\re'f\"g");
    free(got);
    got = text_of("\\\\\t\t");
    assert_string_equal(got, "\\\\\\\\\\t\\t");
    free(got);
    struct rowbuf b = {0};
    rows_write_text(&b, "");
    assert_int_equal(b.len, 0);
    rowbuf_free(&b);
}

/* The fields of one row, split at its tabs (the line feed cut off). */
static int fields(char *line, char **f, int max)
{
    size_t len = strlen(line);
    assert_true(len > 0 && line[len - 1] == '\n');
    line[len - 1] = '\0';
    int n = 0;
    for (char *p = line; n < max; n++) {
        f[n] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            return n + 1;
        *tab = '\0';
        p = tab + 1;
    }
    return -1;
}

static int column(const char *name)
{
    for (int k = 0; k < RECORD_NCOLUMNS; k++)
        if (strcmp(record_columns[k].name, name) == 0)
            return k + 2; /* after sensor and id */
    fail_msg("no column %s", name);
    return -1;
}

static void a_row_has_every_column(void **state)
{
    (void)state;
    struct query_row row = {.id = 42, .has_capture = true, .capture_id = 3};
    sample_record(&row.rec, 1, 1700000000000000LL);
    row.rec.close_reason = "tab\there";
    struct rowbuf b = {0};
    rows_write(&b, "tap-1", &row);
    assert_false(b.failed);
    char *f[RECORD_NCOLUMNS + 8];
    assert_int_equal(fields(b.p, f, RECORD_NCOLUMNS + 8), RECORD_NCOLUMNS + 3);
    assert_string_equal(f[0], "tap-1");
    assert_string_equal(f[1], "42");
    assert_string_equal(f[column("started_at")], "1700000001.000123");
    assert_string_equal(f[column("upgraded_at")], "1700000001.004690");
    assert_string_equal(f[column("ended_at")], "1700000011.000123");
    assert_string_equal(f[column("close_reason")], "tab\\there");
    assert_string_equal(f[column("client_port")], "40001");
    assert_string_equal(f[column("vlan")], "7");
    assert_string_equal(f[RECORD_NCOLUMNS + 2], "3");
    rowbuf_free(&b);
}

static void nulls_are_backslash_n(void **state)
{
    (void)state;
    struct query_row row = {.id = 1};
    sample_record(&row.rec, 2, 1700000000000000LL);
    row.rec.upgraded_at = TS_NONE;
    row.rec.vlan = -1;
    row.rec.subprotocol = NULL;
    struct rowbuf b = {0};
    rows_write(&b, "s", &row);
    char *f[RECORD_NCOLUMNS + 8];
    assert_int_equal(fields(b.p, f, RECORD_NCOLUMNS + 8), RECORD_NCOLUMNS + 3);
    assert_string_equal(f[column("upgraded_at")], "\\N");
    assert_string_equal(f[column("vlan")], "\\N");
    assert_string_equal(f[column("subprotocol")], "\\N");
    assert_string_equal(f[RECORD_NCOLUMNS + 2], "\\N");
    rowbuf_free(&b);
}

/* The started_at field of a row whose record starts at t. */
static double started_field(ts_us_t t, char *text, size_t len)
{
    struct query_row row = {.id = 1};
    sample_record(&row.rec, 0, 0);
    row.rec.started_at = t;
    struct rowbuf b = {0};
    rows_write(&b, "s", &row);
    char *f[RECORD_NCOLUMNS + 8];
    assert_int_equal(fields(b.p, f, RECORD_NCOLUMNS + 8), RECORD_NCOLUMNS + 3);
    snprintf(text, len, "%s", f[column("started_at")]);
    rowbuf_free(&b);
    return strtod(text, NULL);
}

static void times_read_back_as_the_stored_double(void **state)
{
    (void)state;
    char text[64];
    srand48(24);
    for (int i = 0; i < 500000; i++) {
        ts_us_t t = 1000000000000000LL + (ts_us_t)(drand48() * 8.0e15);
        if (i < 4)
            t = (ts_us_t[]){1000000000000000LL, 1000000000000001LL, 1799999999999999LL, (1LL << 53) - 1}[i];
        double want = (double)t / 1e6;
        double got = started_field(t, text, sizeof text);
        if (got != want)
            fail_msg("%lld us written as %s reads back as %.17g, not %.17g", (long long)t, text, got, want);
        assert_int_equal(strlen(strchr(text, '.')), 7); /* six digits after the point */
    }
    static const ts_us_t early[] = {0, 1, 999999, 1000000, 1500000, 999999999999999LL, 1LL << 53, 36445817418095732LL};
    for (size_t i = 0; i < sizeof early / sizeof early[0]; i++)
        assert_true(started_field(early[i], text, sizeof text) == (double)early[i] / 1e6);
    assert_true(started_field(1500000, text, sizeof text) == 1.5);
    assert_string_equal(text, "1.5");
}

static void integers_of_every_sign_and_size(void **state)
{
    (void)state;
    static const struct {
        long long v;
        const char *want;
    } cases[] = {{0, "0"}, {-5, "-5"}, {7, "7"}, {LLONG_MAX, "9223372036854775807"},
                 {LLONG_MIN, "-9223372036854775808"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rowbuf b = {0};
        struct query_value v = {.type = QV_INT, .i = cases[i].v};
        rows_write_value(&b, &v);
        assert_string_equal(b.p, cases[i].want);
        rowbuf_free(&b);
    }
    struct rowbuf b = {0};
    rows_write_uint(&b, ULLONG_MAX);
    assert_string_equal(b.p, "18446744073709551615");
    rowbuf_free(&b);
}

static void a_growing_body_keeps_every_byte(void **state)
{
    (void)state;
    struct rowbuf b = {0};
    char piece[64];
    size_t want = 0;
    for (int i = 0; i < 200000; i++) {
        int n = snprintf(piece, sizeof piece, "%d,", i);
        rowbuf_put(&b, piece, (size_t)n);
        want += (size_t)n;
    }
    assert_false(b.failed);
    assert_int_equal(b.len, want);
    assert_int_equal(b.p[b.len], '\0');
    assert_memory_equal(b.p + b.len - 7, "199999,", 7);
    assert_memory_equal(b.p, "0,1,2,", 6);
    rowbuf_free(&b);
    assert_null(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_what_tabseparated_escapes),
        cmocka_unit_test(a_row_has_every_column),
        cmocka_unit_test(nulls_are_backslash_n),
        cmocka_unit_test(times_read_back_as_the_stored_double),
        cmocka_unit_test(integers_of_every_sign_and_size),
        cmocka_unit_test(a_growing_body_keeps_every_byte),
    };
    RUN_TESTS(tests);
}
