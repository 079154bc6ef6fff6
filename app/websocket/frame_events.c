/*
 * app/websocket/frame_events.c — what the frames of a WebSocket connection say
 * (see session_internal.h).
 *
 * Frames: RFC 6455 §5.1 masking, §5.2 header rules, §5.4 fragmentation,
 * §5.5 control frames, §5.5.1 and §7.4 close frames and codes, §8.1 UTF-8
 * in reasons. The frame parser (frame.c) reports each frame's start, its
 * payload bytes and its end; this file counts them, judges them, and keeps
 * the first close frame of each side with where it lay on the wire.
 */
#include "session_internal.h"

#include "../../model/codes.h"

#define CLOSE_PAYLOAD_MAX 4096 /* close payload bytes kept (legal ones are <= 125) */

/* ---- frames ------------------------------------------------------------- */

struct frame_ctx {
    struct wsconn *c;
    int dir;
    ts_us_t ts;
};

static bool opcode_is_known(uint8_t op)
{
    return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

/* §5.2 RSV bits: only a negotiated extension may set them; permessage-deflate
 * (RFC 7692 §6) sets RSV1 on the first frame of a data message. */
static bool rsv_allowed(const struct wsconn *c, const struct ws_frame *f)
{
    if (f->rsv == 0)
        return true;
    return c->deflate && f->rsv == 0x4 && (f->opcode == WS_OP_TEXT || f->opcode == WS_OP_BINARY);
}

/* §5.4: data frames and message boundaries; counts completed messages. */
static void track_message(struct wsconn *c, struct ws_side *s, const struct ws_frame *f)
{
    if (f->opcode == WS_OP_CONTINUATION) {
        if (!s->in_message) {
            c->violations |= V_BAD_CONTINUATION;
            return;
        }
    } else if (s->in_message) {
        c->violations |= V_BAD_CONTINUATION; /* a new message inside a fragmented one */
    }
    s->in_message = !f->fin;
    if (f->fin)
        s->messages++;
}

static void count_control_frame(struct wsconn *c, const struct ws_frame *f)
{
    if (f->opcode == WS_OP_PING)
        c->pings++;
    else if (f->opcode == WS_OP_PONG)
        c->pongs++;
}

/* The violations a frame's header alone shows: §5.1 masking, §5.2 length
 * encoding, RSV bits and opcodes, §5.5 control frames. */
static uint32_t header_violations(const struct wsconn *c, int dir, const struct ws_frame *f)
{
    uint32_t v = 0;
    if (dir == DIR_CLIENT && !f->masked) /* §5.1 */
        v |= V_UNMASKED_CLIENT_FRAME;
    if (dir == DIR_SERVER && f->masked)
        v |= V_MASKED_SERVER_FRAME;
    if (f->non_minimal)
        v |= V_NON_MINIMAL_LENGTH;
    if (!rsv_allowed(c, f))
        v |= V_RSV_WITHOUT_EXTENSION;
    if (!opcode_is_known(f->opcode))
        v |= V_RESERVED_OPCODE;
    else if (WS_OP_IS_CONTROL(f->opcode)) {
        if (f->len > 125) /* §5.5 */
            v |= V_CONTROL_FRAME_TOO_LONG;
        if (!f->fin)
            v |= V_FRAGMENTED_CONTROL_FRAME;
    }
    return v;
}

static void start_close_payload(struct wsconn *c, struct ws_side *s, const struct ws_frame *f)
{
    if (s->close_seen || s->collecting_close)
        return; /* only the first close frame of a side counts */
    s->close_cap = (uint32_t)(f->len < CLOSE_PAYLOAD_MAX ? f->len : CLOSE_PAYLOAD_MAX);
    s->close_have = 0;
    s->close_buf = s->close_cap ? conn_alloc(c, s->close_cap) : NULL;
    s->collecting_close = s->close_cap == 0 || s->close_buf != NULL;
}

static void on_frame_start(void *arg, const struct ws_frame *f)
{
    struct frame_ctx *x = arg;
    struct wsconn *c = x->c;
    struct ws_side *s = &c->side[x->dir];
    s->frames++;
    c->last_frame_at = x->ts; /* payload bytes count at the frame's end: a header may claim 2^64 */
    uint32_t v = header_violations(c, x->dir, f);
    c->violations |= v;
    if (v && s->frames == 1 && !s->gap_before_frames)
        s->first_frame_not_frame = true; /* read where a frame must begin: not one */
    if (v)
        s->a_frame_not_frame = true;
    if (f->len_msb_set) /* §5.2: no violation of docs/design.md §4, but counted */
        c->frames_len_msb++;
    if (!opcode_is_known(f->opcode))
        return;
    if (WS_OP_IS_CONTROL(f->opcode)) {
        count_control_frame(c, f);
        if (f->opcode == WS_OP_CLOSE)
            start_close_payload(c, s, f);
        return;
    }
    if (s->close_seen) /* §5.5.1: no data frames after a close frame */
        c->violations |= V_DATA_AFTER_CLOSE;
    c->last_data_at = x->ts;
    track_message(c, s, f);
}

static void on_payload(void *arg, const struct ws_frame *f, const uint8_t *data, size_t len, uint64_t off)
{
    struct frame_ctx *x = arg;
    struct ws_side *s = &x->c->side[x->dir];
    if (f->opcode != WS_OP_CLOSE || !s->collecting_close || off >= s->close_cap)
        return;
    if (off != s->close_have)
        return; /* bytes before these were lost: keep only the contiguous start */
    size_t n = len;
    if (off + n > s->close_cap)
        n = (size_t)(s->close_cap - off);
    for (size_t i = 0; i < n; i++) {
        uint64_t pos = off + i;
        s->close_buf[pos] = f->masked ? (uint8_t)(data[i] ^ f->mask[pos & 3]) : data[i];
    }
    s->close_have = (uint32_t)(off + n);
}

/* §5.5.1 / §7.1.5: decode a complete close payload into code and reason. */
static void decode_close(struct wsconn *c, struct ws_side *s, uint64_t wire_len)
{
    if (wire_len == 0) {
        s->close_code = WS_CLOSE_NO_STATUS;
        return;
    }
    if (wire_len == 1) {
        s->close_code = WS_CLOSE_NO_STATUS;
        c->violations |= V_CLOSE_TOO_SHORT;
        return;
    }
    if (s->close_have < 2) { /* the status code was not captured */
        s->close_code = -1;
        return;
    }
    s->close_code = s->close_buf[0] << 8 | s->close_buf[1];
    if (!close_code_may_be_sent(s->close_code)) /* §7.4.1, §7.4.2 */
        c->violations |= V_INVALID_CLOSE_CODE;
    size_t rlen = s->close_have - 2;
    const uint8_t *reason = s->close_buf + 2;
    bool complete = s->close_have == wire_len;
    if (rlen == 0)
        return;
    if (!utf8_valid(reason, rlen) && complete) /* §5.5.1: the reason is UTF-8 */
        c->violations |= V_INVALID_UTF8_REASON;
    s->close_reason = conn_strdup(c, (const char *)reason, rlen);
}

static void on_frame_end(void *arg, const struct ws_frame *f)
{
    struct frame_ctx *x = arg;
    struct wsconn *c = x->c;
    struct ws_side *s = &c->side[x->dir];
    s->bytes += f->len; /* the whole payload went by */
    if (f->opcode != WS_OP_CLOSE || !s->collecting_close)
        return;
    s->collecting_close = false;
    decode_close(c, s, f->len);
    conn_free(c, s->close_buf, s->close_cap);
    s->close_buf = NULL;
    s->close_seen = true;
    s->close_at = x->ts;
    if (s->chunk_known) {
        s->close_pos_known = true;
        s->close_end_seq = s->chunk_seq + (uint32_t)(s->parser.pos - s->chunk_pos);
        s->close_ack = s->chunk_ack;
        s->close_has_ack = s->chunk_has_ack;
    }
    if (c->first_close < 0)
        c->first_close = x->dir;
}

static const struct ws_events frame_events = {on_frame_start, on_payload, on_frame_end};

void feed_frames(struct wsconn *c, int dir, const uint8_t *data, size_t len, ts_us_t ts)
{
    struct ws_parser *p = &c->side[dir].parser;
    if (p->state == WS_LOST && !ws_parser_resync(p, data, len, dir == DIR_CLIENT)) {
        p->pos += len; /* resynchronise only where a segment starts with a header */
        return;
    }
    struct frame_ctx x = {c, dir, ts};
    ws_parse(p, data, len, &frame_events, &x);
}

void frames_gap(struct wsconn *c, int dir, uint64_t len)
{
    struct frame_ctx x = {c, dir, c->last_frame_at};
    ws_parser_gap(&c->side[dir].parser, len, &frame_events, &x);
}

void wsconn_position(struct wsconn *c, int dir, uint32_t seq, uint32_t ack, bool has_ack)
{
    struct ws_side *s = &c->side[dir];
    s->chunk_known = true;
    s->chunk_seq = seq;
    s->chunk_ack = ack;
    s->chunk_has_ack = has_ack;
    s->chunk_pos = s->parser.pos;
}
