/*
 * engine/classification.c — nDPI's part of the engine (app/classify.h):
 * which packets of a flow nDPI sees and on which of its two instances,
 * the name on a record, and the TLS flows it finds, emitted as counts.
 *
 * Every change to what a flow's classification holds (nDPI's state while
 * it examines the flow, by the classifier's estimate) is charged to the
 * memcap, from the figure before the call that changed it.
 */
#include "engine_internal.h"

#include "../app/detect.h"
#include "../common/ipaddr.h"

/* What the classifier is told of a flow: its server side, for TLS flows. */
static struct class_flow_info flow_info(const struct flow *f)
{
    return (struct class_flow_info){.server_addr = f->ep[DIR_SERVER].addr,
                                    .server_port = f->ep[DIR_SERVER].port,
                                    .sensor = f->tcp.sensor,
                                    .last_seen = f->last_ts};
}

void classify_segment(struct engine *e, struct engine_flow *ef, const struct tcp_segment *s)
{
    if (ef->cls.finish_sent)
        return; /* nDPI is through with the flow: nothing to ask, nothing to recharge */
    size_t before = classifier_flow_cost(&ef->cls);
    if (classifier_wants(&ef->cls)) {
        struct class_flow_info where = flow_info(&ef->flow); /* roles known: TLS is found with its server */
        bool first = !ef->cls.cell; /* where nDPI runs is settled by the first packet */
        struct class_packet p = {s->l3, s->l3_len, s->payload, s->payload_len, s->ts};
        bool in_line = first && detect_may_be_ours(e->parser, flow_client_syn_seen(&ef->flow), s->payload,
                                                   s->payload_len);
        classifier_packet(e->classifier, &ef->cls, &p, &where, in_line);
    }
    flow_table_recharge(e->flows, before, classifier_flow_cost(&ef->cls));
}

const char *classify_conclude(struct engine *e, struct engine_flow *ef, char *buf, size_t len)
{
    struct class_flow_info where = flow_info(&ef->flow);
    size_t before = classifier_flow_cost(&ef->cls);
    classifier_finish(e->classifier, &ef->cls, &where);
    flow_table_recharge(e->flows, before, classifier_flow_cost(&ef->cls));
    return classifier_name(e->classifier, &ef->cls, buf, len);
}

void classify_release(struct engine *e, struct engine_flow *ef)
{
    struct class_flow_info where = flow_info(&ef->flow);
    size_t before = classifier_flow_cost(&ef->cls);
    classifier_release(e->classifier, &ef->cls, &where);
    flow_table_recharge(e->flows, before, classifier_flow_cost(&ef->cls));
}

static void emit_tls(struct engine *e, const struct class_tls *c)
{
    struct tls_flow t = {.sensor = c->sensor, .server_port = c->server_port, .sni = c->sni, .ts = c->ts};
    ipaddr_format(c->server_addr, t.server_ip);
    e->stats.tls++;
    if (e->out.tls)
        e->out.tls(e->out.arg, &t);
}

void emit_tls_found(struct engine *e)
{
    if (!e->classifier || !classifier_tls_waiting(e->classifier))
        return;
    classifier_take_tls(e->classifier, &e->tls);
    for (size_t i = 0; i < e->tls.n; i++)
        emit_tls(e, &e->tls.v[i]);
    e->tls.n = 0;
}
