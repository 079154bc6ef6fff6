/*
 * tests/unit/test_store_writer.c — the writer's work (store/queue.c,
 * writer.c, batch.c, captures.c, retention.c, rotate.c), seen from the
 * database it writes.
 *
 * Proves: records added are in the file after store_commit() and after
 * store_close(), none twice, each with its captures row's id; a captures
 * row is written when begun (running, 0 connections), then with its new
 * figures and `connections` counting the records written with it; TLS
 * flows add up per (hour, sensor, server, port, SNI), across commits too;
 * store_expire() deletes the records that ended more than --retention
 * before the newest one and says how many; after the file is renamed,
 * store_reopen() leaves the earlier records in the renamed file with its
 * captures row closed as "reopened", writes the later ones into a new file
 * at the path with the row written anew (the moved file holds its records
 * without a -wal: its WAL was copied into it before the old one went), and
 * tells "reopened" once.
 */
#include "store_test.h"

#define T0 1700000000000000LL /* microseconds: 2023-11-14 */

static void add_records(struct store *st, int from, int n)
{
    struct ws_record r;
    for (int i = from; i < from + n; i++) {
        sample_record(&r, i, T0);
        assert_int_equal(store_add(st, &r), 0);
    }
}

static void commit_or_fail(struct store *st)
{
    if (store_commit(st) < 0)
        fail_msg("store_commit: %s", store_error(st));
}

static void commit_and_close(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct store *st = fresh_writer(&s, "ws.db", path, NULL);
    add_records(st, 0, 10);
    commit_or_fail(st);
    assert_int_equal(store_queued(st), 0);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM connections"), 10);
    add_records(st, 10, 5);
    close_or_fail(st);
    assert_int_equal(sql_int(path, "SELECT count(DISTINCT client_port) FROM connections"), 15);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM connections WHERE capture_id IS NOT NULL"), 0);
    scratch_remove(&s);
}

static struct capture_row file_row(const char *status, uint64_t packets)
{
    return (struct capture_row){.sensor = "ws.pcap", .source = "/caps/ws.pcap", .started_at = 1700000100.5,
                                .first_packet_at = 1700000000.0, .last_packet_at = 1700000009.0,
                                .packets = packets, .bytes = packets * 100, .tcp_flows = 3, .status = status};
}

static void captures_rows(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], rows[1024];
    struct store *st = fresh_writer(&s, "ws.db", path, NULL);
    struct capture_row row = file_row(NULL, 0);
    int cap = store_capture_begin(st, &row);
    assert_int_equal(cap, 0);
    commit_or_fail(st);
    const char *q = "SELECT sensor, source, kind, started_at, ended_at, packets, bytes, tcp_flows, connections,"
                    " status, received FROM captures";
    assert_string_equal(sql_rows(path, q, rows, sizeof rows),
                        "ws.pcap|/caps/ws.pcap|file|1700000100.5|NULL|0|0|3|0|running|NULL\n");
    add_records(st, 0, 3);
    row = file_row("complete", 42);
    row.ended_at = 1700000200.25;
    store_capture_update(st, cap, &row);
    close_or_fail(st);
    assert_string_equal(sql_rows(path, q, rows, sizeof rows),
                        "ws.pcap|/caps/ws.pcap|file|1700000100.5|1700000200.25|42|4200|3|3|complete|NULL\n");
    assert_int_equal(sql_int(path, "SELECT count(*) FROM connections WHERE capture_id = (SELECT id FROM captures)"),
                     3);
    scratch_remove(&s);
}

