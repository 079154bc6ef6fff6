/*
 * flow/session.c — the TCP session's rules (see flow_internal.h).
 *
 * Roles: the client is the side that sent the SYN; failing that, the side
 * the owner's reading of the payload says (an HTTP request, masked
 * WebSocket frames: flow_settle_roles), else the side with the higher
 * port. Teardown: the first FIN or RST, with FINs ordered by their ACKs
 * rather than capture order (RFC 9293 §3.6). A segment belongs to the
 * stream only inside a window around the next expected byte (RFC 9293
 * §3.10.7.4, RFC 5961); after port reuse, a late segment of the previous
 * connection is told apart by where the old streams ended (RFC 1122
 * §4.2.2.13). Bytes the capture never had are a gap once a RST, a FIN or
 * the other side's ACKs prove they were sent (RFC 9293 §3.4).
 */
#include "flow_internal.h"

#include <string.h>

/* How far from the next expected byte a segment may lie and still belong to
 * the stream (retransmissions behind it, out-of-order data ahead). A segment
 * outside is from an earlier connection on the same 4-tuple, or garbage. */
#define SEQ_WINDOW_BEHIND (16u << 20)
#define SEQ_WINDOW_AHEAD (64u << 20)
/* An ACK past a hole proves the receiver got bytes the capture lost; after
 * this long (packet time) the hole is no reordering and becomes a gap. */
#define GAP_WAIT_US 200000
#define STRAGGLER_WINDOW (1u << 16)

void stream_sink(void *arg, const struct reasm_piece *p)
{
    struct sink_ctx *x = arg;
    x->t->hooks.deliver(x->t->owner, x->f, x->dir, p, x->ts);
}

void release_streams(struct flow_table *t, struct flow *f)
{
    for (int i = 0; i < 2; i++)
        reasm_release(&t->reasm, &f->tcp.dir[i]);
}

bool is_teardown(uint8_t termination)
{
    return termination >= TERM_FIN_CLIENT && termination <= TERM_RST_SERVER;
}

bool flow_torn_down(const struct flow *f)
{
    return is_teardown(f->tcp.teardown);
}

void note_teardown(struct flow *f, const struct tcp_segment *s, int dir)
{
    if ((s->flags & TCP_FIN) && !f->tcp.fin_has_ack[dir]) {
        f->tcp.fin_has_ack[dir] = (s->flags & TCP_ACK) != 0;
        f->tcp.fin_ack[dir] = s->ack;
    }
    if (f->tcp.teardown != TERM_NONE)
        return;
    if (s->flags & TCP_RST)
        f->tcp.teardown = dir == DIR_CLIENT ? TERM_RST_CLIENT : TERM_RST_SERVER;
    else if (s->flags & TCP_FIN)
        f->tcp.teardown = dir == DIR_CLIENT ? TERM_FIN_CLIENT : TERM_FIN_SERVER;
}

/* RFC 9293 §3.10.7.4: a RST ends the connection, but on a tap the data a
 * side sent before it can still arrive after it. Such data is taken until
 * rst_linger has passed; nothing at or after the RST's sequence number is. */
void note_reset(struct flow *f, const struct tcp_segment *s, int dir)
{
    f->tcp.reset = true;
    if (!f->tcp.rst_from[dir]) {
        f->tcp.rst_from[dir] = true;
        f->tcp.rst_seq[dir] = s->seq;
    }
}

bool after_reset(const struct flow *f, const struct tcp_segment *s, int dir)
{
    return f->tcp.rst_from[dir] && (int32_t)(s->seq - f->tcp.rst_seq[dir]) >= 0 && s->payload_len > 0;
}

/* Bytes of a segment of a reset side that lie before its RST. */
static uint32_t before_reset(const struct flow *f, const struct tcp_segment *s, int dir, uint32_t len)
{
    if (!f->tcp.rst_from[dir])
        return len;
    uint32_t room = f->tcp.rst_seq[dir] - s->seq; /* after_reset() ruled out seq >= rst_seq */
    return len < room ? len : room;
}

void feed_segment(struct flow_table *t, struct flow *f, const struct tcp_segment *s, int dir)
{
    if (s->payload_len < s->payload_wire)
        f->tcp.truncated = true;
    struct sink_ctx x = {t, f, dir, s->ts};
    struct reasm_input in = {.seq = s->seq, .ack = s->ack, .tcp_flags = s->flags, .payload = s->payload,
                             .caplen = before_reset(f, s, dir, s->payload_len),
                             .wire_len = before_reset(f, s, dir, s->payload_wire)};
    reasm_segment(&t->reasm, &f->tcp.dir[dir], &in, stream_sink, &x);
}

