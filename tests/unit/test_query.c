/*
 * tests/unit/test_query.c — query/, the read side, on databases the store
 * wrote (and on fixtures of earlier schemas).
 *
 * Proves: the records come back from query_connections() as the records
 * that were stored, column for column, newest first, with the table's
 * columns in its order (a schema v1 fixture too); a value
 * the store never writes is an error naming its column, not a crash or a
 * guess; top-codes counts and orders (most frequent first, codes before
 * "no code", which is split by outcome); the filters select what they say
 * (host in any case, path prefix, codes and ranges, outcomes, a window)
 * and match a user's quotes literally; group-by folds the case of host
 * names, keeps their first spelling, ranks each group's codes, honours its
 * limit and counts every group; summary's totals are the same whether read
 * from the indexes (no filter) or in one pass (a filter that selects
 * everything); timeline buckets by end time; and query_open() refuses a
 * missing database and a directory with the store's messages.
 */
#include "store_test.h"

#include <strings.h>

#include "../../query/query.h"

#define T0 1700000000000000LL /* microseconds: 2023-11-14 22:13:20 */
#define NREC 12

static void write_sample(const char *path)
{
    struct store *st = open_or_fail(path, STORE_WRITE, NULL);
    struct ws_record r;
    for (int i = 0; i < NREC; i++) {
        sample_record(&r, i, T0);
        if (i == NREC - 1) { /* the newest: every optional column empty */
            r.vlan = -1;
            r.upgraded_at = TS_NONE;
            r.subprotocol = r.origin = r.user_agent = r.close_reason = NULL;
            r.close_code = -1;
            r.close_initiator = -1;
            r.close[DIR_CLIENT] = r.close[DIR_SERVER] = (struct close_info){-1, NULL, TS_NONE};
            r.outcome = OUTCOME_UNFINISHED;
            r.termination = TERM_CAPTURE_END;
            r.last_frame_at = r.last_data_at = TS_NONE;
            r.host = "EXAMPLE.test";
        }
        assert_int_equal(store_add(st, &r), 0);
    }
    close_or_fail(st);
}

static struct query_db *open_query(const char *path)
{
    char err[QUERY_OPEN_ERROR_MAX];
    struct query_db *q = query_open(path, err, sizeof err);
    if (!q)
        fail_msg("query_open(%s): %s", path, err);
    return q;
}

/* A scratch directory with the sample's database, open for reading. */
static struct query_db *sample_db(struct scratch *s, char *path)
{
    scratch_make(s);
    write_sample(scratch_path(s, "q.db", path));
    return open_query(path);
}

static const struct query_filter no_filter = {.server_port = -1, .client_port = -1};

/* Whether a and b have the same value in every record column. */
static void assert_same_record(const struct ws_record *a, const struct ws_record *b)
{
    struct column_value x, y;
    for (int k = 0; k < RECORD_NCOLUMNS; k++) {
        record_column_value(a, k, &x);
        record_column_value(b, k, &y);
        if (x.type != y.type || x.i != y.i || x.d != y.d ||
            (x.type == VALUE_TEXT && strcmp(x.text, y.text) != 0))
            fail_msg("column %s differs", record_columns[k].name);
    }
}

static void records_come_back_as_stored(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct query_db *q = sample_db(&s, path);
    struct query_rows *rows;
    assert_int_equal(query_connections(q, &no_filter, 0, false, &rows), 0);
    const struct query_column *layout;
    int n = query_rows_layout(rows, &layout);
    assert_int_equal(n, RECORD_NCOLUMNS + 2);
    assert_int_equal(layout[0].column, QUERY_COLUMN_ID);
    assert_string_equal(layout[1].name, record_columns[0].name);
    assert_int_equal(layout[n - 1].column, QUERY_COLUMN_CAPTURE);
    struct query_row row;
    int i = NREC - 1, got;
    while ((got = query_rows_next(rows, &row)) > 0) {
        struct ws_record want;
        sample_record(&want, i, T0);
        if (i == NREC - 1) {
            assert_int_equal(row.rec.outcome, OUTCOME_UNFINISHED);
            assert_null(row.rec.subprotocol);
            assert_int_equal(row.rec.close_code, -1);
            assert_true(row.rec.upgraded_at == TS_NONE);
        } else {
            assert_same_record(&row.rec, &want);
        }
        assert_int_equal(row.id, i + 1);
        assert_false(row.has_capture); /* no captures row was begun */
        i--;
    }
    assert_int_equal(got, 0);
    assert_int_equal(i, -1);
    query_rows_close(rows);
    query_close(q);
    scratch_remove(&s);
}

