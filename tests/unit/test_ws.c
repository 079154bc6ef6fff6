/*
 * tests/unit/test_ws.c — app/websocket/frame.c, the incremental WebSocket frame parser.
 *
 * Proves: ws_decode_header reads FIN, RSV1-3, opcode, MASK and key, and the
 * 7-, 16- and 64-bit payload lengths exactly, flags non-minimal lengths and a
 * set 64-bit MSB, and asks for more (0) on every short prefix; ws_parse gives
 * the SAME event sequence (frame starts with identical headers, payload
 * bytes in order and zero-copy, frame ends) whether a stream of several
 * frames (text, fragmented message, ping/pong, empty frames, 16-bit and
 * 64-bit lengths with a 70000-byte payload, close) arrives whole, split at
 * ANY byte boundary, or one byte at a time; ws_parser_gap inside a payload
 * keeps frame sync (the next frame parses, offsets account for the hole),
 * elsewhere it loses sync (WS_LOST, nothing consumed) until
 * ws_parser_resync() finds a plausible header; ws_frame_plausible applies
 * the masking / opcode / length / RSV / control-frame rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../app/websocket/frame.h"

/* ---- frame building ------------------------------------------------------ */

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Appends one frame (minimal length encoding) to buf; returns its size. */
static size_t put_frame(uint8_t *buf, bool fin, uint8_t rsv, uint8_t op, const uint8_t *mask,
                        const uint8_t *payload, uint64_t len)
{
    size_t n = 0;
    buf[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (op & 0x0f));
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        buf[n++] = (uint8_t)(m | len);
    } else if (len <= 0xffff) {
        buf[n++] = m | 126;
        buf[n++] = (uint8_t)(len >> 8);
        buf[n++] = (uint8_t)len;
    } else {
        buf[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            buf[n++] = (uint8_t)(len >> (8 * i));
    }
    if (mask) {
        memcpy(buf + n, mask, 4);
        n += 4;
    }
    for (uint64_t i = 0; i < len; i++)
        buf[n + i] = mask ? (uint8_t)(payload[i] ^ mask[i & 3]) : payload[i];
    return n + (size_t)len;
}

/* ---- event recording ----------------------------------------------------- */

enum ev_kind { EV_START, EV_PAYLOAD, EV_END };

struct ev {
    enum ev_kind kind;
    struct ws_frame f;
    const uint8_t *data; /* EV_PAYLOAD: first byte (merged contiguous chunks) */
    size_t len;
    uint64_t off;
};

struct rec {
    struct ev *ev;
    size_t n, cap;
    bool bad_order; /* payload off not continuing the frame's previous chunk */
    uint64_t seen;  /* payload bytes of the current frame so far */
};

static void rec_push(struct rec *r, struct ev e)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
        assert_non_null(r->ev);
    }
    r->ev[r->n++] = e;
}

static void on_start(void *arg, const struct ws_frame *f)
{
    struct rec *r = arg;
    r->seen = 0;
    rec_push(r, (struct ev){.kind = EV_START, .f = *f});
}

/* Contiguous chunks (same frame, adjacent in memory and in payload offset)
 * are merged, so a split feed and a whole feed record the same events. */
static void on_payload(void *arg, const struct ws_frame *f, const uint8_t *data, size_t len, uint64_t off)
{
    struct rec *r = arg;
    if (off != r->seen || len == 0)
        r->bad_order = true;
    r->seen = off + len;
    if (r->n && r->ev[r->n - 1].kind == EV_PAYLOAD) {
        struct ev *last = &r->ev[r->n - 1];
        if (last->data + last->len == data && last->off + last->len == off) {
            last->len += len;
            return;
        }
    }
    rec_push(r, (struct ev){.kind = EV_PAYLOAD, .f = *f, .data = data, .len = len, .off = off});
}

static void on_end(void *arg, const struct ws_frame *f)
{
    struct rec *r = arg;
    rec_push(r, (struct ev){.kind = EV_END, .f = *f});
}

static const struct ws_events EVENTS = {on_start, on_payload, on_end};

static bool frame_eq(const struct ws_frame *a, const struct ws_frame *b)
{
    return a->fin == b->fin && a->rsv == b->rsv && a->opcode == b->opcode && a->masked == b->masked &&
           memcmp(a->mask, b->mask, 4) == 0 && a->non_minimal == b->non_minimal &&
           a->len_msb_set == b->len_msb_set && a->header_len == b->header_len && a->len == b->len;
}

