/*
 * flow/lifecycle.c — a flow's life: made, followed or ignored, ended,
 * evicted, expired (see flow_internal.h).
 *
 * A flow is made by the first segment that can start something (a SYN, or
 * payload of a connection that began before the capture) once there is
 * room: --max-flows and the memcap make the least recently active flows go
 * first — ended ones, then those without data, reset ones, other flows,
 * and only then followed ones (ended with termination evicted). A flow
 * that ends keeps its place in the table for closed_linger, absorbing the
 * stragglers of its connection, and is then freed — or sooner, once
 * linger_max flows have ended after it, so that a burst of short
 * connections costs the memory of linger_max finished flows, not of all
 * those that ended within closed_linger; one reset waits rst_linger for
 * data sent before the RST; idle ones expire.
 */
#include "flow_internal.h"

#include <stdlib.h>

#include "../common/mem.h"

#define SWEEP_INTERVAL_US 1000000 /* expiry runs at most once a second of packet time */

void flow_follow(struct flow_table *t, struct flow *f)
{
    (void)t;
    f->state = FLOW_FOLLOWED;
}

void flow_ignore(struct flow_table *t, struct flow *f)
{
    f->state = FLOW_IGNORED;
    t->hooks.drop(t->owner, f);
    release_streams(t, f);
    t->stats.ignored++;
}

/* Delivers what the streams of a followed flow still hold, and the gaps up
 * to where they are known to end. */
static void flush_streams(struct flow_table *t, struct flow *f)
{
    struct sink_ctx x = {t, f, 0, f->last_ts};
    for (x.dir = 0; x.dir < 2 && f->state == FLOW_FOLLOWED; x.dir++) {
        reasm_flush(&t->reasm, &f->tcp.dir[x.dir], stream_sink, &x);
        gap_to_known_end(t, f, x.dir, &x);
    }
}

void flow_finish(struct flow_table *t, struct flow *f, enum termination why)
{
    if (f->state == FLOW_UNDECIDED) /* data may still wait for a SYN */
        end_pickup_wait(t, f, f->last_ts);
    if (f->state == FLOW_FOLLOWED)
        flush_streams(t, f);
    if (f->state == FLOW_FOLLOWED) {
        order_fins(f);
        t->hooks.conclude(t->owner, f, why);
    }
    release_streams(t, f);
    t->hooks.drop(t->owner, f);
    f->state = FLOW_DONE; /* the owner's other state goes when the flow is freed */
    lru_touch(t, f);
}

bool evict_one(struct flow_table *t)
{
    struct flow *victim = NULL;
    for (int l = 0; l < LIST_COUNT && !victim; l++)
        victim = lru_oldest(t, l);
    if (!victim)
        return false;
    if (victim->state == FLOW_FOLLOWED) {
        if (!victim->tcp.reset) /* a reset one is only cut short of its linger */
            t->stats.evicted++;
        flow_finish(t, victim, TERM_EVICTED);
    } else if (victim->on_list != LIST_DONE) {
        t->stats.evicted_other++;
    }
    table_remove(t, victim);
    return true;
}

/* Finished flows beyond linger_max go, the oldest first. */
static void cut_linger(struct flow_table *t)
{
    struct flow *f;
    while (t->listed[LIST_DONE] > t->cfg.linger_max && (f = lru_oldest(t, LIST_DONE))) {
        table_remove(t, f);
        t->stats.linger_cut++;
    }
}

/* Room for one more flow under --max-flows and the memcap. */
static void make_room(struct flow_table *t)
{
    cut_linger(t);
    if (t->nflows >= t->cfg.max_flows)
        evict_one(t);
    while (!room_for_flow(t) && evict_one(t))
        t->stats.memcap_evictions++;
}

/* Without a SYN, the side with the lower port is taken for the server
 * until the payload tells (flow_settle_roles). */
static void init_session(struct flow *f, const struct tcp_segment *s, const char *sensor, int *dir)
{
    f->tcp.first_ts = f->last_ts = s->ts;
    f->tcp.sensor = sensor;
    f->tcp.teardown = TERM_NONE;
    bool syn_only = (s->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    bool syn_ack = (s->flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
    bool src_is_client = syn_only || (!syn_ack && s->src.port > s->dst.port);
    f->tcp.syn_seen = f->tcp.roles_known = syn_only || syn_ack;
    f->ep[DIR_CLIENT] = src_is_client ? s->src : s->dst;
    f->ep[DIR_SERVER] = src_is_client ? s->dst : s->src;
    f->tcp.dir[DIR_CLIENT].await_syn = f->tcp.dir[DIR_SERVER].await_syn = true;
    *dir = src_is_client ? DIR_CLIENT : DIR_SERVER;
}

struct flow *flow_create(struct flow_table *t, const struct tcp_segment *s, uint32_t hash, const char *sensor,
                         int *dir)
{
    make_room(t);
    struct flow *f = calloc(1, t->flow_size);
    if (!f)
        return NULL;
    charge(t, mem_block(t->flow_size), true);
    f->hash = hash;
    f->vlan = s->vlan;
    init_session(f, s, sensor, dir);
    table_insert(t, f);
    t->stats.flows++;
    return f;
}

void flow_table_enforce_memcap(struct flow_table *t)
{
    while (over_memcap(t) && evict_one(t))
        t->stats.memcap_evictions++;
}

static ts_us_t list_timeout(const struct flow_table *t, enum flow_list l)
{
    switch (l) {
    case LIST_DONE: return t->cfg.closed_linger;
    case LIST_NEW: return t->cfg.new_timeout;
    case LIST_RESET: return t->cfg.rst_linger;
    default: return t->cfg.idle_timeout;
    }
}

void flow_table_expire(struct flow_table *t, ts_us_t now)
{
    t->next_sweep = now + SWEEP_INTERVAL_US;
    for (int l = 0; l < LIST_COUNT; l++) {
        ts_us_t timeout = list_timeout(t, (enum flow_list)l);
        struct flow *f;
        while ((f = lru_oldest(t, l)) && f->last_ts + timeout <= now) {
            if (l == LIST_RESET) { /* its linger is over: it ends as reset */
                flow_finish(t, f, TERM_NONE);
                continue;
            }
            if (l != LIST_DONE) {
                flow_finish(t, f, TERM_IDLE_TIMEOUT);
                t->stats.idle_expired++;
            }
            table_remove(t, f);
        }
    }
}

void flow_table_finish_all(struct flow_table *t, enum termination why)
{
    struct flow *f;
    for (int l = LIST_NEW; l < LIST_COUNT; l++)
        while ((f = lru_oldest(t, l)))
            flow_finish(t, f, why);
}
