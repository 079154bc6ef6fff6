/*
 * tests/unit/test_store_record_sql.c — store/record_sql.c, a record's
 * columns as SQL values and back, and the name lookups of model/record.c
 * it reads with.
 *
 * Proves: record_sql_bind() gives each column the SQL type and value the
 * store has always written (text, integer or REAL, NULL for each kind's
 * "none": NULL or "" text, "" address, negative optional integer, TS_NONE,
 * side -1, TERM_NONE, no violations; a boolean as 0/1); record_sql_read()
 * inverts it — a record with every kind set and one with every kind at its
 * NULL value come back field for field (empty strings as NULL), through a
 * statement and through the store's own file, with the strings copied
 * (refused when they do not fit) or borrowed from the row; times come back
 * to the microsecond such that (double)us / 1e6 is the stored double, over
 * two million values; every outcome, termination, side and combination of
 * violations is parsed back from its name, and unknown names are refused.
 */
#include "store_test.h"

#include <math.h>

#include "../../store/record_sql.h"

/* "SELECT ?1, ..., ?41": the bound values, as columns 0 .. 40. */
#define ECHO_SQL "SELECT " RECORD_PLACEHOLDERS "NULL"

/* A record with every column set (the texts live in static storage). */
static void full_record(struct ws_record *r)
{
    sample_record(r, 1, 1700000000000000LL);
    r->extensions = "permessage-deflate; client_max_window_bits";
    r->close[DIR_SERVER].reason = "going";
    r->close_initiator = DIR_SERVER;
    r->outcome = OUTCOME_HALF_CLOSED;
    r->termination = TERM_RST_SERVER;
    r->bytes[0] = 1ull << 40;
    r->violations = V_GAP | V_TRUNCATED | V_BAD_ACCEPT;
}

/* Every kind at its NULL value (or, where it has none, its zero). */
static void null_record(struct ws_record *r)
{
    memset(r, 0, sizeof *r);
    r->host = ""; /* "" is NULL too */
    r->vlan = r->http_status = r->close_code = r->close_initiator = -1;
    r->close[0].code = r->close[1].code = -1;
    r->started_at = r->upgraded_at = r->ended_at = TS_NONE;
    r->close[0].at = r->close[1].at = r->last_frame_at = r->last_data_at = TS_NONE;
    r->outcome = OUTCOME_REJECTED;
    r->termination = TERM_NONE;
}

static sqlite3_stmt *echo(sqlite3 *db, const struct ws_record *r)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, ECHO_SQL, -1, &s, NULL), SQLITE_OK);
    record_sql_bind(s, 1, r);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    return s;
}

/* Column i as "T:text", "I:int", "R:%.17g" or "N". */
static void column_as_text(sqlite3_stmt *s, int i, char *buf, size_t len)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_TEXT: snprintf(buf, len, "T:%s", (const char *)sqlite3_column_text(s, i)); break;
    case SQLITE_INTEGER: snprintf(buf, len, "I:%lld", (long long)sqlite3_column_int64(s, i)); break;
    case SQLITE_FLOAT: snprintf(buf, len, "R:%.17g", sqlite3_column_double(s, i)); break;
    default: snprintf(buf, len, "N"); break;
    }
}

