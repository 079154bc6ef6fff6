/*
 * engine/engine_internal.h — what the engine's files share.
 *
 *   engine.c          the segment path and the flow layer's hooks
 *   classification.c  nDPI's part: packets handed over, names, TLS flows
 *   record.c          a connection's record, assembled and emitted
 *   evicted.c         connections recently evicted, not picked up again
 */
#ifndef WSSTATS_ENGINE_INTERNAL_H
#define WSSTATS_ENGINE_INTERNAL_H

#include "../app/app.h"
#include "../common/countmap.h"
#include "engine.h"

#define EVICTED_MEMORY 4096 /* evictions remembered, per generation */

struct evicted_memory {
    struct countmap gen[2];
    int current;
    bool made;
};

void evicted_remember(struct evicted_memory *m, const struct flow *f);
bool evicted_recently(const struct evicted_memory *m, const struct flow *f);
void evicted_free(struct evicted_memory *m);

/* The engine's flow: the flow layer's part first (flow/flow.h), then what
 * the engine keeps for it. 272 bytes on LP64: what the memcap is charged
 * per flow. */
struct engine_flow {
    struct flow flow;
    void *app;              /* the parser's state while it follows the flow */
    struct flow_class cls;  /* nDPI's */
    uint8_t midstream_tries; /* pieces examined for a mid-stream pickup (app/detect.h) */
};

struct engine {
    struct flow_table *flows;
    const struct app_parser *parser; /* the one registered: app_websocket */
    struct classifier *classifier;   /* NULL: no classification */
    struct engine_output out;
    struct engine_stats stats;
    struct class_tls_batch tls; /* taken from the classifier, emitted */
    struct evicted_memory evicted;
};

static inline struct engine_flow *engine_flow_of(struct flow *f)
{
    return (struct engine_flow *)f; /* f is the first member */
}

/* ---- classification.c ---- */
/* Hands a segment with payload to nDPI while it still wants the flow's packets. */
void classify_segment(struct engine *e, struct engine_flow *ef, const struct tcp_segment *s);
/* Ends the flow's classification and gives its name (NULL: none) in buf. */
const char *classify_conclude(struct engine *e, struct engine_flow *ef, char *buf, size_t len);
/* The flow goes: nDPI lets go of it. */
void classify_release(struct engine *e, struct engine_flow *ef);
/* Emits the TLS flows nDPI found, if any wait. */
void emit_tls_found(struct engine *e);

/* ---- record.c ---- */
/* A followed flow ended: its record, assembled and emitted. */
void emit_record(struct engine *e, struct engine_flow *ef, enum termination why);

#endif
