/*
 * tests/unit/test_reasm.c — flow/reasm.c, per-direction TCP reassembly.
 *
 * Proves: in-order bytes pass straight through; out-of-order segments are
 * held and delivered in sequence order once the hole fills; duplicates and
 * retransmissions (whole or partly overlapping) are delivered once, the
 * first copy winning; sequence numbers wrap at 2^32; the SYN takes one
 * sequence number (with or without data); the FIN completes the direction
 * only once everything before it is delivered; reasm_flush() turns holes
 * into explicit REASM_GAP_LOST gaps of the right length; a segment the
 * snaplen cut gives its captured bytes then a REASM_GAP_CUT gap for the
 * rest; a full memcap or dir_cap declares a gap instead of growing, and
 * loses only the hole, never captured bytes; a direction awaiting its SYN
 * holds data until the SYN (even a data-less one) or reasm_start(), and
 * without room starts at its data instead of dropping it; memory
 * accounting returns to zero after flush / release. Property: 200 seeded
 * random streams cut into random segments, shuffled, with duplicates and
 * overlapping retransmissions, reassemble to exactly the original bytes
 * (and, with a tight dir_cap, every delivered byte sits at its true stream
 * offset and data + gaps cover the stream exactly).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../capture/packet.h"
#include "../../flow/reasm.h"

/* ---- the sink ------------------------------------------------------------- */

struct event {
    bool gap;
    size_t len;
    enum reasm_gap why;
    size_t at; /* offset of the first byte in the recorder's stream */
};

struct sinkrec {
    uint8_t *data; /* delivered bytes, gaps as '#' when fill_gaps */
    size_t len, cap;
    struct event ev[256];
    size_t nev;
    bool fill_gaps;
    uint64_t gap_total;
    uint32_t last_seq, last_ack; /* of the last piece */
    bool last_has_ack;
};

static void grow(struct sinkrec *s, size_t more)
{
    if (s->len + more > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + more)
            cap *= 2;
        s->data = realloc(s->data, cap);
        assert_non_null(s->data);
        s->cap = cap;
    }
}

static void sink(void *arg, const struct reasm_piece *piece)
{
    struct sinkrec *s = arg;
    const uint8_t *data = piece->data;
    size_t len = piece->data ? piece->len : 0;
    uint64_t gap_len = piece->data ? 0 : piece->len;
    enum reasm_gap why = piece->why;
    s->last_seq = piece->seq;
    s->last_ack = piece->ack;
    s->last_has_ack = piece->has_ack;
    if (s->nev < 256)
        s->ev[s->nev++] = (struct event){data == NULL, data ? len : (size_t)gap_len, why, s->len};
    if (data) {
        assert_int_equal(gap_len, 0);
        assert_true(len > 0);
        grow(s, len);
        memcpy(s->data + s->len, data, len);
        s->len += len;
    } else {
        assert_true(gap_len > 0);
        s->gap_total += gap_len;
        if (s->fill_gaps) {
            grow(s, (size_t)gap_len);
            memset(s->data + s->len, '#', (size_t)gap_len);
            s->len += (size_t)gap_len;
        }
    }
}

static void rec_free(struct sinkrec *s)
{
    free(s->data);
    memset(s, 0, sizeof *s);
}

static void assert_delivered(const struct sinkrec *s, const char *want)
{
    size_t n = strlen(want);
    if (s->len != n || memcmp(s->data, want, n) != 0) {
        print_error("delivered \"%.*s\", want \"%s\"\n", (int)s->len, s->data ? (const char *)s->data : "", want);
        fail();
    }
}

/* One segment: caplen of wire_len payload bytes captured, no ACK field. */
static void feed(struct reasm_ctx *c, struct reasm_dir *d, uint32_t seq, uint8_t flags, const uint8_t *p,
                 uint32_t caplen, uint32_t wire_len, struct sinkrec *s)
{
    struct reasm_input in = {.seq = seq, .tcp_flags = flags, .payload = p, .caplen = caplen, .wire_len = wire_len};
    reasm_segment(c, d, &in, sink, s);
}

