/*
 * tests/unit/test_store_open.c — store_open() in both modes (store/store.c,
 * store/open.c, store/schema.c): what opens, and for what does not, the
 * code and the one-line message.
 *
 * Proves: the writer creates a missing file, in WAL mode with 8 KiB pages
 * and the current schema; the reader never creates one (not_found); a
 * directory is refused by both (is_directory), a missing directory by the
 * writer (not_found); an empty 0-byte file becomes a database for the
 * writer and is too old for the reader, which leaves it empty; a text file
 * is not_sqlite for both; an SQLite database with other tables (foreign)
 * and one of a newer schema (too_new) are refused by both and come out
 * byte for byte as they were, with no -wal or -shm. As user nobody (in a
 * forked child; skipped, said so, where that cannot be done): a file the
 * writer may only read is read_only; a WAL database in a directory the
 * reader may not write is read as immutable when no -wal is there, and
 * refused with the reason (permission) when one is, or when the file
 * cannot be read; a newer schema found on that path is too_new.
 */
#include "store_test.h"

/* Expects store_open() to refuse path with that code and message. */
static void expect_refused(const char *path, enum store_mode mode, enum store_open_code code, const char *msg)
{
    struct store_open_error e;
    struct store *st = store_open(path, mode, NULL, &e);
    if (st) {
        close_or_fail(st);
        fail_msg("%s opened", path);
    }
    assert_string_equal(store_open_code_name(e.code), store_open_code_name(code));
    assert_string_equal(e.msg, msg);
}

/* Expects both modes to refuse path, and the file to stay as it was. */
static void expect_both_refuse_untouched(const char *path, enum store_open_code code, const char *wmsg,
                                         const char *rmsg)
{
    size_t before_len, after_len;
    char *before = file_bytes(path, &before_len), wal[PATH_LEN], shm[PATH_LEN];
    assert_non_null(before);
    expect_refused(path, STORE_WRITE, code, wmsg);
    expect_refused(path, STORE_READ, code, rmsg);
    char *after = file_bytes(path, &after_len);
    assert_non_null(after);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    assert_false(file_exists(wal));
    assert_false(file_exists(shm));
    free(before);
    free(after);
}

static void writer_creates_a_wal_database(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], rows[256];
    close_or_fail(fresh_writer(&s, "new.db", path, NULL));
    assert_true(file_exists(path));
    assert_string_equal(sql_rows(path, "PRAGMA journal_mode", rows, sizeof rows), "wal\n");
    assert_int_equal(sql_int(path, "PRAGMA page_size"), 8192);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_string_equal(sql_rows(path,
                                 "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", rows,
                                 sizeof rows),
                        "captures\nconnections\nmeta\ntls_flows\n");
    close_or_fail(open_or_fail(path, STORE_READ, NULL));
    scratch_remove(&s);
}

static void reader_never_creates(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], msg[2 * PATH_LEN];
    scratch_make(&s);
    scratch_path(&s, "none.db", path);
    snprintf(msg, sizeof msg, "no database at %s (create one with: wsstatsd -r CAPTURE -w %s)", path, path);
    expect_refused(path, STORE_READ, STORE_E_NOT_FOUND, msg);
    assert_false(file_exists(path));
    scratch_remove(&s);
}

static void a_directory_is_refused(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], msg[2 * PATH_LEN];
    scratch_make(&s);
    snprintf(msg, sizeof msg, "%s: is a directory, not a database (give the file wsstatsd -w wrote)", s.dir);
    expect_refused(s.dir, STORE_READ, STORE_E_IS_DIRECTORY, msg);
    snprintf(msg, sizeof msg, "%s: is a directory, not a database (give a file name in it)", s.dir);
    expect_refused(s.dir, STORE_WRITE, STORE_E_IS_DIRECTORY, msg);
    expect_refused("", STORE_WRITE, STORE_E_BAD_PATH, "the database path is empty: give a file name (-w FILE)");
    expect_refused("/dev/null", STORE_WRITE, STORE_E_BAD_PATH,
                   "/dev/null: not a regular file (a device, FIFO or socket): the database must be a file");
    scratch_path(&s, "no/such/x.db", path);
    snprintf(msg, sizeof msg, "cannot create database %s: no directory %s/no/such", path, s.dir);
    expect_refused(path, STORE_WRITE, STORE_E_NOT_FOUND, msg);
    scratch_remove(&s);
}

