/*
 * store/meta.c — one key of the meta table set from outside the writer:
 * the shipper's last id ClickHouse acknowledged (ship/export.c), on a
 * connection of its own (the file is never created or migrated here).
 */
#include "store_internal.h"

#include <stdio.h>

int store_meta_put(const char *path, const char *key, const char *value, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                               " ON CONFLICT (key) DO UPDATE SET value = excluded.value", -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_DONE)
        rc = 0;
    else
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}