/* One segment with all its bytes captured. */
static void seg(struct reasm_ctx *c, struct reasm_dir *d, uint32_t seq, uint8_t flags, const char *p,
                struct sinkrec *s)
{
    uint32_t n = (uint32_t)strlen(p);
    feed(c, d, seq, flags, (const uint8_t *)p, n, n, s);
}

#define MEMCAP (64u << 20)
#define DIRCAP (16u << 20)

static void setup(struct reasm_ctx *c, struct reasm_dir *d, struct sinkrec *s)
{
    reasm_init(c, MEMCAP, DIRCAP);
    memset(d, 0, sizeof *d);
    memset(s, 0, sizeof *s);
}

/* ---- ordering ------------------------------------------------------------- */

static void in_order(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 1000, TCP_SYN, "", &s);
    assert_true(d.started);
    assert_int_equal(d.next_seq, 1001);
    seg(&c, &d, 1001, TCP_ACK, "abc", &s);
    seg(&c, &d, 1004, TCP_ACK | TCP_PSH, "def", &s);
    seg(&c, &d, 1007, TCP_ACK, "", &s); /* a bare ACK delivers nothing */
    assert_delivered(&s, "abcdef");
    assert_int_equal(s.nev, 2);
    assert_int_equal(d.next_seq, 1007);
    assert_int_equal(c.mem_used, 0);
    assert_null(d.held);
    assert_int_equal(c.stats.delivered_bytes, 6);
    assert_int_equal(c.stats.gaps, 0);
    rec_free(&s);
}

static void first_segment_without_syn(void **state)
{
    (void)state;
    /* picked up mid-stream: the first segment seen starts the stream */
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 5000, TCP_ACK, "xyz", &s);
    seg(&c, &d, 5003, TCP_ACK, "w", &s);
    assert_delivered(&s, "xyzw");
    assert_int_equal(d.next_seq, 5004);
    rec_free(&s);
}

static void out_of_order_held(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 99, TCP_SYN, "", &s);
    seg(&c, &d, 106, TCP_ACK, "ghi", &s);
    seg(&c, &d, 103, TCP_ACK, "def", &s);
    assert_int_equal(s.len, 0);
    assert_int_equal(d.held_bytes, 6);
    assert_true(c.mem_used >= 6);
    assert_int_equal(c.stats.held_segments, 2);
    seg(&c, &d, 100, TCP_ACK, "abc", &s);
    assert_delivered(&s, "abcdefghi");
    assert_int_equal(s.nev, 3);
    assert_int_equal(s.ev[0].len, 3);
    assert_int_equal(s.ev[1].len, 3);
    assert_int_equal(s.ev[2].len, 3);
    assert_int_equal(d.held_bytes, 0);
    assert_null(d.held);
    assert_int_equal(c.mem_used, 0);
    assert_int_equal(d.next_seq, 109);
    rec_free(&s);
}

static void duplicates_delivered_once(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 1, 0, "abc", &s);
    seg(&c, &d, 1, 0, "abc", &s);          /* retransmission */
    seg(&c, &d, 7, 0, "ghi", &s);          /* held */
    seg(&c, &d, 7, 0, "ghi", &s);          /* held twice: kept once */
    assert_int_equal(d.held_bytes, 3);
    seg(&c, &d, 4, 0, "def", &s);
    seg(&c, &d, 4, 0, "def", &s);
    seg(&c, &d, 7, 0, "ghi", &s);
    assert_delivered(&s, "abcdefghi");
    assert_true(c.stats.duplicates >= 3);
    assert_int_equal(c.mem_used, 0);
    rec_free(&s);
}

static void overlap_trimmed_first_copy_wins(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 1, 0, "abcd", &s);
    seg(&c, &d, 1, 0, "abcdefg", &s);     /* repacketised retransmission */
    assert_delivered(&s, "abcdefg");
    seg(&c, &d, 6, 0, "XXhij", &s);       /* overlaps 2 delivered bytes */
    assert_delivered(&s, "abcdefghij");
    rec_free(&s);

    /* overlapping held chunks */
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 5, 0, "efgh", &s);
    seg(&c, &d, 3, 0, "cdef", &s);
    seg(&c, &d, 8, 0, "hijk", &s);
    seg(&c, &d, 1, 0, "ab", &s);
    assert_delivered(&s, "abcdefghijk");
    assert_int_equal(d.next_seq, 12);
    assert_int_equal(c.mem_used, 0);
    rec_free(&s);

    /* a held chunk entirely covered by a later in-order segment */
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 3, 0, "cd", &s);
    seg(&c, &d, 1, 0, "abcdef", &s);
    assert_delivered(&s, "abcdef");
    assert_int_equal(c.mem_used, 0);
    assert_null(d.held);
    rec_free(&s);
}

