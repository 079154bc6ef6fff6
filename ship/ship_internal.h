/*
 * ship/ship_internal.h — what the shipper's files share: the ClickHouse
 * client (clickhouse.c) and the rows' encoding (rows.c).
 */
#ifndef WSSTATS_SHIP_INTERNAL_H
#define WSSTATS_SHIP_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "ship.h"

typedef void CURL;

struct ch {
    CURL *curl;
    char url[4096];   /* as given */
    char shown[4096]; /* for messages: without its password */
    long timeout_s;
};

struct ch_answer {
    char *text; /* NUL-terminated; the caller frees */
    size_t len, cap;
};

enum ch_result {
    CH_OK,
    CH_UNREACHABLE, /* no connection: nothing was done */
    CH_REFUSED,     /* ClickHouse answered with an error: nothing was done */
    CH_UNKNOWN,     /* sent, no answer: it may have been done, or still be running */
};

int ch_open(struct ch *c, const struct ship_options *o, char *err, size_t errlen);
void ch_close(struct ch *c);
/* insert NULL: body is the query. Else insert is the INSERT ... FORMAT,
 * body its rows; query_id names it (NULL: ClickHouse's own). */
enum ch_result ch_post(struct ch *c, const char *insert, const char *query_id, const char *body, size_t len,
                       struct ch_answer *a, char *err, size_t errlen);
/* A query whose answer is one integer. */
int ch_query_int(struct ch *c, const char *sql, long long *out, char *err, size_t errlen);

/* "INSERT INTO connections (sensor, id, source, ...) FORMAT TabSeparated" */
void rows_insert_sql(char *buf, size_t len);
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
