/*
 * ship/side.c — the tables beside the records: the captures rows and the
 * TLS counts, to ClickHouse's ReplacingMergeTree tables of the same names
 * (contrib/clickhouse/schema.sql), after the records of each round.
 *
 * Both change after they are written (a running capture's figures, an
 * hour's TLS count), so they are not shipped once like a record: each row
 * goes with a version (the shipping time in milliseconds) and ClickHouse
 * keeps the newest version of each key (queries read them with FINAL).
 * Sending one twice is harmless, so any failure is only retried next
 * round.
 *
 * What is sent, from two cursors in the meta table: the captures rows
 * from `clickhouse_captures:SENSOR` (the first row that was still running
 * when last shipped; every row after it may have changed; it then moves to
 * the first row still running, or past the last one), and the TLS counts
 * that changed (updated_at, the writer's commit time) since
 * `clickhouse_tls:SENSOR` (the latest change last shipped, less a minute,
 * so that a commit racing the last round, or a clock stepped back a
 * little, is sent again rather than missed; none: every count). The meta
 * table knows where this database's rows were sent last, not whether this
 * ClickHouse holds them (the same database shipped to a second server, or
 * a server rebuilt): a cursor is never used beyond what ClickHouse says it
 * holds for the sensor.
 */
#include "ship_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"

/* A table's rows as one INSERT's TabSeparated body. */
struct side_batch {
    const char *table, *sensor;
    unsigned long long version;
    char insert[2048]; /* built from the first row's column names */
    struct rowbuf body;
    long long rows;
    /* captures: what the cursor is made of; tls: the latest change */
    long long max_id, first_running;
    double updated;
};

static void build_insert(struct side_batch *b, int n, const char *const *names)
{
    size_t used = (size_t)snprintf(b->insert, sizeof b->insert, "INSERT INTO %s (sensor", b->table);
    for (int i = 0; i < n && used < sizeof b->insert; i++)
        used += (size_t)snprintf(b->insert + used, sizeof b->insert - used, ", %s", rows_clickhouse_column(names[i]));
    if (used < sizeof b->insert)
        snprintf(b->insert + used, sizeof b->insert - used, ", version) FORMAT TabSeparated");
}

static const struct query_value *column(int n, const char *const *names, const struct query_value *v,
                                        const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return &v[i];
    return NULL;
}

/* What a row adds to its table's cursor. */
static void note_cursor(struct side_batch *b, int n, const char *const *names, const struct query_value *v)
{
    const struct query_value *id = column(n, names, v, "id"), *status = column(n, names, v, "status");
    const struct query_value *updated = column(n, names, v, "updated_at");
    if (updated && updated->type == QV_REAL && updated->d > b->updated)
        b->updated = updated->d;
    if (!id || id->type != QV_INT)
        return;
    if (id->i > b->max_id)
        b->max_id = id->i;
    if (status && status->type == QV_TEXT && strcmp(status->text, "running") == 0 && b->first_running < 0)
        b->first_running = id->i;
}

static int add_row(void *arg, int n, const char *const *names, const struct query_value *v)
{
    struct side_batch *b = arg;
    if (b->rows++ == 0)
        build_insert(b, n, names);
    rows_write_text(&b->body, b->sensor);
    for (int i = 0; i < n; i++) {
        rowbuf_put(&b->body, "\t", 1);
        rows_write_value(&b->body, &v[i]);
    }
    rowbuf_put(&b->body, "\t", 1);
    rows_write_uint(&b->body, b->version);
    rowbuf_put(&b->body, "\n", 1);
    note_cursor(b, n, names, v);
    return 0;
}

/* Reads the table's rows from the cursor into one body and sends it. */
static int ship_table(struct ch *c, struct query_db *db, struct side_batch *b, enum query_side_table t, double from,
                      char *err, size_t errlen)
{
    int rc = query_side_rows(db, t, from, add_row, b);
    if (rc < 0 || b->body.failed) {
        snprintf(err, errlen, "%s", rc < 0 ? query_error(db) : "out of memory");
        rc = -1;
    } else if (b->rows > 0) {
        struct ch_answer a = {0};
        rc = ch_post(c, b->insert, NULL, b->body.p, b->body.len, &a, err, errlen) == CH_OK ? 0 : -1;
        free(a.text);
    }
    rowbuf_free(&b->body);
    return rc;
}

