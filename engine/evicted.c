/*
 * engine/evicted.c — connections recently evicted for room, remembered so
 * that their later packets are not picked up again mid-stream as a second
 * record (one connection, one record).
 *
 * A followed flow evicted for room (--memcap, --max-flows) has its record
 * written (termination evicted); its next packets make a flow without a
 * SYN, which the detection policy would pick up mid-stream. The 4-tuples
 * (and VLAN) of the last EVICTED_MEMORY to 2 x EVICTED_MEMORY evictions are
 * kept in two generations of a bounded countmap: when the newer is full,
 * the older is forgotten and the two change places. Memory is fixed (about
 * 0.8 MiB, made at the first eviction), never grows.
 */
#include "engine_internal.h"

#include <string.h>

/* The key: both endpoints in a fixed order, so that roles learnt either
 * way name the same connection. */
struct evicted_key {
    struct endpoint a, b;
    uint16_t vlan;
};

static struct evicted_key key_of(const struct flow *f)
{
    struct evicted_key k;
    memset(&k, 0, sizeof k); /* keys compare as bytes, padding included */
    const struct endpoint *x = &f->ep[0], *y = &f->ep[1];
    int order = memcmp(x->addr, y->addr, sizeof x->addr);
    if (order > 0 || (order == 0 && x->port > y->port)) {
        const struct endpoint *t = x;
        x = y;
        y = t;
    }
    k.a = *x;
    k.b = *y;
    k.vlan = f->vlan;
    return k;
}

static int make_generations(struct evicted_memory *m)
{
    struct countmap_options o = {.max_entries = EVICTED_MEMORY,
                                 .reserve_key_bytes = EVICTED_MEMORY * (sizeof(struct evicted_key) + 16)};
    for (int g = 0; g < 2; g++)
        if (countmap_init(&m->gen[g], &o) < 0)
            return -1;
    m->made = true;
    return 0;
}

void evicted_remember(struct evicted_memory *m, const struct flow *f)
{
    if (!m->made && make_generations(m) < 0)
        return; /* out of memory: a second record is the lesser harm */
    struct evicted_key k = key_of(f);
    struct countmap *now = &m->gen[m->current];
    if (countmap_add(now, &k, sizeof k, 1) >= 0)
        return;
    m->current ^= 1; /* full: the older generation goes */
    countmap_clear(&m->gen[m->current]);
    countmap_add(&m->gen[m->current], &k, sizeof k, 1);
}

bool evicted_recently(const struct evicted_memory *m, const struct flow *f)
{
    if (!m->made)
        return false;
    struct evicted_key k = key_of(f);
    return countmap_find(&m->gen[0], &k, sizeof k) >= 0 || countmap_find(&m->gen[1], &k, sizeof k) >= 0;
}

void evicted_free(struct evicted_memory *m)
{
    if (m->made)
        for (int g = 0; g < 2; g++)
            countmap_free(&m->gen[g]);
    memset(m, 0, sizeof *m);
}
