/*
 * store/rotate.c — closing and opening the database path again on the
 * writer thread: after a failure that calls for a fresh connection, and
 * on request (SIGHUP, store_reopen) after a log-rotation style move.
 *
 * After a move, the WAL and its index (-wal, -shm) keep the old name, so
 * the file at the path must not be opened while they are there — SQLite
 * would take the moved database's WAL for the new file's, and a reader of
 * the moved file would later checkpoint the new file's pages into it. So
 * the moved file gets what is queued, its captures row closed as
 * "reopened", then a TRUNCATE checkpoint that waits for no one: while a
 * reader's transaction prevents it, records go on into the moved file and
 * the move is tried again each second. Once the WAL is copied into the
 * moved file and emptied, the connection is closed and the old -wal and
 * -shm, which SQLite leaves behind for a moved file, are removed; only
 * then is the path opened (if they cannot be removed, records wait in
 * memory and it is tried again each second).
 */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Tells a postponement once per reopen. */
static void say_once(struct store *st, unsigned what, const char *msg)
{
    if (st->rot.said & what)
        return;
    st->rot.said |= what;
    report(st, STORE_WARNING, "%s", msg);
}

/* Does the path still name the file the connection has open? */
static bool path_is_open_file(const struct store *st)
{
    struct stat sb;
    if (stat(st->where.path, &sb) != 0)
        return errno != ENOENT;
    return sb.st_dev == st->conn.dev && sb.st_ino == st->conn.ino;
}

/* The file was moved away: it gets what is queued and its captures rows
 * closed, then its WAL is checkpointed into it and emptied, waiting for no
 * one. Returns false (the file stays open, records go on into it) while a
 * reader's transaction or an error prevents that. */
static bool let_go_of_moved(struct store *st)
{
    sqlite3 *db = st->conn.db;
    char err[ERR_MAX];
    commit_queued(st, err, "reopened"); /* if it fails, they go to the new file */
    int nlog = -1, nckpt = -1;
    sqlite3_busy_timeout(db, 0);
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &nlog, &nckpt);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK && nlog == nckpt)
        return true;
    pthread_mutex_lock(&st->sync.lock);
    rewrite_open_slots(st);
    pthread_mutex_unlock(&st->sync.lock);
    char msg[ERR_MAX + 128];
    if (rc == SQLITE_BUSY || rc == SQLITE_OK) {
        snprintf(msg, sizeof msg,
                 "reopening: the file was moved, and a reader is inside a transaction on it: new records go on "
                 "into the moved file until it ends (tried every second)");
        say_once(st, SAID_BUSY, msg);
    } else {
        snprintf(msg, sizeof msg,
                 "reopening: the file was moved, and its WAL cannot be copied into it (%s): new records go on "
                 "into the moved file (tried every second)",
                 sqlite3_errmsg(db));
        say_once(st, SAID_CHECKPOINT, msg);
    }
    return false;
}

/* Before closing a moved file: which -wal and -shm it has at the path. */
static void note_stale(struct store *st)
{
    const char *paths[2] = {st->where.wal, st->where.shm};
    for (int i = 0; i < 2; i++)
        if (lstat(paths[i], &st->rot.stale[i]) != 0)
            st->rot.stale[i].st_nlink = 0;
    st->rot.stale_wal = true;
}

/* After closing it: SQLite leaves the -wal and -shm of a moved database in
 * place (it cannot tell whose they are). Its WAL is checkpointed and empty:
 * they are removed — a reader that still has them open keeps reading the
 * moved file through them, and once it sees the file moved it neither
 * checkpoints nor deletes by name. Returns 0, or the errno of a removal
 * that failed (the file is still there). */
static int remove_stale(struct store *st)
{
    const char *paths[2] = {st->where.wal, st->where.shm};
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        const struct stat *was = &st->rot.stale[i];
        if (was->st_nlink == 0 || lstat(paths[i], &sb) != 0 || sb.st_dev != was->st_dev || sb.st_ino != was->st_ino)
            continue; /* gone, or not that file any more */
        if (unlink(paths[i]) != 0 && errno != ENOENT)
            failed = errno;
    }
    st->rot.stale_wal = failed != 0;
    return failed;
}

/* Closes the connection (if any) and opens the path again, safely after a
 * move (see the top of the file). */
enum reopen_step reconnect(struct store *st, char *err)
{
    if (st->conn.db) {
        bool moved = !path_is_open_file(st);
        if (moved && !let_go_of_moved(st))
            return KEPT;
        if (moved)
            note_stale(st);
        conn_close(st);
    }
    int why = st->rot.stale_wal ? remove_stale(st) : 0;
    if (why) {
        snprintf(err, ERR_MAX,
                 "reopening: %s-wal of the moved database cannot be removed (%s): new records wait in memory "
                 "until it is gone (tried every second)",
                 st->where.path, strerror(why));
        say_once(st, SAID_STALE, err);
        return WAITING;
    }
    enum store_open_code ignored;
    if (conn_open_write(st, err, &ignored) < 0) {
        conn_close(st);
        return OPEN_FAILED;
    }
    check_slots(st);
    st->wr.need_reconnect = false;
    if (st->rot.pending) {
        st->rot.pending = false;
        report(st, STORE_NOTICE, "reopened");
    }
    return OPENED;
}
