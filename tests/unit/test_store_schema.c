/*
 * tests/unit/test_store_schema.c — store/schema.c's migrations, from
 * fixtures of every earlier schema, and the record's column list
 * (model/columns.h) against the table the migrations make.
 *
 * Proves: the writer takes a database of schema v1 (tests/data/
 * schema-v1.sql) or v2 (schema-v2.sql) to v3 keeping every record, column
 * for column, every captures row (with `received` NULL) and tls_flows
 * count, with exactly the indexes and tables of a database created at v3,
 * and an empty file (v0) to the same v3; the reader opens v1 and v2 as
 * they are and migrates nothing; PRAGMA table_info(connections) is id, the
 * record's columns in order, capture_id.
 */
#include "store_test.h"

#define ROWS_MAX 65536

/* What must come through a migration unchanged. */
static const char kept_sql[] = "SELECT * FROM connections ORDER BY id";
static const char captures_sql[] =
    "SELECT id, sensor, source, kind, started_at, ended_at, first_packet_at, last_packet_at, packets, bytes,"
    " drops, if_drops, tcp_flows, connections, status FROM captures ORDER BY id";
static const char schema_sql[] =
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name";

static void migrates_keeping_everything(const char *fixture, int version)
{
    struct scratch s;
    char path[PATH_LEN], fresh[PATH_LEN];
    char *before = malloc(ROWS_MAX), *after = malloc(ROWS_MAX), *caps = malloc(ROWS_MAX), *want = malloc(ROWS_MAX);
    assert_non_null(before && after && caps && want);
    scratch_make(&s);
    scratch_path(&s, "old.db", path);
    load_fixture(fixture, path);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), version);
    long long records = sql_int(path, "SELECT count(*) FROM connections");
    assert_true(records > 0);
    sql_rows(path, kept_sql, before, ROWS_MAX);
    sql_rows(path, captures_sql, caps, ROWS_MAX);
    char tls[256] = "";
    if (version >= 2)
        sql_rows(path, "SELECT hour, sensor, server_ip, server_port, sni, connections FROM tls_flows", tls, sizeof tls);

    close_or_fail(open_or_fail(path, STORE_WRITE, NULL));

    assert_int_equal(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_string_equal(sql_rows(path, kept_sql, after, ROWS_MAX), before);
    assert_string_equal(sql_rows(path, captures_sql, after, ROWS_MAX), caps);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM captures WHERE received IS NOT NULL"), 0);
    if (version >= 2) {
        assert_string_equal(sql_rows(path, "SELECT hour, sensor, server_ip, server_port, sni, connections FROM tls_flows",
                                     after, ROWS_MAX), tls);
        /* counts written before v6 have no time of change */
        assert_int_equal(sql_int(path, "SELECT count(*) FROM tls_flows WHERE updated_at IS NOT NULL"), 0);
    }
    scratch_path(&s, "fresh.db", fresh);
    close_or_fail(open_or_fail(fresh, STORE_WRITE, NULL));
    /* the same tables and indexes, each as v3 declares it (ALTER TABLE
     * writes the captures table's SQL with the column appended) */
    assert_string_equal(sql_rows(path, schema_sql, after, ROWS_MAX), sql_rows(fresh, schema_sql, want, ROWS_MAX));
    scratch_remove(&s);
    free(before);
    free(after);
    free(caps);
    free(want);
}

static void from_v1(void **state)
{
    (void)state;
    migrates_keeping_everything("schema-v1.sql", 1);
}

static void from_v2(void **state)
{
    (void)state;
    migrates_keeping_everything("schema-v2.sql", 2);
}

static void from_an_empty_file(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], fresh[PATH_LEN];
    char *got = malloc(ROWS_MAX), *want = malloc(ROWS_MAX);
    assert_non_null(got && want);
    scratch_make(&s);
    scratch_path(&s, "empty.db", path);
    fclose(fopen(path, "w"));
    close_or_fail(open_or_fail(path, STORE_WRITE, NULL));
    scratch_path(&s, "fresh.db", fresh);
    close_or_fail(open_or_fail(fresh, STORE_WRITE, NULL));
    assert_int_equal(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM connections"), 0);
    assert_string_equal(sql_rows(path, schema_sql, got, ROWS_MAX), sql_rows(fresh, schema_sql, want, ROWS_MAX));
    assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"),
                     13 + 1); /* and meta's primary key */
    scratch_remove(&s);
    free(got);
    free(want);
}

static void readers_take_old_schemas_as_they_are(void **state)
{
    (void)state;
    static const char *const fixtures[] = {"schema-v1.sql", "schema-v2.sql"};
    for (int i = 0; i < 2; i++) {
        struct scratch s;
        char path[PATH_LEN];
        scratch_make(&s);
        scratch_path(&s, "old.db", path);
        load_fixture(fixtures[i], path);
        struct store *st = open_or_fail(path, STORE_READ, NULL);
        assert_non_null(store_db(st));
        close_or_fail(st);
        assert_int_equal(sql_int(path, "PRAGMA user_version"), i + 1);
        scratch_remove(&s);
    }
}

static void the_column_list_is_the_table(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], want[4096], got[4096];
    close_or_fail(fresh_writer(&s, "new.db", path, NULL));
    size_t used = (size_t)snprintf(want, sizeof want, "id\n");
    for (int i = 0; i < RECORD_NCOLUMNS; i++)
        used += (size_t)snprintf(want + used, sizeof want - used, "%s\n", record_columns[i].name);
    snprintf(want + used, sizeof want - used, "capture_id\n");
    assert_string_equal(sql_rows(path, "SELECT name FROM pragma_table_info('connections') ORDER BY cid", got,
                                 sizeof got),
                        want);
    /* and the SQL text made from the list names them in that order */
    assert_string_equal(RECORD_COLUMN_LIST "capture_id",
                        "sensor, client_ip, client_port, server_ip, server_port, vlan, started_at, upgraded_at,"
                        " ended_at, host, path, origin, user_agent, subprotocol, extensions, http_status,"
                        " handshake_seen, close_code, close_reason, close_initiator, client_close_code,"
                        " client_close_reason, client_close_at, server_close_code, server_close_reason,"
                        " server_close_at, outcome, termination, frames_client, frames_server, messages_client,"
                        " messages_server, bytes_client, bytes_server, pings, pongs, last_frame_at, last_data_at,"
                        " violations, ndpi_protocol, capture_id");
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(from_v1),
        cmocka_unit_test(from_v2),
        cmocka_unit_test(from_an_empty_file),
        cmocka_unit_test(readers_take_old_schemas_as_they_are),
        cmocka_unit_test(the_column_list_is_the_table),
    };
    RUN_TESTS(tests);
}
