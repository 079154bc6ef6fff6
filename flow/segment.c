/*
 * flow/segment.c — what one TCP segment does to the flow table (see
 * flow.h: flow_accept, then the owner's look at the payload, then
 * flow_process).
 */
#include "flow_internal.h"

#define PICKUP_PACKETS 8 /* a direction without a SYN waits this many packets for it */

/* Where a replaced connection's streams ended, by endpoint. */
struct old_streams {
    struct endpoint client;
    uint32_t end[2]; /* by the old connection's roles */
};

/* Port reuse: writes the old connection out and frees it, keeping where its
 * streams ended so that its stragglers can be told apart. */
static void replace_flow(struct flow_table *t, struct flow *f, struct old_streams *old)
{
    if (f->state != FLOW_DONE) /* replaced: "evicted" unless a FIN or RST was seen */
        flow_finish(t, f, TERM_EVICTED);
    old->client = f->ep[DIR_CLIENT];
    for (int i = 0; i < 2; i++)
        old->end[i] = f->tcp.dir[i].next_seq + (f->tcp.dir[i].fin_seen ? 1u : 0u);
    table_remove(t, f);
    t->stats.port_reuse++;
}

static void inherit_old_streams(struct flow *f, const struct old_streams *old)
{
    bool same_roles = endpoint_eq(&f->ep[DIR_CLIENT], &old->client);
    f->tcp.has_prev = true;
    f->tcp.prev_next[DIR_CLIENT] = old->end[same_roles ? DIR_CLIENT : DIR_SERVER];
    f->tcp.prev_next[DIR_SERVER] = old->end[same_roles ? DIR_SERVER : DIR_CLIENT];
}

/* The flow a segment belongs to, made if it starts something; NULL if the
 * segment is a bare ACK/FIN/RST of a connection we never saw. */
static struct flow *flow_for_segment(struct flow_table *t, const struct tcp_segment *s, const char *sensor, int *dir)
{
    uint32_t hash = flow_hash(&s->src, &s->dst, s->vlan);
    struct flow *f = table_find(t, s, hash, dir);
    struct old_streams old;
    bool reused = f && is_port_reuse(f, s, *dir);
    if (reused)
        replace_flow(t, f, &old);
    else if (f)
        return f;
    if (!(s->flags & TCP_SYN) && s->payload_len == 0)
        return NULL;
    f = flow_create(t, s, hash, sensor, dir);
    if (f && reused)
        inherit_old_streams(f, &old);
    return f;
}

/* Counts packets while a direction may still be waiting for its SYN; the
 * wait ends after PICKUP_PACKETS, or once both sides have sent a FIN. */
static void advance_pickup_wait(struct flow_table *t, struct flow *f, const struct tcp_segment *s, int dir)
{
    if (f->tcp.packets >= PICKUP_PACKETS)
        return;
    bool both_done = (s->flags & TCP_FIN) && f->tcp.dir[!dir].fin_seen;
    f->tcp.packets = both_done ? PICKUP_PACKETS : f->tcp.packets + 1;
    if (f->tcp.packets == PICKUP_PACKETS)
        end_pickup_wait(t, f, s->ts);
}

struct flow *flow_accept(struct flow_table *t, const struct tcp_segment *s, const char *sensor, int *dir)
{
    *dir = DIR_CLIENT;
    struct flow *f = flow_for_segment(t, s, sensor, dir);
    if (!f)
        return NULL;
    f->last_ts = s->ts > f->last_ts ? s->ts : f->last_ts;
    if (s->payload_len > 0)
        f->tcp.packets_with_data = true;
    if (f->state == FLOW_DONE) { /* a straggler: absorbed */
        lru_touch(t, f);
        return NULL;
    }
    return f;
}

/* A segment's payload and its flags, when it lies in the stream. */
static void take_segment(struct flow_table *t, struct flow *f, const struct tcp_segment *s, int dir)
{
    note_syn(f, s, dir);
    note_ack(f, s, dir);
    note_teardown(f, s, dir);
    if ((s->flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) && !f->tcp.syn_from[!dir])
        start_where_acked(t, f, s, !dir); /* the other side's SYN was lost: its stream starts at our ACK */
    advance_pickup_wait(t, f, s, dir);
    if (f->state == FLOW_IGNORED) {
        /* no reassembly: a FIN counts as soon as it is seen */
        if (s->flags & TCP_FIN)
            f->tcp.dir[dir].complete = true;
    } else if (s->flags & TCP_RST) {
        note_reset(f, s, dir);
    } else if (!after_reset(f, s, dir)) {
        feed_segment(t, f, s, dir);
        give_up_acked_holes(t, f, s->ts);
    }
}

void flow_process(struct flow_table *t, struct flow *f, const struct tcp_segment *s, int dir)
{
    if (out_of_window(f, s, dir) || from_previous(f, s, dir)) {
        t->stats.out_of_window++;
        lru_touch(t, f);
        return;
    }
    take_segment(t, f, s, dir);
    if ((f->state == FLOW_IGNORED && (s->flags & TCP_RST)) || (f->tcp.dir[0].complete && f->tcp.dir[1].complete))
        flow_finish(t, f, TERM_NONE); /* moves it to LIST_DONE */
    else
        lru_touch(t, f); /* most recent first, on the list its state belongs on */
}
