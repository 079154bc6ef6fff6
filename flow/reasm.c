/*
 * flow/reasm.c — per-direction TCP stream reassembly (RFC 9293 §3.4, §3.10).
 *
 * Sequence arithmetic is modulo 2^32 (RFC 9293 §3.4): "a before b" is the
 * sign of the 32-bit difference. The first copy of a byte wins: bytes already
 * delivered are never delivered again, whatever a retransmission carries.
 */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#include "../capture/packet.h"
#include "../common/mem.h"

struct reasm_chunk {
    struct reasm_chunk *next;
    uint32_t seq;
    uint32_t ack;
    bool has_ack;
    uint32_t caplen;   /* bytes held */
    uint32_t wire_len; /* bytes the segment had on the wire */
    uint8_t data[];
};

static int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

void reasm_init(struct reasm_ctx *ctx, size_t memcap, uint32_t dir_cap)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->memcap = memcap;
    ctx->dir_cap = dir_cap;
}

static void emit_gap(struct reasm_ctx *ctx, uint32_t seq, uint64_t len, enum reasm_gap why, reasm_sink_fn sink,
                     void *arg)
{
    if (len == 0)
        return;
    ctx->stats.gaps++;
    ctx->stats.gap_bytes += len;
    struct reasm_piece p = {.data = NULL, .len = (size_t)len, .seq = seq, .why = why};
    sink(arg, &p);
}

/* Delivers the part of a segment that lies at or after next_seq. */
static void deliver(struct reasm_ctx *ctx, struct reasm_dir *d, const struct reasm_input *in, reasm_sink_fn sink,
                    void *arg)
{
    int32_t behind = seq_diff(d->next_seq, in->seq);
    if (behind < 0 || (uint32_t)behind >= in->wire_len) {
        if (behind >= 0)
            ctx->stats.duplicates++;
        return;
    }
    uint32_t skip = (uint32_t)behind;
    if (skip < in->caplen) {
        struct reasm_piece p = {.data = in->payload + skip, .len = in->caplen - skip, .seq = in->seq + skip,
                                .ack = in->ack, .has_ack = (in->tcp_flags & TCP_ACK) != 0};
        ctx->stats.delivered_bytes += p.len;
        sink(arg, &p);
        skip = in->caplen;
    }
    emit_gap(ctx, in->seq + skip, in->wire_len - skip, REASM_GAP_CUT, sink, arg); /* the snaplen cut the rest */
    d->next_seq = in->seq + in->wire_len;
}

/* What a held chunk costs (common/mem.h). */
static size_t chunk_cost(uint32_t caplen)
{
    return mem_block(sizeof(struct reasm_chunk) + caplen);
}

static void free_chunk(struct reasm_ctx *ctx, struct reasm_dir *d, struct reasm_chunk *c)
{
    ctx->mem_used -= chunk_cost(c->caplen);
    d->held_bytes -= c->caplen;
    free(c);
}

/* Delivers held chunks that the stream has now reached. */
static void drain(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg)
{
    while (d->held && seq_diff(d->held->seq, d->next_seq) <= 0) {
        struct reasm_chunk *c = d->held;
        d->held = c->next;
        if (!d->held)
            d->held_tail = NULL;
        struct reasm_input in = {.seq = c->seq, .ack = c->ack, .tcp_flags = c->has_ack ? TCP_ACK : 0,
                                 .payload = c->data, .caplen = c->caplen, .wire_len = c->wire_len};
        deliver(ctx, d, &in, sink, arg);
        free_chunk(ctx, d, c);
    }
}

/* Skips the hole before the first held chunk: those bytes are lost. */
static void skip_to_held(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg)
{
    if (!d->held)
        return;
    int32_t hole = seq_diff(d->held->seq, d->next_seq);
    if (hole > 0) {
        emit_gap(ctx, d->next_seq, (uint64_t)hole, REASM_GAP_LOST, sink, arg);
        if (!d->held)
            return; /* the sink gave the stream up and released what was held */
        d->next_seq = d->held->seq;
    }
    drain(ctx, d, sink, arg);
}

/* Do a held chunk and a new segment disagree on a byte both carry? */
static bool conflicts(const struct reasm_chunk *c, const struct reasm_input *in)
{
    int32_t from = seq_diff(in->seq, c->seq) > 0 ? seq_diff(in->seq, c->seq) : 0; /* offset in c */
    int32_t in_off = seq_diff(c->seq, in->seq) > 0 ? seq_diff(c->seq, in->seq) : 0; /* offset in in */
    int32_t n = (int32_t)c->caplen - from;
    if ((int32_t)in->caplen - in_off < n)
        n = (int32_t)in->caplen - in_off;
    return n > 0 && memcmp(c->data + from, in->payload + in_off, (size_t)n) != 0;
}

