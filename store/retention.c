/*
 * store/retention.c — --retention: deleting the records that ended too long
 * ago (docs/design.md §5), on the writer thread.
 *
 * Live, the writer deletes against the clock once a second (TICK_NS), a
 * few batches of RETENTION_BATCH within RETENTION_BUDGET_NS, so that a
 * large deletion never holds the records back; a failure is told once.
 * From files (store_expire), it counts back from the newest record and
 * deletes all at once.
 *
 * With a shipper (store_options.hold_key, wsstatsd --clickhouse) a record
 * ClickHouse does not hold yet is kept past retention: SQLite is the
 * spool. Only when the file system is nearly full (under
 * STORE_MIN_FREE_PERCENT free) are those deleted too, each time told as an
 * error and counted (store_figures()).
 */
#include "store_internal.h"

#include <stdio.h>
#include <sys/statvfs.h>

/* Which records retention may delete: every one; with a shipper
 * (store_options.hold_key), those up to the last id it shipped, or those
 * above it (when the disk is nearly full). */
enum retention_scope { DELETE_ANY, DELETE_SHIPPED, DELETE_UNSHIPPED };

/* Deletes at most `batch` records that ended before `before`, oldest first,
 * of the scope (the hold read from the meta table in the same statement).
 * Returns how many, or -1. */
static int delete_older(struct store *st, double before, int batch, enum retention_scope scope, char *err)
{
    static const char *const sql[] = {
        [DELETE_ANY] = "DELETE FROM connections WHERE id IN"
                       " (SELECT id FROM connections WHERE ended_at < ?1 ORDER BY ended_at LIMIT ?2)",
        [DELETE_SHIPPED] = "DELETE FROM connections WHERE id IN"
                           " (SELECT id FROM connections WHERE ended_at < ?1 AND id <= "
                           "(SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM meta WHERE key = ?3)"
                           " ORDER BY ended_at LIMIT ?2)",
        [DELETE_UNSHIPPED] = "DELETE FROM connections WHERE id IN"
                             " (SELECT id FROM connections WHERE ended_at < ?1 AND id > "
                             "(SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM meta WHERE key = ?3)"
                             " ORDER BY ended_at LIMIT ?2)",
    };
    sqlite3 *db = st->conn.db;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql[scope], -1, &s, NULL) != SQLITE_OK) {
        describe(db, err, "deleting old records");
        return -1;
    }
    sqlite3_bind_double(s, 1, before);
    sqlite3_bind_int(s, 2, batch);
    if (scope != DELETE_ANY)
        sqlite3_bind_text(s, 3, st->opt.hold_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        describe(db, err, "deleting old records");
        return -1;
    }
    return sqlite3_changes(db);
}

/* Deletes records of the scope that ended before `before`, batch after
 * batch, until none is left or `budget_ns` (0: none) is spent. Returns how
 * many, or -1. */
static long long expire_scope(struct store *st, double before, long long budget_ns, enum retention_scope scope,
                              char *err)
{
    struct timespec end = after_ns(budget_ns), now;
    long long total = 0;
    for (;;) {
        int n = delete_older(st, before, RETENTION_BATCH, scope, err);
        if (n < 0)
            return -1;
        total += n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (n < RETENTION_BATCH || (budget_ns && reached(&now, &end)))
            return total;
    }
}

/* Whether the database's file system has less than STORE_MIN_FREE_PERCENT
 * of its space free (for this user); "free" gets the figures for the
 * message. A file system that cannot be asked is not full. */
static bool disk_nearly_full(const struct store *st, char *free, size_t len)
{
    struct statvfs v;
    if (statvfs(st->where.path, &v) != 0 || v.f_blocks == 0)
        return false;
    double avail = (double)v.f_bavail * (double)v.f_frsize, size = (double)v.f_blocks * (double)v.f_frsize;
    snprintf(free, len, "%.0f MiB free of %.0f MiB", avail / 1048576, size / 1048576);
    return avail * 100 < size * STORE_MIN_FREE_PERCENT;
}

/* The records past retention; with a shipper, the ones it has shipped,
 * and the unshipped ones only when the disk is nearly full: those are
 * counted and told as an error (at once, then at most once a minute with
 * the count since). Returns how many, or -1. */
static long long expire_before(struct store *st, double before, long long budget_ns, char *err)
{
    if (!st->opt.hold_key)
        return expire_scope(st, before, budget_ns, DELETE_ANY, err);
    long long shipped = expire_scope(st, before, budget_ns, DELETE_SHIPPED, err);
    char free[96];
    if (shipped < 0 || !disk_nearly_full(st, free, sizeof free))
        return shipped;
    long long unshipped = expire_scope(st, before, budget_ns, DELETE_UNSHIPPED, err);
    if (unshipped <= 0)
        return unshipped < 0 ? -1 : shipped;
    pthread_mutex_lock(&st->sync.lock);
    st->health.unshipped_dropped += (uint64_t)unshipped;
    uint64_t all = st->health.unshipped_dropped;
    pthread_mutex_unlock(&st->sync.lock);
    st->unshipped_untold += (uint64_t)unshipped;
    double now = wall_clock();
    if (now >= st->unshipped_told_at + 60) {
        report(st, STORE_ERROR,
               "the disk is nearly full (%s, under %d%%): %llu records past --retention were deleted before "
               "they were shipped (%llu in all)",
               free, STORE_MIN_FREE_PERCENT, (unsigned long long)st->unshipped_untold, (unsigned long long)all);
        st->unshipped_told_at = now;
        st->unshipped_untold = 0;
    }
    return shipped + unshipped;
}

/* Live: against the clock, within the tick's budget; told once if it fails. */
void retention_tick(struct store *st)
{
    char err[ERR_MAX];
    if (st->opt.retention <= 0 || !st->conn.db)
        return;
    if (expire_before(st, wall_clock() - st->opt.retention, RETENTION_BUDGET_NS, err) < 0) {
        if (!st->retention_failing)
            report(st, STORE_WARNING, "%s (retried every second)", err);
        st->retention_failing = true;
    } else {
        st->retention_failing = false;
    }
}

/* From files: against the newest record (docs/design.md §5), all at once. */
long long retention_from_newest(struct store *st, char *err)
{
    sqlite3 *db = st->conn.db;
    if (st->opt.retention <= 0)
        return 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT max(ended_at) FROM connections", -1, &s, NULL) != SQLITE_OK) {
        describe(db, err, "deleting old records");
        return -1;
    }
    int rc = sqlite3_step(s);
    bool any = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    double newest = any ? sqlite3_column_double(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) {
        describe(db, err, "deleting old records");
        return -1;
    }
    return any ? expire_before(st, newest - st->opt.retention, 0, err) : 0;
}