static void expect_values(const struct ws_record *r, const char *const *want)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_stmt *s = echo(db, r);
    for (int i = 0; i < RECORD_NCOLUMNS; i++) {
        char got[256], wanted[256];
        column_as_text(s, i, got, sizeof got);
        if (want[i][0] == 'R') /* the double nearest the decimal, printed as the other */
            snprintf(wanted, sizeof wanted, "R:%.17g", strtod(want[i] + 2, NULL));
        else
            snprintf(wanted, sizeof wanted, "%s", want[i]);
        if (strcmp(got, wanted) != 0)
            fail_msg("column %s: %s, expected %s", record_columns[i].name, got, wanted);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void binds_every_kind(void **state)
{
    (void)state;
    static const char *const full[RECORD_NCOLUMNS] = {
        "T:eth0", "T:10.0.0.2", "I:40001", "T:2001:db8::2", "I:443", "I:7",
        "R:1700000001.000123", "R:1700000001.00469", "R:1700000011.000123",
        "T:example.test", "T:/feed", "T:https://example.test", "T:ua/1.0", "T:chat",
        "T:permessage-deflate; client_max_window_bits", "I:101", "I:1", "I:1001", "T:bye", "T:server",
        "I:1001", "T:bye", "R:1700000010.980123", "I:1001", "T:going", "R:1700000010.990123",
        "T:half_closed", "T:rst_server", "I:3", "I:4", "I:2", "I:3", "I:1099511627776", "I:200", "I:1", "I:1",
        "R:1700000010.990123", "R:1700000010.970123", "T:bad_accept,gap,truncated", "T:WebSocket",
    };
    static const char *const none[RECORD_NCOLUMNS] = {
        "N", "N", "I:0", "N", "I:0", "N", "N", "N", "N", "N", "N", "N", "N", "N", "N", "N", "I:0", "N", "N", "N",
        "N", "N", "N", "N", "N", "N", "T:rejected", "N", "I:0", "I:0", "I:0", "I:0", "I:0", "I:0", "I:0", "I:0",
        "N", "N", "N", "N",
    };
    struct ws_record r;
    full_record(&r);
    expect_values(&r, full);
    r.handshake_seen = 2; /* any true value is 1 */
    r.close_code = 0;     /* 0 is a value, not NULL */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_stmt *s = echo(db, &r);
    assert_int_equal(sqlite3_column_int(s, 16), 1);
    assert_int_equal(sqlite3_column_type(s, 17), SQLITE_INTEGER);
    sqlite3_finalize(s);
    sqlite3_close(db);
    null_record(&r);
    expect_values(&r, none);
}

static void expect_same_text(const char *got, const char *want)
{
    if (want && *want)
        assert_string_equal(got, want);
    else
        assert_null(got); /* NULL and "" are both NULL */
}

/* Field for field, by the column list. */
static void expect_same_record(const struct ws_record *got, const struct ws_record *want)
{
    for (int i = 0; i < RECORD_NCOLUMNS; i++) {
        const struct record_column *c = &record_columns[i];
        const void *g = record_field(got, c), *w = record_field(want, c);
        switch (c->kind) {
        case COL_TEXT: expect_same_text(*(const char *const *)g, *(const char *const *)w); break;
        case COL_ADDR: assert_string_equal(g, w); break;
        case COL_PORT: assert_int_equal(*(const uint16_t *)g, *(const uint16_t *)w); break;
        case COL_TIME: assert_int_equal(*(const ts_us_t *)g, *(const ts_us_t *)w); break;
        case COL_COUNT: assert_int_equal(*(const uint64_t *)g, *(const uint64_t *)w); break;
        case COL_VIOLATIONS: assert_int_equal(*(const uint32_t *)g, *(const uint32_t *)w); break;
        default: assert_int_equal(*(const int *)g, *(const int *)w); break; /* the int-sized kinds */
        }
    }
}

static void reads_back_what_it_binds(void **state)
{
    (void)state;
    void (*const makers[2])(struct ws_record *) = {full_record, null_record};
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (int m = 0; m < 2; m++) {
        struct ws_record r, back;
        makers[m](&r);
        sqlite3_stmt *s = echo(db, &r);
        size_t need = record_sql_strings_size(s, 0);
        char *strings = malloc(need + 1);
        assert_non_null(strings);
        if (need) /* one byte short: refused */
            assert_int_equal(record_sql_read(s, 0, &back, strings, need - 1), -1);
        memset(&back, 0x5a, sizeof back);
        assert_int_equal(record_sql_read(s, 0, &back, strings, need), 0);
        expect_same_record(&back, &r);
        memset(&back, 0x5a, sizeof back);
        assert_int_equal(record_sql_read(s, 0, &back, NULL, 0), 0); /* borrowed from the row */
        expect_same_record(&back, &r);
        sqlite3_finalize(s);
        free(strings);
    }
    sqlite3_close(db);
}

static void reads_back_from_the_store(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct ws_record full, none, back;
    full_record(&full);
    null_record(&none);
    none.sensor = "eth1"; /* NOT NULL columns of the table */
    snprintf(none.client_ip, sizeof none.client_ip, "::1");
    snprintf(none.server_ip, sizeof none.server_ip, "::2");
    none.started_at = none.ended_at = 0;
    none.termination = TERM_CAPTURE_END;
    struct store *st = fresh_writer(&s, "ws.db", path, NULL);
    assert_int_equal(store_add(st, &full), 0);
    assert_int_equal(store_add(st, &none), 0);
    close_or_fail(st);
    st = open_or_fail(path, STORE_READ, NULL);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(store_db(st), "SELECT " RECORD_COLUMN_LIST "id FROM connections ORDER BY id",
                                        -1, &q, NULL),
                     SQLITE_OK);
    const struct ws_record *want[2] = {&full, &none};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(record_sql_read(q, 0, &back, NULL, 0), 0);
        expect_same_record(&back, want[i]);
        assert_int_equal(sqlite3_column_int(q, RECORD_NCOLUMNS), i + 1);
    }
    sqlite3_finalize(q);
    close_or_fail(st);
    scratch_remove(&s);
}

