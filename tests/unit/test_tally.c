/*
 * tests/unit/test_tally.c — store/tally.c, the in-memory TLS tally.
 *
 * Proves: flows with the same (hour, sensor, server, port, SNI) add up in
 * one entry and any one field apart makes another, in order of first
 * appearance; counts can be added in bulk (a failed commit's entries go
 * back); names longer than their field are keyed as cut, so they still add
 * up; a full table refuses a new key but still counts known ones; clear
 * empties it for reuse.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../../store/tally.h"

static void same_key_adds_up(void **state)
{
    (void)state;
    struct tally t;
    assert_int_equal(tally_init(&t), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tally_add(&t, 3600, "eth0", "10.0.0.1", 443, "a.test", 1), 0);
    assert_int_equal(tally_add(&t, 7200, "eth0", "10.0.0.1", 443, "a.test", 1), 0);  /* hour */
    assert_int_equal(tally_add(&t, 3600, "eth1", "10.0.0.1", 443, "a.test", 1), 0);  /* sensor */
    assert_int_equal(tally_add(&t, 3600, "eth0", "10.0.0.2", 443, "a.test", 1), 0);  /* server */
    assert_int_equal(tally_add(&t, 3600, "eth0", "10.0.0.1", 8443, "a.test", 1), 0); /* port */
    assert_int_equal(tally_add(&t, 3600, "eth0", "10.0.0.1", 443, "", 1), 0);        /* no SNI */
    assert_int_equal(tally_add(&t, 3600, "eth0", "10.0.0.1", 443, "a.test", 5), 0);
    assert_int_equal(tally_size(&t), 6);
    assert_int_equal(tally_count_at(&t, 0), 8);
    assert_string_equal(tally_key_at(&t, 0)->sni, "a.test");
    for (size_t i = 1; i < tally_size(&t); i++)
        assert_int_equal(tally_count_at(&t, i), 1);
    assert_int_equal(tally_key_at(&t, 2)->sensor[3], '1');
    assert_string_equal(tally_key_at(&t, 5)->sni, "");
    tally_free(&t);
}

static void long_names_are_keyed_as_stored(void **state)
{
    (void)state;
    struct tally t;
    char sensor[300], sni[400];
    memset(sensor, 's', sizeof sensor - 1);
    sensor[sizeof sensor - 1] = '\0';
    memset(sni, 'n', sizeof sni - 1);
    sni[sizeof sni - 1] = '\0';
    assert_int_equal(tally_init(&t), 0);
    assert_int_equal(tally_add(&t, 0, sensor, "::1", 443, sni, 1), 0);
    assert_int_equal(tally_add(&t, 0, sensor, "::1", 443, sni, 1), 0);
    assert_int_equal(tally_size(&t), 1);
    assert_int_equal(tally_count_at(&t, 0), 2);
    assert_int_equal(strlen(tally_key_at(&t, 0)->sni), sizeof tally_key_at(&t, 0)->sni - 1);
    tally_free(&t);
}

static void full_table_and_clear(void **state)
{
    (void)state;
    struct tally t;
    char name[32];
    assert_int_equal(tally_init(&t), 0);
    for (int i = 0; i < TALLY_MAX; i++) {
        snprintf(name, sizeof name, "host%d.test", i);
        assert_int_equal(tally_add(&t, 0, "s", "10.0.0.1", 443, name, 1), 0);
    }
    assert_int_equal(tally_add(&t, 0, "s", "10.0.0.1", 443, "one.more.test", 1), -1);
    assert_int_equal(tally_add(&t, 0, "s", "10.0.0.1", 443, "host7.test", 1), 0);
    assert_int_equal(tally_size(&t), TALLY_MAX);
    assert_int_equal(tally_count_at(&t, 7), 2);
    tally_clear(&t);
    assert_int_equal(tally_size(&t), 0);
    assert_int_equal(tally_add(&t, 0, "s", "10.0.0.1", 443, "host7.test", 1), 0);
    assert_int_equal(tally_size(&t), 1);
    assert_int_equal(tally_count_at(&t, 0), 1);
    tally_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_key_adds_up),
        cmocka_unit_test(long_names_are_keyed_as_stored),
        cmocka_unit_test(full_table_and_clear),
    };
    RUN_TESTS(tests);
}
