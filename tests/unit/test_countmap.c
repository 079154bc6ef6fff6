/*
 * tests/unit/test_countmap.c — common/countmap.c, the one counting hash map.
 *
 * Proves: a key's adds sum into one entry, in order of first appearance;
 * the null key is a key of its own, apart from ""; keys are copied (the
 * caller's buffer may change) and followed by a NUL; a map that folds case
 * counts "Host" and "HOST" as one, keeping the first spelling; a bounded
 * map refuses a new key when full but still counts known ones, and takes
 * new ones after countmap_clear(); an unbounded one grows (100,000 keys,
 * each found again with its count, key pointers valid after the growth);
 * struct keys read back in place; a sorted map is read only.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../../common/countmap.h"

static void adds_sum_in_first_appearance_order(void **state)
{
    (void)state;
    struct countmap m;
    assert_int_equal(countmap_init(&m, NULL), 0);
    assert_int_equal(countmap_add_str(&m, "b", 2), 0);
    assert_int_equal(countmap_add_str(&m, "a", 1), 1);
    assert_int_equal(countmap_add_str(&m, "b", 3), 0);
    assert_int_equal(m.n, 2);
    assert_int_equal(countmap_at(&m, 0)->n, 5);
    assert_string_equal(countmap_at(&m, 1)->key, "a");
    assert_int_equal(countmap_find(&m, "a", 1), 1);
    assert_int_equal(countmap_find(&m, "c", 1), -1);
    assert_true(countmap_is(&m, 0, "b", 1));
    assert_false(countmap_is(&m, 0, "a", 1));
    countmap_free(&m);
}

static void the_null_key_is_its_own(void **state)
{
    (void)state;
    struct countmap m;
    assert_int_equal(countmap_init(&m, NULL), 0);
    long null_key = countmap_add_str(&m, NULL, 1);
    long empty = countmap_add_str(&m, "", 1);
    assert_true(null_key >= 0 && empty >= 0 && null_key != empty);
    assert_null(countmap_at(&m, null_key)->key);
    assert_string_equal(countmap_at(&m, empty)->key, "");
    assert_int_equal(countmap_add_str(&m, NULL, 1), null_key);
    assert_int_equal(countmap_at(&m, null_key)->n, 2);
    assert_true(countmap_is(&m, null_key, NULL, 0));
    assert_false(countmap_is(&m, empty, NULL, 0));
    countmap_free(&m);
}

static void keys_are_copied(void **state)
{
    (void)state;
    struct countmap m;
    char buf[8] = "key";
    assert_int_equal(countmap_init(&m, NULL), 0);
    assert_int_equal(countmap_add(&m, buf, 3, 1), 0);
    buf[0] = 'X';
    assert_string_equal(countmap_at(&m, 0)->key, "key");
    assert_int_equal(countmap_at(&m, 0)->len, 3);
    assert_int_equal(countmap_add(&m, "key", 3, 1), 0);
    countmap_free(&m);
}

static void folding_case_keeps_the_first_spelling(void **state)
{
    (void)state;
    struct countmap m;
    struct countmap_options o = {.fold_case = true};
    assert_int_equal(countmap_init(&m, &o), 0);
    assert_int_equal(countmap_add_str(&m, "Example.TEST", 1), 0);
    assert_int_equal(countmap_add_str(&m, "example.test", 1), 0);
    assert_int_equal(countmap_add_str(&m, "EXAMPLE.TEST", 1), 0);
    assert_int_equal(countmap_add_str(&m, "example.tesT2", 1), 1);
    assert_string_equal(countmap_at(&m, 0)->key, "Example.TEST");
    assert_int_equal(countmap_at(&m, 0)->n, 3);
    countmap_free(&m);
    assert_int_equal(countmap_init(&m, NULL), 0); /* without folding: three keys */
    countmap_add_str(&m, "Example.TEST", 1);
    countmap_add_str(&m, "example.test", 1);
    assert_int_equal(m.n, 2);
    countmap_free(&m);
}

