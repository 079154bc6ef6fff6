/*
 * store/recorded.c — whether a capture file was read into the database
 * before (issue 22: the same file read twice doubled every record).
 *
 * A file is known by its base name, its size and the time of its first
 * packet (captures.file_name, file_size, first_packet_at; schema version 5).
 * Rows written before version 5 have no name or size of their own: their
 * source's last component and their first packet decide. The question is
 * asked on a read-only connection of its own: once the writer thread runs,
 * the store's connection is that thread's alone (store_internal.h).
 */
#include "store_internal.h"

#include <stdio.h>
#include <string.h>

static const char find_sql[] =
    "SELECT id, started_at, connections, status FROM captures"
    " WHERE kind = 'file' AND first_packet_at = ?3"
    "   AND (file_size IS NOT NULL AND file_name = ?1 AND file_size = ?2"
    "        OR file_size IS NULL AND (source = ?1 OR substr(source, -length(?1) - 1) = '/' || ?1))"
    " ORDER BY id LIMIT 1";

static int found_row(sqlite3_stmt *s, struct recorded_capture *out)
{
    out->id = sqlite3_column_int64(s, 0);
    out->started_at = sqlite3_column_double(s, 1);
    out->connections = (uint64_t)sqlite3_column_int64(s, 2);
    const unsigned char *status = sqlite3_column_text(s, 3);
    snprintf(out->status, sizeof out->status, "%s", status ? (const char *)status : "");
    return 1;
}

int store_find_recorded(struct store *st, const struct file_identity *id, struct recorded_capture *out, char *err,
                        size_t errlen)
{
    char why[ERR_MAX];
    if (strcmp(st->where.path, ":memory:") == 0)
        return 0; /* nothing was ever recorded there */
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_open_v2(st->where.path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_prepare_v2(db, find_sql, -1, &s, NULL) != SQLITE_OK) {
        describe(db, why, "looking for an earlier run over the file");
        goto out;
    }
    sqlite3_bind_text(s, 1, id->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, id->size);
    sqlite3_bind_double(s, 3, id->first_packet_at);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        rc = found_row(s, out);
    else if (step == SQLITE_DONE)
        rc = 0;
    else
        describe(db, why, "looking for an earlier run over the file");
out:
    if (rc < 0)
        snprintf(err, errlen, "%s", why);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}
