/*
 * engine/dissect.c — flow table, connection lifecycle, record emission.
 *
 * A flow is one TCP connection (RFC 9293 §3.5), keyed by both endpoints and
 * the outer VLAN id, whichever way a segment travels. The client is the side
 * that sent the SYN; failing that, the side that sent the HTTP request; for a
 * connection picked up mid-stream, the side whose frames are masked (RFC 6455
 * §5.1). Flows that are not WebSocket drop to an ignore state at their first
 * bytes and cost one table entry until they end.
 */
#include "dissect.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../app/websocket/session.h"
#include "../common/ipaddr.h"
#include "../common/mem.h"

#define SWEEP_INTERVAL_US 1000000 /* expiry runs at most once a second of packet time */
#define MIDSTREAM_TRIES 8         /* data segments examined for frames before giving up */
#define PICKUP_PACKETS 8          /* a direction without a SYN waits this many packets for it */
/* How far from the next expected byte a segment may lie and still belong to
 * the stream (retransmissions behind it, out-of-order data ahead). A segment
 * outside is from an earlier connection on the same 4-tuple, or garbage. */
#define SEQ_WINDOW_BEHIND (16u << 20)
/* An ACK past a hole proves the receiver got bytes the capture lost; after
 * this long (packet time) the hole is no reordering and becomes a gap. */
#define GAP_WAIT_US 200000
#define SEQ_WINDOW_AHEAD (64u << 20)

enum flow_state {
    FLOW_UNDECIDED, /* no payload judged yet */
    FLOW_WEBSOCKET, /* a wsconn follows it */
    FLOW_IGNORED,   /* not ours: no reassembly, no parsing */
    FLOW_DONE,      /* record written; absorbs stragglers until it lingers out */
};

/* The fields a lookup and every packet read come first: a chain walk reads
 * hnext and hash, a match the endpoints, and the per-packet path last_ts and
 * the state bytes, all in the first 64 bytes. The fields are packed so the
 * struct stays as large as before the LRU fields came (272 bytes on LP64):
 * its size is what the memcap is charged per flow. */
struct flow {
    struct flow *hnext;
    uint32_t hash;
    uint16_t vlan;
    uint8_t state;
    uint8_t on_list;       /* enum flow_list */
    struct endpoint ep[2]; /* [DIR_CLIENT], [DIR_SERVER] */
    uint8_t packets;       /* counted up to PICKUP_PACKETS */
    bool packets_with_data; /* it carried payload: no longer LIST_NEW */
    bool roles_known;
    uint8_t teardown;      /* enum termination of the first FIN/RST, or TERM_NONE */
    ts_us_t last_ts;
    /* ---- LRU position (see "table and LRU" below) ---- */
    uint64_t lru_key;      /* the clock when it was queued: its place in the list */
    struct flow *prev, *next; /* LRU list lru_head[on_list], most recent first */
    uint16_t lru_lag;      /* last touched at lru_key + lru_lag (0: its place is exact) */
    bool syn_seen;         /* roles known from the SYN */
    bool truncated;
    uint8_t midstream_tries;
    bool reset;            /* a RST was seen; data sent before it may still come */
    bool has_prev;         /* port reuse: where the previous connection's ... */
    bool acked_by[2];      /* per side: the highest ACK it sent ... */
    bool syn_from[2];      /* per side: its SYN (or SYN-ACK) was seen ... */
    bool rst_from[2];
    bool fin_has_ack[2];   /* that side's FIN carried an ACK ... */
    uint32_t max_ack[2];   /* ... covering the other side's bytes */
    uint32_t prev_next[2]; /* ... streams ended, to recognise its stragglers */
    uint32_t syn_seq[2];   /* ... with this sequence number */
    uint32_t rst_seq[2];   /* per side: nothing at or after this was sent */
    uint32_t fin_ack[2];   /* ... of this value */
    ts_us_t hole_acked_at[2]; /* per side: since when an ACK passed its hole (0: none) */
    ts_us_t first_ts;
    const char *sensor;
    struct reasm_dir dir[2];
    struct wsconn *ws;
    struct flow_class cls;
};

void dissect_config_defaults(struct dissect_config *cfg)
{
    cfg->idle_timeout = 15 * 60 * 1000000LL;
    cfg->closed_linger = 30 * 1000000LL;
    cfg->new_timeout = 60 * 1000000LL;
    cfg->rst_linger = 1000000LL;
    cfg->max_flows = 1u << 20;
    cfg->memcap = 256u << 20;
    cfg->dir_cap = 1u << 20;
}

/* ---- table and LRU ------------------------------------------------------ */

/* The bucket array grows with the table: it starts at TABLE_MIN_BUCKETS and
 * doubles whenever there are more flows than buckets, up to one bucket per
 * flow of --max-flows (at least 1024, at most 2^24), as it was sized from
 * the start before. A small array stays in cache while the table is small. */
#define TABLE_MIN_BUCKETS 4096u
#define TABLE_MAX_BUCKETS (1u << 24)

/* How far a flow's last touch may run ahead of its place in its LRU list,
 * in clock ticks; see lru_touch(). It bounds the walk of lru_settle(). */
#define LRU_LAG_MAX 256u
_Static_assert(LRU_LAG_MAX <= UINT16_MAX, "lru_lag holds up to LRU_LAG_MAX");

/* The LRU clock ticks once at every touch and every move between lists, so
 * it orders them all. */
static uint64_t clock_tick(struct dissector *d)
{
    return ++d->lru_clock;
}

