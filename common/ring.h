/*
 * common/ring.h — a single-producer, single-consumer byte ring between two
 * threads, with blocking on both ends.
 *
 * The producer pushes records (a header and a body, copied in as one
 * contiguous record); the consumer pops them in order, reads them in place
 * and releases each. A full ring makes the producer wait, an empty one the
 * consumer; a waiting side sleeps on a condition variable. A sleeping
 * consumer is woken only once an eighth of the ring has filled up, or when
 * the producer calls ring_flush(): records are handled in bursts, not with
 * a wake-up (a system call) each. The common case is two atomic stores and
 * loads per record, no lock. Knows nothing of what it carries.
 */
#ifndef WSSTATS_RING_H
#define WSSTATS_RING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct ring {
    uint8_t *buf;
    size_t size;              /* a power of two */
    _Atomic size_t head;      /* bytes ever written (the producer's) */
    _Atomic size_t tail;      /* bytes ever released (the consumer's) */
    size_t read_at;           /* the consumer's: where the record it holds ends */
    _Atomic int consumer_asleep, producer_asleep;
    _Atomic size_t producer_needs; /* room a sleeping producer waits for */
    _Atomic int flushed;           /* the producer asked for what waits to be handled */
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

/* size: bytes, rounded up to a power of two. Returns 0, or -1 (no memory). */
int ring_init(struct ring *r, size_t size);
void ring_free(struct ring *r);

/* The largest hlen + blen a record may have. */
size_t ring_max_record(const struct ring *r);

/* Producer: copies header and body in as one record; waits for room. */
void ring_push(struct ring *r, const void *hdr, size_t hlen, const void *body, size_t blen);

/* Producer: wakes the consumer if records wait for it. */
void ring_flush(struct ring *r);

/* Consumer: the next record (waits for one); *len is hlen + blen. It stays
 * valid until ring_release(). */
const uint8_t *ring_pop(struct ring *r, size_t *len);
void ring_release(struct ring *r);

#endif