static void wraparound(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 0xfffffff9u, TCP_SYN, "", &s);   /* data starts at 0xfffffffa */
    seg(&c, &d, 0xfffffffau, 0, "0123", &s);
    seg(&c, &d, 0x00000002u, 0, "89ab", &s);     /* past the wrap: held */
    assert_int_equal(s.len, 4);
    seg(&c, &d, 0xfffffffeu, 0, "4567", &s);     /* crosses 2^32 */
    assert_delivered(&s, "0123456789ab");
    assert_int_equal(d.next_seq, 6);
    seg(&c, &d, 0xfffffffcu, 0, "23", &s);       /* old data before the wrap */
    assert_delivered(&s, "0123456789ab");
    seg(&c, &d, 6, TCP_FIN, "", &s);
    assert_true(d.complete);
    assert_int_equal(d.fin_seq, 6);
    rec_free(&s);

    /* SYN at 0xffffffff: the first data byte has sequence number 0 */
    setup(&c, &d, &s);
    seg(&c, &d, 0xffffffffu, TCP_SYN, "", &s);
    assert_int_equal(d.next_seq, 0);
    seg(&c, &d, 0, 0, "x", &s);
    assert_delivered(&s, "x");
    rec_free(&s);
}

static void syn_takes_one_number(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 500, TCP_SYN, "", &s);
    seg(&c, &d, 500, 0, "Z", &s); /* sequence number of the SYN itself: no data there */
    seg(&c, &d, 501, 0, "a", &s);
    assert_delivered(&s, "a");
    rec_free(&s);

    /* SYN with data (TCP Fast Open): data starts after the SYN */
    setup(&c, &d, &s);
    seg(&c, &d, 500, TCP_SYN, "GET", &s);
    assert_int_equal(d.next_seq, 504);
    seg(&c, &d, 504, 0, " /", &s);
    assert_delivered(&s, "GET /");
    assert_int_equal(d.next_seq, 506);
    /* the retransmitted SYN with its data again is a duplicate */
    seg(&c, &d, 500, TCP_SYN, "GET", &s);
    assert_delivered(&s, "GET /");
    rec_free(&s);
}

/* ---- FIN ------------------------------------------------------------------ */

static void fin_completes(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 10, TCP_SYN, "", &s);
    seg(&c, &d, 11, 0, "hello", &s);
    assert_false(d.fin_seen);
    seg(&c, &d, 16, TCP_FIN | TCP_ACK, "", &s);
    assert_true(d.fin_seen);
    assert_true(d.complete);
    assert_int_equal(d.fin_seq, 16);
    rec_free(&s);

    /* FIN on a data segment: occupies the number after its last byte */
    setup(&c, &d, &s);
    seg(&c, &d, 10, TCP_SYN, "", &s);
    seg(&c, &d, 11, TCP_FIN, "bye", &s);
    assert_int_equal(d.fin_seq, 14);
    assert_true(d.complete);
    assert_delivered(&s, "bye");
    rec_free(&s);
}

static void fin_before_missing_data(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 10, TCP_SYN, "", &s);
    seg(&c, &d, 14, TCP_FIN, "def", &s); /* arrives before "abc" */
    assert_true(d.fin_seen);
    assert_false(d.complete);
    assert_int_equal(d.fin_seq, 17);
    seg(&c, &d, 11, 0, "abc", &s);
    assert_delivered(&s, "abcdef");
    assert_true(d.complete);
    rec_free(&s);

    /* flushing a FIN'd direction with a hole completes it, with a gap */
    setup(&c, &d, &s);
    seg(&c, &d, 10, TCP_SYN, "", &s);
    seg(&c, &d, 14, TCP_FIN, "def", &s);
    reasm_flush(&c, &d, sink, &s);
    assert_true(d.complete);
    assert_int_equal(s.nev, 2);
    assert_true(s.ev[0].gap);
    assert_int_equal(s.ev[0].len, 3);
    assert_int_equal(s.ev[0].why, REASM_GAP_LOST);
    assert_delivered(&s, "def");
    rec_free(&s);
}

