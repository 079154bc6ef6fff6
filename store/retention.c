/*
 * store/retention.c — --retention: deleting the records that ended too long
 * ago (docs/design.md §5), on the writer thread.
 *
 * Live, the writer deletes against the clock once a second (TICK_NS), a
 * few batches of RETENTION_BATCH within RETENTION_BUDGET_NS, so that a
 * large deletion never holds the records back; a failure is told once.
 * From files (store_expire), it counts back from the newest record and
 * deletes all at once.
 */
#include "store_internal.h"

/* Deletes at most `batch` records that ended before `before`, oldest first.
 * Returns how many, or -1. */
static int delete_older(sqlite3 *db, double before, int batch, char *err)
{
    static const char sql[] = "DELETE FROM connections WHERE id IN"
                              " (SELECT id FROM connections WHERE ended_at < ?1 ORDER BY ended_at LIMIT ?2)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        describe(db, err, "deleting old records");
        return -1;
    }
    sqlite3_bind_double(s, 1, before);
    sqlite3_bind_int(s, 2, batch);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        describe(db, err, "deleting old records");
        return -1;
    }
    return sqlite3_changes(db);
}

/* Deletes records that ended before `before`, batch after batch, until none
 * is left or `budget_ns` (0: none) is spent. Returns how many, or -1. */
static long long expire_before(sqlite3 *db, double before, long long budget_ns, char *err)
{
    struct timespec end = after_ns(budget_ns), now;
    long long total = 0;
    for (;;) {
        int n = delete_older(db, before, RETENTION_BATCH, err);
        if (n < 0)
            return -1;
        total += n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (n < RETENTION_BATCH || (budget_ns && reached(&now, &end)))
            return total;
    }
}

/* Live: against the clock, within the tick's budget; told once if it fails. */
void retention_tick(struct store *st)
{
    char err[ERR_MAX];
    if (st->opt.retention <= 0 || !st->conn.db)
        return;
    if (expire_before(st->conn.db, wall_clock() - st->opt.retention, RETENTION_BUDGET_NS, err) < 0) {
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
    return any ? expire_before(db, newest - st->opt.retention, 0, err) : 0;
}