static uint32_t max_buckets(const struct dissector *d)
{
    uint32_t n = 1024;
    while (n < d->cfg.max_flows && n < TABLE_MAX_BUCKETS)
        n <<= 1;
    return n;
}

/* splitmix64's finalizer: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* One endpoint as two 64-bit words and the port. For an IPv4-mapped address
 * (on a little-endian host) the low word is 0 and the high word has 16 zero
 * bits at the bottom, where the odd multiple of the port lands: distinct
 * IPv4 endpoints keep distinct mixes. */
static uint64_t endpoint_mix(const struct endpoint *e)
{
    uint64_t lo, hi;
    memcpy(&lo, e->addr, 8);
    memcpy(&hi, e->addr + 8, 8);
    return mix64((lo ^ e->port) * 0x9e3779b97f4a7c15u + hi);
}

/* Symmetric: both directions of a connection hash alike, since the two
 * endpoints' mixes are added, whichever comes first. */
static uint32_t flow_hash(const struct endpoint *a, const struct endpoint *b, uint16_t vlan)
{
    uint64_t h = endpoint_mix(a) + endpoint_mix(b) + (uint64_t)vlan * 0xff51afd7ed558ccdu;
    return (uint32_t)(h ^ (h >> 32));
}

static bool endpoint_eq(const struct endpoint *a, const struct endpoint *b)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a->addr, 8);
    memcpy(&a1, a->addr + 8, 8);
    memcpy(&b0, b->addr, 8);
    memcpy(&b1, b->addr + 8, 8);
    return a->port == b->port && a0 == b0 && a1 == b1;
}

static struct flow **bucket_for(struct dissector *d, uint32_t hash)
{
    return &d->buckets[hash & (d->nbuckets - 1)];
}

/* A new bucket array of twice the size, every flow relinked into it. If the
 * memory cannot be had the table keeps its array (chains just get longer). */
static void table_grow(struct dissector *d)
{
    uint32_t n = d->nbuckets * 2;
    struct flow **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (uint32_t i = 0; i < d->nbuckets; i++) {
        struct flow *f = d->buckets[i], *nx;
        for (; f; f = nx) {
            nx = f->hnext;
            f->hnext = b[f->hash & (n - 1)];
            b[f->hash & (n - 1)] = f;
        }
    }
    free(d->buckets);
    d->buckets = b;
    d->nbuckets = n;
}

/*
 * LRU lists, kept lazily. True LRU order is the order of the last touches;
 * the old code moved a flow to the head of its list at every packet, which
 * writes to its two neighbours and the head. Now:
 *
 *  - the table's clock ticks at every touch and every move, so each tick
 *    belongs to one flow;
 *  - a flow sits in its list at lru_key, the tick it was queued at; a list
 *    is sorted by lru_key, the largest at the head;
 *  - a touch at most LRU_LAG_MAX ticks after lru_key only notes the lag
 *    (lru_lag: touched at lru_key + lru_lag); a later touch, or one that
 *    puts the flow on another list, moves it to the head as before.
 *
 * Invariant: a flow's true place is lru_key + lru_lag, at or ahead of where
 * it sits. A tail without a lag is the true least recently used flow: every
 * other flow of its list was queued, and so touched, after it. Wherever the
 * order is used (expiry, eviction, the end of the capture), lru_oldest()
 * first settles a lagging tail: it moves forward to its true place, past the
 * flows queued during its lag (one per tick: at most LRU_LAG_MAX of them).
 * Moving it to the head instead ("second chance") would put it ahead of
 * flows touched after it, and change what expires or is evicted and in
 * which order. So both are exactly what a list moved at every packet gives,
 * also when packet times go backwards (the clock is no packet time); each
 * settle ends a lag, so the loop ends, and expiry still stops at the first
 * tail that is not idle.
 */
static void lru_unlink(struct dissector *d, struct flow *f)
{
    int l = f->on_list;
    if (f->prev)
        f->prev->next = f->next;
    else
        d->lru_head[l] = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        d->lru_tail[l] = f->prev;
    f->prev = f->next = NULL;
}

/* Links f into list `list` behind `before` (NULL: at the head). */
static void lru_link_after(struct dissector *d, struct flow *f, int list, struct flow *before)
{
    f->on_list = (uint8_t)list;
    f->prev = before;
    f->next = before ? before->next : d->lru_head[list];
    if (f->next)
        f->next->prev = f;
    else
        d->lru_tail[list] = f;
    if (before)
        before->next = f;
    else
        d->lru_head[list] = f;
}

/* Puts f at the head of `list`, queued at tick `now`. */
static void lru_queue(struct dissector *d, struct flow *f, int list, uint64_t now)
{
    f->lru_key = now;
    f->lru_lag = 0;
    lru_link_after(d, f, list, NULL);
}

static enum flow_list list_for(const struct flow *f)
{
    switch (f->state) {
    case FLOW_DONE: return LIST_DONE;
    case FLOW_IGNORED: return LIST_OTHER;
    default:
        if (f->reset)
            return LIST_RESET;
        return f->state == FLOW_WEBSOCKET ? LIST_WEBSOCKET : f->packets_with_data ? LIST_OTHER : LIST_NEW;
    }
}

/* Makes f the most recent flow of the list its state belongs on. */
static void lru_touch(struct dissector *d, struct flow *f)
{
    enum flow_list l = list_for(f);
    uint64_t now = clock_tick(d);
    if (l == f->on_list) {
        if (d->lru_head[l] == f) { /* in front already: no neighbour to write */
            f->lru_key = now;
            f->lru_lag = 0;
            return;
        }
        if (now - f->lru_key <= LRU_LAG_MAX) { /* noted; lru_settle() moves it if need be */
            f->lru_lag = (uint16_t)(now - f->lru_key);
            return;
        }
    }
    lru_unlink(d, f);
    lru_queue(d, f, l, now);
}

