/*
 * remote/clickhouse.h — ClickHouse's HTTP interface through libcurl (no
 * HTTP of ours), for the shipper (ship/) and the reports run on ClickHouse
 * (query/): one POST per query, the query in the body, or for an INSERT in
 * the `query` parameter with the rows as the body.
 *
 * What a failure means for the data decides what a caller does next:
 * CH_UNREACHABLE (no connection was made) and CH_REFUSED (ClickHouse
 * answered with an error: an INSERT that fails writes no part) did
 * nothing; CH_UNKNOWN (a timeout, a connection cut after the request was
 * sent) may have done it, or may still be doing it.
 */
#ifndef WSSTATS_REMOTE_CLICKHOUSE_H
#define WSSTATS_REMOTE_CLICKHOUSE_H

#include <stddef.h>

typedef void CURL;

struct ch {
    CURL *curl;
    char url[4096];   /* as given */
    char shown[4096]; /* for messages: without its password */
    long timeout_s;
};

/* Where and as whom: user NULL for none (or the URL's own). */
struct ch_target {
    const char *url, *user, *password;
    long timeout_s; /* one request; 0: CH_TIMEOUT_S */
};
#define CH_TIMEOUT_S 60

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

/* Whether url is one the client takes (http:// or https://). */
int ch_url_ok(const char *url);

/* 0, or -1 with one line in err (the URL shown without its password). */
int ch_open(struct ch *c, const struct ch_target *t, char *err, size_t errlen);
void ch_close(struct ch *c);
/* insert NULL: body is the query. Else insert is the INSERT ... FORMAT,
 * body its rows; query_id names it (NULL: ClickHouse's own). */
enum ch_result ch_post(struct ch *c, const char *insert, const char *query_id, const char *body, size_t len,
                       struct ch_answer *a, char *err, size_t errlen);
/* A query whose answer is read as it arrives, each line (its newline
 * cut off, valid for the call) to fn; fn's nonzero return ends the
 * transfer, CH_OK with *stopped that value. Memory: one line, not the
 * answer. */
typedef int (*ch_line_fn)(void *arg, char *line);
enum ch_result ch_select(struct ch *c, const char *query, ch_line_fn fn, void *arg, int *stopped, char *err,
                         size_t errlen);
/* A query whose answer is one integer. */
int ch_query_int(struct ch *c, const char *sql, long long *out, char *err, size_t errlen);

#endif
