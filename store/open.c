/*
 * store/open.c — the connection to the database file, for every mode: the
 * writer's (created or migrated, WAL, its prepared statements) and the
 * reader's (read-only, or immutable), each with one schema check
 * (schema.c), each failure a code (store.h) and one line.
 *
 * The writer: WAL journal (readers never block the writer),
 * synchronous=NORMAL (a crash loses at most the last commit, never
 * corrupts), one prepared INSERT bound per record (record_sql.c).
 *
 * The reader: a database in WAL mode needs its -shm file, which SQLite
 * creates next to it: a reader who may not write that directory cannot
 * open it unless a writer has made it. Without a -wal file no writer has
 * the database open, and it can be read as immutable (a "file:" URI with
 * immutable=1); with one, the message says what is missing.
 */
#include "store_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "record_sql.h"

static int prepare_statements(struct store *st, char *err)
{
    struct store_conn *c = &st->conn;
    char *rows = record_sql_insert_rows(INSERT_ROWS);
    if (!rows) {
        snprintf(err, ERR_MAX, "out of memory");
        return -1;
    }
    struct {
        sqlite3_stmt **s;
        const char *sql;
    } stmts[] = {
        {&c->insert, RECORD_SQL_INSERT},
        {&c->insert_rows, rows},
        {&c->begin, "BEGIN"},
        {&c->commit, "COMMIT"},
        {&c->rollback, "ROLLBACK"},
        {&c->cap_insert, captures_insert_sql},
        {&c->cap_update, captures_update_sql},
        {&c->tls_upsert, "INSERT INTO tls_flows (hour, sensor, server_ip, server_port, sni, connections, updated_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE"
                         " SET connections = connections + excluded.connections, updated_at = excluded.updated_at"},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0] && rc == 0; i++) {
        if (sqlite3_prepare_v2(c->db, stmts[i].sql, -1, stmts[i].s, NULL) != SQLITE_OK) {
            describe(c->db, err, "preparing statements");
            rc = -1;
        }
    }
    sqlite3_free(rows);
    return rc;
}

void conn_close(struct store *st)
{
    struct store_conn *c = &st->conn;
    sqlite3_stmt **stmts[] = {&c->insert, &c->insert_rows, &c->begin, &c->commit, &c->rollback,
                              &c->tls_upsert, &c->cap_insert, &c->cap_update};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sqlite3_finalize(*stmts[i]);
        *stmts[i] = NULL;
    }
    sqlite3_close(c->db);
    c->db = NULL;
}

/* The writer's settings. ignore_check_constraints: the schema's CHECKs
 * guard the database against other writers; this one binds outcome and
 * initiator from fixed tables (model/record.c). SQLite evaluates `outcome
 * IN (five values)` by building a temporary index on every INSERT: a third
 * of the cost of writing a record.
 * page_size: applies only to a database created here (it must come before
 * the schema, which writes the first page); an existing one keeps its
 * own. journal_mode=WAL, which writes the file, comes only after the
 * schema check (conn_open_write): a refused file keeps every byte. 8 KiB
 * instead of SQLite's 4 takes a sixth off each record's B-tree
 * inserts (the table and 12 indexes: fewer levels and splits); the query
 * times of bench/queries.sh stay as they were but one, and 16 KiB pages
 * slowed more of them. */
/* A pragma (or several) on the writer's connection, its failure named. */
static int pragma(struct store *st, const char *sql, char *err)
{
    char what[600];
    snprintf(what, sizeof what, "cannot use database %s", st->where.path);
    return exec(st->conn.db, sql, err, what);
}

static int set_pragmas(struct store *st, char *err)
{
    char pragmas[240];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA page_size=%d; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
             " PRAGMA ignore_check_constraints=ON; PRAGMA cache_size=-%d",
             PAGE_BYTES, CACHE_KIB);
    return pragma(st, pragmas, err);
}

/* Whether path names a file (SQLite's ":memory:", which the store takes
 * from its own callers, names none). */
static bool on_disk(const char *path)
{
    return *path && strcmp(path, ":memory:") != 0;
}