static void an_old_schema_gives_its_columns(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], buf[4096];
    scratch_make(&s);
    load_fixture("schema-v1.sql", scratch_path(&s, "v1.db", path));
    const char *names = sql_rows(path, "SELECT name FROM pragma_table_info('connections') ORDER BY cid", buf,
                                 sizeof buf);
    struct query_db *q = open_query(path);
    struct query_rows *rows;
    assert_int_equal(query_connections(q, &no_filter, 0, false, &rows), 0);
    const struct query_column *layout;
    int n = query_rows_layout(rows, &layout);
    for (int i = 0; i < n; i++) { /* the table's columns, in its order */
        size_t len = strcspn(names, "\n");
        assert_int_equal(strlen(layout[i].name), len);
        assert_memory_equal(layout[i].name, names, len);
        names += len + (names[len] ? 1 : 0);
    }
    assert_string_equal(names, "");
    struct query_row row;
    int count = 0, got;
    while ((got = query_rows_next(rows, &row)) > 0)
        count++;
    assert_int_equal(got, 0);
    assert_int_equal(count, sql_int(path, "SELECT count(*) FROM connections"));
    query_rows_close(rows);
    query_close(q);
    scratch_remove(&s);
}

static void a_value_never_written_is_an_error(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    scratch_make(&s);
    write_sample(scratch_path(&s, "q.db", path));
    sql_exec(path, "UPDATE connections SET termination = 'vanished' WHERE id = 5");
    struct query_db *q = open_query(path);
    struct query_rows *rows;
    assert_int_equal(query_connections(q, &no_filter, 0, false, &rows), 0);
    struct query_row row;
    int got, seen = 0;
    while ((got = query_rows_next(rows, &row)) > 0)
        seen++;
    assert_int_equal(got, -1);
    assert_int_equal(seen, NREC - 5); /* ids 12 .. 6 */
    assert_non_null(strstr(query_error(q), "connection 5: column termination"));
    query_rows_close(rows);
    query_close(q);
    scratch_remove(&s);
}

struct codes_seen {
    int n;
    struct code_count c[16];
    char outcome[16][16];
};

static void on_code(void *arg, const struct code_count *c)
{
    struct codes_seen *seen = arg;
    if (seen->n < 16) {
        seen->c[seen->n] = *c;
        snprintf(seen->outcome[seen->n], sizeof seen->outcome[0], "%s", c->outcome ? c->outcome : "");
        seen->n++;
    }
}

static struct codes_seen top_codes(struct query_db *q, const struct query_filter *f)
{
    struct codes_seen seen = {0};
    assert_int_equal(query_top_codes(q, f, on_code, &seen), 0);
    return seen;
}

static void top_codes_count_and_order(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct query_db *q = sample_db(&s, path);
    /* codes 1000 + i % 5 for i < 11: 1000 x3, 1001 x3, 1002..1004 x2, then none (unfinished) */
    struct codes_seen seen = top_codes(q, &no_filter);
    assert_int_equal(seen.n, 6);
    assert_int_equal(seen.c[0].code, 1000);
    assert_int_equal(seen.c[0].count, 3);
    assert_int_equal(seen.c[1].code, 1001);
    assert_int_equal(seen.c[4].code, 1004);
    assert_int_equal(seen.c[5].code, -1);
    assert_string_equal(seen.outcome[5], "unfinished");
    query_close(q);
    scratch_remove(&s);
}

static long long count_of(struct query_db *q, const struct query_filter *f)
{
    long long n = -1;
    assert_int_equal(query_count(q, f, &n), 0);
    return n;
}

static void filters_select_what_they_say(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct query_db *q = sample_db(&s, path);
    struct query_filter f = no_filter;
    f.host = "example.TEST";
    assert_int_equal(count_of(q, &f), NREC);
    f = no_filter;
    f.path = "/a*";
    assert_int_equal(count_of(q, &f), 4); /* "/a?b=1": i % 3 == 2 */
    f.path = "/chat";
    assert_int_equal(count_of(q, &f), 4);
    f = no_filter;
    f.codes[0] = (struct code_range){1002, 1004};
    f.codes[1] = (struct code_range){-1, -1};
    f.ncodes = 2;
    assert_int_equal(count_of(q, &f), 7);
    f = no_filter;
    f.outcomes = 1u << OUTCOME_UNFINISHED | 1u << OUTCOME_REJECTED;
    assert_int_equal(count_of(q, &f), 1);
    f = no_filter;
    f.has_since = f.has_until = true;
    f.since = (double)(T0 + 10000000 + 2 * 1000000) / 1e6; /* records end 10 s after they start, 1 s apart */
    f.until = f.since + 3;
    assert_int_equal(count_of(q, &f), 3);
    f = no_filter;
    f.host = "example.test' OR '1'='1";
    assert_int_equal(count_of(q, &f), 0);
    f = no_filter;
    f.server_ip = "2001:db8::2";
    f.server_port = 443;
    assert_int_equal(count_of(q, &f), NREC / 2);
    query_close(q);
    scratch_remove(&s);
}

struct groups_seen {
    int rows;
    char key[8][64];
    long long total[8];
    int rank[8], code[8];
    long long all;
};

static void on_group(void *arg, const struct group_row *g, long long all)
{
    struct groups_seen *seen = arg;
    if (seen->rows < 8) {
        snprintf(seen->key[seen->rows], sizeof seen->key[0], "%s", g->key ? g->key : "(none)");
        seen->total[seen->rows] = g->total;
        seen->rank[seen->rows] = g->rank;
        seen->code[seen->rows] = g->code.code;
        seen->rows++;
    }
    seen->all = all;
}

