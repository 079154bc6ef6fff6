/*
 * ship/send.c — records to ClickHouse a chunk at a time: each chunk of
 * the database (at most a batch of records, in id order) is one INSERT
 * named wsstats-SENSOR-FIRST-LAST, and while ClickHouse takes one the
 * next is read and encoded (a thread of this file posts it), so the
 * shipper's CPU and the server's overlap instead of adding up. Still one
 * INSERT at a time: the next is sent only once the one before has been
 * acknowledged, or its outcome made whole (settle.c).
 */
#include "ship_internal.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One INSERT: its chunk, its body, and once posted its result. */
struct post {
    struct shipping *s;
    struct chunk k;
    struct rowbuf body;
    long long rows;
    char query_id[160];
    enum ch_result rc;
    char err[1024];
};

/* The chunk's records, but those in held (NULL: none), as TabSeparated
 * rows (*rows of them) in body. Returns 0, or -1 (err). */
static int chunk_body(struct shipping *s, const struct chunk *k, const struct id_set *held, struct rowbuf *body,
                      long long *rows)
{
    struct query_rows *q;
    if (query_records_after(s->db, k->first - 1, (long)k->n, &q) < 0) {
        snprintf(s->err, s->errlen, "%s", query_error(s->db));
        return -1;
    }
    struct query_row row;
    int step;
    size_t h = 0;
    *rows = 0;
    while ((step = query_rows_next(q, &row)) > 0 && row.id <= k->last) {
        while (held && h < held->n && held->id[h] < row.id)
            h++;
        if (held && h < held->n && held->id[h] == row.id)
            continue;
        rows_write(body, s->sensor, &row);
        ++*rows;
    }
    query_rows_close(q);
    if (step < 0 || body->failed) {
        snprintf(s->err, s->errlen, "%s", step < 0 ? query_error(s->db) : "out of memory");
        return -1;
    }
    return 0;
}

/* The post of chunk k's records but those in held: 0, or -1 (err). */
static int prepare(struct shipping *s, const struct chunk *k, const struct id_set *held, struct post *p)
{
    *p = (struct post){.s = s, .k = *k};
    snprintf(p->query_id, sizeof p->query_id, "wsstats-%s-%lld-%lld", s->sensor, k->first, k->last);
    if (chunk_body(s, k, held, &p->body, &p->rows) < 0) {
        rowbuf_free(&p->body);
        return -1;
    }
    return 0;
}

static void *post_main(void *arg)
{
    struct post *p = arg;
    struct ch_answer a = {0};
    p->rc = p->rows ? ch_post(&p->s->c, p->s->insert, p->query_id, p->body.p, p->body.len, &a, p->err, sizeof p->err)
                    : CH_OK;
    free(a.text);
    return NULL;
}

/* What came of a post: 1 acknowledged; 0 unknown, and since gone from
 * system.processes; -1 failed (err). */
static int outcome(struct shipping *s, const struct post *p)
{
    if (p->rc == CH_OK)
        return 1;
    snprintf(s->err, s->errlen, "%s", p->err);
    if (p->rc != CH_UNKNOWN)
        return -1;
    return settle_wait_gone(s, p->query_id) < 0 ? -1 : 0;
}

int ship_send_chunk(struct shipping *s, const struct chunk *k, const struct id_set *held)
{
    struct post p;
    if (prepare(s, k, held, &p) < 0)
        return -1;
    post_main(&p);
    rowbuf_free(&p.body);
    return outcome(s, &p);
}

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
static int next_post(struct shipping *s, long long after, struct post *p)
{
    struct chunk k;
    int more = next_chunk(s, after, &k);
    return more > 0 ? (prepare(s, &k, NULL, p) < 0 ? -1 : 1) : more;
}

/* Posts cur, reading and encoding the chunk after it meanwhile (into
 * next: *more 1, 0 if none, -1 if that failed). Returns what came of cur
 * (outcome()). */
static int post_overlapped(struct shipping *s, struct post *cur, struct post *next, int *more)
{
    pthread_t t;
    bool threaded = pthread_create(&t, NULL, post_main, cur) == 0;
    if (!threaded)
        post_main(cur);
    char err[1024] = "";
    struct shipping mine = *s; /* the encoder's errors, apart from the post's */
    mine.err = err;
    mine.errlen = sizeof err;
    *more = next_post(&mine, cur->k.last, next);
    if (threaded)
        pthread_join(t, NULL);
    int sent = outcome(s, cur);
    if (sent >= 0 && *more < 0)
        snprintf(s->err, s->errlen, "%s", err);
    return sent;
}

int ship_records(struct shipping *s, long long *cursor)
{
    struct post cur = {0}, next = {0};
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
        next = (struct post){0};
    }
    rowbuf_free(&cur.body);
    rowbuf_free(&next.body);
    return more < 0 ? -1 : 0;
}