/* ---- gaps ----------------------------------------------------------------- */

static void flush_declares_gap(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 1000, TCP_SYN, "", &s);
    seg(&c, &d, 1001, 0, "ab", &s);
    seg(&c, &d, 1010, 0, "XYZ", &s);    /* 7 bytes missing before it */
    seg(&c, &d, 1020, 0, "Q", &s);      /* 7 more missing */
    assert_int_equal(s.nev, 1);
    assert_true(c.mem_used > 0);
    reasm_flush(&c, &d, sink, &s);
    assert_int_equal(s.nev, 5);
    assert_false(s.ev[0].gap);
    assert_true(s.ev[1].gap);
    assert_int_equal(s.ev[1].len, 7);
    assert_int_equal(s.ev[1].why, REASM_GAP_LOST);
    assert_false(s.ev[2].gap);
    assert_int_equal(s.ev[2].len, 3);
    assert_true(s.ev[3].gap);
    assert_int_equal(s.ev[3].len, 7);
    assert_false(s.ev[4].gap);
    assert_delivered(&s, "abXYZQ");
    assert_int_equal(c.mem_used, 0);
    assert_int_equal(d.held_bytes, 0);
    assert_null(d.held);
    assert_int_equal(d.next_seq, 1021);
    assert_int_equal(c.stats.gaps, 2);
    assert_int_equal(c.stats.gap_bytes, 14);
    /* nothing held: flushing again does nothing */
    reasm_flush(&c, &d, sink, &s);
    assert_int_equal(s.nev, 5);
    rec_free(&s);
}

static void snaplen_cut(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    feed(&c, &d, 1, 0, (const uint8_t *)"abc", 3, 10, &s);
    assert_int_equal(s.nev, 2);
    assert_false(s.ev[0].gap);
    assert_int_equal(s.ev[0].len, 3);
    assert_true(s.ev[1].gap);
    assert_int_equal(s.ev[1].len, 7);
    assert_int_equal(s.ev[1].why, REASM_GAP_CUT);
    assert_int_equal(d.next_seq, 11);
    seg(&c, &d, 11, 0, "next", &s);
    assert_delivered(&s, "abcnext");
    rec_free(&s);

    /* nothing captured at all */
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    feed(&c, &d, 1, 0, NULL, 0, 1400, &s);
    assert_int_equal(s.nev, 1);
    assert_true(s.ev[0].gap);
    assert_int_equal(s.ev[0].len, 1400);
    assert_int_equal(s.ev[0].why, REASM_GAP_CUT);
    assert_int_equal(d.next_seq, 1401);
    rec_free(&s);

    /* a cut segment that was held out of order */
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    feed(&c, &d, 5, 0, (const uint8_t *)"ef", 2, 6, &s);
    assert_int_equal(d.held_bytes, 2); /* only captured bytes are held */
    seg(&c, &d, 1, 0, "abcd", &s);
    assert_int_equal(s.nev, 3);
    assert_int_equal(s.ev[1].len, 2);
    assert_true(s.ev[2].gap);
    assert_int_equal(s.ev[2].len, 4);
    assert_int_equal(s.ev[2].why, REASM_GAP_CUT);
    assert_int_equal(d.next_seq, 11);
    assert_delivered(&s, "abcdef");
    assert_int_equal(c.mem_used, 0);
    rec_free(&s);

    /* a retransmission of a cut segment, partly behind: only the new part */
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 1, 0, "abcdef", &s);
    feed(&c, &d, 3, 0, (const uint8_t *)"cd", 2, 8, &s); /* covers 3..10 */
    assert_int_equal(s.nev, 2);
    assert_true(s.ev[1].gap);
    assert_int_equal(s.ev[1].len, 4); /* 7..10 */
    assert_int_equal(s.ev[1].why, REASM_GAP_CUT);
    assert_int_equal(d.next_seq, 11);
    rec_free(&s);
}

