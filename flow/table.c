/*
 * flow/table.c — the flow table: a hash table of flows, their LRU lists,
 * and the memory they are charged to the memcap (see flow_internal.h).
 *
 * Flows are found by a symmetric hash of both endpoints and the VLAN id
 * (either direction of a connection finds the same flow) in a bucket array
 * that grows with the table. Each flow is on one of five LRU lists, by its
 * state; expiry walks each list from its least recently used end, and
 * eviction takes the first flow of the first non-empty list.
 *
 * Memory: flows, the owner's state (its recharges) and the bytes
 * reassembly holds count against one memcap together: what flows and state
 * leave is reassembly's to use. Each block is charged with malloc's own
 * header (common/mem.h).
 */
#include "flow_internal.h"

#include <stdlib.h>
#include <string.h>

#include "../common/mem.h"

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

void flow_config_defaults(struct flow_config *cfg)
{
    cfg->idle_timeout = 15 * 60 * 1000000LL;
    cfg->closed_linger = 30 * 1000000LL;
    cfg->linger_max = 8192;
    cfg->new_timeout = 60 * 1000000LL;
    cfg->rst_linger = 1000000LL;
    cfg->max_flows = 1u << 20;
    cfg->memcap = 256u << 20;
    cfg->dir_cap = 1u << 20;
}

/* ---- hashing and buckets ------------------------------------------------- */

static uint32_t max_buckets(const struct flow_table *t)
{
    uint32_t n = 1024;
    while (n < t->cfg.max_flows && n < TABLE_MAX_BUCKETS)
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
uint32_t flow_hash(const struct endpoint *a, const struct endpoint *b, uint16_t vlan)
{
    uint64_t h = endpoint_mix(a) + endpoint_mix(b) + (uint64_t)vlan * 0xff51afd7ed558ccdu;
    return (uint32_t)(h ^ (h >> 32));
}

bool endpoint_eq(const struct endpoint *a, const struct endpoint *b)
{
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a->addr, 8);
    memcpy(&a1, a->addr + 8, 8);
    memcpy(&b0, b->addr, 8);
    memcpy(&b1, b->addr + 8, 8);
    return a->port == b->port && a0 == b0 && a1 == b1;
}

static struct flow **bucket_for(struct flow_table *t, uint32_t hash)
{
    return &t->buckets[hash & (t->nbuckets - 1)];
}

/* A new bucket array of twice the size, every flow relinked into it. If the
 * memory cannot be had the table keeps its array (chains just get longer). */
