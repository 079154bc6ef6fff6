/*
 * tests/unit/test_ring.c — common/ring.c, the SPSC ring between the packet
 * loop and the classifier thread.
 *
 * Proves: records come out whole and in order, header and body joined,
 * across many wraps of a small ring, with sizes from empty to the largest
 * allowed, while producer and consumer run on two threads (so the full
 * ring makes the producer wait and the empty one the consumer); a record
 * smaller than the wake-up threshold reaches a sleeping consumer once the
 * producer flushes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "unit.h"

#include "../../common/ring.h"

enum { RECORDS = 200000 };

struct hdr {
    uint32_t seq, blen;
};

/* The body of record `seq`: its length and bytes follow from seq alone. */
static uint32_t body_len(const struct ring *r, uint32_t seq)
{
    size_t max = ring_max_record(r) - sizeof(struct hdr);
    uint32_t x = seq * 2654435761u;
    return seq % 97 == 0 ? (uint32_t)max : (x >> 8) % 700; /* now and then the largest */
}

static uint8_t body_byte(uint32_t seq, size_t i)
{
    return (uint8_t)(seq * 31u + i * 7u);
}

static void *produce(void *arg)
{
    struct ring *r = arg;
    static uint8_t body[1 << 20];
    for (uint32_t seq = 0; seq < RECORDS; seq++) {
        struct hdr h = {seq, body_len(r, seq)};
        for (size_t i = 0; i < h.blen; i++)
            body[i] = body_byte(seq, i);
        ring_push(r, &h, sizeof h, body, h.blen);
    }
    ring_flush(r);
    return NULL;
}

static void order_and_content_across_threads(void **state)
{
    (void)state;
    struct ring r;
    assert_int_equal(ring_init(&r, 64 * 1024), 0); /* small: it wraps and fills often */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, produce, &r), 0);
    for (uint32_t seq = 0; seq < RECORDS; seq++) {
        size_t len;
        const uint8_t *rec = ring_pop(&r, &len);
        struct hdr h;
        memcpy(&h, rec, sizeof h);
        assert_int_equal(h.seq, seq);
        assert_int_equal(h.blen, body_len(&r, seq));
        assert_int_equal(len, sizeof h + h.blen);
        for (size_t i = 0; i < h.blen; i++)
            if (rec[sizeof h + i] != body_byte(seq, i))
                fail_msg("record %u: byte %zu differs", seq, i);
        ring_release(&r);
    }
    pthread_join(t, NULL);
    ring_free(&r);
}

struct sleeper {
    struct ring *r;
    uint32_t got;
    _Atomic int done;
};

static void *consume_one(void *arg)
{
    struct sleeper *s = arg;
    size_t len;
    const uint8_t *rec = ring_pop(s->r, &len);
    memcpy(&s->got, rec, sizeof s->got);
    ring_release(s->r);
    atomic_store(&s->done, 1);
    return NULL;
}

static void flush_wakes_a_sleeping_consumer(void **state)
{
    (void)state;
    struct ring r;
    assert_int_equal(ring_init(&r, 1 << 20), 0);
    struct sleeper s = {&r, 0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, consume_one, &s), 0);
    struct timespec nap = {0, 50 * 1000000};
    nanosleep(&nap, NULL); /* the consumer is asleep on the empty ring by now */
    uint32_t v = 0xc105e;
    ring_push(&r, &v, sizeof v, NULL, 0); /* far under the wake-up threshold */
    ring_flush(&r);
    for (int i = 0; i < 500 && !atomic_load(&s.done); i++) /* 5 s at most, not a hang */
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    if (!atomic_load(&s.done))
        fail_msg("the consumer slept through the flush");
    pthread_join(t, NULL);
    assert_int_equal(s.got, 0xc105e);
    ring_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_and_content_across_threads),
        cmocka_unit_test(flush_wakes_a_sleeping_consumer),
    };
    RUN_TESTS(tests);
}
