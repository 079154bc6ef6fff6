/*
 * engine/engine.c — the segment path (decode -> flow -> app) and the flow
 * layer's hooks (see engine.h).
 *
 * A segment goes to the flow layer (flow_accept); while its flow's roles
 * are open (no SYN seen) the parser's reading of the payload settles them;
 * nDPI gets the payload while it wants it; then the flow layer does the
 * rest (flow_process), handing in-order bytes back through deliver().
 * An undecided flow's first bytes decide, by the detection policy
 * (app/detect.h), whether the parser follows it; a followed flow's bytes,
 * gaps and end go to the parser, and its end to the record (record.c).
 *
 * Memory: what the parser's state holds (its mem()) is charged to the
 * flow layer's memcap, recharged after every call that may change it.
 */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../app/detect.h"

_Static_assert(sizeof(struct engine_flow) == 272 || sizeof(void *) != 8,
               "an engine flow is 272 bytes on LP64: the memcap's charge per flow, which bench/ and README state");

static void start_following(struct engine *e, struct engine_flow *ef, void *state)
{
    if (!state) { /* out of memory: not followed */
        e->stats.not_ours++;
        flow_ignore(e->flows, &ef->flow);
        return;
    }
    ef->app = state;
    flow_follow(e->flows, &ef->flow);
    flow_table_recharge(e->flows, 0, e->parser->mem(state));
    e->stats.followed++;
}

/* An undecided flow's first in-order bytes of side dir. */
static void judge_first_bytes(struct engine *e, struct engine_flow *ef, int dir, const struct reasm_piece *p)
{
    if (!flow_client_syn_seen(&ef->flow) && evicted_recently(&e->evicted, &ef->flow)) {
        /* the rest of a connection evicted for room: its record is written (one connection, one record) */
        e->stats.after_eviction++;
        flow_ignore(e->flows, &ef->flow);
        return;
    }
    enum app_probe v = detect_first_bytes(e->parser, e->classifier, &ef->cls, &ef->midstream_tries, dir, p->data,
                                          p->len, flow_client_syn_seen(&ef->flow));
    if (v == APP_PROBE_HANDSHAKE || v == APP_PROBE_MIDSTREAM)
        start_following(e, ef, e->parser->open(v));
    else if (v == APP_PROBE_NO) {
        e->stats.not_ours++;
        flow_ignore(e->flows, &ef->flow);
    }
}

/* ---- the flow layer's hooks -------------------------------------------------- */

static void deliver(void *owner, struct flow *f, int dir, const struct reasm_piece *p, ts_us_t ts)
{
    struct engine *e = owner;
    struct engine_flow *ef = engine_flow_of(f);
    if (f->state == FLOW_UNDECIDED && p->data && p->len)
        judge_first_bytes(e, ef, dir, p);
    if (f->state != FLOW_FOLLOWED)
        return;
    size_t before = e->parser->mem(ef->app);
    if (p->data) {
        e->parser->position(ef->app, dir, p->seq, p->ack, p->has_ack);
        e->parser->data(ef->app, dir, p->data, p->len, ts);
    } else {
        e->parser->gap(ef->app, dir, p->len, p->why == REASM_GAP_CUT);
    }
    flow_table_recharge(e->flows, before, e->parser->mem(ef->app));
    if (e->parser->refused(ef->app)) {
        e->stats.refused++;
        flow_ignore(e->flows, f);
    }
}

static void conclude(void *owner, struct flow *f, enum termination why)
{
    struct engine *e = owner;
    struct engine_flow *ef = engine_flow_of(f);
    size_t before = e->parser->mem(ef->app);
    e->parser->finish(ef->app, f->last_ts);
    flow_table_recharge(e->flows, before, e->parser->mem(ef->app));
    if (e->parser->refused(ef->app)) { /* settled at the end as not the parser's: no record */
        e->stats.refused++;
        return;
    }
    if (why == TERM_EVICTED && !flow_torn_down(f))
        evicted_remember(&e->evicted, f);
    emit_record(e, ef, why);
}

