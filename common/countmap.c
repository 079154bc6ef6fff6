/*
 * common/countmap.c — the counting hash map (countmap.h).
 *
 * Keys live in one block (`keys`), each at an offset aligned for any
 * type, so a key of a struct can be read back in place; when the block
 * grows, the entries' key pointers are moved with it. The hash is 64-bit
 * FNV-1a over the key's bytes (folded to lower case when the map folds
 * case), with the null key given a hash of its own.
 */
#include "countmap.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_SLOTS 64
#define KEY_ALIGN alignof(max_align_t)
#define NULL_KEY_HASH 0x5bd1e9955bd1e995ull

static size_t slots_for(size_t entries)
{
    size_t n = FIRST_SLOTS;
    while (n < 2 * entries)
        n *= 2;
    return n;
}

static size_t aligned(size_t n)
{
    return (n + KEY_ALIGN - 1) & ~(KEY_ALIGN - 1);
}

int countmap_init(struct countmap *m, const struct countmap_options *o)
{
    memset(m, 0, sizeof *m);
    if (o)
        m->opt = *o;
    m->cap = m->opt.max_entries ? m->opt.max_entries : FIRST_SLOTS / 2;
    m->nslots = slots_for(m->cap);
    m->keys_cap = m->opt.reserve_key_bytes ? aligned(m->opt.reserve_key_bytes) : 4096;
    m->e = malloc(m->cap * sizeof *m->e);
    m->slots = calloc(m->nslots, sizeof *m->slots);
    m->keys = malloc(m->keys_cap);
    if (!m->e || !m->slots || !m->keys) {
        countmap_free(m);
        return -1;
    }
    return 0;
}

void countmap_free(struct countmap *m)
{
    free(m->e);
    free(m->slots);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

static unsigned char fold(unsigned char c, bool fold_case)
{
    return fold_case && c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static uint64_t hash_of(const struct countmap *m, const void *key, size_t len)
{
    if (!key)
        return NULL_KEY_HASH;
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = key, *end = p + len; p < end; p++)
        h = (h ^ fold(*p, m->opt.fold_case)) * 1099511628211ull;
    return h ^ h >> 31;
}

static bool same_bytes(const struct countmap *m, const void *a, const void *b, size_t len)
{
    if (!m->opt.fold_case)
        return memcmp(a, b, len) == 0;
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < len; i++)
        if (fold(x[i], true) != fold(y[i], true))
            return false;
    return true;
}

static bool entry_is(const struct countmap *m, const struct countmap_entry *e, uint64_t h, const void *key,
                     size_t len)
{
    if (e->hash != h || !e->key != !key)
        return false;
    return !key || (e->len == len && same_bytes(m, e->key, key, len));
}

/* The slot that holds the key's entry, or the free slot where it would go. */
static uint32_t *slot_of(const struct countmap *m, uint64_t h, const void *key, size_t len)
{
    size_t mask = m->nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint32_t *s = &m->slots[i];
        if (!*s || entry_is(m, &m->e[*s - 1], h, key, len))
            return s;
    }
}

static int grow_entries(struct countmap *m)
{
    if (m->opt.max_entries)
        return -1;
    size_t cap = m->cap * 2, nslots = slots_for(cap);
    uint32_t *slots = calloc(nslots, sizeof *slots);
    struct countmap_entry *e = slots ? realloc(m->e, cap * sizeof *e) : NULL;
    if (!e) {
        free(slots);
        return -1;
    }
    free(m->slots);
    m->e = e;
    m->cap = cap;
    m->slots = slots;
    m->nslots = nslots;
    for (size_t i = 0; i < m->n; i++)
        *slot_of(m, m->e[i].hash, m->e[i].key, m->e[i].len) = (uint32_t)(i + 1);
    return 0;
}

/* Room for len more key bytes; the entries' keys follow the block. */
static int reserve_keys(struct countmap *m, size_t len)
{
    if (m->keys_used + len <= m->keys_cap)
        return 0;
    size_t cap = m->keys_cap;
    while (cap < m->keys_used + len)
        cap *= 2;
    unsigned char *keys = realloc(m->keys, cap);
    if (!keys)
        return -1;
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].key)
            m->e[i].key = keys + ((const unsigned char *)m->e[i].key - m->keys);
    m->keys = keys;
    m->keys_cap = cap;
    return 0;
}

static long new_entry(struct countmap *m, uint64_t h, const void *key, size_t len)
{
    if (m->n == m->cap && grow_entries(m) < 0)
        return -1;
    size_t room = aligned(len + 1); /* a NUL after it: a string key is a C string */
    if (key && reserve_keys(m, room) < 0)
        return -1;
    struct countmap_entry *e = &m->e[m->n];
    *e = (struct countmap_entry){.len = key ? len : 0, .hash = h};
    if (key) {
        memcpy(m->keys + m->keys_used, key, len);
        m->keys[m->keys_used + len] = '\0';
        e->key = m->keys + m->keys_used;
        m->keys_used += room;
    }
    *slot_of(m, h, key, len) = (uint32_t)(m->n + 1);
    return (long)m->n++;
}

long countmap_add(struct countmap *m, const void *key, size_t len, long long n)
{
    if (m->sorted)
        return -1;
    uint64_t h = hash_of(m, key, len);
    uint32_t *s = slot_of(m, h, key, len);
    long i = *s ? (long)*s - 1 : new_entry(m, h, key, len);
    if (i >= 0)
        m->e[i].n += n;
    return i;
}

long countmap_add_str(struct countmap *m, const char *s, long long n)
{
    return countmap_add(m, s, s ? strlen(s) : 0, n);
}

long countmap_find(const struct countmap *m, const void *key, size_t len)
{
    if (m->sorted)
        return -1;
    uint32_t *s = slot_of(m, hash_of(m, key, len), key, len);
    return *s ? (long)*s - 1 : -1;
}

bool countmap_is(const struct countmap *m, long i, const void *key, size_t len)
{
    const struct countmap_entry *e = &m->e[i];
    if (!e->key || !key)
        return !e->key && !key;
    return e->len == len && same_bytes(m, e->key, key, len);
}

void countmap_clear(struct countmap *m)
{
    if (m->n)
        memset(m->slots, 0, m->nslots * sizeof *m->slots);
    m->n = 0;
    m->keys_used = 0;
    m->sorted = false;
}

void countmap_sort(struct countmap *m, int (*cmp)(const void *, const void *))
{
    m->sorted = true;
    if (m->n > 1)
        qsort(m->e, m->n, sizeof *m->e, cmp);
}
