/*
 * store/errors.c — failures as the store tells them: SQLite's error as one
 * line (with the system's reason where SQLite's own message would not tell
 * it), the statement helpers that fill it in, what a failure amounts to for
 * the opener (enum store_open_code) and the report callback.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* "what: SQLite's message", with the system's reason where SQLite's
 * message alone ("disk I/O error") would not tell it. SQLite keeps that
 * errno for some failures only (not for a failed write): `saved` is errno
 * as the failing call left it (0 before the call), the fallback. */
void describe_errno(sqlite3 *db, char *err, const char *what, int saved)
{
    if (!db) {
        snprintf(err, ERR_MAX, "%s: out of memory", what);
        return;
    }
    int primary = sqlite3_extended_errcode(db) & 0xff, sys = sqlite3_system_errno(db);
    if (!sys)
        sys = saved;
    if (sys && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY))
        snprintf(err, ERR_MAX, "%s: %s (%s)", what, sqlite3_errmsg(db), strerror(sys));
    else
        snprintf(err, ERR_MAX, "%s: %s", what, sqlite3_errmsg(db));
}

void describe(sqlite3 *db, char *err, const char *what)
{
    describe_errno(db, err, what, 0);
}

/* A failure that a fresh connection may get over (the file made writable
 * again, a file that could not be opened). A full disk or a lock need none. */
bool reconnect_helps(int code)
{
    int primary = code & 0xff;
    return primary == SQLITE_READONLY || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
           primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

int exec(sqlite3 *db, const char *sql, char *err, const char *what)
{
    char *msg = NULL;
    errno = 0;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int saved = errno;
        if (msg && (sqlite3_extended_errcode(db) & 0xff) != SQLITE_IOERR)
            snprintf(err, ERR_MAX, "%s: %s", what, msg);
        else
            describe_errno(db, err, what, saved);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The first column of a one-row query, as an integer. */
int query_int(sqlite3 *db, const char *sql, long long *out, char *err, const char *what)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        describe(db, err, what);
        return -1;
    }
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) {
        describe(db, err, what);
        return -1;
    }
    return 0;
}

/* Runs a prepared statement that returns no row, and readies it for the
 * next use. */
int step_done(sqlite3 *db, sqlite3_stmt *s, char *err, const char *what)
{
    errno = 0;
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        describe_errno(db, err, what, errno);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

void report(struct store *st, enum store_level level, const char *fmt, ...)
{
    if (!st->opt.report)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    st->opt.report(st->opt.report_arg, level, msg);
}

enum store_open_code open_code_of_errno(int e)
{
    switch (e) {
    case EISDIR: return STORE_E_IS_DIRECTORY;
    case ENOENT:
    case ENOTDIR: return STORE_E_NOT_FOUND;
    case EACCES:
    case EPERM: return STORE_E_PERMISSION;
    case EROFS: return STORE_E_READ_ONLY;
    case ENOMEM: return STORE_E_NO_MEMORY;
    default: return STORE_E_IO;
    }
}

/* By SQLite's code, and for a file that could not be opened or read by the
 * system's reason (SQLite's, else `saved_errno`). */
enum store_open_code open_code_of(sqlite3 *db, int saved_errno)
{
    if (!db)
        return STORE_E_NO_MEMORY;
    int primary = sqlite3_extended_errcode(db) & 0xff, sys = sqlite3_system_errno(db);
    if (!sys)
        sys = saved_errno;
    switch (primary) {
    case SQLITE_NOMEM: return STORE_E_NO_MEMORY;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return STORE_E_NOT_SQLITE;
    case SQLITE_READONLY: return sys == EACCES || sys == EPERM ? STORE_E_PERMISSION : STORE_E_READ_ONLY;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PERM: return open_code_of_errno(sys);
    default: return STORE_E_IO;
    }
}
