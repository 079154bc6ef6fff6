/*
 * flow/flow.h — TCP flows: the flow table and the TCP session of each flow.
 *
 * A flow is one TCP connection (RFC 9293 §3.5), keyed by both endpoints and
 * the outer VLAN id, whichever way a segment travels. The flow layer finds
 * or makes the flow of each segment, learns who is client and server,
 * follows the connection's life (SYNs, ACKs, FINs, RSTs, port reuse, a
 * segment far outside the window), reassembles both directions and hands
 * the in-order bytes to its owner. It bounds memory (--memcap, --max-flows)
 * by evicting the least recently active flows, and expires idle ones.
 *
 * It knows nothing of any application protocol. The owner (engine/) says
 * which flows it follows (flow_follow) and which are none of its business
 * (flow_ignore), and is told through struct flow_hooks when bytes arrive,
 * when a followed flow ends and when a flow's memory goes. The owner keeps
 * its own per-flow state behind struct flow: flow_table_new() takes the
 * size of the owner's struct, which begins with a struct flow.
 *
 * Files: table.c (hash table, LRU lists, memcap, expiry and eviction),
 * tcp.c (the session: roles, teardown, port reuse, holes proven by ACKs,
 * what a segment does), reasm.c (per-direction reassembly).
 */
#ifndef WSSTATS_FLOW_H
#define WSSTATS_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"
#include "../model/record.h"
#include "reasm.h"

struct flow_config {
    ts_us_t idle_timeout;  /* an open flow silent this long is expired */
    ts_us_t closed_linger; /* a finished flow absorbs stragglers this long ... */
    uint32_t linger_max;   /* ... or until this many flows ended after it */
    ts_us_t new_timeout;   /* a flow that never carried data (a SYN flood) */
    ts_us_t rst_linger;    /* after a RST, data sent before it may still arrive */
    uint32_t max_flows;    /* tracked flows; the least recently used goes first */
    size_t memcap;         /* flows, the owner's state and reassembly, all together */
    uint32_t dir_cap;      /* bytes held for reassembly, one direction */
};

void flow_config_defaults(struct flow_config *cfg);

enum flow_state {
    FLOW_UNDECIDED, /* no payload judged yet */
    FLOW_FOLLOWED,  /* the owner follows it (an application parser reads it) */
    FLOW_IGNORED,   /* not the owner's: no reassembly */
    FLOW_DONE,      /* ended (its record written); absorbs stragglers until it lingers out */
};

/* What the flow layer counts. */
struct flow_stats {
    uint64_t segments, flows, ignored, idle_expired, port_reuse;
    uint64_t evicted;       /* followed flows evicted for room before they ended */
    uint64_t evicted_other; /* flows dropped for room that were not followed */
    uint64_t out_of_window; /* segments far outside their stream's sequence window */
    uint64_t memcap_evictions; /* evictions forced by the memcap (not --max-flows) */
    uint64_t linger_cut;       /* finished flows freed before closed_linger: linger_max newer ones */
};

/* The TCP session of a flow, by role (DIR_CLIENT, DIR_SERVER). */
struct tcp_session {
    uint8_t packets;        /* counted up to a SYN's wait (tcp.c) */
    bool packets_with_data; /* it carried payload */
    bool roles_known;
    uint8_t teardown;    /* enum termination of the first FIN/RST, or TERM_NONE */
    bool syn_seen;       /* roles known from the SYN */
    bool truncated;      /* a segment's payload was cut by the snaplen */
    bool reset;          /* a RST was seen; data sent before it may still come */
    bool has_prev;       /* port reuse: where the previous connection's ... */
    bool acked_by[2];    /* per side: the highest ACK it sent ... */
    bool syn_from[2];    /* per side: its SYN (or SYN-ACK) was seen ... */
    bool rst_from[2];
    bool fin_has_ack[2]; /* that side's FIN carried an ACK ... */
    uint32_t max_ack[2];   /* ... covering the other side's bytes */
    uint32_t prev_next[2]; /* ... streams ended, to recognise its stragglers */
    uint32_t syn_seq[2];   /* ... with this sequence number */
    uint32_t rst_seq[2];   /* per side: nothing at or after this was sent */
    uint32_t fin_ack[2];   /* ... of this value */
    ts_us_t hole_acked_at[2]; /* per side: since when an ACK passed its hole (0: none) */
    ts_us_t first_ts;
    const char *sensor;
    struct reasm_dir dir[2];
};

/* One flow. The table's fields come first: a chain walk reads hnext and
 * hash, a match the endpoints, and every packet last_ts and the state,
 * all in the first 64 bytes; the LRU position and the session's first
 * bytes share the second. The whole struct, with the owner's part, is what
 * the memcap is charged per flow (engine/: 272 bytes on LP64). */