static void a_bounded_map_refuses_new_keys_when_full(void **state)
{
    (void)state;
    struct countmap m;
    struct countmap_options o = {.max_entries = 100, .reserve_key_bytes = 100 * 16};
    char key[16];
    assert_int_equal(countmap_init(&m, &o), 0);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(countmap_add_str(&m, key, 1), i);
    }
    assert_int_equal(countmap_add_str(&m, "one more", 1), -1);
    assert_int_equal(countmap_add_str(&m, "k7", 1), 7);
    assert_int_equal(countmap_at(&m, 7)->n, 2);
    countmap_clear(&m);
    assert_int_equal(m.n, 0);
    assert_int_equal(countmap_find(&m, "k7", 2), -1);
    assert_int_equal(countmap_add_str(&m, "one more", 1), 0);
    assert_string_equal(countmap_at(&m, 0)->key, "one more");
    countmap_free(&m);
}

static void an_unbounded_map_grows(void **state)
{
    (void)state;
    struct countmap m;
    char key[32];
    assert_int_equal(countmap_init(&m, NULL), 0);
    for (int round = 1; round <= 2; round++)
        for (int i = 0; i < 100000; i++) {
            snprintf(key, sizeof key, "a rather long key number %d", i);
            assert_int_equal(countmap_add_str(&m, key, i), i);
        }
    assert_int_equal(m.n, 100000);
    for (int i = 0; i < 100000; i += 997) {
        snprintf(key, sizeof key, "a rather long key number %d", i);
        long at = countmap_find(&m, key, strlen(key));
        assert_int_equal(at, i);
        assert_int_equal(countmap_at(&m, at)->n, 2LL * i);
        assert_string_equal(countmap_at(&m, at)->key, key);
    }
    countmap_free(&m);
}

struct pair_key {
    double when;
    int code;
};

static void struct_keys_read_back_in_place(void **state)
{
    (void)state;
    struct countmap m;
    assert_int_equal(countmap_init(&m, NULL), 0);
    for (int i = 0; i < 50; i++) {
        struct pair_key k;
        memset(&k, 0, sizeof k);
        k.when = i * 0.5;
        k.code = 1000 + i % 5;
        countmap_add(&m, &k, sizeof k, 1);
    }
    assert_int_equal(m.n, 50);
    const struct pair_key *k = countmap_at(&m, 49)->key;
    assert_true(k->when == 24.5);
    assert_int_equal(k->code, 1004);
    countmap_free(&m);
}

static int by_count_desc(const void *a, const void *b)
{
    const struct countmap_entry *x = a, *y = b;
    return x->n == y->n ? 0 : x->n < y->n ? 1 : -1;
}

static void a_sorted_map_is_read_only(void **state)
{
    (void)state;
    struct countmap m;
    assert_int_equal(countmap_init(&m, NULL), 0);
    countmap_add_str(&m, "one", 1);
    countmap_add_str(&m, "three", 3);
    countmap_add_str(&m, "two", 2);
    countmap_sort(&m, by_count_desc);
    assert_string_equal(countmap_at(&m, 0)->key, "three");
    assert_string_equal(countmap_at(&m, 2)->key, "one");
    assert_int_equal(countmap_add_str(&m, "four", 4), -1);
    assert_int_equal(countmap_find(&m, "one", 3), -1);
    countmap_clear(&m);
    assert_int_equal(countmap_add_str(&m, "four", 4), 0);
    countmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adds_sum_in_first_appearance_order),
        cmocka_unit_test(the_null_key_is_its_own),
        cmocka_unit_test(keys_are_copied),
        cmocka_unit_test(folding_case_keeps_the_first_spelling),
        cmocka_unit_test(a_bounded_map_refuses_new_keys_when_full),
        cmocka_unit_test(an_unbounded_map_grows),
        cmocka_unit_test(struct_keys_read_back_in_place),
        cmocka_unit_test(a_sorted_map_is_read_only),
    };
    RUN_TESTS(tests);
}