/* First copy wins; a later copy with other bytes is counted (a conflicting
 * overlap: a sign of evasion or corruption). Only held bytes can be
 * compared: delivered ones are not kept. */
static void count_conflicts(struct reasm_ctx *ctx, const struct reasm_chunk *prev, const struct reasm_chunk *c,
                            const struct reasm_input *in)
{
    uint32_t end = in->seq + in->caplen;
    bool clash = prev && conflicts(prev, in);
    for (; c && !clash && seq_diff(c->seq, end) < 0; c = c->next)
        clash = conflicts(c, in);
    if (clash)
        ctx->stats.overlap_conflicts++;
}

/* Keeps a copy of one piece of an out-of-order segment; false if no room.
 * A piece that starts at or after the end of the last held chunk goes
 * straight to the tail (the common case behind a single hole: without it,
 * every insert walks the list and a flood of tiny segments is quadratic). */
static bool hold_one(struct reasm_ctx *ctx, struct reasm_dir *d, const struct reasm_input *in)
{
    struct reasm_chunk **pp = &d->held;
    struct reasm_chunk *t = d->held_tail;
    if (t && seq_diff(in->seq, t->seq + t->wire_len) >= 0)
        pp = &t->next;
    while (*pp && seq_diff((*pp)->seq, in->seq) < 0)
        pp = &(*pp)->next;
    if (*pp && (*pp)->seq == in->seq && (*pp)->wire_len >= in->wire_len) {
        ctx->stats.duplicates++;
        return true;
    }
    if (d->held_bytes + in->caplen > ctx->dir_cap) {
        ctx->stats.dir_cap_hits++;
        return false;
    }
    if (ctx->mem_used + chunk_cost(in->caplen) > ctx->memcap) {
        ctx->stats.memcap_hits++;
        return false;
    }
    struct reasm_chunk *c = malloc(sizeof *c + in->caplen);
    if (!c)
        return false;
    c->seq = in->seq;
    c->ack = in->ack;
    c->has_ack = (in->tcp_flags & TCP_ACK) != 0;
    c->caplen = in->caplen;
    c->wire_len = in->wire_len;
    if (in->caplen)
        memcpy(c->data, in->payload, in->caplen);
    c->next = *pp;
    *pp = c;
    if (!c->next)
        d->held_tail = c;
    d->held_bytes += in->caplen;
    ctx->mem_used += chunk_cost(in->caplen);
    ctx->stats.held_segments++;
    return true;
}

/* Keeps the parts of an out-of-order segment that no held copy covers yet
 * (the first copy wins), counting any disagreement; false if no room. A
 * segment cut by the snaplen is kept whole. */
static bool hold(struct reasm_ctx *ctx, struct reasm_dir *d, const struct reasm_input *in)
{
    const struct reasm_chunk *t = d->held_tail;
    if (t && seq_diff(in->seq, t->seq + t->wire_len) >= 0)
        return hold_one(ctx, d, in); /* after everything held: nothing to compare or skip */
    struct reasm_chunk *c = d->held, *prev = NULL;
    while (c && seq_diff(c->seq, in->seq) < 0) {
        prev = c;
        c = c->next;
    }
    count_conflicts(ctx, prev, c, in);
    if (in->caplen != in->wire_len)
        return hold_one(ctx, d, in);
    uint32_t seq = in->seq, end = in->seq + in->caplen;
    bool held_any = false;
    for (c = d->held; seq_diff(seq, end) < 0;) {
        while (c && seq_diff(c->seq + c->wire_len, seq) <= 0)
            c = c->next;
        if (c && seq_diff(c->seq, seq) <= 0) { /* covered by a held copy */
            seq = c->seq + c->wire_len;
            continue;
        }
        uint32_t stop = c && seq_diff(c->seq, end) < 0 ? c->seq : end;
        uint32_t off = (uint32_t)seq_diff(seq, in->seq), n = (uint32_t)seq_diff(stop, seq);
        struct reasm_input piece = {.seq = seq, .ack = in->ack, .tcp_flags = in->tcp_flags,
                                    .payload = in->payload + off, .caplen = n, .wire_len = n};
        if (!hold_one(ctx, d, &piece))
            return false;
        held_any = true;
        seq = stop;
    }
    if (!held_any)
        ctx->stats.duplicates++;
    return true;
}

