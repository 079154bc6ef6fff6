/*
 * tests/unit/test_duration.c — common/duration.c, durations and ISO 8601 times.
 *
 * Proves: duration_parse() turns "90s", "15m", "1h", "7d", "2w", "500ms",
 * sums like "1h30m" and bare numbers (seconds) into exact microseconds, and
 * rejects "", unknown units, signs, missing numbers, spaces, fractions and
 * absurdly large values; time_parse_iso() reads dates, date-times with "T"
 * or a space, seconds, fractions, "Z", ±hh:mm / ±hhmm / ±hh offsets (UTC if
 * none) to exact epoch seconds, and rejects malformed or out-of-range
 * fields, trailing junk and impossible calendar dates; time_format() and
 * duration_format() print the documented shapes.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../../common/duration.h"

#define S 1000000LL

static void expect_dur(const char *s, int64_t want)
{
    int64_t got = -12345;
    if (!duration_parse(s, &got) || got != want) {
        print_error("duration \"%s\": got %lld, want %lld\n", s, (long long)got, (long long)want);
        fail();
    }
}

static void expect_dur_bad(const char *s)
{
    int64_t got = 0;
    if (duration_parse(s, &got)) {
        print_error("duration \"%s\" accepted as %lld\n", s, (long long)got);
        fail();
    }
}

static void durations(void **state)
{
    (void)state;
    expect_dur("90s", 90 * S);
    expect_dur("15m", 15 * 60 * S);
    expect_dur("1h", 3600 * S);
    expect_dur("7d", 7 * 86400 * S);
    expect_dur("2w", 14 * 86400 * S);
    expect_dur("500ms", 500000);
    expect_dur("1ms", 1000);
    expect_dur("0s", 0);
    expect_dur("0", 0);
    expect_dur("90", 90 * S);
    expect_dur("3600", 3600 * S);
    expect_dur("1h30m", 5400 * S);
    expect_dur("1m30s", 90 * S);
    expect_dur("1d12h", 36 * 3600 * S);
    expect_dur("1s500ms", 1500000);
    expect_dur("2w3d4h5m6s7ms", ((14 + 3) * 86400LL + 4 * 3600 + 5 * 60 + 6) * S + 7000);
    expect_dur("365d", 365LL * 86400 * S);
    expect_dur("007m", 7 * 60 * S);
}

static void durations_rejected(void **state)
{
    (void)state;
    expect_dur_bad("");
    expect_dur_bad("1x");
    expect_dur_bad("-5m");
    expect_dur_bad("+5m");
    expect_dur_bad("h");
    expect_dur_bad("ms");
    expect_dur_bad("m5");
    expect_dur_bad("5 m");
    expect_dur_bad(" 5m");
    expect_dur_bad("5m ");
    expect_dur_bad("1h 30m");
    expect_dur_bad("1.5h");
    expect_dur_bad("5M");
    expect_dur_bad("5H");
    expect_dur_bad("1mo");
    expect_dur_bad("1hh");
    expect_dur_bad("1sec");
    expect_dur_bad("10y");
    /* huge: beyond a century, or overflowing int64 */
    expect_dur_bad("99999999999999999999s");
    expect_dur_bad("9223372036854775807");
    expect_dur_bad("200000w");
    expect_dur_bad("40000d");
    expect_dur_bad("999999999999ms");
    expect_dur_bad("100000d1s");
}

static void expect_time(const char *s, double want)
{
    double got = -1;
    if (!time_parse_iso(s, &got) || fabs(got - want) > 1e-6) {
        print_error("time \"%s\": got %.6f, want %.6f\n", s, got, want);
        fail();
    }
}

static void expect_time_bad(const char *s)
{
    double got = 0;
    if (time_parse_iso(s, &got)) {
        print_error("time \"%s\" accepted as %.6f\n", s, got);
        fail();
    }
}