static unsigned long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (unsigned long long)t.tv_sec * 1000 + (unsigned long long)t.tv_nsec / 1000000;
}

/* A cursor of the meta table: 1 with *v, 0 if none, -1. */
static int cursor_get(struct query_db *db, const char *what, const char *sensor, long long *v)
{
    char key[128];
    snprintf(key, sizeof key, "clickhouse_%s:%s", what, sensor);
    return query_meta_int(db, key, v);
}

/* Moves it (a read-only database: the rows are sent again next time). */
static void cursor_put(const char *db_path, const char *what, const char *sensor, long long v)
{
    char key[128], value[32], ignored[512];
    snprintf(key, sizeof key, "clickhouse_%s:%s", what, sensor);
    snprintf(value, sizeof value, "%lld", v);
    store_meta_put(db_path, key, value, ignored, sizeof ignored);
}

/* Where ClickHouse's rows of the sensor end: the captures id after the
 * last it holds (0: none), and the latest TLS change it holds less the
 * cursor's minute (-1: none, every count). The sensor's name is letters,
 * digits, '.', '_' and '-' (ship_sensor_name_ok()). */
static int held_by_clickhouse(struct ch *c, const char *sensor, long long *cap_next, long long *tls_from, char *err,
                              size_t errlen)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT if(count() = 0, 0, max(id) + 1) FROM captures WHERE sensor = '%s'", sensor);
    if (ch_query_int(c, sql, cap_next, err, errlen) < 0)
        return -1;
    snprintf(sql, sizeof sql,
             "SELECT toInt64(coalesce(floor(max(updated_at)) - 60, -1)) FROM tls_flows WHERE sensor = '%s'", sensor);
    return ch_query_int(c, sql, tls_from, err, errlen);
}

int ship_side_tables(struct ch *c, struct query_db *db, const char *db_path, const char *sensor,
                     struct ship_result *r, char *err, size_t errlen)
{
    unsigned long long version = now_ms();
    long long cap_from = 0, tls_from = -1, cap_held, tls_held;
    if (held_by_clickhouse(c, sensor, &cap_held, &tls_held, err, errlen) < 0)
        return -1;
    bool cap_known = cursor_get(db, "captures", sensor, &cap_from) == 1;
    bool tls_known = cursor_get(db, "tls", sensor, &tls_from) == 1;
    if (cap_known && cap_from > cap_held)
        cap_from = cap_held;
    if (tls_known && tls_from > tls_held)
        tls_from = tls_held;
    tls_known = tls_known && tls_from >= 0;
    struct side_batch caps = {.table = "captures", .sensor = sensor, .version = version, .max_id = -1,
                              .first_running = -1};
    struct side_batch tls = {.table = "tls_flows", .sensor = sensor, .version = version, .max_id = -1};
    if (ship_table(c, db, &caps, QUERY_CAPTURES, (double)(cap_known ? cap_from : 0), err, errlen) < 0 ||
        ship_table(c, db, &tls, QUERY_TLS_FLOWS, tls_known ? (double)tls_from : -1, err, errlen) < 0)
        return -1;
    r->captures = caps.rows;
    r->tls = tls.rows;
    long long cap_next = caps.first_running >= 0 ? caps.first_running : caps.max_id + 1;
    if (caps.rows > 0 && cap_next != cap_from)
        cursor_put(db_path, "captures", sensor, cap_next);
    long long tls_next = tls.updated > 0 ? (long long)floor(tls.updated) - 60 : 0; /* 0: only counts of old */
    if (tls.rows > 0 && (!tls_known || tls_next > tls_from))
        cursor_put(db_path, "tls", sensor, tls_next);
    return 0;
}