/* Moves f forward to where its last touch puts it (past the flows queued
 * before that touch, all within its lag); it has no lag after. */
static void lru_settle(struct dissector *d, struct flow *f)
{
    uint64_t at = f->lru_key + f->lru_lag;
    struct flow *before = f->prev;
    while (before && before->lru_key < at)
        before = before->prev;
    f->lru_key = at;
    f->lru_lag = 0;
    if (before == f->prev)
        return;
    int l = f->on_list;
    lru_unlink(d, f);
    lru_link_after(d, f, l, before);
}

/* The least recently touched flow of list l, or NULL. */
static struct flow *lru_oldest(struct dissector *d, int l)
{
    struct flow *f;
    while ((f = d->lru_tail[l]) && f->lru_lag)
        lru_settle(d, f);
    return f;
}

/* Flow and connection state count against the memcap together with the
 * bytes reassembly holds: what is left is reassembly's to use. Charged:
 * each flow; each connection's wsconn with everything it allocates (head
 * buffers, header strings, close payloads and reasons: wsconn_mem()); and
 * each flow's classification, nDPI's state included, by the classifier's
 * estimate (classifier_flow_cost()). The last two change inside calls into
 * wsconn.c and classify.c: every such call is followed by a recharge from
 * the figure before it. Each block is charged with malloc's own header
 * (common/mem.h). */

static void update_reasm_budget(struct dissector *d)
{
    d->reasm.memcap = d->cfg.memcap > d->state_mem ? d->cfg.memcap - d->state_mem : 0;
}

static void charge(struct dissector *d, size_t bytes, bool add)
{
    d->state_mem = add ? d->state_mem + bytes : d->state_mem - bytes;
    update_reasm_budget(d);
}

/* Charges the change from `before` to `now`. */
static void recharge(struct dissector *d, size_t before, size_t now)
{
    if (now != before)
        charge(d, now > before ? now - before : before - now, now > before);
}

/* The memcap is exceeded (state grown in place: a head, a string, nDPI). */
static bool over_memcap(const struct dissector *d)
{
    return d->state_mem + d->reasm.mem_used > d->cfg.memcap;
}

static struct flow *flow_find(struct dissector *d, const struct tcp_segment *s, uint32_t hash, int *dir)
{
    for (struct flow *f = *bucket_for(d, hash); f; f = f->hnext) {
        if (f->hash != hash || f->vlan != s->vlan)
            continue;
        if (endpoint_eq(&f->ep[DIR_CLIENT], &s->src) && endpoint_eq(&f->ep[DIR_SERVER], &s->dst)) {
            *dir = DIR_CLIENT;
            return f;
        }
        if (endpoint_eq(&f->ep[DIR_SERVER], &s->src) && endpoint_eq(&f->ep[DIR_CLIENT], &s->dst)) {
            *dir = DIR_SERVER;
            return f;
        }
    }
    return NULL;
}

static void drop_wsconn(struct dissector *d, struct flow *f)
{
    if (!f->ws)
        return;
    d->stats.heads_oversized += f->ws->heads_oversized;
    d->stats.frames_len_msb += f->ws->frames_len_msb;
    charge(d, wsconn_mem(f->ws), false);
    wsconn_free(f->ws);
    f->ws = NULL;
}

/* What the classifier is told of a flow: its server side, for TLS reports. */
static struct class_flow_info flow_info(const struct flow *f)
{
    return (struct class_flow_info){.server_addr = f->ep[DIR_SERVER].addr,
                                    .server_port = f->ep[DIR_SERVER].port,
                                    .sensor = f->sensor,
                                    .last_seen = f->last_ts};
}

/* A flow nDPI classified as TLS, reported once (on the classifier thread). */
static void report_tls(void *arg, const struct class_flow_info *where, const char *sni, ts_us_t ts)
{
    struct dissector *d = arg;
    struct tls_flow t = {.sensor = where->sensor, .server_port = where->server_port, .sni = sni, .ts = ts};
    ipaddr_format(where->server_addr, t.server_ip);
    d->tls_emit(d->tls_arg, &t);
}

/* Unlinks a flow from table and list and frees it (its record is written). */
static void flow_remove(struct dissector *d, struct flow *f)
{
    struct flow **pp = bucket_for(d, f->hash);
    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    lru_unlink(d, f);
    for (int i = 0; i < 2; i++)
        reasm_release(&d->reasm, &f->dir[i]);
    drop_wsconn(d, f);
    if (d->classifier) {
        struct class_flow_info where = flow_info(f);
        size_t before = classifier_flow_cost(&f->cls);
        classifier_release(d->classifier, &f->cls, &where);
        recharge(d, before, classifier_flow_cost(&f->cls));
    }
    d->nflows--;
    charge(d, mem_block(sizeof *f), false);
    free(f);
}

/* ---- records ------------------------------------------------------------ */

static bool is_teardown(uint8_t t)
{
    return t >= TERM_FIN_CLIENT && t <= TERM_RST_SERVER;
}

static ts_us_t ended_at(const struct dissector *d, const struct flow *f, enum termination why)
{
    if (is_teardown(f->teardown))
        return f->last_ts;
    switch (why) {
    case TERM_IDLE_TIMEOUT: return f->last_ts + d->cfg.idle_timeout;
    case TERM_EVICTED:
    case TERM_CAPTURE_END: return d->now > f->last_ts ? d->now : f->last_ts;
    default: return f->last_ts;
    }
}

