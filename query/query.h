/*
 * query/query.h — the read side: filters, time windows and the queries
 * behind the wsstats commands (docs/design.md §5). Its callers see no
 * SQL: a handle, filters, and rows as counts or model records.
 *
 * SQL text is assembled only from fixed fragments of this module; every
 * value a user typed is bound as a parameter (on ClickHouse, which binds
 * nothing over HTTP in 18.16, written as an escaped literal), so quotes or
 * SQL in a filter are matched literally. A handle reads a SQLite database
 * or ClickHouse (query_open_clickhouse). The database carries no ANALYZE statistics, so
 * SQLite picks indexes by the shape of a statement: filters are index
 * ranges, and counting by code or group is done here over the rows SQLite
 * streams rather than by a GROUP BY that would draw it to an index in
 * grouping order or make it sort a million rows. Rows come out by callback
 * or cursor, never held in full, except the counts (one per code, bucket
 * or group). The files are listed in query_internal.h.
 */
#ifndef WSSTATS_QUERY_H
#define WSSTATS_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "../model/record.h"

#define QUERY_MAX_CODES 16

/* A database opened for reading (query/db.c). */
struct query_db;

/* Opens path read-only through the store (never created or migrated; read
 * as immutable where this user may not write beside it); NULL with one
 * line in err, naming the database and the cause, on failure. */
#define QUERY_OPEN_ERROR_MAX (3 * 4096 + 512) /* the message names the path up to three times */
struct query_db *query_open(const char *path, char *err, size_t errlen);
void query_close(struct query_db *q);

/* The fleet's records in ClickHouse (query/clickhouse.c): url as for
 * wsstats export, user NULL for none. Nothing is asked yet; NULL with one
 * line in err. Every report's query runs there; the ones of shipping
 * (records after an id, the meta table, the side tables' rows) fail (-1)
 * on it: they read a sensor's own database. */
struct query_db *query_open_clickhouse(const char *url, const char *user, const char *password, char *err,
                                       size_t errlen);
/* Whether the handle is ClickHouse's. */
bool query_is_clickhouse(const struct query_db *q);

/* Why the last call that returned -1 failed (SQLite's message, or this
 * module's). */
const char *query_error(const struct query_db *q);

/* An inclusive range of close codes; lo = -1 stands for "no close code". */
struct code_range {
    int lo, hi;
};

/*
 * Which connections a query looks at. A connection belongs to the window
 * when it ended in [since, until). Unset text filters are NULL; ports are -1
 * when not given. Text values are normalised by the CLI (addresses in the
 * form the store writes them).
 */
struct query_filter {
    bool has_since, has_until;
    double since, until;
    const char *server_ip; /* NULL: any */
    int server_port;       /* -1: any */
    const char *client_ip;
    int client_port;
    const char *host;   /* case-insensitive; without a port it matches any port */
    const char *path;   /* exact, or followed by a query string; "/p*" is a prefix */
    const char *sensor; /* exact */
    struct code_range codes[QUERY_MAX_CODES];
    int ncodes;
    unsigned outcomes; /* bit set of enum outcome values (record.h); 0: any */
};

/* What the database holds: whether a live capture wrote it, and the span of
 * the records' end times (first, last; count 0 when it has none). */
struct query_span {
    bool live;
    long long count;
    double first, last;
};

int query_span(struct query_db *q, struct query_span *span);

/* Starts / ends one read transaction, so that the several queries of one
 * report see one snapshot while wsstatsd keeps writing. */
int query_begin(struct query_db *q);
void query_end(struct query_db *q);

struct code_count {
    int code;            /* -1: no close code (see outcome) */
    const char *outcome; /* for code -1: "unfinished" or "rejected" */
    long long count;
};

typedef void (*code_count_fn)(void *arg, const struct code_count *c);

/* Close-code frequencies, most frequent first. Returns 0 or -1. */
int query_top_codes(struct query_db *q, const struct query_filter *f, code_count_fn fn, void *arg);

/* The records, newest first, at most `limit` (<= 0: all). `by_time`: walk
 * the end-time index from the newest record and test the filter on each,
 * rather than collect every match through the filter's index and sort them:
 * the faster way when matches are common (query_count() tells). */
struct query_rows;
int query_connections(struct query_db *q, const struct query_filter *f, long limit, bool by_time,
                      struct query_rows **rows);

/* The records with an id above `after`, in id order, at most `limit`
 * (<= 0: all): for shipping (ship/) and export. */
int query_records_after(struct query_db *q, long long after, long limit, struct query_rows **rows);
/* The ids above `after` and at most `upto`, the first `limit` of them
 * (<= 0: all) in id order: how many, the first and the last (0 when none):
 * for the shipper's comparison with what ClickHouse holds. 0 or -1. */
struct query_id_span {
    long long n, first, last;
};
int query_id_span(struct query_db *q, long long after, long long upto, long limit, struct query_id_span *span);
/* The meta table's integer under key: 1 with *v, 0 if none, -1. */
int query_meta_int(struct query_db *q, const char *key, long long *v);
/* How many records have an id above `after`, and the end time of the one
 * that ended first (0: none). */
int query_count_after(struct query_db *q, long long after, long long *n, double *oldest);

/* The rows of the tables beside the records, as they are, for shipping:
 * the captures rows with an id of at least `from`, or the TLS counts that
 * changed at `from` or later (updated_at; from < 0: every count). Each row
 * comes as its columns' names and values (the database's own columns: an
 * older one has fewer), valid for the call. */
