/*
 * store/queue.c — the caller's side of the writer: records and TLS counts
 * copied into the queue, and the requests (commit, expire, reopen) handed
 * to the writer thread (writer.c), all under the lock.
 *
 * Up to QUEUE_MAX records wait; beyond that, new records are counted as
 * lost — unless the database is healthy and only slower than the capture,
 * when store_add() waits for room instead (an offline run never drops
 * records for speed). Reading files, it waits already at OFFLINE_BACKLOG
 * records: nothing is gained by reading ahead of a healthy writer, and the
 * backlog's memory stays that of two batches however long the file. The
 * writer is woken when a batch is due (BATCH_MAX records, or the TLS tally
 * half full) and, through the deadline set by the first record that
 * waits, within MAX_WAIT_NS.
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared with the writer: under lock --------------------------------------- */

bool has_waiting(const struct store *st)
{
    return st->queue.n || tally_size(&st->queue.tls_wait);
}

/* Records cannot go to the database for now. */
bool stuck(const struct store *st)
{
    return st->health.failing || st->health.held;
}

/* A full batch of records (or a half-full TLS tally) waits, and the
 * database takes them. */
bool batch_due(const struct store *st)
{
    return (st->queue.n >= BATCH_MAX || tally_size(&st->queue.tls_wait) >= TALLY_MAX / 2) && !stuck(st);
}

/* Before adding to an empty queue: it must go within MAX_WAIT_NS (a slow
 * trickle from `-r -` or a quiet link is written too). */
static void note_first_waiting(struct store *st)
{
    if (!has_waiting(st) && !stuck(st)) {
        st->queue.due_at = after_ns(MAX_WAIT_NS);
        pthread_cond_signal(&st->sync.wake); /* the writer sets its timer */
    }
}

/* ---- records ------------------------------------------------------------------ */

/* The record's strings, copied behind it into one allocation. */
static struct queued *record_copy(const struct ws_record *r, int capture)
{
    struct queued *q = malloc(sizeof *q + ws_record_strings_size(r));
    if (!q)
        return NULL;
    q->capture = capture;
    ws_record_copy(&q->r, r, (char *)(q + 1));
    return q;
}

/* Under lock: room for one more record; waits for the writer while the
 * database is healthy. */
static bool wait_for_room(struct store *st)
{
    struct store_queue *q = &st->queue;
    size_t wait_at = st->opt.live ? QUEUE_MAX : OFFLINE_BACKLOG;
    while (q->n + q->inflight >= wait_at && !stuck(st) && st->sync.running) {
        pthread_cond_signal(&st->sync.wake);
        pthread_cond_wait(&st->sync.room, &st->sync.lock);
    }
    return q->n + q->inflight < QUEUE_MAX;
}

static int append(struct store_queue *q, struct queued *c)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : BATCH_MAX;
        struct queued **recs = realloc(q->recs, cap * sizeof *recs);
        if (!recs)
            return -1;
        q->recs = recs;
        q->cap = cap;
    }
    q->recs[q->n++] = c;
    return 0;
}

int store_add(struct store *st, const struct ws_record *r)
{
    struct store_queue *q = &st->queue;
    struct queued *c = record_copy(r, st->cap.current);
    pthread_mutex_lock(&st->sync.lock);
    note_first_waiting(st);
    int rc = 0;
    if (!c || !wait_for_room(st) || append(q, c) < 0) {
        q->lost++;
        if (c && q->n + q->inflight >= QUEUE_MAX)
            snprintf(st->err, sizeof st->err, "%zu records wait for the database: dropping new ones",
                     q->n + q->inflight);
        else
            snprintf(st->err, sizeof st->err, "out of memory for a record");
        free(c);
        rc = -1;
    } else if (batch_due(st)) {
        pthread_cond_signal(&st->sync.wake);
    }
    pthread_mutex_unlock(&st->sync.lock);
    return rc;
}

size_t store_queued(struct store *st)
{
    pthread_mutex_lock(&st->sync.lock);
    size_t n = st->queue.n + st->queue.inflight;
    pthread_mutex_unlock(&st->sync.lock);
    return n;
}

void store_figures(struct store *st, struct store_figures *out)
{
    pthread_mutex_lock(&st->sync.lock);
    *out = (struct store_figures){.committed = st->health.committed,
                                  .failures = st->health.failures,
                                  .queued = st->queue.n + st->queue.inflight,
                                  .lost = st->queue.lost,
                                  .last_commit_at = st->health.last_commit_at,
                                  .unshipped_dropped = st->health.unshipped_dropped};
    pthread_mutex_unlock(&st->sync.lock);
}

