/*
 * ship/insert.c — one INSERT of a chunk of records and what it leaves
 * behind: the chunk's rows (but those ClickHouse holds) as its body, the
 * POST named wsstats-SENSOR-FIRST-LAST (safe on a thread of its own: it
 * touches only the ClickHouse handle and its own struct), the wait until
 * an INSERT of unknown outcome has left system.processes, and the cursor
 * in the meta table. settle.c and send.c decide which chunks to send.
 */
#include "ship_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"

#define WAIT_STEP_NS 200000000L

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
int insert_prepare(struct shipping *s, const struct chunk *k, const struct id_set *held, struct insert *p)
{
    *p = (struct insert){.s = s, .k = *k};
    snprintf(p->query_id, sizeof p->query_id, "wsstats-%s-%lld-%lld", s->sensor, k->first, k->last);
    if (chunk_body(s, k, held, &p->body, &p->rows) < 0) {
        rowbuf_free(&p->body);
        return -1;
    }
    return 0;
}

void *insert_post(void *arg)
{
    struct insert *p = arg;
    struct ch_answer a = {0};
    p->rc = p->rows ? ch_post(&p->s->c, p->s->insert, p->query_id, p->body.p, p->body.len, &a, p->err, sizeof p->err)
                    : CH_OK;
    free(a.text);
    return NULL;
}

/* What came of a post: 1 acknowledged; 0 unknown, and since gone from
 * system.processes; -1 failed (err). */
int insert_outcome(struct shipping *s, const struct insert *p)
{
    if (p->rc == CH_OK)
        return 1;
    snprintf(s->err, s->errlen, "%s", p->err);
    if (p->rc != CH_UNKNOWN)
        return -1;
    return insert_wait_gone(s, p->query_id) < 0 ? -1 : 0;
}

int ship_send_chunk(struct shipping *s, const struct chunk *k, const struct id_set *held)
{
    struct insert p;
    if (insert_prepare(s, k, held, &p) < 0)
        return -1;
    insert_post(&p);
    rowbuf_free(&p.body);
    return insert_outcome(s, &p);
}

static void pause_ns(long ns)
{
    struct timespec t = {.tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L};
    nanosleep(&t, NULL);
}

/* The condition on system.processes' query_id of the INSERT query_id, or
 * of any of the sensor's (their ids are wsstats-SENSOR-FIRST-LAST; a name
 * has letters, digits and . _ -, of which only '.' means something to re2). */
static void insert_condition(const struct shipping *s, const char *query_id, char *buf, size_t len)
{
    if (query_id) {
        snprintf(buf, len, "query_id = '%s'", query_id);
        return;
    }
    size_t at = (size_t)snprintf(buf, len, "match(query_id, '^wsstats-");
    for (const char *p = s->sensor; *p && at + 4 < len; p++) {
        if (*p == '.')
            buf[at++] = '\\', buf[at++] = '\\';
        buf[at++] = *p;
    }
    snprintf(buf + at, len - at, "-[0-9]+-[0-9]+$')");
}

int insert_wait_gone(struct shipping *s, const char *query_id)
{
    char cond[400], sql[512];
    insert_condition(s, query_id, cond, sizeof cond);
    snprintf(sql, sizeof sql, "SELECT count() FROM system.processes WHERE %s FORMAT TabSeparated", cond);
    for (long waited = 0;; waited += WAIT_STEP_NS) {
        long long running = 1;
        if (ch_query_int(&s->c, sql, &running, s->err, s->errlen) < 0)
            return -1;
        if (running == 0)
            return 0;
        if (waited >= s->c.timeout_s * 1000000000L)
            break;
        pause_ns(WAIT_STEP_NS);
    }
    snprintf(s->err, s->errlen, "%s: an INSERT of sensor %s is still running after %ld s (%s)%s", s->c.shown,
             s->sensor, s->c.timeout_s, query_id ? query_id : "another shipper of the same name?",
             "; nothing sent while it may commit");
    return -1;
}

void ship_cursor_key(const char *sensor, char *key, size_t len)
{
    snprintf(key, len, "clickhouse_shipped:%s", sensor);
}

void ship_remember(struct shipping *s, long long id)
{
    char key[128], value[32], ignored[512];
    ship_cursor_key(s->sensor, key, sizeof key);
    snprintf(value, sizeof value, "%lld", id);
    store_meta_put(s->db_path, key, value, ignored, sizeof ignored); /* when it may be written */
}
