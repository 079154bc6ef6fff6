/*
 * flow/flow_internal.h — what the flow layer's files share (see flow.h).
 *
 * Below the public API the layer has four parts, each calling only those
 * listed before it:
 *
 *   table.c      the hash table, the LRU lists, the memory charged to the
 *                memcap; flows linked, touched, found and freed
 *   session.c    the TCP session's rules: ACK/SYN/FIN/RST notes, sequence
 *                windows, holes proven by ACKs, starting a direction that
 *                never had its SYN, the order of FINs; delivery to the owner
 *   lifecycle.c  a flow's life: made (room first), followed or ignored,
 *                ended, evicted, expired
 *   segment.c    what one segment does (flow_accept, flow_process)
 */
#ifndef WSSTATS_FLOW_INTERNAL_H
#define WSSTATS_FLOW_INTERNAL_H

#include "flow.h"

/* The LRU lists, in the order a full table gives up their flows. */
enum flow_list {
    LIST_DONE,     /* ended; absorbing stragglers */
    LIST_NEW,      /* no payload yet */
    LIST_RESET,    /* reset: waits rst_linger for reordered data, then ends */
    LIST_OTHER,    /* undecided with data, or ignored */
    LIST_FOLLOWED, /* followed by the owner */
    LIST_COUNT,
};

struct flow_table {
    struct flow_config cfg;
    struct flow_stats stats;
    struct reasm_ctx reasm;
    struct flow_hooks hooks;
    void *owner;
    size_t flow_size; /* the owner's struct, a struct flow first */
    struct flow **buckets;
    uint32_t nbuckets, nflows;
    struct flow *lru_head[LIST_COUNT], *lru_tail[LIST_COUNT];
    uint32_t listed[LIST_COUNT]; /* flows on each list */
    uint64_t lru_clock; /* ticks at every touch and move: the LRU order (table.c) */
    size_t state_mem;   /* flows and the owner's state, charged to the memcap */
    ts_us_t now;        /* packet clock: the newest timestamp seen */
    ts_us_t next_sweep; /* when expiry next runs */
};

/* ---- table.c ---- */
uint32_t flow_hash(const struct endpoint *a, const struct endpoint *b, uint16_t vlan);
bool endpoint_eq(const struct endpoint *a, const struct endpoint *b);
struct flow *table_find(struct flow_table *t, const struct tcp_segment *s, uint32_t hash, int *dir);
/* Links a new flow (its hash set) into its bucket and the head of LIST_NEW. */
void table_insert(struct flow_table *t, struct flow *f);
/* Unlinks a flow, releases what it holds (hooks.release) and frees it. */
void table_remove(struct flow_table *t, struct flow *f);
void lru_touch(struct flow_table *t, struct flow *f);
struct flow *lru_oldest(struct flow_table *t, int list);
void charge(struct flow_table *t, size_t bytes, bool add);
bool over_memcap(const struct flow_table *t);
/* Would one more flow fit under the memcap? */
bool room_for_flow(const struct flow_table *t);

/* ---- session.c ---- */
/* Reassembly's sink: in-order pieces of side `dir` go to the owner. */
struct sink_ctx {
    struct flow_table *t;
    struct flow *f;
    int dir;
    ts_us_t ts;
};
void stream_sink(void *arg, const struct reasm_piece *p);
bool is_teardown(uint8_t termination);
void note_syn(struct flow *f, const struct tcp_segment *s, int dir);
void note_ack(struct flow *f, const struct tcp_segment *s, int dir);
void note_teardown(struct flow *f, const struct tcp_segment *s, int dir);
void note_reset(struct flow *f, const struct tcp_segment *s, int dir);
bool after_reset(const struct flow *f, const struct tcp_segment *s, int dir);
bool out_of_window(const struct flow *f, const struct tcp_segment *s, int dir);
bool from_previous(const struct flow *f, const struct tcp_segment *s, int dir);
bool is_port_reuse(const struct flow *f, const struct tcp_segment *s, int dir);
void feed_segment(struct flow_table *t, struct flow *f, const struct tcp_segment *s, int dir);
void give_up_acked_holes(struct flow_table *t, struct flow *f, ts_us_t ts);
void end_pickup_wait(struct flow_table *t, struct flow *f, ts_us_t ts);
/* Side dir's SYN was lost and the other side's SYN-ACK, s, is seen: dir's
 * stream starts where s acknowledges (bytes lost before its first captured
 * ones are then a gap). */
void start_where_acked(struct flow_table *t, struct flow *f, const struct tcp_segment *s, int dir);
void gap_to_known_end(struct flow_table *t, struct flow *f, int dir, struct sink_ctx *x);
void order_fins(struct flow *f);
void release_streams(struct flow_table *t, struct flow *f);

/* ---- lifecycle.c ---- */
struct flow *flow_create(struct flow_table *t, const struct tcp_segment *s, uint32_t hash, const char *sensor,
                         int *dir);
/* Ends the flow (a followed one is concluded: its record) and keeps it
 * only to absorb stragglers. */
void flow_finish(struct flow_table *t, struct flow *f, enum termination why);
/* Makes room by ending and freeing one flow; false if there is none. */
bool evict_one(struct flow_table *t);

#endif