/* More records than one multi-row INSERT takes (the writer binds
 * INSERT_ROWS, 128, to a statement, the rest of a batch one by one): each
 * comes back, in order, with its capture's id. */
static void reads_back_many_from_the_store(void **state)
{
    (void)state;
    enum { N = 2 * 128 + 5 };
    struct scratch s;
    char path[PATH_LEN];
    struct ws_record want[N], back;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 2) {
            full_record(&want[i]);
        } else {
            null_record(&want[i]);
            want[i].sensor = "eth1";
            snprintf(want[i].server_ip, sizeof want[i].server_ip, "::2");
            want[i].started_at = want[i].ended_at = 0;
            want[i].termination = TERM_CAPTURE_END;
        }
        snprintf(want[i].client_ip, sizeof want[i].client_ip, "10.1.%d.%d", i / 200, i % 200);
        want[i].client_port = (uint16_t)(1000 + i);
    }
    struct store *st = fresh_writer(&s, "ws.db", path, NULL);
    struct capture_row row = {.sensor = "eth1", .source = "eth1", .started_at = 1700000100.5,
                              .first_packet_at = -1, .last_packet_at = -1, .status = NULL};
    int cap = store_capture_begin(st, &row);
    assert_true(cap >= 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(store_add(st, &want[i]), 0);
    close_or_fail(st);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM connections WHERE capture_id = (SELECT id FROM captures)"),
                     N);
    st = open_or_fail(path, STORE_READ, NULL);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(store_db(st), "SELECT " RECORD_COLUMN_LIST "id FROM connections ORDER BY id",
                                        -1, &q, NULL),
                     SQLITE_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_int_equal(record_sql_read(q, 0, &back, NULL, 0), 0);
        expect_same_record(&back, &want[i]);
    }
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    close_or_fail(st);
    scratch_remove(&s);
}

/* The inverse at one value; through SQLite's REAL storage too. */
static void expect_time_round_trip(sqlite3_stmt *s, ts_us_t us)
{
    double stored = (double)us / 1e6;
    ts_us_t back = 0;
    if (s) {
        sqlite3_bind_double(s, 1, stored);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        stored = sqlite3_column_double(s, 0);
        sqlite3_reset(s);
    }
    assert_int_equal(record_sql_time(stored, &back), 0);
    if (back != us)
        fail_msg("%lld us stored as %.17g came back as %lld", (long long)us, stored, (long long)back);
}

