/*
 * engine/dissect.h — from TCP segments to connection records.
 *
 * The dissector owns the flow table. Each TCP segment finds (or makes) its
 * flow, goes through per-direction reassembly, and the in-order bytes drive
 * the WebSocket connection state (wsconn.c). When a connection ends (both
 * FINs delivered, a RST, idle expiry, eviction, or the end of the capture)
 * its record goes to the emit callback, then its memory is freed.
 */
#ifndef WSSTATS_DISSECT_H
#define WSSTATS_DISSECT_H

#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../app/classify.h"
#include "../flow/reasm.h"
#include "../model/record.h"
#include "../model/tls.h"

struct dissect_config {
    ts_us_t idle_timeout;  /* an open flow silent this long is expired */
    ts_us_t closed_linger; /* a finished flow absorbs stragglers this long */
    ts_us_t new_timeout;   /* a flow that never carried data (a SYN flood) */
    ts_us_t rst_linger;    /* after a RST, data sent before it may still arrive */
    uint32_t max_flows;    /* tracked flows; the least recently used goes first */
    size_t memcap;         /* flows, connection state and reassembly, all together */
    uint32_t dir_cap;      /* bytes held for reassembly, one direction */
};

void dissect_config_defaults(struct dissect_config *cfg);

struct dissect_stats {
    uint64_t segments, flows, websocket, records, ignored, idle_expired, evicted, port_reuse;
    uint64_t evicted_other; /* flows dropped for room that were not WebSocket */
    uint64_t out_of_window; /* segments far outside their stream's sequence window */
    uint64_t memcap_evictions; /* evictions forced by the memcap (not --max-flows) */
    /* Hostile input, counted when the connection's state is freed (see
     * wsconn.h): handshake heads over WSCONN_HEAD_MAX (16 KiB), read up to
     * the cut; frame headers whose 64-bit length has its most significant
     * bit set (RFC 6455 §5.2: "MUST be 0"; e.g. a claim of 2^63 bytes). */
    uint64_t heads_oversized;
    uint64_t frames_len_msb;
};

/* The LRU lists, in the order a full table gives up their flows. */
enum flow_list {
    LIST_DONE,      /* record written; absorbing stragglers */
    LIST_NEW,       /* no payload yet */
    LIST_RESET,     /* reset: waits rst_linger for reordered data, then written */
    LIST_OTHER,     /* undecided with data, or ignored */
    LIST_WEBSOCKET, /* a WebSocket connection */
    LIST_COUNT,
};

typedef void (*record_fn)(void *arg, const struct ws_record *r);

typedef void (*tls_fn)(void *arg, const struct tls_flow *t);

struct flow;

struct dissector {
    struct dissect_config cfg;
    struct dissect_stats stats;
    struct reasm_ctx reasm;
    struct classifier *classifier; /* may be NULL: no classification */
    record_fn emit;
    void *emit_arg;
    tls_fn tls_emit; /* NULL: TLS flows are not reported */
    void *tls_arg;
    struct flow **buckets;
    uint32_t nbuckets, nflows;
    struct flow *lru_head[LIST_COUNT], *lru_tail[LIST_COUNT];
    uint64_t lru_clock; /* ticks at every touch and move: the LRU order (dissect.c) */
    size_t state_mem; /* flows, connection and classification state, charged to the memcap */
    ts_us_t now;        /* packet clock: the newest timestamp seen */
    ts_us_t next_sweep; /* when expiry next runs */
};

/* Returns 0, or -1 if memory for the flow table could not be had. */
int dissector_init(struct dissector *d, const struct dissect_config *cfg, struct classifier *cl,
                   record_fn emit, void *emit_arg);
void dissector_free(struct dissector *d);

/* Reports each TLS flow once, when nDPI has classified it. fn is called on
 * the classifier thread for most flows (classify.h), so it must be safe to
 * call from there; dissect_finish() and dissector_free() return only once
 * every report is made. */
void dissector_on_tls(struct dissector *d, tls_fn fn, void *arg);

/* One decoded TCP segment; `sensor` names its source (kept by pointer). */
void dissect_segment(struct dissector *d, const struct tcp_segment *seg, const char *sensor);

/* Runs idle expiry against the packet clock (or a live clock). */
void dissect_expire(struct dissector *d, ts_us_t now);

/* The capture is over: every open connection is written as it stands. */
void dissect_finish(struct dissector *d);

#endif
