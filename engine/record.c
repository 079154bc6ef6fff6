/*
 * engine/record.c — a connection's record (model/record.h), assembled
 * when a followed flow ends: the flow's part (addresses, VLAN, times, how
 * TCP ended, a snaplen cut), the parser's (handshake, frames, closes,
 * outcome), nDPI's name; then emitted to the output.
 */
#include "engine_internal.h"

#include <string.h>

#include "../common/ipaddr.h"

/* When the connection ended: its last packet if TCP was torn down; for an
 * idle one, when its timeout ran out; for one evicted or cut off by the
 * end of the capture, the packet clock then (docs/design.md, "The record"). */
static ts_us_t ended_at(const struct engine *e, const struct flow *f, enum termination why)
{
    if (flow_torn_down(f))
        return f->last_ts;
    ts_us_t now = flow_table_now(e->flows);
    switch (why) {
    case TERM_IDLE_TIMEOUT: return f->last_ts + flow_table_config(e->flows)->idle_timeout;
    case TERM_EVICTED:
    case TERM_CAPTURE_END:
    case TERM_INTERFACE_DOWN: return now > f->last_ts ? now : f->last_ts;
    default: return f->last_ts;
    }
}

static void fill_flow_part(const struct engine *e, const struct flow *f, enum termination why, struct ws_record *r)
{
    r->sensor = f->tcp.sensor;
    ipaddr_format(f->ep[DIR_CLIENT].addr, r->client_ip);
    ipaddr_format(f->ep[DIR_SERVER].addr, r->server_ip);
    r->client_port = f->ep[DIR_CLIENT].port;
    r->server_port = f->ep[DIR_SERVER].port;
    r->vlan = f->vlan == VLAN_NONE ? -1 : f->vlan;
    r->started_at = f->tcp.first_ts;
    r->ended_at = ended_at(e, f, why);
    r->termination = flow_torn_down(f) ? (enum termination)f->tcp.teardown : why;
    r->violations = f->tcp.truncated ? V_TRUNCATED : 0;
}

void emit_record(struct engine *e, struct engine_flow *ef, enum termination why)
{
    struct ws_record r;
    char proto[64];
    memset(&r, 0, sizeof r);
    fill_flow_part(e, &ef->flow, why, &r);
    e->parser->fill_record(ef->app, flow_torn_down(&ef->flow), &r);
    if (e->classifier)
        r.ndpi_protocol = classify_conclude(e, ef, proto, sizeof proto);
    e->stats.records++;
    if (e->out.record)
        e->out.record(e->out.arg, &r);
}