static void iso_times(void **state)
{
    (void)state;
    expect_time("2026-11-23", 1795392000.0);
    expect_time("2026-11-23T19:30", 1795462200.0);
    expect_time("2026-11-23 19:30", 1795462200.0);
    expect_time("2026-11-23t19:30", 1795462200.0);
    expect_time("2026-11-23T19:30:05", 1795462205.0);
    expect_time("2026-11-23 19:30:05", 1795462205.0);
    expect_time("2026-11-23T19:30:05Z", 1795462205.0);
    expect_time("2026-11-23T19:30:05z", 1795462205.0);
    expect_time("2026-11-23T19:30:05.25Z", 1795462205.25);
    expect_time("2026-11-23T19:30:05.123456", 1795462205.123456);
    expect_time("2026-11-23T19:30:05,5", 1795462205.5);
    expect_time("2026-11-23T19:30:05+01:00", 1795458605.0);
    expect_time("2026-11-23T19:30:05+0100", 1795458605.0);
    expect_time("2026-11-23T19:30:05+01", 1795458605.0);
    expect_time("2026-11-23T19:30:05-05:30", 1795482005.0);
    expect_time("2026-11-23T19:30:05.5+01:00", 1795458605.5);
    expect_time("2026-11-23T19:30+00:00", 1795462200.0);
    expect_time("2000-02-29T12:00:00Z", 951825600.0);
    expect_time("1970-01-01T00:00:00Z", 0.0);
    expect_time("2024-12-31T23:59:59Z", 1735689599.0);
}

static void iso_times_rejected(void **state)
{
    (void)state;
    expect_time_bad("");
    expect_time_bad("yesterday");
    expect_time_bad("26-11-23");
    expect_time_bad("2026/11/23");
    expect_time_bad("2026-1-23");
    expect_time_bad("2026-11-3");
    expect_time_bad("2026-13-01");
    expect_time_bad("2026-00-10");
    expect_time_bad("2026-11-00");
    expect_time_bad("2026-11-32");
    expect_time_bad("2026-11-23T");
    expect_time_bad("2026-11-23T19");
    expect_time_bad("2026-11-23T19:3");
    expect_time_bad("2026-11-23T24:00");
    expect_time_bad("2026-11-23T19:60");
    expect_time_bad("2026-11-23T19:30:61");
    expect_time_bad("2026-11-23T19:30:5");
    expect_time_bad("2026-11-23X");
    expect_time_bad("2026-11-23T19:30:05Zjunk");
    expect_time_bad("2026-11-23T19:30:05 Z");
    expect_time_bad("2026-11-23T19:30+25:00");
    expect_time_bad("2026-11-23T19:30+01:60");
    expect_time_bad("2026-11-23T19:30+1:00");
    expect_time_bad("2026-11-23T19:30+01:0");
    expect_time_bad("2026-11-23T19:30+");
    expect_time_bad("2026-11-23T19:30:05.5.5");
}

static void impossible_dates_rejected(void **state)
{
    (void)state;
    /* in range field by field, but no such day: must not roll over into
     * the next month (2026-02-30 would silently become 2026-03-02) */
    expect_time_bad("2026-02-30");
    expect_time_bad("2026-02-29");
    expect_time_bad("2026-04-31");
    expect_time_bad("2100-02-29T00:00:00Z");
}

static void formats(void **state)
{
    (void)state;
    char buf[64];
    time_format(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01 00:00:00");
    time_format(1795462205.75, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23 19:30:05");
    duration_format(0.35, buf, sizeof buf);
    assert_string_equal(buf, "350ms");
    duration_format(0, buf, sizeof buf);
    assert_string_equal(buf, "0ms");
    duration_format(-3, buf, sizeof buf);
    assert_string_equal(buf, "0ms");
    duration_format(42, buf, sizeof buf);
    assert_string_equal(buf, "42s");
    duration_format(1.5, buf, sizeof buf);
    assert_string_equal(buf, "1.5s");
    duration_format(90, buf, sizeof buf);
    assert_string_equal(buf, "1m 30s");
    duration_format(3900, buf, sizeof buf);
    assert_string_equal(buf, "1h 5m");
    duration_format(90000, buf, sizeof buf);
    assert_string_equal(buf, "1d 1h");
    duration_format(15 * 86400 + 7200, buf, sizeof buf);
    assert_string_equal(buf, "15d 2h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations),
        cmocka_unit_test(durations_rejected),
        cmocka_unit_test(iso_times),
        cmocka_unit_test(iso_times_rejected),
        cmocka_unit_test(impossible_dates_rejected),
        cmocka_unit_test(formats),
    };
    RUN_TESTS(tests);
}