static void assert_same_events(const struct rec *want, const struct rec *got, const char *what, size_t k)
{
    if (got->bad_order) {
        print_error("%s %zu: payload offsets out of order\n", what, k);
        fail();
    }
    if (got->n != want->n) {
        print_error("%s %zu: %zu events, want %zu\n", what, k, got->n, want->n);
        fail();
    }
    for (size_t i = 0; i < want->n; i++) {
        const struct ev *a = &want->ev[i], *b = &got->ev[i];
        if (a->kind != b->kind || !frame_eq(&a->f, &b->f) || a->data != b->data || a->len != b->len ||
            a->off != b->off) {
            print_error("%s %zu: event %zu differs (kind %d/%d len %zu/%zu off %llu/%llu)\n", what, k, i,
                        a->kind, b->kind, a->len, b->len, (unsigned long long)a->off,
                        (unsigned long long)b->off);
            fail();
        }
    }
}

/* ---- the test stream ----------------------------------------------------- */

#define BIG 70000

struct stream {
    uint8_t *buf;
    size_t len;
    uint8_t *big; /* the 70000-byte payload, unmasked */
};

struct expect_frame {
    bool fin;
    uint8_t rsv, op;
    bool masked;
    uint64_t len;
    uint8_t header_len;
};

static const struct expect_frame EXPECT[] = {
    {true, 0, WS_OP_TEXT, false, 5, 2},       /* "Hello" */
    {false, 0, WS_OP_TEXT, true, 3, 6},       /* "Hel" ... */
    {true, 0, WS_OP_PING, true, 1, 6},        /* ping inside the fragmented message */
    {true, 0, WS_OP_CONTINUATION, true, 2, 6},/* ... "lo" */
    {true, 0, WS_OP_PONG, false, 0, 2},       /* empty pong */
    {true, 4, WS_OP_BINARY, false, 300, 4},   /* 16-bit length, RSV1 */
    {true, 0, WS_OP_BINARY, true, BIG, 14},   /* 64-bit length, masked */
    {true, 0, WS_OP_TEXT, false, 0, 2},       /* empty text */
    {true, 0, WS_OP_CLOSE, true, 5, 6},       /* close 1000 "bye" */
};
#define NFRAMES (sizeof EXPECT / sizeof EXPECT[0])

static void make_stream(struct stream *s)
{
    s->big = malloc(BIG);
    s->buf = malloc(BIG + 1024);
    assert_non_null(s->big);
    assert_non_null(s->buf);
    for (size_t i = 0; i < BIG; i++)
        s->big[i] = (uint8_t)(i * 7 + (i >> 8));
    uint8_t b300[300];
    for (size_t i = 0; i < sizeof b300; i++)
        b300[i] = (uint8_t)(255 - i);
    size_t n = 0;
    n += put_frame(s->buf + n, true, 0, WS_OP_TEXT, NULL, (const uint8_t *)"Hello", 5);
    n += put_frame(s->buf + n, false, 0, WS_OP_TEXT, MASK, (const uint8_t *)"Hel", 3);
    n += put_frame(s->buf + n, true, 0, WS_OP_PING, MASK, (const uint8_t *)"p", 1);
    n += put_frame(s->buf + n, true, 0, WS_OP_CONTINUATION, MASK, (const uint8_t *)"lo", 2);
    n += put_frame(s->buf + n, true, 0, WS_OP_PONG, NULL, NULL, 0);
    n += put_frame(s->buf + n, true, 4, WS_OP_BINARY, NULL, b300, sizeof b300);
    n += put_frame(s->buf + n, true, 0, WS_OP_BINARY, MASK, s->big, BIG);
    n += put_frame(s->buf + n, true, 0, WS_OP_TEXT, NULL, NULL, 0);
    n += put_frame(s->buf + n, true, 0, WS_OP_CLOSE, MASK, (const uint8_t *)"\x03\xe8" "bye", 5);
    s->len = n;
}

static void free_stream(struct stream *s)
{
    free(s->buf);
    free(s->big);
}