static void drop(void *owner, struct flow *f)
{
    struct engine *e = owner;
    struct engine_flow *ef = engine_flow_of(f);
    if (f->state == FLOW_UNDECIDED) /* ended before its first bytes were judged */
        e->stats.undecided++;
    if (!ef->app)
        return;
    flow_table_recharge(e->flows, e->parser->mem(ef->app), 0);
    e->parser->close(ef->app, &e->stats.anomalies);
    ef->app = NULL;
}

static void release(void *owner, struct flow *f)
{
    struct engine *e = owner;
    drop(owner, f); /* an undecided flow evicted for room ends here, not finished */
    if (e->classifier)
        classify_release(e, engine_flow_of(f));
}

/* ---- the engine ------------------------------------------------------------------ */

struct engine *engine_new(const struct flow_config *cfg, struct classifier *cl, const struct engine_output *out)
{
    static const struct flow_hooks hooks = {deliver, conclude, drop, release};
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->parser = &app_websocket;
    e->classifier = cl;
    e->out = *out;
    e->flows = flow_table_new(cfg, sizeof(struct engine_flow), &hooks, e);
    if (!e->flows) {
        free(e);
        return NULL;
    }
    return e;
}

/* Waits for the classifier thread to be through with what it was sent,
 * then emits the TLS flows found. */
static void settle_classification(struct engine *e)
{
    if (!e->classifier)
        return;
    classifier_sync(e->classifier);
    emit_tls_found(e);
}

void engine_release_flows(struct engine *e)
{
    flow_table_release_all(e->flows); /* releasing makes nDPI give up on flows it still examines */
    settle_classification(e);
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    engine_release_flows(e);
    flow_table_free(e->flows);
    classifier_batch_free(&e->tls);
    evicted_free(&e->evicted);
    free(e);
}

void engine_expire(struct engine *e, ts_us_t now)
{
    if (e->classifier)
        classifier_flush(e->classifier); /* what waits for nDPI is handled at least this often */
    flow_table_expire(e->flows, now);
    emit_tls_found(e);
}

/* A segment whose flow's roles are open: the parser's reading of the
 * payload may settle them. Returns its direction. */
static int learn_roles(struct engine *e, struct flow *f, const struct tcp_segment *s, int dir)
{
    int sender = detect_sender_role(e->parser, s->payload, s->payload_len);
    return sender < 0 ? dir : flow_settle_roles(f, dir, sender == DIR_CLIENT);
}

void engine_segment(struct engine *e, const struct tcp_segment *s, const char *sensor)
{
    if (flow_table_tick(e->flows, s->ts))
        engine_expire(e, flow_table_now(e->flows));
    int dir;
    struct flow *f = flow_accept(e->flows, s, sensor, &dir);
    if (f) {
        if (flow_roles_open(f) && s->payload_len > 0)
            dir = learn_roles(e, f, s, dir);
        if (e->classifier && s->payload_len > 0)
            classify_segment(e, engine_flow_of(f), s);
        flow_process(e->flows, f, s, dir);
    }
    flow_table_enforce_memcap(e->flows);
    emit_tls_found(e);
}

void engine_packet(struct engine *e, struct decoder *dec, const struct packet *p, const char *sensor)
{
    struct tcp_segment seg;
    if (decode_packet(dec, p, &seg) == DECODE_TCP)
        engine_segment(e, &seg, sensor);
}

void engine_finish(struct engine *e)
{
    engine_end_all(e, TERM_CAPTURE_END);
}

void engine_end_all(struct engine *e, enum termination why)
{
    flow_table_finish_all(e->flows, why);
    settle_classification(e);
}

void engine_set_clock(struct engine *e, ts_us_t now)
{
    flow_table_set_now(e->flows, now);
}

const struct engine_stats *engine_stats(const struct engine *e)
{
    return &e->stats;
}

const struct flow_table *engine_flows(const struct engine *e)
{
    return e->flows;
}