/* RFC 9293 §3.10.7.4 (and RFC 5961 for RSTs): a segment far outside the
 * stream's sequence window is not part of this connection. */
static bool outside(uint32_t value, uint32_t expected)
{
    int32_t diff = (int32_t)(value - expected);
    return diff < -(int32_t)SEQ_WINDOW_BEHIND || diff > (int32_t)SEQ_WINDOW_AHEAD;
}

/* Both numbers are checked: the sequence number against this side's
 * stream, the ACK against the other side's. */
bool out_of_window(const struct flow *f, const struct tcp_segment *s, int dir)
{
    const struct reasm_dir *d = &f->tcp.dir[dir], *o = &f->tcp.dir[!dir];
    if (d->started && outside(s->seq + ((s->flags & TCP_SYN) ? 1u : 0u), d->next_seq))
        return true;
    return (s->flags & TCP_ACK) && o->started && outside(s->ack, o->next_seq);
}

/* value lies at or before end, by at most STRAGGLER_WINDOW */
static bool at_or_before(uint32_t value, uint32_t end)
{
    int32_t diff = (int32_t)(value - end);
    return diff <= 0 && diff >= -(int32_t)STRAGGLER_WINDOW;
}

/* After port reuse, a late segment of the previous connection (its last
 * FIN or ACK overtaken by the new SYN) lies at or before where the old
 * streams ended, in its sequence number and its ACK alike; the new
 * connection's lie after (RFC 1122 §4.2.2.13: a new ISN exceeds the old
 * connection's final sequence number). */
bool from_previous(const struct flow *f, const struct tcp_segment *s, int dir)
{
    return f->tcp.has_prev && (s->flags & TCP_ACK) && !(s->flags & TCP_SYN) &&
           at_or_before(s->seq, f->tcp.prev_next[dir]) && at_or_before(s->ack, f->tcp.prev_next[!dir]);
}

/* Data after this side's FIN, or at or after its RST, was never part of
 * this connection (RFC 9293 §3.6). */
static bool past_the_end(const struct flow *f, const struct tcp_segment *s, int dir)
{
    const struct reasm_dir *d = &f->tcp.dir[dir];
    if (d->fin_seen && (int32_t)(s->seq - (d->fin_seq + 1)) >= 0)
        return true;
    return f->tcp.rst_from[dir] && (int32_t)(s->seq - f->tcp.rst_seq[dir]) >= 0;
}

/* A SYN or SYN-ACK on a finished (or closing) 4-tuple starts a new
 * connection (port reuse) unless it repeats that side's earlier SYN. On a
 * tap the new SYN-ACK can even arrive before the new SYN. */
bool is_port_reuse(const struct flow *f, const struct tcp_segment *s, int dir)
{
    bool closing = f->state == FLOW_DONE || f->tcp.teardown != TERM_NONE;
    if (s->flags & TCP_SYN) {
        if (f->tcp.syn_from[dir] && f->tcp.syn_seq[dir] == s->seq)
            return false; /* a retransmission */
        if ((s->flags & TCP_ACK) && f->tcp.syn_from[!dir] && s->ack == f->tcp.syn_seq[!dir] + 1)
            return false; /* the answer to this flow's own SYN, late */
        /* on a live flow, only a SYN far outside its window: the old
         * connection ended without the capture seeing it */
        return closing || out_of_window(f, s, dir);
    }
    /* data of the new connection ahead of its SYNs */
    return closing && s->payload_len > 0 && (out_of_window(f, s, dir) || past_the_end(f, s, dir));
}

void note_ack(struct flow *f, const struct tcp_segment *s, int dir)
{
    if (!(s->flags & TCP_ACK) || (s->flags & TCP_RST))
        return;
    if (!f->tcp.acked_by[dir] || (int32_t)(s->ack - f->tcp.max_ack[dir]) > 0) {
        f->tcp.acked_by[dir] = true;
        f->tcp.max_ack[dir] = s->ack;
    }
}

void note_syn(struct flow *f, const struct tcp_segment *s, int dir)
{
    if ((s->flags & TCP_SYN) && !f->tcp.syn_from[dir]) {
        f->tcp.syn_from[dir] = true;
        f->tcp.syn_seq[dir] = s->seq;
    }
}

static void swap_roles(struct flow *f)
{
    struct endpoint e = f->ep[0];
    f->ep[0] = f->ep[1];
    f->ep[1] = e;
    struct reasm_dir r = f->tcp.dir[0];
    f->tcp.dir[0] = f->tcp.dir[1];
    f->tcp.dir[1] = r;
}