static void note_fin(struct reasm_dir *d, uint32_t fin_seq)
{
    if (!d->fin_seen || seq_diff(fin_seq, d->fin_seq) < 0)
        d->fin_seq = fin_seq;
    d->fin_seen = true;
}

static void check_complete(struct reasm_dir *d)
{
    if (d->fin_seen && !d->complete && seq_diff(d->next_seq, d->fin_seq) >= 0)
        d->complete = true;
}

/* Takes one segment's data: delivered if the stream has reached it, else
 * held; with no room to hold it, the hole before the earliest byte we know
 * of is declared lost and the stream moves on, so nothing captured is lost. */
static void accept_data(struct reasm_ctx *ctx, struct reasm_dir *d, const struct reasm_input *in,
                        reasm_sink_fn sink, void *arg)
{
    for (;;) {
        if (d->started && seq_diff(in->seq, d->next_seq) <= 0) {
            deliver(ctx, d, in, sink, arg);
            return;
        }
        if (hold(ctx, d, in))
            return;
        uint32_t earliest = d->held && seq_diff(d->held->seq, in->seq) < 0 ? d->held->seq : in->seq;
        if (!d->started) { /* no room to wait for a SYN: start at what we have */
            d->started = true;
            d->await_syn = false;
            d->next_seq = earliest;
        } else {
            emit_gap(ctx, d->next_seq, (uint64_t)seq_diff(earliest, d->next_seq), REASM_GAP_LOST, sink, arg);
            d->next_seq = earliest;
        }
        drain(ctx, d, sink, arg);
    }
}

void reasm_segment(struct reasm_ctx *ctx, struct reasm_dir *d, const struct reasm_input *seg,
                   reasm_sink_fn sink, void *arg)
{
    struct reasm_input in = *seg;
    if (in.tcp_flags & TCP_SYN)
        in.seq++; /* the SYN occupies one sequence number; data follows it */
    if (!d->started && ((in.tcp_flags & TCP_SYN) || !d->await_syn)) {
        d->started = true;
        d->await_syn = false;
        d->next_seq = in.seq;
    }
    if (in.wire_len > 0)
        accept_data(ctx, d, &in, sink, arg);
    if (d->started)
        drain(ctx, d, sink, arg);
    if (in.tcp_flags & TCP_FIN)
        note_fin(d, in.seq + in.wire_len);
    if (d->started)
        check_complete(d);
}

void reasm_start(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg)
{
    d->await_syn = false;
    if (d->started || !d->held)
        return;
    d->started = true;
    d->next_seq = d->held->seq;
    drain(ctx, d, sink, arg);
    check_complete(d);
}

void reasm_start_at(struct reasm_ctx *ctx, struct reasm_dir *d, uint32_t seq, reasm_sink_fn sink, void *arg)
{
    if (d->started)
        return;
    d->started = true;
    d->await_syn = false;
    d->next_seq = d->held && seq_diff(d->held->seq, seq) < 0 ? d->held->seq : seq; /* bytes before it: theirs */
    drain(ctx, d, sink, arg);
    check_complete(d);
}

void reasm_flush(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg)
{
    reasm_start(ctx, d, sink, arg);
    while (d->held)
        skip_to_held(ctx, d, sink, arg);
    check_complete(d);
}

void reasm_skip_hole(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg)
{
    if (d->started)
        skip_to_held(ctx, d, sink, arg);
    check_complete(d);
}

void reasm_gap_to(struct reasm_ctx *ctx, struct reasm_dir *d, uint32_t end, reasm_sink_fn sink, void *arg)
{
    if (d->fin_seen && seq_diff(end, d->fin_seq) > 0)
        end = d->fin_seq; /* an ACK of the FIN acknowledges no byte */
    if (!d->started || d->held || seq_diff(end, d->next_seq) <= 0)
        return;
    emit_gap(ctx, d->next_seq, (uint64_t)seq_diff(end, d->next_seq), REASM_GAP_LOST, sink, arg);
    d->next_seq = end;
    check_complete(d);
}

void reasm_release(struct reasm_ctx *ctx, struct reasm_dir *d)
{
    while (d->held) {
        struct reasm_chunk *c = d->held;
        d->held = c->next;
        free_chunk(ctx, d, c);
    }
    d->held_tail = NULL;
}