static void dir_cap_declares_gap(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    reasm_init(&c, MEMCAP, 10);
    memset(&d, 0, sizeof d);
    memset(&s, 0, sizeof s);
    s.fill_gaps = true;
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 1, 0, "a", &s);
    seg(&c, &d, 5, 0, "efgh", &s);      /* held: 4 of 10 */
    seg(&c, &d, 9, 0, "ijkl", &s);      /* held: 8 of 10 */
    assert_int_equal(d.held_bytes, 8);
    seg(&c, &d, 20, 0, "tuv", &s);      /* 11 > 10: no room */
    assert_int_equal(c.stats.dir_cap_hits, 1);
    assert_true(d.held_bytes <= 10);    /* never grows past the cap */
    /* the hole before the held data is given up (an explicit LOST gap of
     * exactly 3 bytes), the held data delivered */
    assert_true(s.nev >= 4);
    assert_true(s.ev[1].gap);
    assert_int_equal(s.ev[1].len, 3); /* 2..4 */
    assert_int_equal(s.ev[1].why, REASM_GAP_LOST);
    assert_true(s.len >= 12);
    assert_memory_equal(s.data, "a###efghijkl", 12);
    /* whatever is still held comes out at the flush, the rest as a gap */
    reasm_flush(&c, &d, sink, &s);
    assert_delivered(&s, "a###efghijkl#######tuv");
    assert_int_equal(s.gap_total, 3 + 7);
    assert_int_equal(d.held_bytes, 0);
    assert_int_equal(c.mem_used, 0);
    assert_int_equal(d.next_seq, 23);
    rec_free(&s);
}

static void memcap_declares_gap(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir a, b;
    struct sinkrec sa, sb;
    reasm_init(&c, 300, 1u << 20);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    uint8_t big[200];
    memset(big, 'B', sizeof big);
    seg(&c, &a, 0, TCP_SYN, "", &sa);
    seg(&c, &b, 0, TCP_SYN, "", &sb);
    /* direction a holds 200 bytes; the shared memcap then has no room for b */
    feed(&c, &a, 11, 0, big, 200, 200, &sa);
    assert_int_equal(a.held_bytes, 200);
    size_t used = c.mem_used;
    assert_true(used >= 200 && used <= 300);
    feed(&c, &b, 11, 0, big, 200, 200, &sb);
    assert_int_equal(c.stats.memcap_hits, 1);
    assert_int_equal(b.held_bytes, 0);
    assert_int_equal(c.mem_used, used);
    assert_int_equal(sb.nev, 2);
    assert_true(sb.ev[0].gap);
    assert_int_equal(sb.ev[0].len, 10);
    assert_int_equal(sb.ev[1].len, 200);
    assert_int_equal(b.next_seq, 211);
    assert_int_equal(sa.nev, 0);
    reasm_release(&c, &a);
    assert_int_equal(c.mem_used, 0);
    assert_int_equal(a.held_bytes, 0);
    assert_null(a.held);
    rec_free(&sa);
    rec_free(&sb);
}

static void no_room_keeps_captured_bytes(void **state)
{
    (void)state;
    /* Held data at 21.., no room left, and a new segment at 11..20 arrives:
     * the new segment's captured bytes lie BEFORE the held ones and must
     * still be delivered; only the real hole 1..10 is lost. */
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    reasm_init(&c, MEMCAP, 10);
    memset(&d, 0, sizeof d);
    memset(&s, 0, sizeof s);
    s.fill_gaps = true;
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 21, 0, "UVWXYZ", &s);       /* held: 6 of 10 */
    seg(&c, &d, 11, 0, "KLMNOPQRST", &s);   /* 16 > 10: no room */
    reasm_flush(&c, &d, sink, &s);
    char got[64];
    snprintf(got, sizeof got, "%.*s", (int)s.len, (const char *)s.data);
    uint64_t gaps = s.gap_total;
    rec_free(&s); /* before asserting: nothing leaks when this fails */
    assert_string_equal(got, "##########KLMNOPQRSTUVWXYZ");
    assert_int_equal(gaps, 10);
    assert_int_equal(c.mem_used, 0);
}