static void group_by_folds_host_case_and_ranks_codes(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct query_db *q = sample_db(&s, path);
    struct groups_seen seen = {0};
    long long ngroups = 0;
    assert_int_equal(query_group_by(q, &no_filter, KEY_HOST, 0, on_group, &seen, &ngroups), 0);
    assert_int_equal(ngroups, 1); /* "example.test" and "EXAMPLE.test" */
    assert_int_equal(seen.rows, 3);
    assert_int_equal(strcasecmp(seen.key[0], "example.test"), 0); /* one of its spellings */
    assert_int_equal(seen.total[0], NREC);
    assert_int_equal(seen.rank[0], 1);
    assert_int_equal(seen.code[0], 1000);
    assert_int_equal(seen.code[1], 1001);
    assert_int_equal(seen.rank[2], 3);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(query_group_by(q, &no_filter, KEY_SUBPROTOCOL, 1, on_group, &seen, &ngroups), 0);
    assert_int_equal(ngroups, 2); /* "chat" (6) and none (6) */
    assert_string_equal(seen.key[0], "(none)");
    assert_int_equal(seen.all, NREC);
    for (int r = 0; r < seen.rows; r++)
        assert_string_equal(seen.key[r], "(none)"); /* the limit: one group */
    query_close(q);
    scratch_remove(&s);
}

struct tallies {
    long long gap_truncated, websocket;
};

static void on_violation(void *arg, const char *value, long long n)
{
    if (value && strcmp(value, "gap,truncated") == 0)
        ((struct tallies *)arg)->gap_truncated = n;
}

static void on_ndpi(void *arg, const char *value, long long n)
{
    if (value && strcmp(value, "WebSocket") == 0)
        ((struct tallies *)arg)->websocket = n;
}

static void summary_is_one_answer_either_way(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct query_db *q = sample_db(&s, path);
    struct summary_counts all, filtered;
    struct tallies ta = {0}, tf = {0};
    assert_int_equal(query_summary(q, &no_filter, &all, on_violation, &ta, on_ndpi, &ta), 0);
    struct query_filter f = no_filter;
    f.has_since = true;
    f.since = 0; /* a window that holds everything: the one-pass path */
    assert_int_equal(query_summary(q, &f, &filtered, on_violation, &tf, on_ndpi, &tf), 0);
    assert_memory_equal(&all, &filtered, sizeof all);
    assert_int_equal(all.total, NREC);
    assert_int_equal(all.outcomes[OUTCOME_CLEAN], NREC - 1);
    assert_int_equal(all.outcomes[OUTCOME_UNFINISHED], 1);
    assert_int_equal(all.by_client, NREC - 1);
    assert_int_equal(all.terminations[TERM_CAPTURE_END], 1);
    assert_int_equal(ta.gap_truncated, 3); /* i % 4 == 3 */
    assert_int_equal(tf.gap_truncated, 3);
    assert_int_equal(ta.websocket, NREC);
    assert_int_equal(tf.websocket, NREC);
    query_close(q);
    scratch_remove(&s);
}

struct buckets_seen {
    int n;
    double start[32];
    long long count[32];
};

static void on_bucket(void *arg, double start, const struct code_count *c)
{
    struct buckets_seen *seen = arg;
    if (seen->n < 32) {
        seen->start[seen->n] = start;
        seen->count[seen->n] = c->count;
        seen->n++;
    }
}

static void timeline_buckets_by_end_time(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct query_db *q = sample_db(&s, path);
    struct buckets_seen seen = {0};
    assert_int_equal(query_timeline(q, &no_filter, 3600, on_bucket, &seen), 0);
    long long sum = 0;
    for (int i = 0; i < seen.n; i++) {
        sum += seen.count[i];
        assert_true(seen.start[i] == 1699999200.0 || seen.start[i] == 1700002800.0);
        assert_true(i == 0 || seen.start[i] >= seen.start[i - 1]);
    }
    assert_int_equal(sum, NREC);
    query_close(q);
    scratch_remove(&s);
}

static void open_refuses_what_is_no_database(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], err[QUERY_OPEN_ERROR_MAX];
    scratch_make(&s);
    assert_null(query_open(scratch_path(&s, "none.db", path), err, sizeof err));
    assert_non_null(strstr(err, "no database at"));
    assert_false(file_exists(path)); /* never created */
    assert_null(query_open(s.dir, err, sizeof err));
    assert_non_null(strstr(err, "is a directory"));
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(records_come_back_as_stored),
        cmocka_unit_test(an_old_schema_gives_its_columns),
        cmocka_unit_test(a_value_never_written_is_an_error),
        cmocka_unit_test(top_codes_count_and_order),
        cmocka_unit_test(filters_select_what_they_say),
        cmocka_unit_test(group_by_folds_host_case_and_ranks_codes),
        cmocka_unit_test(summary_is_one_answer_either_way),
        cmocka_unit_test(timeline_buckets_by_end_time),
        cmocka_unit_test(open_refuses_what_is_no_database),
    };
    RUN_TESTS(tests);
}
