/*
 * cli/cmd_export.c — `export`: every record in id order, as JSON lines or
 * CSV (every column, as `connections` writes them), or shipped to
 * ClickHouse by ship/ (only what ClickHouse does not hold yet, so a run
 * can be repeated or resumed).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "../ship/ship.h"

static int export_to_clickhouse(struct cli *c, struct query_db *db)
{
    char host[256] = "", user[256], password[256], err[1024];
    struct ship_options o = {.url = c->clickhouse};
    if (!ship_url_ok(c->clickhouse))
        return fail(2, "--clickhouse: not an http:// or https:// URL");
    if (c->clickhouse_auth) {
        if (ship_read_auth(c->clickhouse_auth, user, sizeof user, password, sizeof password, err, sizeof err) < 0)
            return fail(2, "%s", err);
        o.user = user;
        o.password = password;
    }
    if (!c->sensor_name && gethostname(host, sizeof host - 1) != 0)
        return fail(1, "--sensor-name: no host name to default to; give one");
    o.sensor = c->sensor_name ? c->sensor_name : host;
    if (!ship_sensor_name_ok(o.sensor))
        return fail(2, "--sensor-name: '%s' is not a sensor name (1 to 64 letters, digits, . _ -)", o.sensor);
    struct ship_result r;
    int rc = ship_export(db, c->db_path, &o, -1, &r, err, sizeof err);
    if (rc < 0 && r.sent == 0 && !r.captures && !r.tls)
        return fail(1, "%s", err); /* nothing done: the cause alone */
    char filled[96] = "";
    if (r.filled)
        snprintf(filled, sizeof filled, "; %lld of them below %lld, which ClickHouse lacked", r.filled, r.from);
    fprintf(stderr, "wsstats: %llu records shipped as sensor %s (ClickHouse held its ids up to %lld, now %lld)%s%s\n",
            (unsigned long long)r.sent, o.sensor, r.from, r.to, filled,
            r.retries ? "; some INSERTs were asked again" : "");
    if (r.captures || r.tls)
        fprintf(stderr, "wsstats: %lld captures rows and %lld TLS counts brought up to date\n", r.captures, r.tls);
    return rc < 0 ? fail(1, "%s", err) : 0;
}

int cmd_export(struct cli *c, struct query_db *db)
{
    if (c->filtered || c->filter.has_since || c->filter.has_until)
        return fail(2, "export: no window or filter (it writes the whole database)");
    if (c->clickhouse)
        return export_to_clickhouse(c, db);
    if (c->clickhouse_auth || c->sensor_name)
        return fail(2, "%s needs --clickhouse URL", c->clickhouse_auth ? "--clickhouse-auth" : "--sensor-name");
    if (c->format == OUT_TABLE)
        return fail(2, "export: give --format json or csv, or --clickhouse URL");
    struct query_rows *rows;
    if (query_records_after(db, 0, 0, &rows) < 0)
        return fail_db(c, db);
    int rc = print_connections_data(c, db, rows);
    query_rows_close(rows);
    return rc;
}
