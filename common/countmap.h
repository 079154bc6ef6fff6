/*
 * common/countmap.h — the one counting hash map: a key of bytes (or the
 * null key) to a count and a pointer of the caller's.
 *
 * Every tally in the project is one of these: the store's TLS flows per
 * (hour, sensor, server, name) between two commits, and the read side's
 * connections per (bucket, code), per group and per value of a column.
 * Keys are copied into the map; entries sit in a dense array in order of
 * first appearance, indexed by open addressing (linear probing, the table
 * at most half full), so that counting is a hash, nearly always one key
 * comparison, and an increment.
 *
 * A map made with a bound (max_entries > 0) allocates everything at
 * countmap_init() and refuses a new key once it holds that many; one
 * without grows as it needs, and refuses a key only when out of memory.
 */
#ifndef WSSTATS_COUNTMAP_H
#define WSSTATS_COUNTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct countmap_entry {
    const void *key; /* the map's copy, followed by a NUL byte; NULL for the null key */
    size_t len;      /* of key, in bytes */
    long long n;     /* the count */
    void *data;      /* the caller's (NULL at first); never freed by the map */
    uint64_t hash;
};

struct countmap_options {
    size_t max_entries;       /* 0: no bound */
    size_t reserve_key_bytes; /* key storage made at init (with a bound: all there will be) */
    bool fold_case;           /* keys compare and hash without regard to ASCII case */
};

struct countmap {
    struct countmap_entry *e; /* n of them, in order of first appearance */
    size_t n, cap;
    uint32_t *slots; /* entry index + 1; 0: free */
    size_t nslots;   /* a power of two, at least twice n */
    unsigned char *keys;
    size_t keys_used, keys_cap;
    struct countmap_options opt;
    bool sorted; /* countmap_sort() ran: the slots no longer index e */
};

/* Returns 0, or -1 when the memory could not be had (m is then empty and
 * countmap_free() may still be called). o may be NULL: no bound. */
int countmap_init(struct countmap *m, const struct countmap_options *o);
void countmap_free(struct countmap *m);

/* Adds n to the key's count, making its entry (count 0, data NULL) first
 * when new. key NULL is the null key, distinct from every key of bytes
 * ("" included). Returns the entry's index, or -1 if the key is new and the
 * map is full or out of memory (nothing counted). An index stays valid
 * until countmap_clear() or countmap_sort(); an entry pointer only until
 * the next add. */
long countmap_add(struct countmap *m, const void *key, size_t len, long long n);

/* The index of the key's entry, or -1 if it has none. */
long countmap_find(const struct countmap *m, const void *key, size_t len);

/* countmap_add() for a NUL-terminated string (NULL: the null key). */
long countmap_add_str(struct countmap *m, const char *s, long long n);

static inline struct countmap_entry *countmap_at(struct countmap *m, long i)
{
    return &m->e[i];
}

/* Whether the key is the one of entry i (the last hit of a caller that
 * sees rows of one key together, to skip the hash). */
bool countmap_is(const struct countmap *m, long i, const void *key, size_t len);

/* Forgets every entry (their data is the caller's to free first); the
 * memory is kept. */
void countmap_clear(struct countmap *m);

/* Sorts the entries with cmp (as qsort's, on struct countmap_entry). The
 * map is only read from then on: adds are refused until countmap_clear(). */
void countmap_sort(struct countmap *m, int (*cmp)(const void *, const void *));

#endif
