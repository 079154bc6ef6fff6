/*
 * ship/ship_internal.h — what the shipper's files share: the rows'
 * encoding (rows.c) and the side tables (side.c); ClickHouse's client is
 * remote/'s.
 */
#ifndef WSSTATS_SHIP_INTERNAL_H
#define WSSTATS_SHIP_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "ship.h"
#include "../remote/clickhouse.h"

/* "INSERT INTO connections (sensor, id, source, ...) FORMAT TabSeparated" */
void rows_insert_sql(char *buf, size_t len);
/* A SQLite column's name in ClickHouse: the database's own `sensor` (the
 * interface or file) is `source` there, and a captures row's `source` (the
 * path as given) `source_path`; the rest keep theirs. */
const char *rows_clickhouse_column(const char *name);
/* One record as a TabSeparated line of that INSERT. */
void rows_write(FILE *out, const char *sensor, const struct query_row *row);
/* A string, escaped for TabSeparated; any value of a side table (\N for NULL). */
void rows_write_text(FILE *out, const char *s);
void rows_write_value(FILE *out, const struct query_value *v);

/* The captures rows and TLS counts that may have changed since the last
 * round (side.c): 0, or -1 with the reason in err; r->captures and r->tls
 * count what was sent. */
int ship_side_tables(struct ch *c, struct query_db *db, const char *db_path, const char *sensor,
                     struct ship_result *r, char *err, size_t errlen);

#endif
