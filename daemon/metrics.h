/*
 * daemon/metrics.h — wsstatsd's counters for Prometheus (--metrics, issue
 * 23): what the records said (close codes, outcomes, lifetimes, violations,
 * rejected handshakes) and the daemon's health (packets, drops, flows,
 * the database writer), served as the text exposition format 0.0.4 on
 * GET /metrics by libmicrohttpd from a thread of its own.
 *
 * One `struct metrics` per daemon, under one mutex: the packet loop counts
 * each record as it hands it to the writer (metrics_record) and publishes
 * its own figures once a second (metrics_set_health); whichever thread
 * emits a TLS flow counts it; the HTTP thread renders. Counters start at zero
 * with the process and only grow.
 */
#ifndef WSSTATS_METRICS_H
#define WSSTATS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/record.h"
#include "../store/store.h"

/* Close codes outside 1000-1015 that get a series of their own; later
 * ones are counted under their range of RFC 6455 §7.4.2 ("4000-4999"). */
#define METRICS_CODES_MAX 32
/* HTTP statuses of rejected handshakes with a series of their own; later
 * ones are counted as "other". */
#define METRICS_STATUSES_MAX 16

/* The packet loop's figures, published once a second. */
struct metrics_health {
    uint64_t packets, bytes;                 /* read from the sources */
    uint64_t received, kernel_drops, if_drops; /* libpcap's (live) */
    uint64_t flows, flows_tracked;           /* TCP flows seen; in the table now */
    uint64_t connections_open;               /* WebSocket connections followed, not ended */
    uint64_t memcap_hits, evicted_memcap, evicted_max_flows, expired_idle;
    int interface_up;                        /* live: 1 or 0; -1: not watched (files, "any") */
};

/* --metrics-by: the same connections by one more key. The first
 * METRICS_KEYS_MAX values seen keep a label of their own (so that every
 * series only grows); later ones are counted as "other". */
enum metrics_by { METRICS_BY_NONE, METRICS_BY_SERVER, METRICS_BY_HOST, METRICS_BY_PATH };
#define METRICS_KEYS_MAX 20

struct metrics;

struct metrics *metrics_new(const char *version, enum metrics_by by);
void metrics_free(struct metrics *m);

/* A record handed to the database writer. */
void metrics_record(struct metrics *m, const struct ws_record *r);
/* A TLS flow nDPI found (any thread). */
void metrics_tls(struct metrics *m);
void metrics_set_health(struct metrics *m, const struct metrics_health *h);
/* --clickhouse: a round shipped `sent` records, leaves `backlog` (-1:
 * unknown) of which the first to end ended at `oldest` (0: none), failed
 * or not (the shipper's thread). */
void metrics_shipping(struct metrics *m, uint64_t sent, long long backlog, double oldest, bool failed);

/* The exposition (malloc'd, *len bytes), with the store's figures read
 * now; NULL when out of memory. */
char *metrics_render(struct metrics *m, struct store *st, size_t *len);

/* ---- the HTTP side (daemon/metrics_http.c) -------------------------------- */

/* The listening socket for ADDR:PORT ("127.0.0.1:9477", "[::1]:9477",
 * ":9477" for every address), opened while the daemon still has its
 * privileges. Returns the descriptor, or -1 with one line in err naming
 * the address and the cause. */
int metrics_listen(const char *addr, char *err, size_t errlen);

/* Serves GET /metrics on the socket from libmicrohttpd's own thread
 * (started with every signal blocked, once privileges are dropped).
 * NULL with a line in err on failure; metrics_stop() stops it and closes
 * the socket, before the store and the metrics are freed. */
struct metrics_server;
struct metrics_server *metrics_serve(struct metrics *m, struct store *st, int fd, char *err, size_t errlen);
void metrics_stop(struct metrics_server *s);

#endif
