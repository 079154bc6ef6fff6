/*
 * ship/settle.c — what ClickHouse holds of a sensor's records, made whole
 * before the shipper goes on.
 *
 * An INSERT is not one atomic part: ClickHouse writes a part for each
 * partition (a day, PARTITION BY toYYYYMMDD(ended)) and for each block of
 * max_insert_block_size rows, and commits them one by one. A server killed
 * in the middle of that keeps some of a batch's records and not others, so
 * the highest id held is no proof that every id below it is held. And an
 * INSERT whose sender died (or timed out) may still be committing.
 *
 * So the shipper never sends while an INSERT of its sensor may still run
 * on the server (it waits until the query_id has left system.processes),
 * and it proves a range of ids complete by counting: the records of the
 * database in [first, last] against the sensor's rows ClickHouse holds in
 * it. Where they differ, it lists the ids ClickHouse holds and sends only
 * the others. Nothing is sent twice, because nothing is sent while an
 * INSERT that may hold it could still commit, and nothing is lost, because
 * the cursor only passes a range that was counted whole (or acknowledged).
 */
#include "ship_internal.h"

#include <stdlib.h>
#include <string.h>

#define UNKNOWN_RETRIES 5 /* INSERTs of one chunk whose outcome was unknown, before giving up */

int settle_held_max(struct shipping *s, long long *id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT max(id) FROM connections WHERE sensor = '%s' FORMAT TabSeparated", s->sensor);
    return ch_query_int(&s->c, sql, id, s->err, s->errlen);
}

/* The sensor's rows ClickHouse holds with ids in [first, last]. */
static int count_held(struct shipping *s, long long first, long long last, long long *n)
{
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT count() FROM connections WHERE sensor = '%s' AND id >= %lld AND id <= %lld FORMAT TabSeparated",
             s->sensor, first, last);
    return ch_query_int(&s->c, sql, n, s->err, s->errlen);
}

static int add_id(void *arg, char *line)
{
    struct id_set *set = arg;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 1024;
        long long *id = realloc(set->id, cap * sizeof *id);
        if (!id)
            return -1;
        set->id = id;
        set->cap = cap;
    }
    set->id[set->n++] = strtoll(line, NULL, 10);
    return 0;
}

/* The ids of the sensor's rows ClickHouse holds in [first, last], ascending. */
static int list_held(struct shipping *s, const struct chunk *k, struct id_set *set)
{
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT DISTINCT id FROM connections WHERE sensor = '%s' AND id >= %lld AND id <= %lld ORDER BY id"
             " FORMAT TabSeparated",
             s->sensor, k->first, k->last);
    set->n = 0;
    int stopped = 0;
    enum ch_result rc = ch_select(&s->c, sql, add_id, set, &stopped, s->err, s->errlen);
    if (rc == CH_OK && stopped)
        snprintf(s->err, s->errlen, "out of memory");
    return rc == CH_OK && !stopped ? 0 : -1;
}

int settle_chunk(struct shipping *s, const struct chunk *k, long long before, long long *made)
{
    struct id_set held = {0};
    int rc = -1;
    for (int unknown = 0;; unknown++) {
        long long n;
        if (count_held(s, k->first, k->last, &n) < 0)
            break;
        if (before < 0)
            before = n;
        if (n >= k->n) { /* more than n: the same id twice, which no shipper of ours writes */
            rc = 0;
            break;
        }
        if (unknown > UNKNOWN_RETRIES) {
            snprintf(s->err, s->errlen, "%s: %d INSERTs of ids %lld-%lld without an answer; run again to resume",
                     s->c.shown, unknown, k->first, k->last);
            break;
        }
        int sent = list_held(s, k, &held) < 0 ? -1 : ship_send_chunk(s, k, &held);
        if (sent < 0)
            break;
        if (sent > 0) {
            rc = 0;
            break;
        }
        s->r->retries++;
    }
    free(held.id);
    *made = rc == 0 && k->n > before ? k->n - before : 0;
    return rc;
}

/* Counts the records of the database in (after, upto] against what
 * ClickHouse holds of them, chunk by chunk, and sends what it lacks. */
static int complete_up_to(struct shipping *s, long long after, long long upto, long long *cursor)
{
    *cursor = after;
    while (*cursor < upto) {
        struct query_id_span span;
        if (query_id_span(s->db, *cursor, upto, (long)s->batch, &span) < 0) {
            snprintf(s->err, s->errlen, "%s", query_error(s->db));
            return -1;
        }
        if (span.n == 0)
            break;
        struct chunk k = {span.first, span.last, span.n};
        long long made;
        if (settle_chunk(s, &k, -1, &made) < 0)
            return -1;
        s->r->sent += (uint64_t)made;
        s->r->filled += made;
        *cursor = k.last;
        ship_remember(s, k.last);
    }
    *cursor = upto;
    return 0;
}

int settle_start(struct shipping *s, long long verified, long long *cursor)
{
    long long max;
    if (insert_wait_gone(s, NULL) < 0 || settle_held_max(s, &max) < 0)
        return -1;
    s->r->from = max;
    s->r->known = 1;
    *cursor = max;
    if (max == 0 || max == verified)
        return 0;
    long long after = verified >= 0 && verified < max ? verified : 0;
    struct query_id_span mine;
    if (query_id_span(s->db, after, max, 0, &mine) < 0) {
        snprintf(s->err, s->errlen, "%s", query_error(s->db));
        return -1;
    }
    long long held;
    if (mine.n == 0)
        return 0;
    if (count_held(s, mine.first, mine.last, &held) < 0)
        return -1;
    return held >= mine.n ? 0 : complete_up_to(s, mine.first - 1, max, cursor);
}