static void an_empty_file(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], msg[2 * PATH_LEN];
    scratch_make(&s);
    scratch_path(&s, "empty.db", path);
    fclose(fopen(path, "w"));
    snprintf(msg, sizeof msg, "%s: an empty file, not a wsstats database (wsstatsd -w writes one)", path);
    expect_refused(path, STORE_READ, STORE_E_FOREIGN, msg);
    size_t len;
    free(file_bytes(path, &len));
    assert_int_equal(len, 0);
    close_or_fail(open_or_fail(path, STORE_WRITE, NULL));
    assert_int_equal(sql_int(path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    scratch_remove(&s);
}

static void not_an_sqlite_file(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], wmsg[2 * PATH_LEN], rmsg[2 * PATH_LEN];
    scratch_make(&s);
    scratch_path(&s, "text.db", path);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 40; i++)
        fputs("hello, I am a text file and no database\n", f);
    fclose(f);
    snprintf(wmsg, sizeof wmsg, "cannot use database %s: file is not a database", path);
    snprintf(rmsg, sizeof rmsg, "%s: not an SQLite database", path);
    expect_both_refuse_untouched(path, STORE_E_NOT_SQLITE, wmsg, rmsg);
    scratch_remove(&s);
}

static void a_foreign_database_is_left_alone(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], msg[2 * PATH_LEN];
    scratch_make(&s);
    scratch_path(&s, "other.db", path);
    sql_exec(path, "CREATE TABLE stuff (id INTEGER); INSERT INTO stuff VALUES (1);");
    snprintf(msg, sizeof msg, "%s: not a wsstats database (it has other tables)", path);
    expect_both_refuse_untouched(path, STORE_E_FOREIGN, msg, msg);
    scratch_remove(&s);
}

static void a_newer_schema_is_refused(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], msg[2 * PATH_LEN];
    scratch_make(&s);
    scratch_path(&s, "newer.db", path);
    sql_exec(path, "PRAGMA user_version = 99; CREATE TABLE connections (id INTEGER);");
    snprintf(msg, sizeof msg, "%s: schema version 99 is newer than this program supports (%d); upgrade wsstats",
             path, STORE_SCHEMA_VERSION);
    expect_both_refuse_untouched(path, STORE_E_TOO_NEW, msg, msg);
    scratch_remove(&s);
}

static void codes_have_names(void **state)
{
    (void)state;
    assert_string_equal(store_open_code_name(STORE_OPENED), "opened");
    assert_string_equal(store_open_code_name(STORE_E_PERMISSION), "permission");
    assert_string_equal(store_open_code_name(STORE_E_IO), "io");
    assert_string_equal(store_open_code_name((enum store_open_code)99), "unknown");
}

/* ---- as user nobody ---------------------------------------------------------------- */

struct child_open {
    const char *path;
    enum store_mode mode;
};