static void tls_counts(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], rows[1024];
    struct store *st = fresh_writer(&s, "ws.db", path, NULL);
    struct tls_flow a = {.ts = T0 + 5, .sensor = "eth0", .server_port = 443, .sni = "a.test"};
    snprintf(a.server_ip, sizeof a.server_ip, "10.0.0.9");
    struct tls_flow b = a;
    b.ts = T0 + 3600000000LL; /* the next hour */
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_tls_add(st, &a), 0);
    assert_int_equal(store_tls_add(st, &b), 0);
    commit_or_fail(st);
    assert_int_equal(store_tls_add(st, &a), 0); /* added to the row already written */
    assert_int_equal(store_tls_lost(st), 0);
    close_or_fail(st);
    static const char counts[] = "SELECT hour, sensor, server_ip, server_port, sni, connections FROM tls_flows"
                                 " ORDER BY hour";
    assert_string_equal(sql_rows(path, counts, rows, sizeof rows),
                        "1699999200.0|eth0|10.0.0.9|443|a.test|4\n"
                        "1700002800.0|eth0|10.0.0.9|443|a.test|1\n");
    /* each count says when it last changed (the commit's wall clock) */
    assert_int_equal(sql_int(path, "SELECT count(*) FROM tls_flows"
                                   " WHERE abs(updated_at - CAST(strftime('%s', 'now') AS REAL)) < 60"), 2);
    scratch_remove(&s);
}

static void retention_from_the_newest(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN];
    struct store_options o = {.retention = 5.5};
    struct store *st = fresh_writer(&s, "ws.db", path, &o);
    add_records(st, 0, 10); /* ended at T0 + 10.000123 s + i s */
    /* the newest ended at +19.000123 s: those before +13.500123 s go (i < 3.5) */
    assert_int_equal(store_expire(st), 4);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM connections"), 6);
    assert_int_equal(sql_int(path, "SELECT min(client_port) FROM connections"), 40004);
    assert_int_equal(store_expire(st), 0);
    close_or_fail(st);
    scratch_remove(&s);
}

/* The report callback's lines, kept for the test. */
struct told {
    char lines[8][256];
    int n;
};

static void keep_report(void *arg, enum store_level level, const char *msg)
{
    struct told *t = arg;
    (void)level;
    if (t->n < 8)
        snprintf(t->lines[t->n++], sizeof t->lines[0], "%s", msg);
}

static void reopen_after_a_move(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], moved[PATH_LEN], wal[PATH_LEN], shm[PATH_LEN], rows[1024];
    scratch_make(&s);
    scratch_path(&s, "ws.db", path);
    scratch_path(&s, "ws.db.1", moved);
    scratch_path(&s, "ws.db-wal", wal);
    scratch_path(&s, "ws.db-shm", shm);
    struct told told = {0};
    struct store_options o = {.report = keep_report, .report_arg = &told};
    struct store *st = open_or_fail(path, STORE_WRITE, &o);
    struct capture_row row = file_row(NULL, 10);
    int cap = store_capture_begin(st, &row);
    add_records(st, 0, 2);
    commit_or_fail(st);
    assert_int_equal(rename(path, moved), 0); /* as logrotate does: -wal and -shm stay */
    assert_true(file_exists(wal));
    store_reopen(st);
    commit_or_fail(st); /* its round has reopened */
    assert_true(file_exists(path));
    add_records(st, 2, 3);
    row = file_row("complete", 20);
    store_capture_update(st, cap, &row);
    close_or_fail(st);

    /* the moved file's -wal went with the old name: its records are in the file itself */
    char moved_wal[PATH_LEN];
    snprintf(moved_wal, sizeof moved_wal, "%s-wal", moved);
    assert_false(file_exists(moved_wal));
    const char *q = "SELECT (SELECT group_concat(client_port) FROM connections), connections, status FROM captures";
    assert_string_equal(sql_rows(moved, q, rows, sizeof rows), "40000,40001|2|reopened\n");
    assert_string_equal(sql_rows(path, q, rows, sizeof rows), "40002,40003,40004|3|complete\n");
    assert_int_equal(sql_int(path, "SELECT count(*) FROM connections WHERE capture_id = (SELECT id FROM captures)"),
                     3);
    assert_int_equal(told.n, 1);
    assert_string_equal(told.lines[0], "reopened");
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commit_and_close),
        cmocka_unit_test(captures_rows),
        cmocka_unit_test(tls_counts),
        cmocka_unit_test(retention_from_the_newest),
        cmocka_unit_test(reopen_after_a_move),
    };
    RUN_TESTS(tests);
}
