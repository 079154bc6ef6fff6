/*
 * store/batch.c — one transaction of the writer: the captures rows, the
 * queued records and the TLS counts, or nothing.
 *
 * Up to BATCH_MAX records go in one transaction (the writer commits when
 * that many wait, or sooner: writer.c), each bound to the one prepared
 * INSERT (record_sql.c). A transaction that fails (a full disk, a database
 * made read-only) is rolled back and its records stay queued, in front of
 * those queued meanwhile; the captures rows it wrote are written again
 * next time.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "record_sql.h"

static int insert_tally(struct store *st, const struct tally *t, char *err)
{
    sqlite3_stmt *s = st->conn.tls_upsert;
    double now = wall_clock();
    for (size_t i = 0; i < tally_size(t); i++) {
        const struct tally_key *e = tally_key_at(t, i);
        sqlite3_bind_double(s, 1, e->hour);
        sqlite3_bind_text(s, 2, e->sensor, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, e->server_ip, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 4, e->server_port);
        sqlite3_bind_text(s, 5, e->sni, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, tally_count_at(t, i));
        sqlite3_bind_double(s, 7, now);
        if (step_done(st->conn.db, s, err, "counting TLS flows") < 0)
            return -1;
    }
    return 0;
}

/* Binds q to the parameters of one row of an INSERT, from `first` on. */
static void bind_queued(struct store *st, sqlite3_stmt *s, int first, const struct queued *q)
{
    int64_t capture_id = q->capture >= 0 ? st->cap.slots[q->capture].id : -1;
    record_sql_bind(s, first, &q->r);
    if (capture_id >= 0)
        sqlite3_bind_int64(s, first + RECORD_NCOLUMNS, capture_id);
    else
        sqlite3_bind_null(s, first + RECORD_NCOLUMNS);
}

/* The batch's records: INSERT_ROWS to a statement, the rest one by one. */
static int insert_records(struct store *st, const struct batch *b, char *err)
{
    size_t i = 0;
    for (; i + INSERT_ROWS <= b->n; i += INSERT_ROWS) {
        for (int k = 0; k < INSERT_ROWS; k++)
            bind_queued(st, st->conn.insert_rows, 1 + k * (RECORD_NCOLUMNS + 1), b->recs[i + (size_t)k]);
        if (step_done(st->conn.db, st->conn.insert_rows, err, "inserting records") < 0)
            return -1;
    }
    for (; i < b->n; i++) {
        bind_queued(st, st->conn.insert, 1, b->recs[i]);
        if (step_done(st->conn.db, st->conn.insert, err, "inserting a record") < 0)
            return -1;
    }
    return 0;
}

/* One transaction: the captures rows, the batch's records and TLS counts,
 * or nothing. *code: SQLite's error code on failure. */
static int write_batch(struct store *st, const struct batch *b, struct slot_copy *rows, int nrows, char *err,
                       int *code)
{
    struct store_conn *c = &st->conn;
    if (step_done(c->db, c->begin, err, "starting a transaction") < 0) {
        *code = sqlite3_extended_errcode(c->db);
        return -1;
    }
    int rc = write_slots(st, rows, nrows, err);
    if (rc == 0)
        rc = insert_records(st, b, err);
    if (rc == 0)
        rc = insert_tally(st, &st->queue.tls_batch, err);
    if (rc == 0)
        rc = step_done(c->db, c->commit, err, "committing records");
    if (rc == 0)
        count_written(st, rows, nrows);
    if (rc < 0) {
        *code = sqlite3_extended_errcode(c->db);
        sqlite3_step(c->rollback);
        sqlite3_reset(c->rollback);
        for (int i = 0; i < nrows; i++) /* the rows inserted are gone again */
            st->cap.slots[rows[i].idx].id = rows[i].old_id;
    }
    return rc;
}

/* Under lock: the queue and the TLS counts become the batch. */
static void take_batch(struct store_queue *q, struct batch *b)
{
    b->recs = q->recs;
    b->n = q->n;
    q->recs = NULL;
    q->n = q->cap = 0;
    q->inflight = b->n;
    struct tally t = q->tls_batch; /* empty: swapped, not copied */
    q->tls_batch = q->tls_wait;
    q->tls_wait = t;
}

/* Under lock, after a failed transaction: the batch goes back in front of
 * what was queued meanwhile, its TLS counts into the waiting tally. */
static void return_batch(struct store_queue *q, struct batch *b)
{
    if (q->n) {
        struct queued **all = realloc(b->recs, (b->n + q->n) * sizeof *all);
        if (!all) { /* keep the older records; the newer ones are lost */
            for (size_t i = 0; i < q->n; i++)
                free(q->recs[i]);
            q->lost += q->n;
        } else {
            memcpy(all + b->n, q->recs, q->n * sizeof *all);
            b->recs = all;
            b->n += q->n;
        }
        free(q->recs);
    }
    q->recs = b->recs;
    q->n = q->cap = b->n;
    for (size_t i = 0; i < tally_size(&q->tls_batch); i++) {
        const struct tally_key *e = tally_key_at(&q->tls_batch, i);
        long long n = tally_count_at(&q->tls_batch, i);
        if (tally_add(&q->tls_wait, e->hour, e->sensor, e->server_ip, e->server_port, e->sni, n) < 0)
            q->tls_lost += (uint64_t)n;
    }
}

int commit_queued(struct store *st, char *err, const char *closing)
{
    struct batch b;
    struct slot_copy rows[MAX_CAPTURES];
    uint64_t records[MAX_CAPTURES] = {0};
    pthread_mutex_lock(&st->sync.lock);
    take_batch(&st->queue, &b);
    for (size_t i = 0; i < b.n; i++)
        if (b.recs[i]->capture >= 0)
            records[b.recs[i]->capture]++;
    int nrows = take_slots(st, rows, records, closing, wall_clock());
    pthread_mutex_unlock(&st->sync.lock);
    int code = SQLITE_OK;
    int rc = b.n || tally_size(&st->queue.tls_batch) || nrows ? write_batch(st, &b, rows, nrows, err, &code) : 0;
    pthread_mutex_lock(&st->sync.lock);
    if (rc == 0) {
        for (size_t i = 0; i < b.n; i++)
            free(b.recs[i]);
        free(b.recs);
        st->health.committed += b.n;
        st->health.last_commit_at = wall_clock();
    } else {
        return_batch(&st->queue, &b);
        give_back_slots(st, rows, nrows);
    }
    tally_clear(&st->queue.tls_batch);
    st->queue.inflight = 0;
    pthread_cond_broadcast(&st->sync.room);
    pthread_mutex_unlock(&st->sync.lock);
    if (rc < 0 && reconnect_helps(code))
        st->wr.need_reconnect = true;
    return rc;
}