enum query_side_table { QUERY_CAPTURES, QUERY_TLS_FLOWS };
enum query_value_type { QV_NULL, QV_INT, QV_REAL, QV_TEXT };
struct query_value {
    enum query_value_type type;
    long long i;
    double d;
    const char *text;
};
typedef int (*side_row_fn)(void *arg, int ncols, const char *const *names, const struct query_value *values);
/* Returns 0, or -1 (query_error(); or what fn returned, if it was not 0). */
int query_side_rows(struct query_db *q, enum query_side_table t, double from, side_row_fn fn, void *arg);

/* The columns the database's table has, in its order: a record column
 * (index into record_columns[], model/columns.h) or the store's own. */
enum { QUERY_COLUMN_ID = -1, QUERY_COLUMN_CAPTURE = -2 };
struct query_column {
    const char *name;
    int column; /* 0 .. RECORD_NCOLUMNS - 1, or QUERY_COLUMN_* */
};
/* Returns the number of columns; *layout is valid until query_rows_close(). */
int query_rows_layout(const struct query_rows *r, const struct query_column **layout);

/* One row: the record (its strings valid until the next call), its id and
 * capture. Columns the table lacks hold their "none" value. */
struct query_row {
    long long id, capture_id;
    bool has_capture; /* capture_id is not NULL */
    struct ws_record rec;
};
/* Returns 1 with a row, 0 at the end, -1 on failure (query_error()). */
int query_rows_next(struct query_rows *r, struct query_row *row);
void query_rows_close(struct query_rows *r);

/* How many connections the filter selects. */
int query_count(struct query_db *q, const struct query_filter *f, long long *n);

/* Counts per time bucket (aligned to multiples of `bucket` seconds since the
 * epoch) per code, in time order. */
typedef void (*bucket_count_fn)(void *arg, double bucket_start, const struct code_count *c);
int query_timeline(struct query_db *q, const struct query_filter *f, double bucket, bucket_count_fn fn, void *arg);

/* The keys connections can be grouped or tallied by. */
enum query_key {
    KEY_HOST,
    KEY_PATH,
    KEY_SERVER,
    KEY_CLIENT,
    KEY_SUBPROTOCOL,
    KEY_USER_AGENT,
    KEY_SENSOR, /* the last key of group-by; the rest are tallied by summary */
    KEY_VIOLATIONS,
    KEY_NDPI,
    KEY_COUNT_
};

/* "host", "user-agent", ...: the name of a key on the command line. */
const char *query_key_name(enum query_key k);
/* The key of a command-line name; false if there is none. */
bool query_key_parse(const char *name, enum query_key *k);

/* One group of group-by: its key (NULL: the record has none; a path
 * without its query string), its count, and one of its most frequent codes
 * (rank 1..3, most frequent first). `all`: connections in all groups. */
struct group_row {
    const char *key;
    long long total;
    int rank;
    struct code_count code;
};
typedef void (*group_row_fn)(void *arg, const struct group_row *g, long long all);

/* The `limit` largest groups (<= 0: all), largest first, each with up to
 * three rows for its top codes. *ngroups gets the number of groups in all. */
int query_group_by(struct query_db *q, const struct query_filter *f, enum query_key k, long limit, group_row_fn fn,
                   void *arg, long long *ngroups);

/* For each connection that ended (outcome clean, half_closed or abnormal):
 * its lifetime (ended_at - started_at) and its idle time before close (from
 * its last data frame, or the upgrade, to its first close frame; without a
 * close frame, from its last frame to its end), in seconds. */
struct duration_row {
    double lifetime, idle;
    int code; /* close_code, -1 if none */
};
typedef void (*duration_fn)(void *arg, const struct duration_row *d);
int query_durations(struct query_db *q, const struct query_filter *f, duration_fn fn, void *arg);

/* The totals of `summary`. Indexes are enum outcome and enum termination
 * values (model/record.h). */
struct summary_counts {
    long long total, handshake_seen;
    long long outcomes[5];
    long long by_client, by_server; /* close_initiator */
    long long terminations[TERM_LAST + 1];
};
/* Counts per value, largest first: value NULL for records without one. */
typedef void (*tally_fn)(void *arg, const char *value, long long count);
/* The totals, and the connections per `violations` value ("gap,truncated";
 * records without violations are left out) and per nDPI protocol (NULL: not
 * classified), largest first. The whole database is read from three
 * covering indexes; a window or filter reads the matching records once. */
int query_summary(struct query_db *q, const struct query_filter *f, struct summary_counts *out, tally_fn violations,
                  void *varg, tally_fn ndpi, void *narg);

/* TLS flows in the window (by hour: the hours that overlap it), per
 * server, port and SNI, largest first; --server and --sensor apply.
 * A database without the table (schema v1) has none. */
struct tls_count {
    const char *server_ip, *sni; /* sni "" when the ClientHello had none */
    int server_port;
    long long count;
};
typedef void (*tls_count_fn)(void *arg, const struct tls_count *t);
int query_tls(struct query_db *q, const struct query_filter *f, tls_count_fn fn, void *arg);

/* What the captures overlapping the window report (sensor filter applies). */
struct capture_totals {
    long long captures, live, packets, bytes, drops, if_drops, tcp_flows;
    long long running, interrupted, failed; /* by status: still running; its process gone (killed);
                                             * ended by an error ("failed: ...", or the error's text) */
};
int query_captures(struct query_db *q, const struct query_filter *f, struct capture_totals *t);

#endif
