/*
 * fuzz/fuzz_ws.c — libFuzzer target for the WebSocket frame parser,
 * app/websocket/frame.c, and the frame half of app/websocket/session.c.
 *
 * Input: byte 0 = flags (bit 0: gaps in the chunked runs), bytes 1-2 =
 * length of the client's stream (LE, clamped), bytes 3-6 = seed for chunk
 * sizes; then the client's frame stream (masked, as a client's must be) and
 * the server's.
 *
 * For each stream:
 *  - ws_parse() over the whole stream and over random chunks (each in a
 *    buffer of its own) must give the same events: frame headers, payload
 *    bytes in order, frame ends; payload chunks lie inside the buffer given
 *    and at the offsets announced; everything is consumed unless sync is lost;
 *  - with gaps (ws_parser_gap) and ws_parser_resync() after a loss, the
 *    same bookkeeping holds: no payload past a frame's length, pos counts
 *    every byte fed or skipped;
 *  - ws_decode_header(), ws_frame_plausible() and ws_frames_tile() at the
 *    first offsets.
 * Then both streams go through a mid-stream wsconn (as the engine picks up a
 * connection whose handshake the capture missed) and its record is checked.
 *
 * Seeds (fuzz/mkseeds.py): the frame streams of the project's captures.
 */
#include <string.h>

#include "../app/websocket/frame.h"
#include "fuzz.h"

/* What the events said, folded so that two runs can be compared. */
struct trace {
    uint64_t hash;
    uint64_t frames_started, frames_ended, payload_bytes;
    bool in_frame;
    struct ws_frame cur;
    uint64_t seen;            /* payload bytes (and gap bytes) of the current frame */
    const uint8_t *buf;       /* the chunk being parsed ... */
    size_t buf_len;           /* ... and its length */
};

static void mix(struct trace *t, uint64_t v)
{
    t->hash = (t->hash ^ v) * 0x100000001b3ull;
}

static void mix_frame(struct trace *t, const struct ws_frame *f)
{
    mix(t, f->fin | (uint64_t)f->rsv << 1 | (uint64_t)f->opcode << 4 | (uint64_t)f->masked << 8 |
               (uint64_t)f->non_minimal << 9 | (uint64_t)f->len_msb_set << 10 | (uint64_t)f->header_len << 11);
    mix(t, f->len);
    if (f->masked)
        mix(t, (uint64_t)f->mask[0] | (uint64_t)f->mask[1] << 8 | (uint64_t)f->mask[2] << 16 |
                   (uint64_t)f->mask[3] << 24);
}

static void ev_start(void *arg, const struct ws_frame *f)
{
    struct trace *t = arg;
    fuzz_check(!t->in_frame);
    fuzz_check(f->header_len >= 2 && f->header_len <= WS_MAX_HEADER);
    t->in_frame = true;
    t->cur = *f;
    t->seen = 0;
    t->frames_started++;
    mix(t, 1);
    mix_frame(t, f);
}

static void ev_payload(void *arg, const struct ws_frame *f, const uint8_t *data, size_t len, uint64_t off)
{
    struct trace *t = arg;
    fuzz_check(t->in_frame);
    fuzz_check(len > 0);
    fuzz_check(off == t->seen);
    fuzz_check(f->len == t->cur.len && off + len <= f->len);
    fuzz_check(data >= t->buf && (size_t)(data - t->buf) <= t->buf_len &&
               len <= t->buf_len - (size_t)(data - t->buf));
    for (size_t i = 0; i < len; i++)
        mix(t, data[i]);
    t->seen += len;
    t->payload_bytes += len;
}

static void ev_end(void *arg, const struct ws_frame *f)
{
    struct trace *t = arg;
    fuzz_check(t->in_frame);
    fuzz_check(t->seen == f->len);
    t->in_frame = false;
    t->frames_ended++;
    mix(t, 2);
}

static const struct ws_events events = {ev_start, ev_payload, ev_end};

/* The whole stream in one call. */
static void parse_whole(const uint8_t *buf, size_t len, struct trace *t)
{
    struct ws_parser p;
    ws_parser_init(&p);
    t->buf = buf;
    t->buf_len = len;
    size_t used = ws_parse(&p, buf, len, &events, t);
    fuzz_check(used == len);
    fuzz_check(p.pos == len);
}

/* The same stream in chunks (and, with gaps, some chunks skipped). Without
 * gaps the trace must match the whole-stream one. */
