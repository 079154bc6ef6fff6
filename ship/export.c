/*
 * ship/export.c — a database's records to ClickHouse, exactly once (see
 * ship.h): ask the highest id held for the sensor, send the records after
 * it in batches of one INSERT each, each named by a query_id; when an
 * INSERT's outcome is unknown, wait until its query_id has left
 * system.processes, ask again, and go on from what ClickHouse holds.
 */
#include "ship_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"

#define UNKNOWN_RETRIES 5 /* INSERTs in a row whose outcome was unknown, before giving up */
#define WAIT_STEP_NS 200000000L

int ship_sensor_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return 0;
    return 1;
}

int ship_read_auth(const char *path, char *user, size_t ulen, char *password, size_t plen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--clickhouse-auth %s: cannot read it (%s)", path, strerror(errno));
        return -1;
    }
    char line[1024] = "";
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    char *colon = strchr(line, ':');
    if (!got || !colon || colon == line) {
        snprintf(err, errlen, "--clickhouse-auth %s: its first line is not user:password", path);
        return -1;
    }
    *colon = '\0';
    snprintf(user, ulen, "%s", line);
    snprintf(password, plen, "%s", colon + 1);
    return 0;
}

static void pause_ns(long ns)
{
    struct timespec t = {.tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L};
    nanosleep(&t, NULL);
}

/* The highest id ClickHouse holds for the sensor (0: none). */
static int held_up_to(struct ch *c, const char *sensor, long long *id, char *err, size_t errlen)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT max(id) FROM connections WHERE sensor = '%s' FORMAT TabSeparated", sensor);
    return ch_query_int(c, sql, id, err, errlen);
}

/* An INSERT whose outcome is unknown may still run: until its query_id
 * has left system.processes (at most the request timeout). */
static void wait_until_gone(struct ch *c, const char *query_id)
{
    char sql[256], ignored[512];
    snprintf(sql, sizeof sql, "SELECT count() FROM system.processes WHERE query_id = '%s' FORMAT TabSeparated",
             query_id);
    for (long waited = 0; waited < c->timeout_s * 1000000000L; waited += WAIT_STEP_NS) {
        long long running = 1;
        if (ch_query_int(c, sql, &running, ignored, sizeof ignored) == 0 && running == 0)
            return;
        pause_ns(WAIT_STEP_NS);
    }
}

/* The next batch after `after` as TabSeparated rows; *n of them, the last
 * one's id in *last. Returns 0, or -1 (message in err). */
