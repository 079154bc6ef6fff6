/*
 * engine/engine.h — from packets to connection records: decode ->
 * flow -> application parser, and the one place that emits.
 *
 * The engine owns the flow table (flow/) and follows, with the
 * application parser (app/), the flows that parser wants; nDPI
 * (app/classify.h) names each flow and finds the TLS ones. When a followed
 * connection ends (both FINs delivered, a RST, idle expiry, eviction, or
 * the end of the capture) the engine assembles its record — the flow's
 * part (addresses, times, how TCP ended), the parser's, nDPI's name — and
 * hands it to the output; TLS flows go there as counts. Nothing else emits.
 * Everything here runs on the packet loop.
 */
#ifndef WSSTATS_ENGINE_H
#define WSSTATS_ENGINE_H

#include <stdint.h>

#include "../app/app.h"
#include "../app/classify.h"
#include "../capture/decode.h"
#include "../capture/packet.h"
#include "../flow/flow.h"
#include "../model/record.h"
#include "../model/tls.h"

/* Where records and TLS counts go. A record's strings are valid only during
 * the call. Either function may be NULL (nothing goes there). */
struct engine_output {
    void (*record)(void *arg, const struct ws_record *r);
    void (*tls)(void *arg, const struct tls_flow *t);
    void *arg;
};

/* Every flow the flow layer made ends as one of: recorded, not WebSocket
 * (at its first bytes, or after following it), the rest of an evicted
 * connection, or undecided (no payload to judge, or too little); once
 * every flow has ended, the five add up to the flows the table made. */
struct engine_stats {
    uint64_t followed; /* flows the parser followed */
    uint64_t records;  /* records emitted */
    uint64_t not_ours; /* judged not WebSocket at their first bytes (or no memory to follow them) */
    uint64_t refused;  /* followed, then found not WebSocket (the handshake, or nothing said WebSocket) */
    uint64_t after_eviction; /* flows without a SYN that continue a connection evicted for room */
    uint64_t undecided;      /* flows that ended (or were evicted) before their first bytes were judged */
    uint64_t tls;      /* TLS flows counted */
    struct app_anomalies anomalies; /* of the connections whose state has gone */
};

struct engine;

/* cl may be NULL (no classification); it is the caller's, and must outlive
 * the engine. NULL if out of memory. */
struct engine *engine_new(const struct flow_config *cfg, struct classifier *cl, const struct engine_output *out);
/* Frees every flow (nDPI gives up on those it still examines; the TLS
 * flows that finds are emitted), and then the engine. */
void engine_release_flows(struct engine *e);
void engine_free(struct engine *e);

/* One packet of a source, decoded with the source's decoder; a TCP segment
 * goes on to engine_segment(). `sensor` names the source (kept by pointer). */
void engine_packet(struct engine *e, struct decoder *dec, const struct packet *p, const char *sensor);
/* One decoded TCP segment. */
void engine_segment(struct engine *e, const struct tcp_segment *s, const char *sensor);

/* Runs idle expiry against the packet clock (or a live clock). */
void engine_expire(struct engine *e, ts_us_t now);

/* The capture is over: every open connection is written as it stands,
 * ending at the packet clock (engine_set_clock: a live capture ends now). */
void engine_finish(struct engine *e);
/* The same, each ending with `why` (TERM_INTERFACE_DOWN: the live
 * interface went down or away, and the capture goes on). */
void engine_end_all(struct engine *e, enum termination why);
void engine_set_clock(struct engine *e, ts_us_t now);

const struct engine_stats *engine_stats(const struct engine *e);
const struct flow_table *engine_flows(const struct engine *e);

#endif
