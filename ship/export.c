/*
 * ship/export.c — a database's records to ClickHouse, exactly once (see
 * ship.h): start where every record is in ClickHouse (settle.c), then
 * send the records after it in chunks of one INSERT each, each named by a
 * query_id; a chunk whose INSERT's outcome was unknown is made whole
 * (settle.c) before the next.
 */
#include "ship_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
        rc = ship_export(db, db_path, o, held, r, err, errlen);
        backlog(db, o->sensor, r->known ? r->to : held, r);
        query_end(db);
    } else {
        snprintf(err, errlen, "%s", query_error(db));
    }
    query_close(db);
    return rc;
}

int ship_export(struct query_db *db, const char *db_path, const struct ship_options *o, long long verified,
                struct ship_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->backlog = -1;
    struct shipping s = {.db = db, .db_path = db_path, .sensor = o->sensor, .r = r, .err = err, .errlen = errlen,
                         .batch = o->batch ? o->batch : SHIP_BATCH};
    struct ch_target t = {.url = o->url, .user = o->user, .password = o->password, .timeout_s = o->timeout_s};
    if (ch_open(&s.c, &t, err, errlen) < 0) {
        ch_close(&s.c);
        return -1;
    }
    rows_insert_sql(s.insert, sizeof s.insert);
    long long cursor = 0;
    int rc = settle_start(&s, verified, &cursor);
    if (rc == 0)
        rc = ship_records(&s, &cursor);
    r->to = cursor;
    if (rc == 0)
        rc = ship_side_tables(&s.c, db, db_path, o->sensor, r, err, errlen);
    ch_close(&s.c);
    return rc;
}

int ship_url_ok(const char *url)
{
    return ch_url_ok(url);
}