static int next_batch(struct query_db *db, const char *sensor, long long after, size_t batch, char **body,
                      size_t *len, size_t *n, long long *last, char *err, size_t errlen)
{
    struct query_rows *rows;
    if (query_records_after(db, after, (long)batch, &rows) < 0) {
        snprintf(err, errlen, "%s", query_error(db));
        return -1;
    }
    FILE *out = open_memstream(body, len);
    if (!out) {
        query_rows_close(rows);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct query_row row;
    int step;
    *n = 0;
    while ((step = query_rows_next(rows, &row)) > 0) {
        rows_write(out, sensor, &row);
        *last = row.id;
        ++*n;
    }
    query_rows_close(rows);
    if (fclose(out) != 0 || step < 0) {
        snprintf(err, errlen, "%s", step < 0 ? query_error(db) : "out of memory");
        free(*body);
        *body = NULL;
        return -1;
    }
    return 0;
}

/* Sends one batch. 1: done; 0: its outcome was unknown and ClickHouse has
 * been asked again (*held updated); -1: it failed (err). */
static int send_batch(struct ch *c, const char *sensor, const char *insert, const char *body, size_t len,
                      long long first, long long last, long long *held, char *err, size_t errlen)
{
    char query_id[160];
    snprintf(query_id, sizeof query_id, "wsstats-%s-%lld-%lld", sensor, first, last);
    struct ch_answer a = {0};
    enum ch_result rc = ch_post(c, insert, query_id, body, len, &a, err, errlen);
    free(a.text);
    if (rc == CH_OK) {
        *held = last;
        return 1;
    }
    if (rc != CH_UNKNOWN)
        return -1;
    wait_until_gone(c, query_id);
    return held_up_to(c, sensor, held, err, errlen) < 0 ? -1 : 0;
}

void ship_cursor_key(const char *sensor, char *key, size_t len)
{
    snprintf(key, len, "clickhouse_shipped:%s", sensor);
}

/* The acknowledged id, in the database's meta table when it may be written. */
static void remember(const char *db_path, const char *sensor, long long id)
{
    char key[128], value[32], ignored[512];
    ship_cursor_key(sensor, key, sizeof key);
    snprintf(value, sizeof value, "%lld", id);
    store_meta_put(db_path, key, value, ignored, sizeof ignored);
}

/* The records after `held` (r->backlog, -1 if unknown) and when the first
 * of them ended (r->oldest); `held` unknown (-1): after the id the database
 * last heard acknowledged (meta), or after none. */
static void backlog(struct query_db *db, const char *sensor, long long held, struct ship_result *r)
{
    char key[128];
    ship_cursor_key(sensor, key, sizeof key);
    if (held < 0 && query_meta_int(db, key, &held) != 1)
        held = 0;
    long long left;
    double oldest;
    if (query_count_after(db, held, &left, &oldest) == 0) {
        r->backlog = left;
        r->oldest = oldest;
    }
}

int ship_database(const char *db_path, const struct ship_options *o, long long held, struct ship_result *r,
                  char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->backlog = -1;
    char open_err[QUERY_OPEN_ERROR_MAX];
    struct query_db *db = query_open(db_path, open_err, sizeof open_err);
    if (!db) {
        snprintf(err, errlen, "%s", open_err);
        return -1;
    }
    int rc = query_begin(db);
    if (rc == 0) {
        rc = ship_export(db, db_path, o, r, err, errlen);
        backlog(db, o->sensor, r->known ? r->to : held, r);
        query_end(db);
    } else {
        snprintf(err, errlen, "%s", query_error(db));
    }
    query_close(db);
    return rc;
}

int ship_export(struct query_db *db, const char *db_path, const struct ship_options *o, struct ship_result *r,
                char *err, size_t errlen)
{
    struct ch c;
    memset(r, 0, sizeof *r);
    r->backlog = -1;
    struct ch_target t = {.url = o->url, .user = o->user, .password = o->password, .timeout_s = o->timeout_s};
    if (ch_open(&c, &t, err, errlen) < 0) {
        ch_close(&c);
        return -1;
    }
    char insert[2048];
    rows_insert_sql(insert, sizeof insert);
    size_t batch = o->batch ? o->batch : SHIP_BATCH;
    long long held = 0;
    int rc = held_up_to(&c, o->sensor, &held, err, errlen);
    r->from = r->to = held;
    r->known = rc == 0;
    for (int unknown = 0; rc == 0;) {
        char *body = NULL;
        size_t len = 0, n = 0;
        long long last = held;
        if ((rc = next_batch(db, o->sensor, held, batch, &body, &len, &n, &last, err, errlen)) < 0 || n == 0) {
            free(body);
            break;
        }
        long long before = held;
        int sent = send_batch(&c, o->sensor, insert, body, len, held + 1, last, &held, err, errlen);
        free(body);
        if (sent < 0) {
            rc = -1;
            break;
        }
        r->sent += held > before ? (uint64_t)n : 0; /* a batch is all or nothing */
        unknown = sent ? 0 : unknown + 1;
        r->retries += !sent;
        if (unknown > UNKNOWN_RETRIES) {
            snprintf(err, errlen, "%s: %d INSERTs in a row without an answer; run again to resume", c.shown, unknown);
            rc = -1;
        }
        if (held > before)
            remember(db_path, o->sensor, held);
    }
    r->to = held;
    if (rc == 0)
        rc = ship_side_tables(&c, db, db_path, o->sensor, r, err, errlen);
    ch_close(&c);
    return rc;
}

int ship_url_ok(const char *url)
{
    return ch_url_ok(url);
}
