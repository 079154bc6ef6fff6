/*
 * common/ring.c — the SPSC byte ring (see ring.h).
 *
 * Each record is an 8-byte length followed by its bytes, padded to 8. A
 * record never wraps: when it does not fit before the end of the buffer,
 * a pad record (length PAD) fills the rest and the record starts at 0.
 * head and tail only grow; their difference is what is in use.
 *
 * Sleeping: a side sets its `asleep` flag under the lock and re-checks
 * before it waits; the other side publishes its progress, then reads the
 * flag (both sequentially consistent), so one of the two always sees the
 * other and no wake-up is lost.
 */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 8
#define PREFIX 8 /* the record's length */
#define PAD UINT64_MAX

static size_t round_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

int ring_init(struct ring *r, size_t size)
{
    memset(r, 0, sizeof *r);
    size_t n = 4096;
    while (n < size)
        n <<= 1;
    r->buf = malloc(n);
    if (!r->buf)
        return -1;
    r->size = n;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->consumer_asleep, 0);
    atomic_init(&r->producer_asleep, 0);
    atomic_init(&r->producer_needs, 0);
    atomic_init(&r->flushed, 0);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    return 0;
}

void ring_free(struct ring *r)
{
    if (!r->buf)
        return;
    free(r->buf);
    r->buf = NULL;
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
}

size_t ring_max_record(const struct ring *r)
{
    return r->size / 4 - PREFIX;
}

static void wake_if_asleep(struct ring *r, _Atomic int *asleep)
{
    if (atomic_load(asleep)) {
        pthread_mutex_lock(&r->lock);
        pthread_cond_broadcast(&r->wake);
        pthread_mutex_unlock(&r->lock);
    }
}

/* Waits until ready(r) holds; *asleep is this side's flag. */
static void wait_until(struct ring *r, _Atomic int *asleep, int (*ready)(struct ring *, size_t), size_t arg)
{
    pthread_mutex_lock(&r->lock);
    atomic_store(asleep, 1);
    while (!ready(r, arg))
        pthread_cond_wait(&r->wake, &r->lock);
    atomic_store(asleep, 0);
    pthread_mutex_unlock(&r->lock);
}

static size_t room(struct ring *r)
{
    return r->size - (atomic_load(&r->head) - atomic_load(&r->tail));
}

static int has_room(struct ring *r, size_t need)
{
    return room(r) >= need;
}

/* A producer that found the ring full sleeps until a quarter of it is free
 * (or what its record needs, if more), and is woken only then: not a
 * wake-up per record released. */
static size_t wanted_room(const struct ring *r, size_t need)
{
    return need > r->size / 4 ? need : r->size / 4;
}

static int has_much_room(struct ring *r, size_t need)
{
    return room(r) >= wanted_room(r, need);
}

static int has_data(struct ring *r, size_t unused)
{
    (void)unused;
    return atomic_load(&r->head) != atomic_load(&r->tail);
}

static size_t used(struct ring *r)
{
    return atomic_load(&r->head) - atomic_load(&r->tail);
}

/* A sleeping consumer is woken once this much waits: enough for a burst,
 * little enough that its answers are not long behind the producer. */
static size_t wake_at(const struct ring *r)
{
    return r->size / 8;
}

/* A consumer that found the ring empty sleeps until wake_at() bytes have
 * filled, or the producer flushed. */
static int worth_waking(struct ring *r, size_t unused)
{
    (void)unused;
    return used(r) >= wake_at(r) || (atomic_load(&r->flushed) && has_data(r, 0));
}

static void put_len(struct ring *r, size_t at, uint64_t len)
{
    memcpy(r->buf + (at & (r->size - 1)), &len, sizeof len);
}

void ring_push(struct ring *r, const void *hdr, size_t hlen, const void *body, size_t blen)
{
    size_t rec = round_up(PREFIX + hlen + blen);
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t to_end = r->size - (head & (r->size - 1));
    size_t pad = rec > to_end ? to_end : 0;
    if (!has_room(r, pad + rec)) {
        atomic_store(&r->producer_needs, wanted_room(r, pad + rec));
        wait_until(r, &r->producer_asleep, has_much_room, pad + rec);
    }
    if (pad) {
        put_len(r, head, PAD);
        head += pad;
    }
    put_len(r, head, hlen + blen);
    uint8_t *at = r->buf + ((head + PREFIX) & (r->size - 1));
    if (hlen)
        memcpy(at, hdr, hlen);
    if (blen)
        memcpy(at + hlen, body, blen);
    atomic_store(&r->head, head + rec);
    if (used(r) >= wake_at(r))
        wake_if_asleep(r, &r->consumer_asleep);
}

void ring_flush(struct ring *r)
{
    atomic_store(&r->flushed, 1);
    wake_if_asleep(r, &r->consumer_asleep);
}

const uint8_t *ring_pop(struct ring *r, size_t *len)
{
    for (;;) {
        if (!has_data(r, 0)) {
            /* Empty: every flush so far is served. Data pushed after the
             * second look comes with its own flush or fills the ring. */
            atomic_store(&r->flushed, 0);
            if (!has_data(r, 0))
                wait_until(r, &r->consumer_asleep, worth_waking, 0);
        }
        size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t n;
        memcpy(&n, r->buf + (tail & (r->size - 1)), sizeof n);
        if (n == PAD) { /* the rest of the buffer: skip to its start */
            atomic_store(&r->tail, tail + (r->size - (tail & (r->size - 1))));
            continue;
        }
        *len = (size_t)n;
        r->read_at = tail + round_up(PREFIX + (size_t)n);
        return r->buf + ((tail + PREFIX) & (r->size - 1));
    }
}

void ring_release(struct ring *r)
{
    atomic_store(&r->tail, r->read_at);
    if (atomic_load(&r->producer_asleep) && room(r) >= atomic_load(&r->producer_needs))
        wake_if_asleep(r, &r->producer_asleep);
}