static void feed(struct rec *r, const uint8_t *p, size_t len, size_t k)
{
    struct ws_parser ps;
    ws_parser_init(&ps);
    memset(r, 0, sizeof *r);
    assert_int_equal(ws_parse(&ps, p, k, &EVENTS, r), k);
    assert_int_equal(ws_parse(&ps, p + k, len - k, &EVENTS, r), len - k);
    assert_int_equal(ps.state, WS_IN_HEADER);
}

/* Unmasks the payload of frame i from the recorded chunks. */
static uint8_t *frame_payload(const struct rec *r, size_t frame, uint64_t *len)
{
    size_t seen = 0;
    uint8_t *out = NULL;
    uint64_t have = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct ev *e = &r->ev[i];
        if (e->kind == EV_START && seen++ == frame) {
            out = malloc(e->f.len ? e->f.len : 1);
            have = 0;
        } else if (e->kind == EV_PAYLOAD && seen == frame + 1) {
            assert_int_equal(e->off, have);
            for (size_t j = 0; j < e->len; j++) {
                uint64_t pos = e->off + j;
                out[pos] = e->f.masked ? (uint8_t)(e->data[j] ^ e->f.mask[pos & 3]) : e->data[j];
            }
            have += e->len;
        }
    }
    *len = have;
    return out;
}

static void whole_stream_events(void **state)
{
    (void)state;
    struct stream s;
    make_stream(&s);
    struct rec r;
    feed(&r, s.buf, s.len, s.len);
    assert_false(r.bad_order);
    /* START, [PAYLOAD], END per frame */
    size_t i = 0;
    for (size_t fno = 0; fno < NFRAMES; fno++) {
        const struct expect_frame *x = &EXPECT[fno];
        assert_true(i < r.n);
        assert_int_equal(r.ev[i].kind, EV_START);
        const struct ws_frame *f = &r.ev[i].f;
        assert_int_equal(f->fin, x->fin);
        assert_int_equal(f->rsv, x->rsv);
        assert_int_equal(f->opcode, x->op);
        assert_int_equal(f->masked, x->masked);
        assert_int_equal(f->len, x->len);
        assert_int_equal(f->header_len, x->header_len);
        assert_false(f->non_minimal);
        assert_false(f->len_msb_set);
        if (x->masked)
            assert_memory_equal(f->mask, MASK, 4);
        i++;
        if (x->len) {
            assert_int_equal(r.ev[i].kind, EV_PAYLOAD);
            assert_int_equal(r.ev[i].len, x->len);
            assert_int_equal(r.ev[i].off, 0);
            /* zero-copy: payload points into the caller's buffer */
            assert_true(r.ev[i].data >= s.buf && r.ev[i].data + r.ev[i].len <= s.buf + s.len);
            i++;
        }
        assert_int_equal(r.ev[i].kind, EV_END);
        assert_true(frame_eq(&r.ev[i].f, f));
        i++;
    }
    assert_int_equal(i, r.n);

    uint64_t len;
    uint8_t *p = frame_payload(&r, 0, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "Hello", 5);
    free(p);
    p = frame_payload(&r, 1, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "Hel", 3);
    free(p);
    p = frame_payload(&r, 3, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "lo", 2);
    free(p);
    p = frame_payload(&r, 6, &len);
    assert_int_equal(len, BIG);
    assert_memory_equal(p, s.big, BIG);
    free(p);
    p = frame_payload(&r, 8, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "\x03\xe8" "bye", 5);
    free(p);
    free(r.ev);
    free_stream(&s);
}

static void split_at_every_byte(void **state)
{
    (void)state;
    struct stream s;
    make_stream(&s);
    struct rec want, got;
    feed(&want, s.buf, s.len, s.len);
    for (size_t k = 0; k <= s.len; k++) {
        feed(&got, s.buf, s.len, k);
        assert_same_events(&want, &got, "split at", k);
        free(got.ev);
    }
    free(want.ev);
    free_stream(&s);
}

static void one_byte_at_a_time(void **state)
{
    (void)state;
    struct stream s;
    make_stream(&s);
    struct rec want, got;
    feed(&want, s.buf, s.len, s.len);
    struct ws_parser ps;
    ws_parser_init(&ps);
    memset(&got, 0, sizeof got);
    for (size_t i = 0; i < s.len; i++)
        assert_int_equal(ws_parse(&ps, s.buf + i, 1, &EVENTS, &got), 1);
    assert_same_events(&want, &got, "bytewise", 0);
    uint64_t len;
    uint8_t *p = frame_payload(&got, 6, &len);
    assert_int_equal(len, BIG);
    assert_memory_equal(p, s.big, BIG);
    free(p);
    free(got.ev);
    free(want.ev);
    free_stream(&s);
}