/* A count the writer may change, read under lock. */
static uint64_t read_count(struct store *st, const uint64_t *count)
{
    pthread_mutex_lock(&st->sync.lock);
    uint64_t n = *count;
    pthread_mutex_unlock(&st->sync.lock);
    return n;
}

uint64_t store_lost(struct store *st)
{
    return read_count(st, &st->queue.lost);
}

/* ---- TLS counts: any thread ------------------------------------------------------ */

int store_tls_add(struct store *st, const struct tls_flow *t)
{
    struct store_queue *q = &st->queue;
    double hour = (double)(t->ts / 3600000000LL) * 3600.0;
    const char *sensor = t->sensor ? t->sensor : "";
    pthread_mutex_lock(&st->sync.lock);
    note_first_waiting(st);
    int rc = tally_add(&q->tls_wait, hour, sensor, t->server_ip, t->server_port, t->sni, 1);
    while (rc < 0 && !stuck(st) && st->sync.running) { /* full: a healthy writer makes room */
        pthread_cond_signal(&st->sync.wake);
        pthread_cond_wait(&st->sync.room, &st->sync.lock);
        rc = tally_add(&q->tls_wait, hour, sensor, t->server_ip, t->server_port, t->sni, 1);
    }
    if (rc < 0)
        q->tls_lost++; /* no message: any thread may count, st->err is the caller's */
    else if (batch_due(st))
        pthread_cond_signal(&st->sync.wake);
    pthread_mutex_unlock(&st->sync.lock);
    return rc;
}

uint64_t store_tls_lost(struct store *st)
{
    return read_count(st, &st->queue.tls_lost);
}

/* ---- requests ----------------------------------------------------------------- */

/* Asks the writer for a round and waits for its answer. */
static int ask_and_wait(struct store *st, bool expire)
{
    struct store_requests *req = &st->req;
    if (!st->sync.running)
        return 0;
    pthread_mutex_lock(&st->sync.lock);
    uint64_t ticket = ++req->asked;
    req->expire_asked |= expire;
    pthread_cond_signal(&st->sync.wake);
    while (req->answered < ticket)
        pthread_cond_wait(&st->sync.done, &st->sync.lock);
    int rc = req->answer;
    if (rc < 0)
        memcpy(st->err, req->answer_err, sizeof st->err);
    pthread_mutex_unlock(&st->sync.lock);
    return rc;
}

int store_commit(struct store *st)
{
    return ask_and_wait(st, false);
}

long long store_expire(struct store *st)
{
    if (ask_and_wait(st, true) < 0)
        return -1;
    pthread_mutex_lock(&st->sync.lock);
    long long n = st->req.expired;
    if (n < 0)
        memcpy(st->err, st->req.answer_err, sizeof st->err);
    pthread_mutex_unlock(&st->sync.lock);
    return n;
}

/* Under lock: the queued records dropped, each counted lost, and the
 * status of the captures rows they belonged to. */
static size_t drop_queued(struct store *st, const char *why)
{
    struct store_queue *q = &st->queue;
    uint64_t dropped[MAX_CAPTURES] = {0};
    size_t n = q->n;
    for (size_t i = 0; i < n; i++) {
        if (q->recs[i]->capture >= 0 && q->recs[i]->capture < MAX_CAPTURES)
            dropped[q->recs[i]->capture]++;
        free(q->recs[i]);
    }
    q->n = 0;
    q->lost += n;
    for (int i = 0; i < st->cap.n; i++) {
        struct capture_slot *s = &st->cap.slots[i];
        if (!dropped[i])
            continue;
        snprintf(s->status, sizeof s->status, "failed: %llu records not written: %s", (unsigned long long)dropped[i],
                 why);
        s->dirty = true;
    }
    st->cap.fresh = true;
    return n;
}

size_t store_abandon(struct store *st)
{
    char why[ERR_MAX];
    memcpy(why, st->err, sizeof why);
    pthread_mutex_lock(&st->sync.lock);
    size_t n = st->queue.inflight ? 0 : drop_queued(st, why); /* after a failed store_commit: none in flight */
    pthread_mutex_unlock(&st->sync.lock);
    if (n)
        store_commit(st); /* the captures rows alone: a small transaction, often room for it still */
    memcpy(st->err, why, sizeof st->err);
    return n;
}

void store_reopen(struct store *st)
{
    pthread_mutex_lock(&st->sync.lock);
    st->req.reopen_asked = true;
    pthread_cond_signal(&st->sync.wake);
    pthread_mutex_unlock(&st->sync.lock);
}