bool flow_roles_open(const struct flow *f)
{
    return f->state == FLOW_UNDECIDED && !f->tcp.roles_known;
}

/* Before the bytes are delivered: the client is who the payload says it
 * is, when the SYN was not seen. */
int flow_settle_roles(struct flow *f, int dir, bool sender_is_client)
{
    f->tcp.roles_known = true;
    int want = sender_is_client ? DIR_CLIENT : DIR_SERVER;
    if (dir != want)
        swap_roles(f);
    return want;
}

/* Did side `dir`'s FIN acknowledge the other side's FIN? */
static bool fin_acks_other(const struct flow *f, int dir)
{
    const struct reasm_dir *other = &f->tcp.dir[!dir];
    return f->tcp.fin_has_ack[dir] && other->fin_seen && f->tcp.fin_ack[dir] == other->fin_seq + 1;
}

/* The first FIN is the one that did not acknowledge the other side's FIN
 * (RFC 9293 §3.6): capture order can lie on a tap, the ACK field cannot. */
void order_fins(struct flow *f)
{
    if (f->tcp.teardown == TERM_FIN_CLIENT && fin_acks_other(f, DIR_CLIENT) && !fin_acks_other(f, DIR_SERVER))
        f->tcp.teardown = TERM_FIN_SERVER;
    else if (f->tcp.teardown == TERM_FIN_SERVER && fin_acks_other(f, DIR_SERVER) && !fin_acks_other(f, DIR_CLIENT))
        f->tcp.teardown = TERM_FIN_CLIENT;
}

/* RFC 9293 §3.4: when the other side has acknowledged bytes beyond a hole
 * in this side's stream, no retransmission will fill it for the capture;
 * once that has held for GAP_WAIT_US, the hole is declared a gap so the
 * data waiting behind it goes on (and memory is released) at once. */
void give_up_acked_holes(struct flow_table *t, struct flow *f, ts_us_t ts)
{
    for (int dir = 0; dir < 2 && f->state == FLOW_FOLLOWED; dir++) {
        struct reasm_dir *r = &f->tcp.dir[dir];
        bool hole = r->started && r->held_bytes && f->tcp.acked_by[!dir] &&
                    (int32_t)(f->tcp.max_ack[!dir] - r->next_seq) > 0;
        if (!hole) {
            f->tcp.hole_acked_at[dir] = 0;
        } else if (!f->tcp.hole_acked_at[dir]) {
            f->tcp.hole_acked_at[dir] = ts;
        } else if (ts - f->tcp.hole_acked_at[dir] >= GAP_WAIT_US) {
            struct sink_ctx x = {t, f, dir, ts};
            reasm_skip_hole(&t->reasm, r, stream_sink, &x);
            f->tcp.hole_acked_at[dir] = 0;
        }
    }
}

/* A direction whose SYN never came starts where its data starts: the
 * connection began before the capture did. */
void end_pickup_wait(struct flow_table *t, struct flow *f, ts_us_t ts)
{
    struct sink_ctx x = {t, f, 0, ts};
    for (x.dir = 0; x.dir < 2; x.dir++)
        if (f->state != FLOW_IGNORED && f->state != FLOW_DONE)
            reasm_start(&t->reasm, &f->tcp.dir[x.dir], stream_sink, &x);
}

void start_where_acked(struct flow_table *t, struct flow *f, const struct tcp_segment *s, int dir)
{
    struct sink_ctx x = {t, f, dir, s->ts};
    if (f->state != FLOW_IGNORED && f->state != FLOW_DONE)
        reasm_start_at(&t->reasm, &f->tcp.dir[dir], s->ack, stream_sink, &x);
}

/* Bytes a side sent that the capture never had, proved by its RST or FIN
 * sequence number or by the other side's ACKs, are a gap (RFC 9293 §3.4). */
void gap_to_known_end(struct flow_table *t, struct flow *f, int dir, struct sink_ctx *x)
{
    struct reasm_dir *r = &f->tcp.dir[dir];
    if (f->tcp.rst_from[dir])
        reasm_gap_to(&t->reasm, r, f->tcp.rst_seq[dir], stream_sink, x);
    if (r->fin_seen)
        reasm_gap_to(&t->reasm, r, r->fin_seq, stream_sink, x);
    if (f->tcp.acked_by[!dir]) /* an ACK of an unseen FIN looks like one more byte */
        reasm_gap_to(&t->reasm, r, f->tcp.max_ack[!dir] - (r->fin_seen ? 0u : 1u), stream_sink, x);
}