/* In the child: opens, counts the records if it is a reader, closes. */
static void open_in_child(const void *arg, struct child_result *out)
{
    const struct child_open *c = arg;
    struct store_open_error e;
    struct store *st = store_open(c->path, c->mode, NULL, &e);
    out->code = st ? STORE_OPENED : (int)e.code;
    snprintf(out->msg, sizeof out->msg, "%s", st ? "" : e.msg);
    if (!st)
        return;
    sqlite3_stmt *s;
    if (c->mode == STORE_READ &&
        sqlite3_prepare_v2(store_db(st), "SELECT count(*) FROM connections", -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            out->count = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    char err[512];
    out->ok = store_close(st, err, sizeof err) == 0;
}

static void expect_in_child(const char *path, enum store_mode mode, enum store_open_code code, const char *msg)
{
    struct child_open c = {path, mode};
    struct child_result r;
    assert_true(run_as_nobody(open_in_child, &c, &r));
    assert_string_equal(r.msg, msg);
    assert_string_equal(store_open_code_name((enum store_open_code)r.code), store_open_code_name(code));
}

/* A database with three records, written (and closed) by root. */
static void database_with_records(const char *path)
{
    struct store *st = open_or_fail(path, STORE_WRITE, NULL);
    struct ws_record r;
    for (int i = 0; i < 3; i++) {
        sample_record(&r, i, 1700000000000000LL);
        assert_int_equal(store_add(st, &r), 0);
    }
    close_or_fail(st);
}

static void a_file_the_writer_may_only_read(void **state)
{
    (void)state;
    struct scratch s;
    char dir[PATH_LEN], path[PATH_LEN], msg[2 * PATH_LEN];
    scratch_make(&s);
    scratch_path(&s, "nobodys", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chown(dir, getpwnam("nobody")->pw_uid, (gid_t)-1), 0);
    snprintf(path, sizeof path, "%s/root.db", dir);
    database_with_records(path);
    assert_int_equal(chmod(path, 0644), 0);
    snprintf(msg, sizeof msg,
             "cannot write database %s: Permission denied (check the owner and mode of the file)", path);
    expect_in_child(path, STORE_WRITE, STORE_E_PERMISSION, msg);
    /* nobody's own file in root's directory: the directory must be writable (the -wal) */
    scratch_path(&s, "theirs.db", path);
    database_with_records(path);
    assert_int_equal(chown(path, getpwnam("nobody")->pw_uid, (gid_t)-1), 0);
    snprintf(msg, sizeof msg,
             "cannot write database %s: the directory %s must be writable too, for SQLite's -wal and -shm files"
             " beside it: Permission denied",
             path, s.dir);
    expect_in_child(path, STORE_WRITE, STORE_E_PERMISSION, msg);
    scratch_path(&s, "new.db", path);
    snprintf(msg, sizeof msg, "cannot create database %s in %s: Permission denied", path, s.dir);
    expect_in_child(path, STORE_WRITE, STORE_E_PERMISSION, msg);
    scratch_remove(&s);
}

static void a_reader_who_may_not_write_the_directory(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], wal[PATH_LEN], shm[PATH_LEN], msg[4 * PATH_LEN];
    scratch_make(&s);
    scratch_path(&s, "ro.db", path);
    database_with_records(path);
    assert_int_equal(chmod(path, 0644), 0);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    assert_false(file_exists(wal));

    /* no writer (no -wal): read as immutable, and nothing is created */
    struct child_open c = {path, STORE_READ};
    struct child_result r;
    assert_true(run_as_nobody(open_in_child, &c, &r));
    assert_string_equal(r.msg, "");
    assert_int_equal(r.code, STORE_OPENED);
    assert_int_equal(r.count, 3);
    assert_true(r.ok);
    assert_false(file_exists(shm));

    /* a -wal, and no -shm this user may create: why */
    fclose(fopen(wal, "w"));
    assert_int_equal(chmod(wal, 0644), 0);
    snprintf(msg, sizeof msg,
             "%s: cannot read this WAL-mode database: SQLite must create %s, and this user may not write %s "
             "(run as the database's owner, or while wsstatsd has it open)",
             path, shm, s.dir);
    expect_in_child(path, STORE_READ, STORE_E_PERMISSION, msg);
    assert_int_equal(remove(wal), 0);

    /* a file this user may not read */
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(msg, sizeof msg, "%s: cannot read it: Permission denied", path);
    expect_in_child(path, STORE_READ, STORE_E_PERMISSION, msg);
    scratch_remove(&s);
}

static void a_newer_schema_read_as_immutable(void **state)
{
    (void)state;
    struct scratch s;
    char path[PATH_LEN], msg[2 * PATH_LEN];
    scratch_make(&s);
    scratch_path(&s, "newer.db", path);
    sql_exec(path, "PRAGMA journal_mode = WAL; PRAGMA user_version = 99; CREATE TABLE connections (id INTEGER);");
    assert_int_equal(chmod(path, 0644), 0);
    snprintf(msg, sizeof msg, "%s: schema version 99 is not one this program reads (1 to %d)", path,
             STORE_SCHEMA_VERSION);
    expect_in_child(path, STORE_READ, STORE_E_TOO_NEW, msg);
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writer_creates_a_wal_database),
        cmocka_unit_test(reader_never_creates),
        cmocka_unit_test(a_directory_is_refused),
        cmocka_unit_test(an_empty_file),
        cmocka_unit_test(not_an_sqlite_file),
        cmocka_unit_test(a_foreign_database_is_left_alone),
        cmocka_unit_test(a_newer_schema_is_refused),
        cmocka_unit_test(codes_have_names),
        /* from here on as user nobody */
        cmocka_unit_test(a_file_the_writer_may_only_read),
        cmocka_unit_test(a_reader_who_may_not_write_the_directory),
        cmocka_unit_test(a_newer_schema_read_as_immutable),
    };
    const size_t as_root = 8, all = sizeof tests / sizeof tests[0];
    size_t n = can_run_as_nobody() ? all : as_root;
    cmocka_set_message_output(CM_OUTPUT_TAP);
    for (size_t i = n; i < all; i++)
        printf("ok - test_store_open/%s # SKIP needs root and user nobody (a forked child drops to it)\n",
               tests[i].name);
    return _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
}
