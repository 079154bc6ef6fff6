/*
 * flow/reasm.h — per-direction TCP stream reassembly.
 *
 * Segments go in as captured, in any order; bytes come out in sequence
 * order through a sink, exactly once, each piece with its sequence number and
 * the ACK of the segment that carried it. Out-of-order segments are held (a
 * copy, charged to the context's memcap) until the hole fills. Bytes the
 * capture never had (snaplen cuts, losses, a full buffer) come out as
 * explicit gaps (piece->data NULL). After Suricata's stream engine and libnids.
 */
#ifndef WSSTATS_REASM_H
#define WSSTATS_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reasm_chunk; /* a held out-of-order segment */

struct reasm_dir {
    bool started;       /* next_seq is known */
    bool await_syn;     /* not started: hold data until the SYN (or reasm_start) */
    bool fin_seen;      /* a FIN was seen in this direction */
    bool complete;      /* everything up to the FIN was delivered */
    uint32_t next_seq;  /* sequence number of the next byte to deliver */
    uint32_t fin_seq;   /* sequence number the FIN occupies */
    uint32_t held_bytes;
    struct reasm_chunk *held; /* sorted by seq */
    struct reasm_chunk *held_tail; /* the last of them: in-order arrivals behind a hole append in O(1) */
};

struct reasm_stats {
    uint64_t delivered_bytes, held_segments, duplicates, gaps, gap_bytes, memcap_hits, dir_cap_hits;
    uint64_t overlap_conflicts; /* a retransmission disagreed with held bytes */
};

struct reasm_ctx {
    size_t memcap;   /* all held bytes, all flows */
    size_t mem_used;
    uint32_t dir_cap; /* held bytes per direction */
    struct reasm_stats stats;
};

/* Why bytes are missing. */
enum reasm_gap {
    REASM_GAP_LOST, /* never captured (loss, or no room to wait for them) */
    REASM_GAP_CUT,  /* captured packets cut short by the snaplen */
};

/* What the sink receives: in-order bytes, or a gap where bytes are missing. */
struct reasm_piece {
    const uint8_t *data; /* NULL for a gap */
    size_t len;          /* bytes delivered, or missing */
    uint32_t seq;        /* sequence number of the first of them */
    uint32_t ack;        /* ACK field of the segment that carried them ... */
    bool has_ack;        /* ... if it had the ACK flag (never for gaps) */
    enum reasm_gap why;  /* for gaps */
};

typedef void (*reasm_sink_fn)(void *arg, const struct reasm_piece *piece);

void reasm_init(struct reasm_ctx *ctx, size_t memcap, uint32_t dir_cap);

/* One segment of this direction. */
struct reasm_input {
    uint32_t seq, ack;
    uint8_t tcp_flags;
    const uint8_t *payload;
    uint32_t caplen;   /* payload bytes captured ... */
    uint32_t wire_len; /* ... of this many on the wire */
};

void reasm_segment(struct reasm_ctx *ctx, struct reasm_dir *d, const struct reasm_input *in,
                   reasm_sink_fn sink, void *arg);

/* Starts a direction whose SYN was not seen at seq, where the other side's
 * SYN-ACK says its data begins (RFC 9293 §3.4: the ACK of a SYN is its
 * ISN + 1), so that bytes lost before its first captured ones are a gap. */
void reasm_start_at(struct reasm_ctx *ctx, struct reasm_dir *d, uint32_t seq, reasm_sink_fn sink, void *arg);

/* Starts a direction that was awaiting its SYN at the lowest held sequence
 * number (the connection began before the capture) and delivers. */
void reasm_start(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg);

/* Gives up the hole before the first held segment (declared a gap) and
 * delivers what follows it. Nothing happens when nothing is held. */
void reasm_skip_hole(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg);

/* The stream is known to reach `end` (its FIN or RST sequence number, or
 * what the other side acknowledged): bytes missing before it are a gap. */
void reasm_gap_to(struct reasm_ctx *ctx, struct reasm_dir *d, uint32_t end, reasm_sink_fn sink, void *arg);

/* The stream will get no more segments: deliver what is held, with gaps. */
void reasm_flush(struct reasm_ctx *ctx, struct reasm_dir *d, reasm_sink_fn sink, void *arg);

/* Frees what is held without delivering it. */
void reasm_release(struct reasm_ctx *ctx, struct reasm_dir *d);

#endif