static void release_frees_everything(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 10, 0, "aaaa", &s);
    seg(&c, &d, 20, 0, "bbbb", &s);
    seg(&c, &d, 30, 0, "cccc", &s);
    assert_int_equal(d.held_bytes, 12);
    assert_true(c.mem_used >= 12);
    reasm_release(&c, &d);
    assert_int_equal(c.mem_used, 0);
    assert_int_equal(d.held_bytes, 0);
    assert_null(d.held);
    assert_int_equal(s.nev, 0); /* release never delivers */
    reasm_release(&c, &d);       /* idempotent */
    assert_int_equal(c.mem_used, 0);
    rec_free(&s);
}

/* ---- directions that wait for their SYN ------------------------------------ */

static void await_syn_holds_until_syn(void **state)
{
    (void)state;
    /* a reordered capture: data before the SYN is held, then delivered
     * from the SYN on, even if the SYN itself carries no data */
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    d.await_syn = true;
    seg(&c, &d, 101, TCP_ACK, "abc", &s);
    seg(&c, &d, 104, TCP_ACK, "def", &s);
    assert_false(d.started);
    assert_int_equal(d.held_bytes, 6);
    seg(&c, &d, 100, TCP_SYN, "", &s);
    char got[32];
    snprintf(got, sizeof got, "%.*s", (int)s.len, s.data ? (const char *)s.data : "");
    bool started = d.started;
    uint32_t next = d.next_seq;
    reasm_release(&c, &d);
    rec_free(&s);
    assert_true(started);
    assert_string_equal(got, "abcdef");
    assert_int_equal(next, 107);
}

static void start_at_lowest_held(void **state)
{
    (void)state;
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    d.await_syn = true;
    seg(&c, &d, 205, TCP_ACK, "fgh", &s);
    seg(&c, &d, 200, TCP_ACK, "abcde", &s);
    assert_int_equal(s.len, 0);
    reasm_start(&c, &d, sink, &s);
    assert_true(d.started);
    assert_false(d.await_syn);
    assert_delivered(&s, "abcdefgh");
    assert_int_equal(d.next_seq, 208);
    assert_int_equal(c.mem_used, 0);
    seg(&c, &d, 208, TCP_FIN, "i", &s);
    assert_delivered(&s, "abcdefghi");
    assert_true(d.complete);
    rec_free(&s);
}

static void await_syn_no_room_not_lost(void **state)
{
    (void)state;
    /* waiting for a SYN but no room to hold the data: the stream must start
     * at it (or at least declare a gap), never drop it silently */
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    reasm_init(&c, MEMCAP, 4);
    memset(&d, 0, sizeof d);
    memset(&s, 0, sizeof s);
    d.await_syn = true;
    seg(&c, &d, 1000, TCP_ACK, "0123456789", &s);
    seg(&c, &d, 1010, TCP_ACK, "ab", &s);
    char got[32];
    snprintf(got, sizeof got, "%.*s", (int)s.len, s.data ? (const char *)s.data : "");
    uint64_t gaps = s.gap_total;
    rec_free(&s);
    if (strcmp(got, "0123456789ab") != 0 && gaps == 0) {
        print_error("delivered \"%s\" and no gap, want \"0123456789ab\"\n", got);
        fail();
    }
}

static void conflicting_overlap_counted(void **state)
{
    (void)state;
    /* two held copies of the same bytes that disagree: the first wins,
     * the disagreement is counted; agreeing copies are not */
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 0, TCP_SYN, "", &s);
    seg(&c, &d, 11, 0, "klmnop", &s);   /* held */
    seg(&c, &d, 13, 0, "mnopqr", &s);   /* agrees where it overlaps */
    uint64_t agreeing = c.stats.overlap_conflicts;
    seg(&c, &d, 9, 0, "ijKLm", &s);     /* disagrees at 11..12 */
    seg(&c, &d, 1, 0, "abcdefgh", &s);
    uint64_t conflicts = c.stats.overlap_conflicts;
    size_t len = s.len;
    char got[32];
    snprintf(got, sizeof got, "%.*s", (int)s.len, (const char *)s.data);
    rec_free(&s);
    reasm_release(&c, &d);
    assert_int_equal(agreeing, 0);
    assert_int_equal(conflicts, 1);
    assert_int_equal(len, 18);
    assert_string_equal(got, "abcdefghijklmnopqr"); /* the first copy won */
}