static void emit_record(struct dissector *d, struct flow *f, enum termination why)
{
    struct ws_record r;
    char proto[64];
    memset(&r, 0, sizeof r);
    r.sensor = f->sensor;
    ipaddr_format(f->ep[DIR_CLIENT].addr, r.client_ip);
    ipaddr_format(f->ep[DIR_SERVER].addr, r.server_ip);
    r.client_port = f->ep[DIR_CLIENT].port;
    r.server_port = f->ep[DIR_SERVER].port;
    r.vlan = f->vlan == VLAN_NONE ? -1 : f->vlan;
    r.started_at = f->first_ts;
    r.ended_at = ended_at(d, f, why);
    r.termination = is_teardown(f->teardown) ? (enum termination)f->teardown : why;
    r.violations = f->truncated ? V_TRUNCATED : 0;
    wsconn_fill_record(f->ws, is_teardown(f->teardown), &r);
    if (d->classifier) {
        struct class_flow_info where = flow_info(f);
        size_t before = classifier_flow_cost(&f->cls);
        classifier_finish(d->classifier, &f->cls, &where);
        recharge(d, before, classifier_flow_cost(&f->cls));
        r.ndpi_protocol = classifier_name(d->classifier, &f->cls, proto, sizeof proto);
    }
    d->stats.records++;
    d->emit(d->emit_arg, &r);
}

/* ---- stream bytes -------------------------------------------------------- */

struct sink_ctx {
    struct dissector *d;
    struct flow *f;
    int dir;
    ts_us_t ts;
};

static void become_ignored(struct dissector *d, struct flow *f)
{
    f->state = FLOW_IGNORED;
    drop_wsconn(d, f);
    for (int i = 0; i < 2; i++)
        reasm_release(&d->reasm, &f->dir[i]);
    d->stats.ignored++;
}

static void start_websocket(struct dissector *d, struct flow *f, struct wsconn *ws)
{
    if (!ws) {
        become_ignored(d, f);
        return;
    }
    f->ws = ws;
    f->state = FLOW_WEBSOCKET;
    charge(d, wsconn_mem(ws), true);
    d->stats.websocket++;
}

/* How many pieces of a mid-stream flow may pass before it is given up: more
 * when nDPI recognised WebSocket framing in it (a frame split oddly, or a
 * first piece cut mid-frame, takes a few more pieces to tile). */
static unsigned midstream_patience(struct dissector *d, struct flow *f)
{
    return d->classifier && classifier_says_websocket(d->classifier, &f->cls) ? MIDSTREAM_TRIES * 4
                                                                              : MIDSTREAM_TRIES;
}

static void stream_sink(void *arg, const struct reasm_piece *p)
{
    struct sink_ctx *x = arg;
    struct flow *f = x->f;
    if (f->state == FLOW_UNDECIDED && p->data && p->len) {
        /* With the client's SYN seen, its first bytes must be the upgrade
         * request; without it (the connection began before the capture),
         * whole frames are picked up, and a few segments may pass first. */
        bool http = x->dir == DIR_CLIENT ? wsconn_looks_like_request(p->data, p->len)
                                         : wsconn_looks_like_response(p->data, p->len);
        bool masked = false;
        if (http)
            start_websocket(x->d, f, wsconn_new()); /* a response may come first in a reordered capture */
        else if (!f->syn_from[DIR_CLIENT] && ws_frames_tile(p->data, p->len, &masked) &&
                 masked == (x->dir == DIR_CLIENT))
            start_websocket(x->d, f, wsconn_new_midstream());
        else if (f->syn_from[DIR_CLIENT] || ++f->midstream_tries >= midstream_patience(x->d, f))
            become_ignored(x->d, f);
    }
    if (f->state != FLOW_WEBSOCKET)
        return;
    size_t before = wsconn_mem(f->ws);
    if (p->data) {
        wsconn_position(f->ws, x->dir, p->seq, p->ack, p->has_ack);
        wsconn_data(f->ws, x->dir, p->data, p->len, x->ts);
    } else {
        wsconn_gap(f->ws, x->dir, p->len, p->why == REASM_GAP_CUT);
    }
    recharge(x->d, before, wsconn_mem(f->ws));
    if (f->ws->state == WSC_NOT_WEBSOCKET)
        become_ignored(x->d, f);
}

/* ---- roles and mid-stream pickup ---------------------------------------- */

static void swap_roles(struct flow *f)
{
    struct endpoint e = f->ep[0];
    f->ep[0] = f->ep[1];
    f->ep[1] = e;
    struct reasm_dir r = f->dir[0];
    f->dir[0] = f->dir[1];
    f->dir[1] = r;
}

/* Before the bytes are delivered: learn who the client is from the payload
 * when the SYN was not seen, and pick up WebSocket frames mid-stream.
 * Returns the direction of the segment under the (possibly new) roles. */
static int infer_roles(struct flow *f, const struct tcp_segment *s, int dir)
{
    if (f->state != FLOW_UNDECIDED || f->roles_known || s->payload_len == 0)
        return dir;
    bool sender_is_client, masked = false;
    if (wsconn_looks_like_request(s->payload, s->payload_len))
        sender_is_client = true;
    else if (ws_frames_tile(s->payload, s->payload_len, &masked))
        sender_is_client = masked; /* RFC 6455 §5.1: only clients mask */
    else
        return dir;
    f->roles_known = true;
    int want = sender_is_client ? DIR_CLIENT : DIR_SERVER;
    if (dir != want)
        swap_roles(f);
    return want;
}