/* The file the connection has open, to tell it from one moved there later. */
static int note_file(struct store *st, char *err)
{
    const char *path = st->where.path;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        st->conn.dev = sb.st_dev;
        st->conn.ino = sb.st_ino;
    } else if (on_disk(path)) { /* moved or deleted this very moment */
        snprintf(err, ERR_MAX, "cannot open database %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The directory of path ("." for a bare name). */
static void dir_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, len, ".");
    else if (slash == path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* Why this process could not write a database at path, in the system's
 * words, before SQLite tries (its own message would be "unable to open
 * database file" or "attempt to write a readonly database"). A WAL
 * database needs its directory writable too: SQLite creates the -wal and
 * -shm files beside it. Returns STORE_OPENED when nothing stands in the way. */
static enum store_open_code writable_or_why(const char *path, char *err)
{
    char dir[PATH_MAX];
    dir_of(path, dir, sizeof dir);
    bool exists = access(path, F_OK) == 0;
    if (exists && access(path, R_OK | W_OK) != 0) {
        int why = errno;
        snprintf(err, ERR_MAX, "cannot write database %s: %s%s", path, strerror(why),
                 why == EROFS ? "" : " (check the owner and mode of the file)");
        return open_code_of_errno(why);
    }
    if (access(dir, W_OK | X_OK) != 0) {
        int why = errno;
        if (why == ENOENT || why == ENOTDIR)
            snprintf(err, ERR_MAX, "cannot create database %s: no directory %s", path, dir);
        else if (exists)
            snprintf(err, ERR_MAX,
                     "cannot write database %s: the directory %s must be writable too, for SQLite's -wal and -shm"
                     " files beside it: %s",
                     path, dir, strerror(why));
        else
            snprintf(err, ERR_MAX, "cannot create database %s in %s: %s", path, dir, strerror(why));
        return open_code_of_errno(why);
    }
    return STORE_OPENED;
}

/* schema_check()'s verify: a migration is committed only if the writer's
 * statements prepare on the tables it made. */
static int statements_for_migration(void *arg, char *err)
{
    char why[ERR_MAX];
    if (prepare_statements(arg, why) == 0)
        return 0;
    snprintf(err, ERR_MAX, "%s", why);
    return -1;
}

/* A database of the current version whose statements do not prepare
 * (tables under our names without our keys or columns): refused as it is. */
static enum store_open_code statements_or_foreign(struct store *st, char *err)
{
    char why[ERR_MAX];
    if (prepare_statements(st, why) == 0)
        return STORE_OPENED;
    snprintf(err, ERR_MAX, "%s: not a wsstats database of version %d (%s)", st->where.path, STORE_SCHEMA_VERSION,
             why);
    return STORE_E_FOREIGN;
}

/* Captures left running by a process that is gone become interrupted; a
 * failure (a damaged page) is told and the open goes on: the file is the
 * writer's by now, and the commit will say what is wrong with it. */
static void mark_interrupted_rows(struct store *st)
{
    char why[ERR_MAX];
    int interrupted = mark_interrupted(st, why);
    if (interrupted < 0)
        report(st, STORE_WARNING, "%s", why);
    else if (interrupted > 0)
        report(st, STORE_WARNING, "%d capture%s left running by a wsstatsd that is gone (killed, or the machine"
               " stopped) marked interrupted", interrupted, interrupted == 1 ? "" : "s");
}

int conn_open_write(struct store *st, char *err, enum store_open_code *code)
{
    const char *path = st->where.path;
    sqlite3 **db = &st->conn.db;
    if (on_disk(path) && (*code = writable_or_why(path, err)) != STORE_OPENED)
        return -1;
    /* NOMUTEX: one thread at a time uses the connection (store_internal.h),
     * so SQLite's own per-call locking is pure cost. */
    errno = 0;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        int saved = errno;
        char what[600];
        snprintf(what, sizeof what, "cannot open database %s", path);
        describe(*db, err, what);
        *code = open_code_of(*db, saved);
        return -1;
    }
    /* SQLite falls back to reading a file it may not write, silently:
     * every commit would fail. */
    if (sqlite3_db_readonly(*db, "main") == 1) {
        snprintf(err, ERR_MAX,
                 "cannot write database %s: this process may only read it (check the owner and mode of the file)",
                 path);
        *code = STORE_E_READ_ONLY;
        return -1;
    }
    sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
    /* Nothing is written until the file is known to be ours and every
     * statement of the writer prepares (foreign keys on: as they will
     * run); only then the journal mode (a header write) and the rest. */
    if (set_pragmas(st, err) < 0) {
        *code = open_code_of(*db, 0);
        return -1;
    }
    if ((*code = schema_guard(*db, path, err)) != STORE_OPENED)
        return -1;
    if ((*code = schema_check(*db, path, true, err, statements_for_migration, st)) != STORE_OPENED)
        return -1;
    if (!st->conn.insert && (*code = statements_or_foreign(st, err)) != STORE_OPENED)
        return -1; /* a current version: prepared here, before anything is written */
    if (pragma(st, "PRAGMA journal_mode=WAL", err) < 0) {
        *code = open_code_of(*db, 0);
        return -1;
    }
    mark_interrupted_rows(st);
    *code = STORE_E_IO;
    if (note_file(st, err) < 0)
        return -1;
    *code = STORE_OPENED;
    return 0;
}

/* ---- the reader ---------------------------------------------------------------- */

/* "file:" URI of path, opened immutable (percent-escapes for what a URI
 * path cannot hold as it is). */
static void immutable_uri(const char *path, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && used + 4 < len; p++) {
        if (*p == '?' || *p == '#' || *p == '%' || *p <= ' ' || *p >= 0x7f)
            used += (size_t)snprintf(buf + used, len - used, "%%%02X", (unsigned)*p);
        else
            buf[used++] = (char)*p;
    }
    snprintf(buf + used, len - used, "?immutable=1");
}

static int fail_with(struct store_open_error *e, enum store_open_code code)
{
    e->code = code;
    return -1;
}

/* Opens path as immutable and checks its version. */
static int open_immutable(struct store *st, struct store_open_error *e)
{
    const char *path = st->where.path;
    char uri[3 * PATH_MAX + 32];
    immutable_uri(path, uri, sizeof uri);
    if (sqlite3_open_v2(uri, &st->conn.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        snprintf(e->msg, sizeof e->msg, "%s: %s", path, sqlite3_errmsg(st->conn.db));
        return fail_with(e, open_code_of(st->conn.db, 0));
    }
    long long version;
    enum store_open_code code = schema_check_readable(st->conn.db, &version);
    if (code != STORE_OPENED) {
        snprintf(e->msg, sizeof e->msg, "%s: schema version %d is not one this program reads (%d to %d)", path,
                 (int)version, STORE_MIN_READ_VERSION, STORE_SCHEMA_VERSION);
        return fail_with(e, code);
    }
    return 0;
}

/* SQLite could not open the file for reading (e holds why): when that is
 * for want of a -shm this user may create, and no writer has the database
 * open, it is read as immutable; otherwise the message says what is
 * missing. */
static int read_without_shm(struct store *st, struct store_open_error *e)
{
    const char *path = st->where.path;
    char wal[PATH_MAX], shm[PATH_MAX], dir[PATH_MAX];
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    dir_of(path, dir, sizeof dir);
    if (access(path, R_OK) != 0) {
        int why = errno;
        snprintf(e->msg, sizeof e->msg, "%s: cannot read it: %s", path, strerror(why));
        return fail_with(e, open_code_of_errno(why));
    }
    bool dir_writable = access(dir, W_OK) == 0;
    if (dir_writable && access(shm, F_OK) == 0 && access(shm, W_OK) != 0) {
        snprintf(e->msg, sizeof e->msg,
                 "%s: cannot read this WAL-mode database: this user may not write %s (run as the database's owner)",
                 path, shm);
        return fail_with(e, STORE_E_PERMISSION);
    }
    if (dir_writable || !sqlite3_compileoption_used("USE_URI"))
        return -1; /* as SQLite said */
    if (access(wal, F_OK) == 0) {
        snprintf(e->msg, sizeof e->msg,
                 "%s: cannot read this WAL-mode database: SQLite must create %s, and this user may not write %s "
                 "(run as the database's owner, or while wsstatsd has it open)",
                 path, shm, dir);
        return fail_with(e, STORE_E_PERMISSION);
    }
    conn_close(st);
    return open_immutable(st, e);
}

/* The plain read-only open. Returns 0, or -1 with e filled and *sqlite_code
 * SQLite's code for the failure. */
static int open_read_only(struct store *st, struct store_open_error *e, int *sqlite_code)
{
    const char *path = st->where.path;
    char err[ERR_MAX];
    /* one thread per connection: no mutexes (a tenth of a large report) */
    errno = 0;
    if (sqlite3_open_v2(path, &st->conn.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        *sqlite_code = sqlite3_extended_errcode(st->conn.db);
        e->code = open_code_of(st->conn.db, errno);
        snprintf(err, sizeof err, "cannot open database %s: %s", path, sqlite3_errmsg(st->conn.db));
        snprintf(e->msg, sizeof e->msg, "%s", err);
        return -1;
    }
    sqlite3_busy_timeout(st->conn.db, BUSY_TIMEOUT_MS);
    if ((e->code = schema_check(st->conn.db, path, false, err, NULL, NULL)) == STORE_OPENED)
        return 0;
    *sqlite_code = sqlite3_extended_errcode(st->conn.db);
    if ((*sqlite_code & 0xff) == SQLITE_NOTADB)
        snprintf(err, sizeof err, "%s: not an SQLite database", path);
    snprintf(e->msg, sizeof e->msg, "%s", err);
    return -1;
}

int conn_open_read(struct store *st, struct store_open_error *e)
{
    int sqlite_code = SQLITE_OK;
    if (open_read_only(st, e, &sqlite_code) == 0)
        return 0;
    int primary = sqlite_code & 0xff;
    return primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN ? read_without_shm(st, e) : -1;
}
