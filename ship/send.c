/*
 * ship/send.c — records to ClickHouse a chunk at a time: each chunk of
 * the database (at most a batch of records, in id order) is one INSERT
 * named wsstats-SENSOR-FIRST-LAST, and while ClickHouse takes one the
 * next is read and encoded (a thread posts it: insert.c), so the
 * shipper's CPU and the server's overlap instead of adding up. Still one
 * INSERT at a time: the next is sent only once the one before has been
 * acknowledged, or its outcome made whole (settle.c).
 */
#include "ship_internal.h"

#include <limits.h>
#include <pthread.h>

/* The next chunk after `after`: 1, 0 if none, -1 (err). */
static int next_chunk(struct shipping *s, long long after, struct chunk *k)
{
    struct query_id_span span;
    if (query_id_span(s->db, after, LLONG_MAX, (long)s->batch, &span) < 0) {
        snprintf(s->err, s->errlen, "%s", query_error(s->db));
        return -1;
    }
    *k = (struct chunk){span.first, span.last, span.n};
    return span.n > 0;
}

/* The next post after `after`: 1, 0 if none, -1 (err). */
static int next_post(struct shipping *s, long long after, struct insert *p)
{
    struct chunk k;
    int more = next_chunk(s, after, &k);
    return more > 0 ? (insert_prepare(s, &k, NULL, p) < 0 ? -1 : 1) : more;
}

/* Posts cur, reading and encoding the chunk after it meanwhile (into
 * next: *more 1, 0 if none, -1 if that failed). Returns what came of cur
 * (insert_outcome()). */
static int post_overlapped(struct shipping *s, struct insert *cur, struct insert *next, int *more)
{
    pthread_t t;
    bool threaded = pthread_create(&t, NULL, insert_post, cur) == 0;
    if (!threaded)
        insert_post(cur);
    *more = next_post(s, cur->k.last, next); /* the thread writes only cur */
    char encoder_err[1024] = "";
    if (*more < 0)
        snprintf(encoder_err, sizeof encoder_err, "%s", s->err);
    if (threaded)
        pthread_join(t, NULL);
    int sent = insert_outcome(s, cur);
    if (sent >= 0 && *more < 0)
        snprintf(s->err, s->errlen, "%s", encoder_err);
    return sent;
}

int ship_records(struct shipping *s, long long *cursor)
{
    struct insert cur = {0}, next = {0};
    int more = next_post(s, *cursor, &cur);
    while (more > 0) {
        int sent = post_overlapped(s, &cur, &next, &more);
        rowbuf_free(&cur.body);
        long long made = cur.k.n;
        if (sent == 0) {
            s->r->retries++;
            sent = settle_chunk(s, &cur.k, 0, &made) < 0 ? -1 : 1;
        }
        if (sent < 0) {
            more = -1;
            break;
        }
        s->r->sent += (uint64_t)made;
        *cursor = cur.k.last;
        ship_remember(s, cur.k.last);
        cur = next;
        next = (struct insert){0};
    }
    rowbuf_free(&cur.body);
    rowbuf_free(&next.body);
    return more < 0 ? -1 : 0;
}
