/*
 * dissect/reasm.c — per-direction TCP stream reassembly (RFC 9293 §3.4, §3.10).
 *
 * Sequence arithmetic is modulo 2^32 (RFC 9293 §3.4): "a before b" is the
 * sign of the 32-bit difference. The first copy of a byte wins: bytes already
 * delivered are never delivered again, whatever a retransmission carries.
 */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#include "../capture/packet.h"

struct reasm_chunk {
    struct reasm_chunk *next;
    uint32_t seq;
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

static void emit_gap(struct reasm_ctx *ctx, uint64_t len, enum reasm_gap why, reasm_sink_fn sink, void *arg)
{
    if (len == 0)
        return;
    ctx->stats.gaps++;
    ctx->stats.gap_bytes += len;
    sink(arg, NULL, 0, len, why);
}

/* Delivers the part of [seq, seq+wire_len) that lies at or after next_seq. */
static void deliver(struct reasm_ctx *ctx, struct reasm_dir *d, uint32_t seq, const uint8_t *data,
                    uint32_t caplen, uint32_t wire_len, reasm_sink_fn sink, void *arg)
{
    int32_t behind = seq_diff(d->next_seq, seq);
    if (behind < 0 || (uint32_t)behind >= wire_len) {
        if (behind >= 0)
            ctx->stats.duplicates++;
        return;
    }
    uint32_t skip = (uint32_t)behind;
    if (skip < caplen) {
        ctx->stats.delivered_bytes += caplen - skip;
        sink(arg, data + skip, caplen - skip, 0, REASM_GAP_LOST);
        skip = caplen;
    }
    emit_gap(ctx, wire_len - skip, REASM_GAP_CUT, sink, arg); /* the snaplen cut the rest */
    d->next_seq = seq + wire_len;
}

static void free_chunk(struct reasm_ctx *ctx, struct reasm_dir *d, struct reasm_chunk *c)
{
    ctx->mem_used -= sizeof *c + c->caplen;
    d->held_bytes -= c->caplen;
    free(c);
}

/* Delivers held chunks that the stream has now reached. */
static void drain(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg)
{
    while (d->held && seq_diff(d->held->seq, d->next_seq) <= 0) {
        struct reasm_chunk *c = d->held;
        d->held = c->next;
        deliver(ctx, d, c->seq, c->data, c->caplen, c->wire_len, sink, arg);
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
        emit_gap(ctx, (uint64_t)hole, REASM_GAP_LOST, sink, arg);
        d->next_seq = d->held->seq;
    }
    drain(ctx, d, sink, arg);
}

/* Keeps a copy of an out-of-order segment; false if no room. */
static bool hold(struct reasm_ctx *ctx, struct reasm_dir *d, uint32_t seq, const uint8_t *data,
                 uint32_t caplen, uint32_t wire_len)
{
    struct reasm_chunk **pp = &d->held;
    while (*pp && seq_diff((*pp)->seq, seq) < 0)
        pp = &(*pp)->next;
    if (*pp && (*pp)->seq == seq && (*pp)->wire_len >= wire_len) {
        ctx->stats.duplicates++;
        return true;
    }
    if (d->held_bytes + caplen > ctx->dir_cap) {
        ctx->stats.dir_cap_hits++;
        return false;
    }
    if (ctx->mem_used + sizeof(struct reasm_chunk) + caplen > ctx->memcap) {
        ctx->stats.memcap_hits++;
        return false;
    }
    struct reasm_chunk *c = malloc(sizeof *c + caplen);
    if (!c)
        return false;
    c->seq = seq;
    c->caplen = caplen;
    c->wire_len = wire_len;
    memcpy(c->data, data, caplen);
    c->next = *pp;
    *pp = c;
    d->held_bytes += caplen;
    ctx->mem_used += sizeof *c + caplen;
    ctx->stats.held_segments++;
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
static void accept_data(struct reasm_ctx *ctx, struct reasm_dir *d, uint32_t data_seq, const uint8_t *payload,
                        uint32_t caplen, uint32_t wire_len, reasm_sink_fn sink, void *arg)
{
    for (;;) {
        if (d->started && seq_diff(data_seq, d->next_seq) <= 0) {
            deliver(ctx, d, data_seq, payload, caplen, wire_len, sink, arg);
            return;
        }
        if (hold(ctx, d, data_seq, payload, caplen, wire_len))
            return;
        uint32_t earliest = d->held && seq_diff(d->held->seq, data_seq) < 0 ? d->held->seq : data_seq;
        if (!d->started) { /* no room to wait for a SYN: start at what we have */
            d->started = true;
            d->await_syn = false;
            d->next_seq = earliest;
        } else {
            emit_gap(ctx, (uint64_t)seq_diff(earliest, d->next_seq), REASM_GAP_LOST, sink, arg);
            d->next_seq = earliest;
        }
        drain(ctx, d, sink, arg);
    }
}

void reasm_segment(struct reasm_ctx *ctx, struct reasm_dir *d, uint32_t seq, uint8_t tcp_flags,
                   const uint8_t *payload, uint32_t caplen, uint32_t wire_len,
                   reasm_sink_fn sink, void *arg)
{
    uint32_t data_seq = seq + ((tcp_flags & TCP_SYN) ? 1u : 0u); /* the SYN occupies one number */
    if (!d->started && ((tcp_flags & TCP_SYN) || !d->await_syn)) {
        d->started = true;
        d->await_syn = false;
        d->next_seq = data_seq;
    }
    if (wire_len > 0)
        accept_data(ctx, d, data_seq, payload, caplen, wire_len, sink, arg);
    if (d->started)
        drain(ctx, d, sink, arg);
    if (tcp_flags & TCP_FIN)
        note_fin(d, data_seq + wire_len);
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

void reasm_flush(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg)
{
    reasm_start(ctx, d, sink, arg);
    while (d->held)
        skip_to_held(ctx, d, sink, arg);
    check_complete(d);
}

void reasm_release(struct reasm_ctx *ctx, struct reasm_dir *d)
{
    while (d->held) {
        struct reasm_chunk *c = d->held;
        d->held = c->next;
        free_chunk(ctx, d, c);
    }
}