static void parse_chunked(const uint8_t *buf, size_t len, bool from_client, uint32_t *rng, bool gaps,
                          struct trace *t)
{
    struct ws_parser p;
    ws_parser_init(&p);
    size_t pos = 0;
    while (pos < len) {
        uint32_t r = fuzz_rand(rng);
        size_t n = 1 + (r >> 3) % ((r & 7) == 0 ? 4096 : 24);
        if (n > len - pos)
            n = len - pos;
        uint64_t before = p.pos;
        if (gaps && (r >> 24 & 7) == 0) {
            bool payload_continues = p.state == WS_IN_PAYLOAD && p.frame.len - p.payload_seen >= n;
            t->buf = NULL;
            t->buf_len = 0;
            if (payload_continues)
                t->seen += n; /* a hole inside a payload keeps the frame */
            ws_parser_gap(&p, n, &events, t);
            if (!payload_continues) {
                fuzz_check(p.state == WS_LOST);
                t->in_frame = false;
            }
            fuzz_check(p.pos == before + n);
        } else {
            uint8_t *chunk = fuzz_dup(buf + pos, n);
            t->buf = chunk;
            t->buf_len = n;
            if (p.state == WS_LOST && ws_parser_resync(&p, chunk, n, from_client))
                fuzz_check(p.state == WS_IN_HEADER);
            size_t used = ws_parse(&p, chunk, n, &events, t);
            if (p.state == WS_LOST)
                fuzz_check(used == 0);
            else
                fuzz_check(used == n);
            fuzz_check(p.pos == before + used);
            free(chunk);
        }
        pos += n;
    }
}

/* Header decoding and the plausibility rules at the first offsets. */
static void check_headers(const uint8_t *buf, size_t len)
{
    size_t limit = len < 64 ? len : 64;
    for (size_t off = 0; off < limit; off++) {
        struct ws_frame f;
        size_t h = ws_decode_header(buf + off, len - off, &f);
        fuzz_check(h == 0 || (h >= 2 && h <= WS_MAX_HEADER && h <= len - off));
        if (h) {
            fuzz_check(h == f.header_len);
            fuzz_check(f.rsv <= 7 && f.opcode <= 15);
            bool pc = ws_frame_plausible(&f, true), ps = ws_frame_plausible(&f, false);
            fuzz_check(!(pc && ps)); /* masked iff from a client */
        }
        bool masked = false;
        if (ws_frames_tile(buf + off, len - off, &masked)) {
            struct ws_frame g;
            fuzz_check(ws_decode_header(buf + off, len - off, &g) > 0 && g.masked == masked);
        }
    }
}

static void one_stream(const uint8_t *buf, size_t len, bool from_client, uint32_t seed, bool gaps)
{
    struct trace whole, chunked;
    memset(&whole, 0, sizeof whole);
    memset(&chunked, 0, sizeof chunked);
    parse_whole(buf, len, &whole);
    uint32_t rng = seed;
    parse_chunked(buf, len, from_client, &rng, false, &chunked);
    fuzz_check(whole.hash == chunked.hash);
    fuzz_check(whole.frames_started == chunked.frames_started && whole.frames_ended == chunked.frames_ended);
    fuzz_check(whole.payload_bytes == chunked.payload_bytes);
    if (gaps) {
        struct trace holed;
        memset(&holed, 0, sizeof holed);
        rng = seed ^ 0x5bd1e995u;
        parse_chunked(buf, len, from_client, &rng, true, &holed);
    }
    check_headers(buf, len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_gcrypt();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    bool gaps = (flags & 1) != 0;
    size_t clen = fuzz_u16(&in);
    uint32_t seed = fuzz_u32(&in);
    if (clen > in.n)
        clen = in.n;
    uint8_t *cli = fuzz_dup(in.p, clen);
    uint8_t *srv = fuzz_dup(in.p + clen, in.n - clen);
    size_t slen = in.n - clen;

    one_stream(cli, clen, true, seed, gaps);
    one_stream(srv, slen, false, seed * 31 + 7, gaps);

    struct wsconn *c = wsconn_new_midstream();
    if (c) {
        uint32_t rng = seed;
        fuzz_drive_wsconn(c, cli, clen, srv, slen, &rng, gaps);
        wsconn_free(c);
    }
    free(cli);
    free(srv);
    return 0;
}
