/*
 * query/query.h — the read side: filters, time windows and the queries
 * behind the wsstats commands (DESIGN §5).
 *
 * SQL text is assembled only from fixed fragments of this module; every
 * value a user typed is bound as a parameter, so quotes or SQL in a filter
 * are matched literally.
 */
#ifndef WSSTATS_QUERY_H
#define WSSTATS_QUERY_H

#include <sqlite3.h>
#include <stdbool.h>

#define QUERY_MAX_CODES 16

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

int query_span(sqlite3 *db, struct query_span *span);

/* Starts / ends one read transaction, so that the several queries of one
 * report see one snapshot while wsstatsd keeps writing. */
int query_begin(sqlite3 *db);
void query_end(sqlite3 *db);

struct code_count {
    int code;            /* -1: no close code (see outcome) */
    const char *outcome; /* for code -1: "unfinished" or "rejected" */
    long long count;
};

typedef void (*code_count_fn)(void *arg, const struct code_count *c);

/* Close-code frequencies, most frequent first. Returns 0 or -1. */
int query_top_codes(sqlite3 *db, const struct query_filter *f, code_count_fn fn, void *arg);

/* The records, newest first, at most `limit` (<= 0: all). `by_time`: walk
 * the end-time index from the newest record and test the filter on each,
 * rather than collect every match through the filter's index and sort them:
 * the faster way when matches are common (query_count() tells). The caller
 * steps and finalizes *stmt; column names are the record's. */
int query_connections(sqlite3 *db, const struct query_filter *f, long limit, bool by_time, sqlite3_stmt **stmt);

/* How many connections the filter selects. */
int query_count(sqlite3 *db, const struct query_filter *f, long long *n);

/* Counts per time bucket (aligned to multiples of `bucket` seconds since the
 * epoch) per code, in time order. */
typedef void (*bucket_count_fn)(void *arg, double bucket_start, const struct code_count *c);
int query_timeline(sqlite3 *db, const struct query_filter *f, double bucket, bucket_count_fn fn, void *arg);

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
int query_group_by(sqlite3 *db, const struct query_filter *f, enum query_key k, long limit, group_row_fn fn,
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
int query_durations(sqlite3 *db, const struct query_filter *f, duration_fn fn, void *arg);

/* The totals of `summary`. Indexes are enum outcome and enum termination
 * values (model/record.h). */
struct summary_counts {
    long long total, handshake_seen;
    long long outcomes[5];
    long long by_client, by_server; /* close_initiator */
    long long terminations[8];
};
/* Counts per value, largest first: value NULL for records without one. */
typedef void (*tally_fn)(void *arg, const char *value, long long count);
/* The totals, and the connections per `violations` value ("gap,truncated";
 * records without violations are left out) and per nDPI protocol (NULL: not
 * classified), largest first. The whole database is read from three
 * covering indexes; a window or filter reads the matching records once. */
int query_summary(sqlite3 *db, const struct query_filter *f, struct summary_counts *out, tally_fn violations,
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
int query_tls(sqlite3 *db, const struct query_filter *f, tls_count_fn fn, void *arg);

/* What the captures overlapping the window report (sensor filter applies). */
struct capture_totals {
    long long captures, live, packets, bytes, drops, if_drops, tcp_flows;
};
int query_captures(sqlite3 *db, const struct query_filter *f, struct capture_totals *t);

#endif
