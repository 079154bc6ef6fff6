/*
 * store/writer.c — the writer thread: once the database is open the only
 * user of the connection, it works in rounds as they fall due.
 *
 * It commits the queue (batch.c) whenever a batch is full, the TLS tally
 * is half full (on TLS-heavy traffic most commits) or its oldest record
 * has waited MAX_WAIT_NS; the captures rows go in the same transactions.
 * Live, it also wakes once a second (TICK_NS) to write the captures row
 * and delete old records (retention.c). So SQLite's work — and its waits:
 * another process's write lock, a slow disk — runs beside the packet
 * loop, never inside it.
 *
 * A round that fails leaves the records queued; the writer tries again
 * once a second, on a fresh connection when the error calls for one
 * (read-only, I/O, cannot open: rotate.c reconnects). The failure and the
 * recovery are told once each through the report callback, from this
 * thread. A caller waiting in store_commit() or store_expire() is answered
 * when its round is settled.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "store_internal.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* What one round of the writer does. */
struct round {
    bool sync;      /* the caller waits (store_commit, store_expire) */
    bool expire;    /* store_expire(): retention from the newest record */
    bool tick;      /* live housekeeping is due */
    bool attempt;   /* a failing or closed database is due another try */
    uint64_t asked; /* the request answered */
};

/* How a round ended. */
enum round_end { DONE, FAILED, HELD };

/* Under lock: the database is to be (re)opened at the next attempt. */
static bool needs_opening(const struct store *st)
{
    return !st->conn.db || st->rot.pending || st->wr.need_reconnect || st->rot.stale_wal;
}

/* Under lock: what is due now; false if nothing. */
static bool round_due(struct store *st, struct round *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    memset(r, 0, sizeof *r);
    if (st->req.reopen_asked) {
        st->req.reopen_asked = false;
        st->rot.pending = true;
        st->rot.said = 0;
        st->wr.retry_at = now; /* at once */
    }
    r->asked = st->req.asked;
    r->sync = st->req.asked > st->req.answered;
    r->expire = r->sync && st->req.expire_asked;
    r->tick = st->opt.live && reached(&now, &st->wr.tick_at);
    r->attempt = (stuck(st) || needs_opening(st)) && (reached(&now, &st->wr.retry_at) || r->sync);
    bool records = !stuck(st) &&
                   (batch_due(st) || st->cap.fresh || (has_waiting(st) && reached(&now, &st->queue.due_at)));
    return r->sync || r->tick || r->attempt || records;
}

/* Under lock: sleeps until work may be due. */
static void wait_for_work(struct store *st)
{
    const struct timespec *deadline = NULL;
    const struct timespec *candidates[3] = {
        has_waiting(st) && !stuck(st) ? &st->queue.due_at : NULL,
        st->opt.live ? &st->wr.tick_at : NULL,
        stuck(st) || needs_opening(st) ? &st->wr.retry_at : NULL,
    };
    for (int i = 0; i < 3; i++)
        if (candidates[i] && (!deadline || reached(deadline, candidates[i])))
            deadline = candidates[i];
    if (deadline) {
        struct timespec d = *deadline;
        pthread_cond_timedwait(&st->sync.wake, &st->sync.lock, &d);
    } else {
        pthread_cond_wait(&st->sync.wake, &st->sync.lock);
    }
}

/* Without lock: (re)opens if due, commits, deletes old records; the
 * outcome, and err when it failed. */
static enum round_end run_round(struct store *st, const struct round *r, char *err, long long *expired)
{
    if (needs_opening(st) && r->attempt) {
        switch (reconnect(st, err)) {
        case OPEN_FAILED: return FAILED;
        case WAITING: return HELD;
        case KEPT: /* the moved file takes the records meanwhile */
        case OPENED: break;
        }
    }
    if (!st->conn.db) { /* between two tries: as the last one ended */
        snprintf(err, ERR_MAX, "the database %s is not open", st->where.path);
        return st->rot.stale_wal ? HELD : FAILED;
    }
    if (commit_queued(st, err, NULL) < 0) /* a round is due only when something is */
        return FAILED;
    if (r->expire)
        *expired = retention_from_newest(st, err);
    if (r->tick)
        retention_tick(st);
    return DONE;
}

/* Under lock: the answer to a caller waiting for this round. */
static void answer(struct store *st, const struct round *r, enum round_end out, const char *err, long long expired)
{
    struct store_requests *req = &st->req;
    req->answered = r->asked;
    /* held with nothing to write: nothing is missing */
    bool empty = !has_waiting(st) && !st->queue.inflight;
    req->answer = out == DONE || (out == HELD && empty) ? 0 : -1;
    if (out != DONE || expired < 0)
        snprintf(req->answer_err, sizeof req->answer_err, "%s", err);
    if (r->expire) {
        req->expire_asked = false;
        req->expired = expired;
    }
    pthread_cond_broadcast(&st->sync.done);
}

/* Settles the round: the failure state (told once each way), the answer to
 * a waiting caller, the next times. */
static void settle(struct store *st, const struct round *r, enum round_end out, const char *err, long long expired)
{
    char msg[ERR_MAX + 128] = "";
    enum store_level level = STORE_ERROR;
    pthread_mutex_lock(&st->sync.lock);
    bool was_failing = st->health.failing;
    st->health.held = out == HELD;
    if (out == FAILED) {
        st->health.failures++;
        st->health.failing = true;
        if (!was_failing)
            snprintf(msg, sizeof msg, "%s; %zu records kept in memory, retrying every second", err,
                     st->queue.n + st->queue.inflight);
    } else if (out == DONE && was_failing) {
        st->health.failing = false;
        level = STORE_NOTICE;
        snprintf(msg, sizeof msg, "writable again; the records kept in memory are written");
    }
    if (r->attempt || out != DONE)
        st->wr.retry_at = after_ns(TICK_NS);
    if (r->tick)
        st->wr.tick_at = after_ns(TICK_NS);
    if (r->sync)
        answer(st, r, out, err, expired);
    pthread_cond_broadcast(&st->sync.room);
    pthread_mutex_unlock(&st->sync.lock);
    if (msg[0])
        report(st, level, "%s", msg);
}

/* The writer: rounds of work as they fall due. Signals stay with the main
 * thread. */
static void *writer_main(void *arg)
{
    struct store *st = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_setname_np(pthread_self(), "wsstats-writer"); /* as top -H and perf show it */
    pthread_mutex_lock(&st->sync.lock);
    st->wr.tick_at = st->wr.retry_at = after_ns(TICK_NS);
    for (;;) {
        struct round r;
        if (!round_due(st, &r)) {
            if (st->sync.stopping)
                break;
            wait_for_work(st);
            continue;
        }
        pthread_mutex_unlock(&st->sync.lock);
        char err[ERR_MAX] = "";
        long long expired = 0;
        enum round_end out = run_round(st, &r, err, &expired);
        settle(st, &r, out, err, expired);
        pthread_mutex_lock(&st->sync.lock);
    }
    pthread_mutex_unlock(&st->sync.lock);
    return NULL;
}

int writer_start(struct store *st)
{
    if (pthread_create(&st->sync.writer, NULL, writer_main, st) != 0)
        return -1;
    st->sync.running = true;
    return 0;
}

void writer_stop(struct store *st)
{
    if (!st->sync.running)
        return;
    pthread_mutex_lock(&st->sync.lock);
    st->sync.stopping = true;
    pthread_cond_signal(&st->sync.wake);
    pthread_mutex_unlock(&st->sync.lock);
    pthread_join(st->sync.writer, NULL);
    st->sync.running = false;
}