static void three_way_splits(void **state)
{
    (void)state;
    /* all (i, j) cut pairs over the small frames: parser state survives two cuts */
    struct stream s;
    make_stream(&s);
    size_t small = 2 + 5 + 6 + 3 + 6 + 1 + 6 + 2 + 2 + 4 + 300; /* frames before the big one */
    struct rec want;
    struct ws_parser ps;
    ws_parser_init(&ps);
    memset(&want, 0, sizeof want);
    ws_parse(&ps, s.buf, small, &EVENTS, &want);
    assert_int_equal(ps.state, WS_IN_HEADER);
    for (size_t i = 0; i <= small; i += 1) {
        for (size_t j = i; j <= small; j += 3) {
            struct rec got;
            memset(&got, 0, sizeof got);
            ws_parser_init(&ps);
            ws_parse(&ps, s.buf, i, &EVENTS, &got);
            ws_parse(&ps, s.buf + i, j - i, &EVENTS, &got);
            ws_parse(&ps, s.buf + j, small - j, &EVENTS, &got);
            assert_same_events(&want, &got, "three-way", i * 100000 + j);
            free(got.ev);
        }
    }
    free(want.ev);
    free_stream(&s);
}

/* ---- ws_decode_header ---------------------------------------------------- */

static void decode_7bit(void **state)
{
    (void)state;
    struct ws_frame f;
    static const uint8_t h[] = {0x81, 0x05};
    assert_int_equal(ws_decode_header(h, 2, &f), 2);
    assert_true(f.fin);
    assert_int_equal(f.rsv, 0);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_false(f.masked);
    assert_int_equal(f.len, 5);
    assert_int_equal(f.header_len, 2);
    assert_false(f.non_minimal);
    assert_false(f.len_msb_set);

    static const uint8_t m[] = {0x02, 0xfd, 0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(ws_decode_header(m, 6, &f), 6);
    assert_false(f.fin);
    assert_int_equal(f.opcode, WS_OP_BINARY);
    assert_true(f.masked);
    assert_int_equal(f.len, 125);
    assert_int_equal(f.header_len, 6);
    assert_memory_equal(f.mask, "\xde\xad\xbe\xef", 4);
    /* bytes after the header are not part of it */
    static const uint8_t more[] = {0x88, 0x02, 0x03, 0xe8, 0xff};
    assert_int_equal(ws_decode_header(more, sizeof more, &f), 2);
    assert_int_equal(f.opcode, WS_OP_CLOSE);
    assert_int_equal(f.len, 2);
}

static void decode_16bit(void **state)
{
    (void)state;
    struct ws_frame f;
    static const uint8_t a[] = {0x82, 0x7e, 0x01, 0x00};
    assert_int_equal(ws_decode_header(a, 4, &f), 4);
    assert_int_equal(f.len, 256);
    assert_false(f.non_minimal);
    static const uint8_t b[] = {0x82, 0x7e, 0x00, 0x7e}; /* 126: minimal */
    assert_int_equal(ws_decode_header(b, 4, &f), 4);
    assert_int_equal(f.len, 126);
    assert_false(f.non_minimal);
    static const uint8_t c[] = {0x82, 0x7e, 0x00, 0x7d}; /* 125 in 16 bits */
    assert_int_equal(ws_decode_header(c, 4, &f), 4);
    assert_int_equal(f.len, 125);
    assert_true(f.non_minimal);
    static const uint8_t d[] = {0x81, 0xfe, 0xff, 0xff, 1, 2, 3, 4};
    assert_int_equal(ws_decode_header(d, 8, &f), 8);
    assert_int_equal(f.len, 0xffff);
    assert_true(f.masked);
    assert_int_equal(f.header_len, 8);
    assert_memory_equal(f.mask, "\x01\x02\x03\x04", 4);
    assert_false(f.non_minimal);
    static const uint8_t z[] = {0x81, 0x7e, 0x00, 0x00};
    assert_int_equal(ws_decode_header(z, 4, &f), 4);
    assert_int_equal(f.len, 0);
    assert_true(f.non_minimal);
}

static void decode_64bit(void **state)
{
    (void)state;
    struct ws_frame f;
    static const uint8_t a[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(ws_decode_header(a, 10, &f), 10);
    assert_int_equal(f.len, 0x10000);
    assert_false(f.non_minimal);
    assert_false(f.len_msb_set);
    static const uint8_t b[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    assert_int_equal(ws_decode_header(b, 10, &f), 10);
    assert_int_equal(f.len, 0xffff);
    assert_true(f.non_minimal);
    static const uint8_t c[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_int_equal(ws_decode_header(c, 10, &f), 10);
    assert_int_equal(f.len, 5);
    assert_true(f.non_minimal);
    static const uint8_t d[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 9, 8, 7, 6};
    assert_int_equal(ws_decode_header(d, 14, &f), 14);
    assert_true(f.len_msb_set);
    assert_int_equal(f.len, 0x8000000000000001ULL);
    assert_true(f.masked);
    assert_int_equal(f.header_len, 14);
    assert_memory_equal(f.mask, "\x09\x08\x07\x06", 4);
    static const uint8_t e[] = {0x82, 0x7f, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    assert_int_equal(ws_decode_header(e, 10, &f), 10);
    assert_int_equal(f.len, 0x0123456789abcdefULL);
    assert_false(f.len_msb_set);
    assert_false(f.non_minimal);
}

static void decode_needs_more(void **state)
{
    (void)state;
    static const uint8_t hs[][14] = {
        {0x81, 0x05},
        {0x81, 0x85, 1, 2, 3, 4},
        {0x82, 0x7e, 0x01, 0x00},
        {0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4},
        {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0},
        {0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4},
    };
    static const size_t lens[] = {2, 6, 4, 8, 10, 14};
    for (size_t t = 0; t < 6; t++) {
        struct ws_frame f;
        for (size_t k = 0; k < lens[t]; k++)
            assert_int_equal(ws_decode_header(hs[t], k, &f), 0);
        assert_int_equal(ws_decode_header(hs[t], lens[t], &f), lens[t]);
        assert_int_equal(f.header_len, lens[t]);
    }
}

static void decode_rsv_and_opcodes(void **state)
{
    (void)state;
    struct ws_frame f;
    uint8_t h[2] = {0, 0};
    static const struct {
        uint8_t b0;
        bool fin;
        uint8_t rsv, op;
    } cases[] = {
        {0xc1, true, 4, 1},  {0xa1, true, 2, 1},   {0x91, true, 1, 1},  {0xf2, true, 7, 2},
        {0x70, false, 7, 0}, {0x83, true, 0, 3},   {0x87, true, 0, 7},  {0x88, true, 0, 8},
        {0x89, true, 0, 9},  {0x8a, true, 0, 0xa}, {0x0b, false, 0, 0xb}, {0x8f, true, 0, 0xf},
        {0x00, false, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h[0] = cases[i].b0;
        assert_int_equal(ws_decode_header(h, 2, &f), 2);
        assert_int_equal(f.fin, cases[i].fin);
        assert_int_equal(f.rsv, cases[i].rsv);
        assert_int_equal(f.opcode, cases[i].op);
    }
}

/* ---- ws_frame_plausible -------------------------------------------------- */

static struct ws_frame mkf(bool fin, uint8_t rsv, uint8_t op, bool masked, uint64_t len)
{
    struct ws_frame f;
    memset(&f, 0, sizeof f);
    f.fin = fin;
    f.rsv = rsv;
    f.opcode = op;
    f.masked = masked;
    f.len = len;
    return f;
}

static void plausible_rules(void **state)
{
    (void)state;
    struct ws_frame f = mkf(true, 0, WS_OP_TEXT, true, 10);
    assert_true(ws_frame_plausible(&f, true));
    assert_false(ws_frame_plausible(&f, false)); /* servers never mask */
    f = mkf(true, 0, WS_OP_BINARY, false, 100000);
    assert_true(ws_frame_plausible(&f, false));
    assert_false(ws_frame_plausible(&f, true)); /* clients always mask */
    f = mkf(false, 0, WS_OP_CONTINUATION, false, 1);
    assert_true(ws_frame_plausible(&f, false));
    f = mkf(true, 4, WS_OP_TEXT, false, 10); /* RSV1: permessage-deflate */
    assert_true(ws_frame_plausible(&f, false));
    f = mkf(true, 2, WS_OP_TEXT, false, 10);
    assert_false(ws_frame_plausible(&f, false));
    f = mkf(true, 1, WS_OP_TEXT, false, 10);
    assert_false(ws_frame_plausible(&f, false));
    for (uint8_t op = 3; op <= 7; op++) {
        f = mkf(true, 0, op, false, 1);
        assert_false(ws_frame_plausible(&f, false));
    }
    for (uint8_t op = 0xb; op <= 0xf; op++) {
        f = mkf(true, 0, op, false, 1);
        assert_false(ws_frame_plausible(&f, false));
    }
    f = mkf(true, 0, WS_OP_PING, false, 125);
    assert_true(ws_frame_plausible(&f, false));
    f = mkf(true, 0, WS_OP_PING, false, 126);
    assert_false(ws_frame_plausible(&f, false));
    f = mkf(false, 0, WS_OP_PONG, false, 0);
    assert_false(ws_frame_plausible(&f, false));
    f = mkf(true, 0, WS_OP_CLOSE, true, 2);
    assert_true(ws_frame_plausible(&f, true));
    f = mkf(true, 0, WS_OP_TEXT, false, 5);
    f.non_minimal = true;
    assert_false(ws_frame_plausible(&f, false));
    f = mkf(true, 0, WS_OP_BINARY, false, 0x8000000000000000ULL);
    f.len_msb_set = true;
    assert_false(ws_frame_plausible(&f, false));
}

/* ---- gaps and resync ----------------------------------------------------- */

static void gap_inside_payload_keeps_sync(void **state)
{
    (void)state;
    uint8_t buf[400];
    uint8_t pl[200];
    for (size_t i = 0; i < sizeof pl; i++)
        pl[i] = (uint8_t)i;
    size_t a = put_frame(buf, true, 0, WS_OP_BINARY, NULL, pl, 200); /* 4 + 200 */
    size_t b = put_frame(buf + a, true, 0, WS_OP_TEXT, NULL, (const uint8_t *)"next", 4);
    struct ws_parser ps;
    ws_parser_init(&ps);
    struct rec r;
    memset(&r, 0, sizeof r);
    /* header + 50 payload bytes, then 100 bytes missing, then the rest */
    assert_int_equal(ws_parse(&ps, buf, 4 + 50, &EVENTS, &r), 54);
    ws_parser_gap(&ps, 100, &EVENTS, &r);
    assert_int_equal(ps.state, WS_IN_PAYLOAD);
    assert_int_equal(ws_parse(&ps, buf + 154, a + b - 154, &EVENTS, &r), a + b - 154);
    assert_int_equal(ps.state, WS_IN_HEADER);
    /* START, PAYLOAD[0,50), PAYLOAD[150,200), END, START, PAYLOAD, END */
    assert_int_equal(r.n, 7);
    assert_int_equal(r.ev[1].kind, EV_PAYLOAD);
    assert_int_equal(r.ev[1].off, 0);
    assert_int_equal(r.ev[1].len, 50);
    assert_int_equal(r.ev[2].kind, EV_PAYLOAD);
    assert_int_equal(r.ev[2].off, 150);
    assert_int_equal(r.ev[2].len, 50);
    assert_ptr_equal(r.ev[2].data, buf + 154);
    assert_int_equal(r.ev[3].kind, EV_END);
    assert_int_equal(r.ev[4].kind, EV_START);
    assert_int_equal(r.ev[4].f.opcode, WS_OP_TEXT);
    assert_int_equal(r.ev[4].f.len, 4);
    assert_memory_equal(r.ev[5].data, "next", 4);
    assert_int_equal(r.ev[6].kind, EV_END);
    free(r.ev);
}

static void gap_ending_payload_ends_frame(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t a = put_frame(buf, true, 0, WS_OP_BINARY, NULL, (const uint8_t *)"0123456789", 10);
    size_t b = put_frame(buf + a, true, 0, WS_OP_PING, NULL, NULL, 0);
    struct ws_parser ps;
    ws_parser_init(&ps);
    struct rec r;
    memset(&r, 0, sizeof r);
    ws_parse(&ps, buf, 2 + 4, &EVENTS, &r);
    ws_parser_gap(&ps, 6, &EVENTS, &r); /* exactly the rest of the payload */
    assert_int_equal(ps.state, WS_IN_HEADER);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ev[2].kind, EV_END);
    assert_int_equal(ws_parse(&ps, buf + a, b, &EVENTS, &r), b);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.ev[3].f.opcode, WS_OP_PING);
    free(r.ev);
}

static void gap_outside_payload_loses_sync(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t a = put_frame(buf, true, 0, WS_OP_TEXT, NULL, (const uint8_t *)"abcd", 4);
    size_t b = put_frame(buf + a, true, 0, WS_OP_TEXT, NULL, (const uint8_t *)"efgh", 4);
    struct ws_parser ps;
    struct rec r;

    /* gap at a frame boundary */
    ws_parser_init(&ps);
    memset(&r, 0, sizeof r);
    ws_parse(&ps, buf, a, &EVENTS, &r);
    ws_parser_gap(&ps, 3, &EVENTS, &r);
    assert_int_equal(ps.state, WS_LOST);
    size_t before = r.n;
    assert_int_equal(ws_parse(&ps, buf + a, b, &EVENTS, &r), 0);
    assert_int_equal(r.n, before);
    free(r.ev);

    /* gap inside a header */
    ws_parser_init(&ps);
    memset(&r, 0, sizeof r);
    ws_parse(&ps, buf, 1, &EVENTS, &r);
    ws_parser_gap(&ps, 1, &EVENTS, &r);
    assert_int_equal(ps.state, WS_LOST);
    free(r.ev);

    /* gap longer than what is left of the payload */
    ws_parser_init(&ps);
    memset(&r, 0, sizeof r);
    ws_parse(&ps, buf, 3, &EVENTS, &r);
    ws_parser_gap(&ps, 4, &EVENTS, &r);
    assert_int_equal(ps.state, WS_LOST);
    assert_int_equal(ws_parse(&ps, buf + a, b, &EVENTS, &r), 0);
    free(r.ev);
}

static void resync_after_loss(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t a = put_frame(buf, true, 0, WS_OP_TEXT, MASK, (const uint8_t *)"abcd", 4);
    struct ws_parser ps;
    struct rec r;
    ws_parser_init(&ps);
    memset(&r, 0, sizeof r);
    ws_parser_gap(&ps, 10, &EVENTS, &r);
    assert_int_equal(ps.state, WS_LOST);
    /* a masked frame is not plausible from a server */
    assert_false(ws_parser_resync(&ps, buf, a, false));
    assert_int_equal(ps.state, WS_LOST);
    /* a short header cannot be judged */
    assert_false(ws_parser_resync(&ps, buf, 1, true));
    assert_int_equal(ps.state, WS_LOST);
    static const uint8_t junk[] = {0x83, 0x80, 0, 0, 0, 0}; /* reserved opcode */
    assert_false(ws_parser_resync(&ps, junk, sizeof junk, true));
    assert_true(ws_parser_resync(&ps, buf, a, true));
    assert_int_equal(ps.state, WS_IN_HEADER);
    assert_int_equal(ws_parse(&ps, buf, a, &EVENTS, &r), a);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ev[0].f.opcode, WS_OP_TEXT);
    assert_int_equal(r.ev[1].len, 4);
    assert_int_equal(ps.state, WS_IN_HEADER);
    free(r.ev);

    /* resync discards a half-collected header */
    ws_parser_init(&ps);
    memset(&r, 0, sizeof r);
    ws_parse(&ps, buf, 3, &EVENTS, &r);
    ws_parser_gap(&ps, 2, &EVENTS, &r);
    assert_true(ws_parser_resync(&ps, buf, a, true));
    assert_int_equal(ws_parse(&ps, buf, a, &EVENTS, &r), a);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.ev[0].f.len, 4);
    free(r.ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_7bit),
        cmocka_unit_test(decode_16bit),
        cmocka_unit_test(decode_64bit),
        cmocka_unit_test(decode_needs_more),
        cmocka_unit_test(decode_rsv_and_opcodes),
        cmocka_unit_test(plausible_rules),
        cmocka_unit_test(whole_stream_events),
        cmocka_unit_test(split_at_every_byte),
        cmocka_unit_test(one_byte_at_a_time),
        cmocka_unit_test(three_way_splits),
        cmocka_unit_test(gap_inside_payload_keeps_sync),
        cmocka_unit_test(gap_ending_payload_ends_frame),
        cmocka_unit_test(gap_outside_payload_loses_sync),
        cmocka_unit_test(resync_after_loss),
    };
    RUN_TESTS(tests);
}