static void pieces_carry_seq_and_ack(void **state)
{
    (void)state;
    /* the sink learns where each piece lies and what its segment acked,
     * also for a segment that was held out of order */
    struct reasm_ctx c;
    struct reasm_dir d;
    struct sinkrec s;
    setup(&c, &d, &s);
    seg(&c, &d, 99, TCP_SYN, "", &s);
    struct reasm_input late = {.seq = 105, .ack = 7000, .tcp_flags = TCP_ACK, .payload = (const uint8_t *)"fgh",
                               .caplen = 3, .wire_len = 3};
    reasm_segment(&c, &d, &late, sink, &s); /* held */
    struct reasm_input first = {.seq = 100, .ack = 6000, .tcp_flags = TCP_ACK,
                                .payload = (const uint8_t *)"abcde", .caplen = 5, .wire_len = 5};
    reasm_segment(&c, &d, &first, sink, &s); /* delivered, then the held one */
    uint32_t seq = s.last_seq, ack = s.last_ack;
    bool has_ack = s.last_has_ack;
    size_t nev = s.nev;
    rec_free(&s);
    reasm_release(&c, &d);
    assert_int_equal(nev, 2);
    assert_int_equal(seq, 105);
    assert_int_equal(ack, 7000);
    assert_true(has_ack);
}

/* ---- property: random segmentation, order and duplication ---------------- */

static uint32_t rng_next(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*st >> 33);
}

static uint32_t rnd(uint64_t *st, uint32_t n)
{
    return rng_next(st) % n;
}

struct piece {
    uint32_t off, len;
    uint8_t flags;
};

/* Builds a shuffled list of segments covering [0, n) with duplicates and
 * overlapping retransmissions; returns the count. */
static size_t make_pieces(uint64_t *st, size_t n, struct piece *pc, size_t max)
{
    size_t np = 0;
    for (uint32_t off = 0; off < n;) {
        uint32_t len = 1 + rnd(st, 300);
        if (off + len > n)
            len = (uint32_t)n - off;
        pc[np++] = (struct piece){off, len, 0};
        off += len;
    }
    size_t base = np;
    size_t extra = rnd(st, (uint32_t)base + 1);
    for (size_t i = 0; i < extra && np < max; i++) {
        if (rnd(st, 2)) {
            pc[np++] = pc[rnd(st, (uint32_t)base)]; /* exact duplicate */
        } else {                                   /* overlapping retransmission */
            uint32_t o = rnd(st, (uint32_t)n);
            uint32_t l = 1 + rnd(st, 600);
            if (o + l > n)
                l = (uint32_t)n - o;
            pc[np++] = (struct piece){o, l, 0};
        }
    }
    for (size_t i = np; i > 1; i--) {
        size_t j = rnd(st, (uint32_t)i);
        struct piece t = pc[i - 1];
        pc[i - 1] = pc[j];
        pc[j] = t;
    }
    return np;
}

static void random_streams_reassemble_exactly(void **state)
{
    (void)state;
    enum { MAXP = 2048 };
    struct piece *pc = malloc(MAXP * sizeof *pc);
    uint8_t *orig = malloc(20000);
    assert_non_null(pc);
    assert_non_null(orig);
    for (uint64_t seed = 1; seed <= 200; seed++) {
        uint64_t st = seed * 0x9e3779b97f4a7c15ULL;
        size_t n = 1 + rnd(&st, 20000);
        for (size_t i = 0; i < n; i++)
            orig[i] = (uint8_t)rng_next(&st);
        /* start anywhere, often right below the wrap */
        uint32_t isn = (seed % 3 == 0) ? 0xffffffffu - rnd(&st, 30000) : rng_next(&st);
        size_t np = make_pieces(&st, n, pc, MAXP);
        struct reasm_ctx c;
        struct reasm_dir d;
        struct sinkrec s;
        setup(&c, &d, &s);
        feed(&c, &d, isn, TCP_SYN, NULL, 0, 0, &s);
        size_t last = 0;
        for (size_t i = 0; i < np; i++)
            if (pc[i].off + pc[i].len == n)
                last = i; /* some segment ending the stream carries the FIN */
        for (size_t i = 0; i < np; i++) {
            uint8_t fl = (uint8_t)(TCP_ACK | (i == last ? TCP_FIN : 0));
            feed(&c, &d, isn + 1 + pc[i].off, fl, orig + pc[i].off, pc[i].len, pc[i].len, &s);
        }
        if (s.len != n || memcmp(s.data, orig, n) != 0 || s.gap_total != 0) {
            print_error("seed %llu: %zu segments, %zu bytes: got %zu bytes, %llu gap bytes\n",
                        (unsigned long long)seed, np, n, s.len, (unsigned long long)s.gap_total);
            fail();
        }
        assert_true(d.complete);
        assert_int_equal(d.next_seq, (uint32_t)(isn + 1 + n));
        assert_int_equal(c.mem_used, 0);
        assert_int_equal(d.held_bytes, 0);
        reasm_flush(&c, &d, sink, &s);
        assert_int_equal(s.len, n);
        rec_free(&s);
    }
    free(pc);
    free(orig);
}

