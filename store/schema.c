/*
 * store/schema.c — the schema version check, and the migrations that take
 * a database to STORE_SCHEMA_VERSION (the steps themselves are SQL text in
 * schema.sql.h).
 *
 * One judgement serves every open (schema_verdict): a database is this
 * program's if its user_version is one it knows, or 0 with no tables at
 * all (a new file, which the writer creates); an SQLite database with
 * tables but no version is somebody else's and is left as it is. The
 * writer migrates anything older in one transaction; the reader takes
 * STORE_MIN_READ_VERSION and up, whose tables hold the same records.
 *
 * The writer looks before it changes anything (schema_guard): a database
 * it refuses keeps its journal mode and every byte.
 */
#include "store_internal.h"

#include <stdio.h>

#include "record_sql.h"
#include "schema.sql.h"

/* What a database's version and tables make it. */
enum verdict { V_CURRENT, V_READABLE, V_MIGRATE, V_TOO_NEW, V_FOREIGN, V_TOO_OLD };

static enum verdict schema_verdict(long long version, long long tables, bool writer)
{
    if (version > STORE_SCHEMA_VERSION)
        return V_TOO_NEW;
    if (version == 0 && tables) /* tables but no version: somebody else's */
        return V_FOREIGN;
    if (version == STORE_SCHEMA_VERSION)
        return V_CURRENT;
    if (!writer)
        return version >= STORE_MIN_READ_VERSION ? V_READABLE : V_TOO_OLD;
    return version < 0 ? V_FOREIGN : V_MIGRATE; /* no step leads from a negative version */
}

static int read_version(sqlite3 *db, long long *version, long long *tables, char *err)
{
    return query_int(db, "PRAGMA user_version", version, err, "reading the schema version") < 0 ||
                   query_int(db, "SELECT count(*) FROM sqlite_master", tables, err, "reading the database") < 0
               ? -1
               : 0;
}

/* Every step from `version` on, in one transaction. Returns 0, -1, or -2
 * when a step found the tables unlike those of that version (rolled back). */
static int migrate(sqlite3 *db, long long version, char *err, schema_verify_fn verify, void *arg)
{
    if (exec(db, "BEGIN IMMEDIATE", err, "migrating the schema") < 0)
        return -1;
    for (int v = (int)version; v < MIGRATION_COUNT; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (exec(db, migrations[v], err, "migrating the schema") < 0 || exec(db, sql, err, "migrating the schema") < 0) {
            bool unlike = (sqlite3_extended_errcode(db) & 0xff) == SQLITE_ERROR; /* no such table, column */
            char ignored[ERR_MAX];
            exec(db, "ROLLBACK", ignored, "rolling back");
            return unlike ? -2 : -1;
        }
    }
    if (verify && verify(arg, err) < 0) { /* tables the writer cannot write: someone else's */
        char ignored[ERR_MAX];
        exec(db, "ROLLBACK", ignored, "rolling back");
        return -2;
    }
    return exec(db, "COMMIT", err, "migrating the schema");
}

/* The message and code of a database this program will not take. */
static enum store_open_code refuse(enum verdict v, const char *path, long long version, char *err)
{
    switch (v) {
    case V_TOO_NEW:
        snprintf(err, ERR_MAX, "%s: schema version %lld is newer than this program supports (%d); upgrade wsstats",
                 path, version, STORE_SCHEMA_VERSION);
        return STORE_E_TOO_NEW;
    case V_FOREIGN:
        if (version < 0)
            snprintf(err, ERR_MAX, "%s: not a wsstats database (schema version %lld)", path, version);
        else
            snprintf(err, ERR_MAX, "%s: not a wsstats database (it has other tables)", path);
        return STORE_E_FOREIGN;
    case V_TOO_OLD:
        snprintf(err, ERR_MAX, "%s: schema version %lld is older than %d; run wsstatsd on it once to migrate", path,
                 version, STORE_SCHEMA_VERSION);
        return STORE_E_TOO_OLD;
    default: return STORE_OPENED;
    }
}

enum store_open_code schema_check(sqlite3 *db, const char *path, bool writer, char *err, schema_verify_fn verify,
                                  void *arg)
{
    long long version, tables;
    if (read_version(db, &version, &tables, err) < 0)
        return open_code_of(db, 0);
    enum verdict v = schema_verdict(version, tables, writer);
    if (v != V_MIGRATE)
        return refuse(v, path, version, err);
    int rc = migrate(db, version, err, verify, arg);
    if (rc == 0)
        return STORE_OPENED;
    if (rc == -1)
        return open_code_of(db, 0);
    /* the steps found tables unlike those of that version (rolled back: untouched) */
    char why[ERR_MAX];
    snprintf(why, sizeof why, "%s", err);
    snprintf(err, ERR_MAX, "%s: not a wsstats database of version %lld (%s)", path, version, why);
    return STORE_E_FOREIGN;
}

/* A database of this version whose tables lack what the writer writes
 * (someone's tables under our names): preparing the writer's INSERTs
 * names the first missing column, and writes nothing. */
static enum store_open_code shape_check(sqlite3 *db, const char *path, char *err)
{
    const char *const writes[] = {RECORD_SQL_INSERT, captures_insert_sql,
                                  "SELECT hour, sensor, server_ip, server_port, sni, connections, updated_at FROM tls_flows"};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db, writes[i], -1, &s, NULL);
        sqlite3_finalize(s);
        if (rc != SQLITE_OK) {
            snprintf(err, ERR_MAX, "%s: not a wsstats database of version %d (%s)", path, STORE_SCHEMA_VERSION,
                     sqlite3_errmsg(db));
            return STORE_E_FOREIGN;
        }
    }
    return STORE_OPENED;
}

enum store_open_code schema_guard(sqlite3 *db, const char *path, char *err)
{
    long long version, tables;
    char ignored[ERR_MAX];
    if (read_version(db, &version, &tables, ignored) < 0)
        return STORE_OPENED; /* told by what follows */
    enum verdict v = schema_verdict(version, tables, true);
    return v == V_CURRENT ? shape_check(db, path, err) : refuse(v, path, version, err);
}

enum store_open_code schema_check_readable(sqlite3 *db, long long *version)
{
    char ignored[ERR_MAX];
    long long tables = 0;
    if (query_int(db, "PRAGMA user_version", version, ignored, "reading the schema version") < 0) {
        *version = -1;
        return open_code_of(db, 0);
    }
    if (query_int(db, "SELECT count(*) FROM sqlite_master", &tables, ignored, "reading the database") < 0)
        tables = 0; /* the version alone decides whether it is read */
    switch (schema_verdict(*version, tables, false)) {
    case V_CURRENT:
    case V_READABLE: return STORE_OPENED;
    case V_TOO_NEW: return STORE_E_TOO_NEW;
    case V_FOREIGN: return STORE_E_FOREIGN;
    default: return STORE_E_TOO_OLD;
    }
}