static void table_grow(struct flow_table *t)
{
    uint32_t n = t->nbuckets * 2;
    struct flow **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (uint32_t i = 0; i < t->nbuckets; i++) {
        struct flow *f = t->buckets[i], *nx;
        for (; f; f = nx) {
            nx = f->hnext;
            f->hnext = b[f->hash & (n - 1)];
            b[f->hash & (n - 1)] = f;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* ---- LRU lists ------------------------------------------------------------ */

/* The LRU clock ticks once at every touch and every move between lists, so
 * it orders them all. */
static uint64_t clock_tick(struct flow_table *t)
{
    return ++t->lru_clock;
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
static void lru_unlink(struct flow_table *t, struct flow *f)
{
    int l = f->on_list;
    t->listed[l]--;
    if (f->prev)
        f->prev->next = f->next;
    else
        t->lru_head[l] = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        t->lru_tail[l] = f->prev;
    f->prev = f->next = NULL;
}

/* Links f into list `list` behind `before` (NULL: at the head). */
static void lru_link_after(struct flow_table *t, struct flow *f, int list, struct flow *before)
{
    f->on_list = (uint8_t)list;
    t->listed[list]++;
    f->prev = before;
    f->next = before ? before->next : t->lru_head[list];
    if (f->next)
        f->next->prev = f;
    else
        t->lru_tail[list] = f;
    if (before)
        before->next = f;
    else
        t->lru_head[list] = f;
}

/* Puts f at the head of `list`, queued at tick `now`. */
static void lru_queue(struct flow_table *t, struct flow *f, int list, uint64_t now)
{
    f->lru_key = now;
    f->lru_lag = 0;
    lru_link_after(t, f, list, NULL);
}

static enum flow_list list_for(const struct flow *f)
{
    switch (f->state) {
    case FLOW_DONE: return LIST_DONE;
    case FLOW_IGNORED: return LIST_OTHER;
    default:
        if (f->tcp.reset)
            return LIST_RESET;
        return f->state == FLOW_FOLLOWED ? LIST_FOLLOWED : f->tcp.packets_with_data ? LIST_OTHER : LIST_NEW;
    }
}

/* Makes f the most recent flow of the list its state belongs on. */
void lru_touch(struct flow_table *t, struct flow *f)
{
    enum flow_list l = list_for(f);
    uint64_t now = clock_tick(t);
    if (l == f->on_list) {
        if (t->lru_head[l] == f) { /* in front already: no neighbour to write */
            f->lru_key = now;
            f->lru_lag = 0;
            return;
        }
        if (now - f->lru_key <= LRU_LAG_MAX) { /* noted; lru_settle() moves it if need be */
            f->lru_lag = (uint16_t)(now - f->lru_key);
            return;
        }
    }
    lru_unlink(t, f);
    lru_queue(t, f, l, now);
}

/* Moves f forward to where its last touch puts it (past the flows queued
 * before that touch, all within its lag); it has no lag after. */
static void lru_settle(struct flow_table *t, struct flow *f)
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
    lru_unlink(t, f);
    lru_link_after(t, f, l, before);
}

/* The least recently touched flow of list l, or NULL. */
struct flow *lru_oldest(struct flow_table *t, int l)
{
    struct flow *f;
    while ((f = t->lru_tail[l]) && f->lru_lag)
        lru_settle(t, f);
    return f;
}

/* ---- memory ----------------------------------------------------------------- */

static void update_reasm_budget(struct flow_table *t)
{
    t->reasm.memcap = t->cfg.memcap > t->state_mem ? t->cfg.memcap - t->state_mem : 0;
}

void charge(struct flow_table *t, size_t bytes, bool add)
{
    t->state_mem = add ? t->state_mem + bytes : t->state_mem - bytes;
    update_reasm_budget(t);
}

void flow_table_recharge(struct flow_table *t, size_t before, size_t now)
{
    if (now != before)
        charge(t, now > before ? now - before : before - now, now > before);
}

/* The memcap is exceeded (state grown in place: a head, a string, nDPI). */
bool over_memcap(const struct flow_table *t)
{
    return t->state_mem + t->reasm.mem_used > t->cfg.memcap;
}

/* ---- flows in and out ---------------------------------------------------- */

struct flow *table_find(struct flow_table *t, const struct tcp_segment *s, uint32_t hash, int *dir)
{
    for (struct flow *f = *bucket_for(t, hash); f; f = f->hnext) {
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

void table_insert(struct flow_table *t, struct flow *f)
{
    struct flow **bucket = bucket_for(t, f->hash);
    f->hnext = *bucket;
    *bucket = f;
    lru_queue(t, f, LIST_NEW, clock_tick(t));
    t->nflows++;
    if (t->nflows > t->nbuckets && t->nbuckets < max_buckets(t))
        table_grow(t);
}

void table_remove(struct flow_table *t, struct flow *f)
{
    struct flow **pp = bucket_for(t, f->hash);
    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    lru_unlink(t, f);
    for (int i = 0; i < 2; i++)
        reasm_release(&t->reasm, &f->tcp.dir[i]);
    t->hooks.release(t->owner, f);
    t->nflows--;
    charge(t, mem_block(t->flow_size), false);
    free(f);
}

bool room_for_flow(const struct flow_table *t)
{
    return t->state_mem + mem_block(t->flow_size) + t->reasm.mem_used <= t->cfg.memcap;
}

/* ---- the table's life and figures ------------------------------------------- */

struct flow_table *flow_table_new(const struct flow_config *cfg, size_t flow_size, const struct flow_hooks *hooks,
                                  void *owner)
{
    struct flow_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cfg = *cfg;
    if (t->cfg.max_flows == 0)
        t->cfg.max_flows = 1;
    t->hooks = *hooks;
    t->owner = owner;
    t->flow_size = flow_size;
    reasm_init(&t->reasm, cfg->memcap, cfg->dir_cap);
    update_reasm_budget(t);
    uint32_t n = max_buckets(t);
    if (n > TABLE_MIN_BUCKETS)
        n = TABLE_MIN_BUCKETS;
    t->buckets = calloc(n, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->nbuckets = n;
    t->next_sweep = INT64_MIN;
    return t;
}

void flow_table_release_all(struct flow_table *t)
{
    for (int l = 0; l < LIST_COUNT; l++)
        while (t->lru_head[l])
            table_remove(t, t->lru_head[l]);
}

void flow_table_free(struct flow_table *t)
{
    if (!t)
        return;
    flow_table_release_all(t);
    free(t->buckets);
    free(t);
}

bool flow_table_tick(struct flow_table *t, ts_us_t ts)
{
    t->stats.segments++;
    if (ts > t->now)
        t->now = ts;
    return t->now >= t->next_sweep;
}

ts_us_t flow_table_now(const struct flow_table *t)
{
    return t->now;
}

void flow_table_set_now(struct flow_table *t, ts_us_t now)
{
    t->now = now;
}

const struct flow_config *flow_table_config(const struct flow_table *t)
{
    return &t->cfg;
}

uint32_t flow_table_count(const struct flow_table *t)
{
    return t->nflows;
}

const struct flow_stats *flow_table_stats(const struct flow_table *t)
{
    return &t->stats;
}

const struct reasm_stats *flow_table_reasm_stats(const struct flow_table *t)
{
    return &t->reasm.stats;
}

size_t flow_table_state_bytes(const struct flow_table *t)
{
    return t->state_mem;
}

size_t flow_table_held_bytes(const struct flow_table *t)
{
    return t->reasm.mem_used;
}

bool flow_table_any_followed(const struct flow_table *t)
{
    return t->lru_head[LIST_FOLLOWED] != NULL;
}