static void random_streams_tight_cap_stay_aligned(void **state)
{
    (void)state;
    enum { MAXP = 2048 };
    struct piece *pc = malloc(MAXP * sizeof *pc);
    uint8_t *orig = malloc(20000);
    assert_non_null(pc);
    assert_non_null(orig);
    for (uint64_t seed = 1; seed <= 200; seed++) {
        uint64_t st = seed * 0xd1b54a32d192ed03ULL;
        size_t n = 1 + rnd(&st, 20000);
        for (size_t i = 0; i < n; i++)
            orig[i] = (uint8_t)('a' + rnd(&st, 26));
        uint32_t isn = rng_next(&st);
        size_t np = make_pieces(&st, n, pc, MAXP);
        struct reasm_ctx c;
        struct reasm_dir d;
        struct sinkrec s;
        reasm_init(&c, MEMCAP, 1 + rnd(&st, 2000));
        memset(&d, 0, sizeof d);
        memset(&s, 0, sizeof s);
        s.fill_gaps = true;
        feed(&c, &d, isn, TCP_SYN, NULL, 0, 0, &s);
        for (size_t i = 0; i < np; i++)
            feed(&c, &d, isn + 1 + pc[i].off, TCP_ACK, orig + pc[i].off, pc[i].len, pc[i].len, &s);
        reasm_flush(&c, &d, sink, &s);
        /* data + gaps cover [0, n) exactly; each byte is at its offset */
        if (s.len != n) {
            print_error("seed %llu: covered %zu of %zu bytes\n", (unsigned long long)seed, s.len, n);
            fail();
        }
        for (size_t i = 0; i < n; i++) {
            if (s.data[i] != '#' && s.data[i] != orig[i]) {
                print_error("seed %llu: byte %zu misplaced\n", (unsigned long long)seed, i);
                fail();
            }
        }
        assert_int_equal(c.mem_used, 0);
        rec_free(&s);
    }
    free(pc);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order),
        cmocka_unit_test(first_segment_without_syn),
        cmocka_unit_test(out_of_order_held),
        cmocka_unit_test(duplicates_delivered_once),
        cmocka_unit_test(overlap_trimmed_first_copy_wins),
        cmocka_unit_test(wraparound),
        cmocka_unit_test(syn_takes_one_number),
        cmocka_unit_test(fin_completes),
        cmocka_unit_test(fin_before_missing_data),
        cmocka_unit_test(flush_declares_gap),
        cmocka_unit_test(snaplen_cut),
        cmocka_unit_test(dir_cap_declares_gap),
        cmocka_unit_test(memcap_declares_gap),
        cmocka_unit_test(no_room_keeps_captured_bytes),
        cmocka_unit_test(release_frees_everything),
        cmocka_unit_test(await_syn_holds_until_syn),
        cmocka_unit_test(start_at_lowest_held),
        cmocka_unit_test(await_syn_no_room_not_lost),
        cmocka_unit_test(pieces_carry_seq_and_ack),
        cmocka_unit_test(conflicting_overlap_counted),
        cmocka_unit_test(random_streams_reassemble_exactly),
        cmocka_unit_test(random_streams_tight_cap_stay_aligned),
    };
    RUN_TESTS(tests);
}