struct flow {
    struct flow *hnext;
    uint32_t hash;
    uint16_t vlan;
    uint8_t state;         /* enum flow_state */
    uint8_t on_list;       /* the LRU list it is on (table.c) */
    struct endpoint ep[2]; /* [DIR_CLIENT], [DIR_SERVER] */
    uint16_t lru_lag;      /* its place in the LRU lists (table.c) ... */
    ts_us_t last_ts;       /* its newest packet */
    uint64_t lru_key;      /* ... */
    struct flow *prev, *next;
    struct tcp_session tcp;
};

/* What the flow layer tells its owner. Every call is made on the packet
 * loop, from inside a flow_* call. */
struct flow_hooks {
    /* In-order bytes (or a gap: piece->data NULL) of side dir of a flow
     * that is undecided or followed; the owner may call flow_follow() or
     * flow_ignore() on it from here. */
    void (*deliver)(void *owner, struct flow *f, int dir, const struct reasm_piece *p, ts_us_t ts);
    /* A followed flow ends, everything it had delivered: `why` is how,
     * unless a FIN or RST said so (f->teardown). */
    void (*conclude)(void *owner, struct flow *f, enum termination why);
    /* The flow is no longer followed (it ended, or was ignored): the owner
     * drops what it held for reading it. */
    void (*drop)(void *owner, struct flow *f);
    /* The flow is about to be freed: the owner lets go of all its state. */
    void (*release)(void *owner, struct flow *f);
};

struct flow_table;

/* A table for flows of flow_size bytes (the owner's struct, which begins
 * with a struct flow, zeroed when made). NULL if out of memory. */
struct flow_table *flow_table_new(const struct flow_config *cfg, size_t flow_size, const struct flow_hooks *hooks,
                                  void *owner);
/* Frees every flow (hooks.release each), and then the table. */
void flow_table_release_all(struct flow_table *t);
void flow_table_free(struct flow_table *t);

/* A segment arrives at packet time ts: it is counted and the packet clock
 * moved on. True when expiry is due (flow_table_expire). */
bool flow_table_tick(struct flow_table *t, ts_us_t ts);

/* Runs idle expiry against now (the packet clock, or a live clock). */
void flow_table_expire(struct flow_table *t, ts_us_t now);

/* The capture is over (TERM_CAPTURE_END), or its interface went down
 * (TERM_INTERFACE_DOWN): every flow still open ends so. */
void flow_table_finish_all(struct flow_table *t, enum termination why);

/* State grown in place may have taken the total over the memcap: flows go,
 * in eviction order, until it fits. Call when a segment is done with. */
void flow_table_enforce_memcap(struct flow_table *t);

/* The owner's state of a flow grew or shrank from `before` to `now`
 * bytes: charged to the memcap. */
void flow_table_recharge(struct flow_table *t, size_t before, size_t now);

/* The packet clock: the newest packet time seen (or set: a live capture
 * ends now, not at its last packet). */
ts_us_t flow_table_now(const struct flow_table *t);
void flow_table_set_now(struct flow_table *t, ts_us_t now);
const struct flow_config *flow_table_config(const struct flow_table *t);

/* Figures: flows held now, the flow layer's counts, reassembly's. */
uint32_t flow_table_count(const struct flow_table *t);
const struct flow_stats *flow_table_stats(const struct flow_table *t);
const struct reasm_stats *flow_table_reasm_stats(const struct flow_table *t);
/* Bytes charged to the memcap: flows and the owner's state, and held
 * out-of-order data. */
size_t flow_table_state_bytes(const struct flow_table *t);
size_t flow_table_held_bytes(const struct flow_table *t);
/* Followed flows still open. */
bool flow_table_any_followed(const struct flow_table *t);

/* The flow of a segment, made if it starts something, with the segment's
 * direction by the flow's roles in *dir. NULL if the segment belongs to no
 * flow (a bare ACK, FIN or RST of a connection never seen) or to one that
 * has ended (a straggler, absorbed). */
struct flow *flow_accept(struct flow_table *t, const struct tcp_segment *s, const char *sensor, int *dir);

/* Whether the roles are still to be learnt from the payload: an undecided
 * flow whose SYN was not seen, before its roles were settled. */
bool flow_roles_open(const struct flow *f);

/* The payload says the sender of a segment of direction dir is the client
 * (or the server): the roles are settled so. Returns the segment's
 * direction under them. */
int flow_settle_roles(struct flow *f, int dir, bool sender_is_client);

/* The rest of what a segment does: window checks, SYN/ACK/FIN/RST notes,
 * reassembly (bytes go to hooks.deliver), the end of the flow. */
void flow_process(struct flow_table *t, struct flow *f, const struct tcp_segment *s, int dir);

/* The owner follows the flow from now on (from hooks.deliver), or gives it up. */
void flow_follow(struct flow_table *t, struct flow *f);
void flow_ignore(struct flow_table *t, struct flow *f);

/* Whether the client's SYN was seen (the connection began in the capture). */
static inline bool flow_client_syn_seen(const struct flow *f)
{
    return f->tcp.syn_from[DIR_CLIENT];
}

/* The first FIN or RST ended TCP (f->teardown is one of them). */
bool flow_torn_down(const struct flow *f);

#endif
