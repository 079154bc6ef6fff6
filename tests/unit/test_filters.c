/*
 * tests/unit/test_filters.c — cli/filters.c, the filter options of wsstats.
 *
 * Proves: --server/--client accept IPv4, IPv4:PORT, bare IPv6,
 * [IPv6]:PORT, [IPv6] and :PORT, normalise addresses to the form wsstatsd
 * stores (zeros compressed, IPv4-mapped IPv6 as IPv4), and reject host
 * names, bad ports, a ']' missing and junk; --code takes codes, ranges and
 * "none" up to 16 items and rejects codes above 65535, reversed ranges,
 * empty items and signs; --outcome takes the five names of docs/design.md §3 only.
 */
#include <string.h>

#include "unit.h"

#include "../../cli/filters.h"

static void server_ok(const char *s, const char *ip, int port)
{
    struct query_filter f = {.server_port = -1};
    struct filter_text ft;
    const char *err = filter_parse_server(s, &f, &ft);
    if (err) {
        print_error("--server %s: %s\n", s, err);
        fail();
    }
    if (ip)
        assert_string_equal(f.server_ip, ip);
    else
        assert_null(f.server_ip);
    assert_int_equal(f.server_port, port);
}

static void server_bad(const char *s)
{
    struct query_filter f = {.server_port = -1};
    struct filter_text ft;
    if (!filter_parse_server(s, &f, &ft)) {
        print_error("--server %s accepted\n", s);
        fail();
    }
}

static void endpoints(void **state)
{
    (void)state;
    server_ok("10.0.0.2", "10.0.0.2", -1);
    server_ok("10.0.0.2:443", "10.0.0.2", 443);
    server_ok("::1", "::1", -1);
    server_ok("0:0:0:0:0:0:0:0001", "::1", -1);
    server_ok("[2001:db8::1]:8080", "2001:db8::1", 8080);
    server_ok("[2001:DB8:0::1]", "2001:db8::1", -1);
    server_ok("::ffff:192.0.2.7", "192.0.2.7", -1);
    server_ok(":9000", NULL, 9000);
    server_ok("0.0.0.0:0", "0.0.0.0", 0);
    server_ok("1.2.3.4:65535", "1.2.3.4", 65535);

    struct query_filter f = {.client_port = -1};
    struct filter_text ft;
    assert_null(filter_parse_client("[::1]:5000", &f, &ft));
    assert_string_equal(f.client_ip, "::1");
    assert_int_equal(f.client_port, 5000);
}

static void endpoints_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {"",           ":",           "example.com", "10.0.0.2:",     "10.0.0.2:65536",
                                      "10.0.0.2:-1", "10.0.0.2:8x", "[::1",        "[::1]x",        "[::1]:",
                                      "2001:db8::1:", "1.2.3",       "1.2.3.4.5",   "10.0.0.2:443'", "' OR 1=1 --"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        server_bad(bad[i]);
}

static void codes(void **state)
{
    (void)state;
    struct query_filter f = {0};
    assert_null(filter_parse_codes("1006", &f));
    assert_int_equal(f.ncodes, 1);
    assert_int_equal(f.codes[0].lo, 1006);
    assert_int_equal(f.codes[0].hi, 1006);
    assert_null(filter_parse_codes("1000,4000-4999,none,0,65535", &f));
    assert_int_equal(f.ncodes, 5);
    assert_int_equal(f.codes[1].lo, 4000);
    assert_int_equal(f.codes[1].hi, 4999);
    assert_int_equal(f.codes[2].lo, -1);
    assert_int_equal(f.codes[3].lo, 0);
    assert_int_equal(f.codes[4].hi, 65535);
    assert_null(filter_parse_codes("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", &f));
    assert_int_equal(f.ncodes, 16);
}

static void codes_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {"",      "65536", "-1",        "+1000", "1000,",    ",1000", "1000,,1001",
                                      "abc",   "10 06", "4999-4000", "4000-", "-4000",   "99999999999",
                                      "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "NONE", "1006'"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct query_filter f = {0};
        if (!filter_parse_codes(bad[i], &f)) {
            print_error("--code %s accepted\n", bad[i]);
            fail();
        }
    }
}

static void outcomes(void **state)
{
    (void)state;
    struct query_filter f = {0};
    assert_null(filter_parse_outcomes("abnormal", &f));
    assert_int_equal(f.outcomes, 1u << 2);
    assert_null(filter_parse_outcomes("clean,half_closed,abnormal,unfinished,rejected", &f));
    assert_int_equal(f.outcomes, 0x1f);
    static const char *const bad[] = {"", "Clean", "closed", "clean,", "clean,,abnormal", "half-closed"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_non_null(filter_parse_outcomes(bad[i], &f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(endpoints), cmocka_unit_test(endpoints_rejected), cmocka_unit_test(codes),
        cmocka_unit_test(codes_rejected), cmocka_unit_test(outcomes),
    };
    RUN_TESTS(tests);
}