static void times_come_back_to_the_microsecond(void **state)
{
    (void)state;
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT ?1", -1, &s, NULL), SQLITE_OK);
    static const ts_us_t edges[] = {0, 1, -1, 999999, 1000000, 1000001, -1000001, 1700000000000000LL,
                                    1700000000999999LL, 4102444800000000LL, 8589934591999999LL, -8589934591999999LL};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        expect_time_round_trip(s, edges[i]);
    for (ts_us_t us = 1700000000000000LL; us < 1700000000000000LL + 200000; us++) /* every us of 0.2 s */
        expect_time_round_trip(us % 16 ? NULL : s, us);
    uint64_t x = 88172645463325252ull; /* xorshift64: spread over +-2^33 s */
    for (int i = 0; i < 2000000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ts_us_t us = (ts_us_t)(x % 17179869183999999ull) - 8589934591999999LL;
        expect_time_round_trip(i % 64 ? NULL : s, us);
    }
    ts_us_t ignored;
    assert_int_equal(record_sql_time(1e300, &ignored), -1);
    assert_int_equal(record_sql_time(NAN, &ignored), -1);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void names_parse_back(void **state)
{
    (void)state;
    for (int o = OUTCOME_CLEAN; o <= OUTCOME_REJECTED; o++) {
        enum outcome back;
        assert_int_equal(outcome_parse(outcome_name((enum outcome)o), &back), 0);
        assert_int_equal(back, o);
    }
    for (int t = TERM_FIN_CLIENT; t <= TERM_LAST; t++) {
        enum termination back;
        assert_int_equal(termination_parse(termination_name((enum termination)t), &back), 0);
        assert_int_equal(back, t);
    }
    for (int d = DIR_CLIENT; d <= DIR_SERVER; d++) {
        int back;
        assert_int_equal(side_parse(side_name(d), &back), 0);
        assert_int_equal(back, d);
    }
    assert_null(side_name(-1));
    assert_null(termination_name(TERM_NONE));
    for (uint32_t bits = 0; bits < 1u << V_COUNT; bits++) {
        char text[512];
        uint32_t back = ~0u;
        violations_format(bits, text, sizeof text);
        assert_int_equal(violations_parse(text, &back), 0);
        assert_int_equal(back, bits);
    }
    enum outcome o = OUTCOME_CLEAN;
    enum termination t = TERM_NONE;
    int d = 5;
    uint32_t v = 9;
    assert_int_equal(outcome_parse("Clean", &o), -1);
    assert_int_equal(outcome_parse(NULL, &o), -1);
    assert_int_equal(termination_parse("", &t), -1);
    assert_int_equal(side_parse("both", &d), -1);
    assert_int_equal(violations_parse("gap,", &v), -1);
    assert_int_equal(violations_parse(",gap", &v), -1);
    assert_int_equal(violations_parse("gap,,truncated", &v), -1);
    assert_int_equal(violations_parse("ga", &v), -1);
    assert_int_equal(violations_parse("gapx", &v), -1);
    assert_int_equal(o, OUTCOME_CLEAN);
    assert_int_equal(t, TERM_NONE);
    assert_int_equal(d, 5);
    assert_int_equal(v, 9);
}

static void refuses_what_it_never_writes(void **state)
{
    (void)state;
    static const struct {
        const char *column, *value;
    } wrong[] = {
        {"outcome", "done"},
        {"termination", "gone"},
        {"close_initiator", "both"},
        {"violations", "gap,nope"},
        {"client_ip", "0123456789012345678901234567890123456789012345678"}, /* longer than any address */
    };
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    struct ws_record r, back;
    full_record(&r);
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        sqlite3_stmt *s; /* the record's row, with one value changed */
        assert_int_equal(sqlite3_prepare_v2(db, ECHO_SQL, -1, &s, NULL), SQLITE_OK);
        record_sql_bind(s, 1, &r);
        for (int k = 0; k < RECORD_NCOLUMNS; k++)
            if (strcmp(record_columns[k].name, wrong[i].column) == 0)
                sqlite3_bind_text(s, k + 1, wrong[i].value, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        if (record_sql_read(s, 0, &back, NULL, 0) != -1)
            fail_msg("%s = '%s' was read", wrong[i].column, wrong[i].value);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binds_every_kind),
        cmocka_unit_test(reads_back_what_it_binds),
        cmocka_unit_test(reads_back_from_the_store),
        cmocka_unit_test(reads_back_many_from_the_store),
        cmocka_unit_test(times_come_back_to_the_microsecond),
        cmocka_unit_test(names_parse_back),
        cmocka_unit_test(refuses_what_it_never_writes),
    };
    RUN_TESTS(tests);
}