/* Did side `dir`'s FIN acknowledge the other side's FIN? */
static bool fin_acks_other(const struct flow *f, int dir)
{
    const struct reasm_dir *other = &f->dir[!dir];
    return f->fin_has_ack[dir] && other->fin_seen && f->fin_ack[dir] == other->fin_seq + 1;
}

/* The first FIN is the one that did not acknowledge the other side's FIN
 * (RFC 9293 §3.6): capture order can lie on a tap, the ACK field cannot. */
static void order_fins(struct flow *f)
{
    if (f->teardown == TERM_FIN_CLIENT && fin_acks_other(f, DIR_CLIENT) && !fin_acks_other(f, DIR_SERVER))
        f->teardown = TERM_FIN_SERVER;
    else if (f->teardown == TERM_FIN_SERVER && fin_acks_other(f, DIR_SERVER) && !fin_acks_other(f, DIR_CLIENT))
        f->teardown = TERM_FIN_CLIENT;
}

/* RFC 9293 §3.4: when the other side has acknowledged bytes beyond a hole
 * in this side's stream, no retransmission will fill it for the capture;
 * once that has held for GAP_WAIT_US, the hole is declared a gap so the
 * data waiting behind it goes on (and memory is released) at once. */
static void give_up_acked_holes(struct dissector *d, struct flow *f, ts_us_t ts)
{
    for (int dir = 0; dir < 2 && f->state == FLOW_WEBSOCKET; dir++) {
        struct reasm_dir *r = &f->dir[dir];
        bool hole = r->started && r->held_bytes && f->acked_by[!dir] &&
                    (int32_t)(f->max_ack[!dir] - r->next_seq) > 0;
        if (!hole) {
            f->hole_acked_at[dir] = 0;
        } else if (!f->hole_acked_at[dir]) {
            f->hole_acked_at[dir] = ts;
        } else if (ts - f->hole_acked_at[dir] >= GAP_WAIT_US) {
            struct sink_ctx x = {d, f, dir, ts};
            reasm_skip_hole(&d->reasm, r, stream_sink, &x);
            f->hole_acked_at[dir] = 0;
        }
    }
}

/* A direction whose SYN never came starts where its data starts: the
 * connection began before the capture did. */
static void end_pickup_wait(struct dissector *d, struct flow *f, ts_us_t ts)
{
    struct sink_ctx x = {d, f, 0, ts};
    for (x.dir = 0; x.dir < 2; x.dir++)
        if (f->state != FLOW_IGNORED && f->state != FLOW_DONE)
            reasm_start(&d->reasm, &f->dir[x.dir], stream_sink, &x);
}

/* ---- lifecycle ----------------------------------------------------------- */

/* Bytes a side sent that the capture never had, proved by its RST or FIN
 * sequence number or by the other side's ACKs, are a gap (RFC 9293 §3.4). */
static void gap_to_known_end(struct dissector *d, struct flow *f, int dir, struct sink_ctx *x)
{
    struct reasm_dir *r = &f->dir[dir];
    if (f->rst_from[dir])
        reasm_gap_to(&d->reasm, r, f->rst_seq[dir], stream_sink, x);
    if (r->fin_seen)
        reasm_gap_to(&d->reasm, r, r->fin_seq, stream_sink, x);
    if (f->acked_by[!dir]) /* an ACK of an unseen FIN looks like one more byte */
        reasm_gap_to(&d->reasm, r, f->max_ack[!dir] - (r->fin_seen ? 0u : 1u), stream_sink, x);
}

/* Writes the record (if any) and keeps the flow only to absorb stragglers. */
static void flow_finish(struct dissector *d, struct flow *f, enum termination why)
{
    if (f->state == FLOW_UNDECIDED) /* data may still wait for a SYN */
        end_pickup_wait(d, f, f->last_ts);
    if (f->state == FLOW_WEBSOCKET) {
        struct sink_ctx x = {d, f, 0, f->last_ts};
        for (x.dir = 0; x.dir < 2 && f->state == FLOW_WEBSOCKET; x.dir++) {
            reasm_flush(&d->reasm, &f->dir[x.dir], stream_sink, &x);
            gap_to_known_end(d, f, x.dir, &x);
        }
        if (f->state == FLOW_WEBSOCKET) {
            size_t before = wsconn_mem(f->ws);
            wsconn_finish(f->ws, f->last_ts);
            recharge(d, before, wsconn_mem(f->ws));
            order_fins(f);
            emit_record(d, f, why);
        }
    }
    for (int i = 0; i < 2; i++)
        reasm_release(&d->reasm, &f->dir[i]);
    drop_wsconn(d, f);
    f->state = FLOW_DONE; /* classification ends when the flow is removed */
    lru_touch(d, f);
}

/* Makes room: finished flows go first, then flows without data, then other
 * non-WebSocket flows, and only then the least recently active WebSocket
 * connection (written with termination evicted). */
static bool evict_one(struct dissector *d)
{
    struct flow *victim = NULL;
    for (int l = 0; l < LIST_COUNT && !victim; l++)
        victim = lru_oldest(d, l);
    if (!victim)
        return false;
    if (victim->state == FLOW_WEBSOCKET) {
        if (!victim->reset) /* a reset one is only cut short of its linger */
            d->stats.evicted++;
        flow_finish(d, victim, TERM_EVICTED);
    } else if (victim->on_list != LIST_DONE) {
        d->stats.evicted_other++;
    }
    flow_remove(d, victim);
    return true;
}

/* Room for one more flow under --max-flows and the memcap. */
static void make_room(struct dissector *d)
{
    if (d->nflows >= d->cfg.max_flows)
        evict_one(d);
    while (d->state_mem + mem_block(sizeof(struct flow)) + d->reasm.mem_used > d->cfg.memcap && evict_one(d))
        d->stats.memcap_evictions++;
}

static struct flow *flow_create(struct dissector *d, const struct tcp_segment *s, uint32_t hash,
                                const char *sensor, int *dir)
{
    make_room(d);
    struct flow *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    charge(d, mem_block(sizeof *f), true);
    f->hash = hash;
    f->vlan = s->vlan;
    f->first_ts = f->last_ts = s->ts;
    f->sensor = sensor;
    f->teardown = TERM_NONE;
    bool syn_only = (s->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    bool syn_ack = (s->flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
    /* Without a SYN, guess the side with the lower port is the server. */
    bool src_is_client = syn_only || (!syn_ack && s->src.port > s->dst.port);
    f->syn_seen = f->roles_known = syn_only || syn_ack;
    f->ep[DIR_CLIENT] = src_is_client ? s->src : s->dst;
    f->ep[DIR_SERVER] = src_is_client ? s->dst : s->src;
    f->dir[DIR_CLIENT].await_syn = f->dir[DIR_SERVER].await_syn = true;
    *dir = src_is_client ? DIR_CLIENT : DIR_SERVER;
    struct flow **bucket = bucket_for(d, hash);
    f->hnext = *bucket;
    *bucket = f;
    lru_queue(d, f, LIST_NEW, clock_tick(d));
    d->nflows++;
    if (d->nflows > d->nbuckets && d->nbuckets < max_buckets(d))
        table_grow(d);
    d->stats.flows++;
    return f;
}

static void note_teardown(struct flow *f, const struct tcp_segment *s, int dir)
{
    if ((s->flags & TCP_FIN) && !f->fin_has_ack[dir]) {
        f->fin_has_ack[dir] = (s->flags & TCP_ACK) != 0;
        f->fin_ack[dir] = s->ack;
    }
    if (f->teardown != TERM_NONE)
        return;
    if (s->flags & TCP_RST)
        f->teardown = dir == DIR_CLIENT ? TERM_RST_CLIENT : TERM_RST_SERVER;
    else if (s->flags & TCP_FIN)
        f->teardown = dir == DIR_CLIENT ? TERM_FIN_CLIENT : TERM_FIN_SERVER;
}

/* RFC 9293 §3.10.7.4: a RST ends the connection, but on a tap the data a
 * side sent before it can still arrive after it. Such data is taken until
 * rst_linger has passed; nothing at or after the RST's sequence number is. */
static void note_reset(struct flow *f, const struct tcp_segment *s, int dir)
{
    f->reset = true;
    if (!f->rst_from[dir]) {
        f->rst_from[dir] = true;
        f->rst_seq[dir] = s->seq;
    }
}

static bool after_reset(const struct flow *f, const struct tcp_segment *s, int dir)
{
    return f->rst_from[dir] && (int32_t)(s->seq - f->rst_seq[dir]) >= 0 && s->payload_len > 0;
}

/* Bytes of a segment of a reset side that lie before its RST. */
static uint32_t before_reset(const struct flow *f, const struct tcp_segment *s, int dir, uint32_t len)
{
    if (!f->rst_from[dir])
        return len;
    uint32_t room = f->rst_seq[dir] - s->seq; /* after_reset() ruled out seq >= rst_seq */
    return len < room ? len : room;
}

static void feed_segment(struct dissector *d, struct flow *f, const struct tcp_segment *s, int dir)
{
    if (s->payload_len < s->payload_wire)
        f->truncated = true;
    struct sink_ctx x = {d, f, dir, s->ts};
    struct reasm_input in = {.seq = s->seq, .ack = s->ack, .tcp_flags = s->flags, .payload = s->payload,
                             .caplen = before_reset(f, s, dir, s->payload_len),
                             .wire_len = before_reset(f, s, dir, s->payload_wire)};
    reasm_segment(&d->reasm, &f->dir[dir], &in, stream_sink, &x);
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
static bool out_of_window(const struct flow *f, const struct tcp_segment *s, int dir)
{
    const struct reasm_dir *d = &f->dir[dir], *o = &f->dir[!dir];
    if (d->started && outside(s->seq + ((s->flags & TCP_SYN) ? 1u : 0u), d->next_seq))
        return true;
    return (s->flags & TCP_ACK) && o->started && outside(s->ack, o->next_seq);
}

#define STRAGGLER_WINDOW (1u << 16)

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
static bool from_previous(const struct flow *f, const struct tcp_segment *s, int dir)
{
    return f->has_prev && (s->flags & TCP_ACK) && !(s->flags & TCP_SYN) &&
           at_or_before(s->seq, f->prev_next[dir]) && at_or_before(s->ack, f->prev_next[!dir]);
}

/* Data after this side's FIN, or at or after its RST, was never part of
 * this connection (RFC 9293 §3.6). */
static bool past_the_end(const struct flow *f, const struct tcp_segment *s, int dir)
{
    const struct reasm_dir *d = &f->dir[dir];
    if (d->fin_seen && (int32_t)(s->seq - (d->fin_seq + 1)) >= 0)
        return true;
    return f->rst_from[dir] && (int32_t)(s->seq - f->rst_seq[dir]) >= 0;
}

/* A SYN or SYN-ACK on a finished (or closing) 4-tuple starts a new
 * connection (port reuse) unless it repeats that side's earlier SYN. On a
 * tap the new SYN-ACK can even arrive before the new SYN. */
static bool is_port_reuse(const struct flow *f, const struct tcp_segment *s, int dir)
{
    bool closing = f->state == FLOW_DONE || f->teardown != TERM_NONE;
    if (s->flags & TCP_SYN) {
        if (f->syn_from[dir] && f->syn_seq[dir] == s->seq)
            return false; /* a retransmission */
        if ((s->flags & TCP_ACK) && f->syn_from[!dir] && s->ack == f->syn_seq[!dir] + 1)
            return false; /* the answer to this flow's own SYN, late */
        /* on a live flow, only a SYN far outside its window: the old
         * connection ended without the capture seeing it */
        return closing || out_of_window(f, s, dir);
    }
    /* data of the new connection ahead of its SYNs */
    return closing && s->payload_len > 0 && (out_of_window(f, s, dir) || past_the_end(f, s, dir));
}

static void note_ack(struct flow *f, const struct tcp_segment *s, int dir)
{
    if (!(s->flags & TCP_ACK) || (s->flags & TCP_RST))
        return;
    if (!f->acked_by[dir] || (int32_t)(s->ack - f->max_ack[dir]) > 0) {
        f->acked_by[dir] = true;
        f->max_ack[dir] = s->ack;
    }
}

static void note_syn(struct flow *f, const struct tcp_segment *s, int dir)
{
    if ((s->flags & TCP_SYN) && !f->syn_from[dir]) {
        f->syn_from[dir] = true;
        f->syn_seq[dir] = s->seq;
    }
}

/* Where a replaced connection's streams ended, by endpoint. */
struct old_streams {
    struct endpoint client;
    uint32_t end[2]; /* by the old connection's roles */
};

/* Port reuse: writes the old connection out and frees it, keeping where its
 * streams ended so that its stragglers can be told apart. */
static void replace_flow(struct dissector *d, struct flow *f, struct old_streams *old)
{
    if (f->state != FLOW_DONE) /* replaced: "evicted" unless a FIN or RST was seen */
        flow_finish(d, f, TERM_EVICTED);
    old->client = f->ep[DIR_CLIENT];
    for (int i = 0; i < 2; i++)
        old->end[i] = f->dir[i].next_seq + (f->dir[i].fin_seen ? 1u : 0u);
    flow_remove(d, f);
    d->stats.port_reuse++;
}

static void inherit_old_streams(struct flow *f, const struct old_streams *old)
{
    bool same_roles = endpoint_eq(&f->ep[DIR_CLIENT], &old->client);
    f->has_prev = true;
    f->prev_next[DIR_CLIENT] = old->end[same_roles ? DIR_CLIENT : DIR_SERVER];
    f->prev_next[DIR_SERVER] = old->end[same_roles ? DIR_SERVER : DIR_CLIENT];
}

/* The flow a segment belongs to, made if it starts something; NULL if the
 * segment is a bare ACK/FIN/RST of a connection we never saw. */
static struct flow *flow_for_segment(struct dissector *d, const struct tcp_segment *s, const char *sensor, int *dir)
{
    uint32_t hash = flow_hash(&s->src, &s->dst, s->vlan);
    struct flow *f = flow_find(d, s, hash, dir);
    struct old_streams old;
    bool reused = f && is_port_reuse(f, s, *dir);
    if (reused)
        replace_flow(d, f, &old);
    else if (f)
        return f;
    if (!(s->flags & TCP_SYN) && s->payload_len == 0)
        return NULL;
    f = flow_create(d, s, hash, sensor, dir);
    if (f && reused)
        inherit_old_streams(f, &old);
    return f;
}

/* Whether a flow may be WebSocket, judged at its first bytes (for where nDPI
 * runs, classify.h): an HTTP request or response, or a connection that began
 * before the capture (its frames may be picked up). */
static bool may_be_websocket(const struct flow *f, const struct tcp_segment *s)
{
    return !f->syn_from[DIR_CLIENT] || wsconn_looks_like_request(s->payload, s->payload_len) ||
           wsconn_looks_like_response(s->payload, s->payload_len);
}

/* Hands a segment with payload to nDPI while it still wants the flow's
 * packets (no nDPI state for bare SYNs), charging what that holds. */
static void classify_segment(struct dissector *d, struct flow *f, const struct tcp_segment *s)
{
    if (f->cls.finish_sent)
        return; /* nDPI is through with the flow: nothing to ask, nothing to recharge */
    size_t before = classifier_flow_cost(&f->cls);
    if (classifier_wants(&f->cls)) {
        struct class_flow_info where = flow_info(f); /* roles known: TLS is reported with its server */
        bool first = !f->cls.cell; /* where nDPI runs is settled by the first packet */
        struct class_packet p = {s->l3, s->l3_len, s->payload, s->payload_len, s->ts};
        classifier_packet(d->classifier, &f->cls, &p, &where, first && may_be_websocket(f, s));
    }
    recharge(d, before, classifier_flow_cost(&f->cls));
}

/* State grown in place (a handshake head, strings, nDPI's state) may have
 * taken the total over the memcap: flows go, in eviction order, until it
 * fits. Runs when a segment is done with, so the flow it touched is never
 * freed under the code handling it. */
static void enforce_memcap(struct dissector *d)
{
    while (over_memcap(d) && evict_one(d))
        d->stats.memcap_evictions++;
}

/* Counts packets while a direction may still be waiting for its SYN; the
 * wait ends after PICKUP_PACKETS, or once both sides have sent a FIN. */
static void advance_pickup_wait(struct dissector *d, struct flow *f, const struct tcp_segment *s, int dir)
{
    if (f->packets >= PICKUP_PACKETS)
        return;
    bool both_done = (s->flags & TCP_FIN) && f->dir[!dir].fin_seen;
    f->packets = both_done ? PICKUP_PACKETS : f->packets + 1;
    if (f->packets == PICKUP_PACKETS)
        end_pickup_wait(d, f, s->ts);
}

static void handle_segment(struct dissector *d, const struct tcp_segment *s, const char *sensor)
{
    int dir = DIR_CLIENT;
    struct flow *f = flow_for_segment(d, s, sensor, &dir);
    if (!f)
        return;
    f->last_ts = s->ts > f->last_ts ? s->ts : f->last_ts;
    if (s->payload_len > 0)
        f->packets_with_data = true;
    if (f->state == FLOW_DONE) { /* a straggler: absorbed */
        lru_touch(d, f);
        return;
    }
    dir = infer_roles(f, s, dir);
    if (d->classifier && s->payload_len > 0)
        classify_segment(d, f, s);
    if (out_of_window(f, s, dir) || from_previous(f, s, dir)) {
        d->stats.out_of_window++;
        lru_touch(d, f);
        return;
    }
    note_syn(f, s, dir);
    note_ack(f, s, dir);
    note_teardown(f, s, dir);
    advance_pickup_wait(d, f, s, dir);
    if (f->state == FLOW_IGNORED) {
        /* no reassembly: a FIN counts as soon as it is seen */
        if (s->flags & TCP_FIN)
            f->dir[dir].complete = true;
    } else if (s->flags & TCP_RST) {
        note_reset(f, s, dir);
    } else if (!after_reset(f, s, dir)) {
        feed_segment(d, f, s, dir);
        give_up_acked_holes(d, f, s->ts);
    }
    if ((f->state == FLOW_IGNORED && (s->flags & TCP_RST)) || (f->dir[0].complete && f->dir[1].complete))
        flow_finish(d, f, TERM_NONE); /* moves it to LIST_DONE */
    else
        lru_touch(d, f); /* most recent first, on the list its state belongs on */
}

void dissect_segment(struct dissector *d, const struct tcp_segment *s, const char *sensor)
{
    d->stats.segments++;
    if (s->ts > d->now)
        d->now = s->ts;
    if (d->now >= d->next_sweep)
        dissect_expire(d, d->now);
    handle_segment(d, s, sensor);
    enforce_memcap(d);
}

static ts_us_t list_timeout(const struct dissector *d, enum flow_list l)
{
    switch (l) {
    case LIST_DONE: return d->cfg.closed_linger;
    case LIST_NEW: return d->cfg.new_timeout;
    case LIST_RESET: return d->cfg.rst_linger;
    default: return d->cfg.idle_timeout;
    }
}

void dissect_expire(struct dissector *d, ts_us_t now)
{
    d->next_sweep = now + SWEEP_INTERVAL_US;
    if (d->classifier)
        classifier_flush(d->classifier); /* what waits for nDPI is handled at least this often */
    for (int l = 0; l < LIST_COUNT; l++) {
        ts_us_t timeout = list_timeout(d, (enum flow_list)l);
        struct flow *f;
        while ((f = lru_oldest(d, l)) && f->last_ts + timeout <= now) {
            if (l == LIST_RESET) { /* its linger is over: written as reset */
                flow_finish(d, f, TERM_NONE);
                continue;
            }
            if (l != LIST_DONE) {
                flow_finish(d, f, TERM_IDLE_TIMEOUT);
                d->stats.idle_expired++;
            }
            flow_remove(d, f);
        }
    }
}

void dissect_finish(struct dissector *d)
{
    struct flow *f;
    for (int l = LIST_NEW; l < LIST_COUNT; l++)
        while ((f = lru_oldest(d, l)))
            flow_finish(d, f, TERM_CAPTURE_END);
    if (d->classifier)
        classifier_sync(d->classifier); /* every TLS report made */
}

int dissector_init(struct dissector *d, const struct dissect_config *cfg, struct classifier *cl,
                   record_fn emit, void *emit_arg)
{
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
    if (d->cfg.max_flows == 0)
        d->cfg.max_flows = 1;
    d->classifier = cl;
    d->emit = emit;
    d->emit_arg = emit_arg;
    reasm_init(&d->reasm, cfg->memcap, cfg->dir_cap);
    update_reasm_budget(d);
    uint32_t n = max_buckets(d);
    if (n > TABLE_MIN_BUCKETS)
        n = TABLE_MIN_BUCKETS;
    d->buckets = calloc(n, sizeof *d->buckets);
    if (!d->buckets)
        return -1;
    d->nbuckets = n;
    d->next_sweep = INT64_MIN;
    return 0;
}

void dissector_on_tls(struct dissector *d, tls_fn fn, void *arg)
{
    d->tls_emit = fn;
    d->tls_arg = arg;
    if (d->classifier)
        classifier_on_tls(d->classifier, fn ? report_tls : NULL, d);
}

void dissector_free(struct dissector *d)
{
    for (int l = 0; l < LIST_COUNT; l++)
        while (d->lru_head[l])
            flow_remove(d, d->lru_head[l]);
    if (d->classifier) { /* the thread is through with this dissector's flows */
        classifier_sync(d->classifier);
        classifier_on_tls(d->classifier, NULL, NULL);
    }
    free(d->buckets);
    d->buckets = NULL;
}
