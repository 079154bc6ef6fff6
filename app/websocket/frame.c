/*
 * app/websocket/frame.c — incremental, zero-copy WebSocket frame parser (RFC 6455 §5.2).
 *
 * Base framing protocol:
 *   byte 0: FIN, RSV1-3, opcode(4)       byte 1: MASK, payload len(7)
 *   len 126 -> 16-bit length follows; 127 -> 64-bit length follows
 *   then a 4-byte masking key when MASK is set, then the payload.
 */
#include "frame.h"

#include <string.h>

#include "../../common/bytes.h"
#include "../../common/utf8.h"

void ws_parser_init(struct ws_parser *p)
{
    memset(p, 0, sizeof *p);
    p->state = WS_IN_HEADER;
}

/* Bytes of header implied by its first two bytes. */
static size_t header_len_from_prefix(uint8_t b1)
{
    size_t n = 2;
    uint8_t len7 = b1 & 0x7f;
    if (len7 == 126)
        n += 2;
    else if (len7 == 127)
        n += 8;
    if (b1 & 0x80)
        n += 4;
    return n;
}

size_t ws_decode_header(const uint8_t *buf, size_t len, struct ws_frame *f)
{
    uint8_t b0, b1;
    if (!bytes_u8(buf, len, 0, &b0) || !bytes_u8(buf, len, 1, &b1))
        return 0;
    size_t need = header_len_from_prefix(b1);
    if (len < need)
        return 0;
    memset(f, 0, sizeof *f);
    f->fin = (b0 & 0x80) != 0;
    f->rsv = (b0 >> 4) & 0x7;
    f->opcode = b0 & 0x0f;
    f->masked = (b1 & 0x80) != 0;
    f->header_len = (uint8_t)need;
    uint8_t len7 = b1 & 0x7f;
    size_t pos = 2;
    uint64_t v = 0;
    if (len7 == 126) {
        bytes_be_n(buf, len, pos, 2, &v);
        f->len = v;
        f->non_minimal = v < 126; /* §5.2: "the minimal number of bytes MUST be used" */
        pos += 2;
    } else if (len7 == 127) {
        bytes_be_n(buf, len, pos, 8, &v);
        f->len_msb_set = (v >> 63) != 0; /* §5.2: "the most significant bit MUST be 0" */
        f->len = v;
        f->non_minimal = v <= 0xffff;
        pos += 8;
    } else {
        f->len = len7;
    }
    if (f->masked)
        memcpy(f->mask, buf + pos, 4);
    return need;
}

static void finish_frame(struct ws_parser *p, const struct ws_events *ev, void *arg)
{
    ev->frame_end(arg, &p->frame);
    p->state = WS_IN_HEADER;
    p->hdr_have = 0;
    p->payload_seen = 0;
}

/* Collects header bytes; returns bytes consumed. */
static size_t take_header(struct ws_parser *p, const uint8_t *data, size_t len,
                          const struct ws_events *ev, void *arg)
{
    size_t used = 0;
    while (used < len) {
        size_t want = p->hdr_have < 2 ? 2 : header_len_from_prefix(p->hdr[1]);
        if (p->hdr_have == want)
            break;
        p->hdr[p->hdr_have++] = data[used++];
    }
    p->pos += used;
    if (p->hdr_have < 2 || p->hdr_have < header_len_from_prefix(p->hdr[1]))
        return used;
    ws_decode_header(p->hdr, p->hdr_have, &p->frame);
    p->payload_seen = 0;
    p->state = WS_IN_PAYLOAD;
    ev->frame_start(arg, &p->frame);
    if (p->frame.len == 0)
        finish_frame(p, ev, arg);
    return used;
}

static size_t take_payload(struct ws_parser *p, const uint8_t *data, size_t len,
                           const struct ws_events *ev, void *arg)
{
    uint64_t left = p->frame.len - p->payload_seen;
    size_t n = left < len ? (size_t)left : len;
    p->pos += n;
    if (n)
        ev->payload(arg, &p->frame, data, n, p->payload_seen);
    p->payload_seen += n;
    if (p->payload_seen == p->frame.len)
        finish_frame(p, ev, arg);
    return n;
}

size_t ws_parse(struct ws_parser *p, const uint8_t *data, size_t len, const struct ws_events *ev, void *arg)
{
    size_t pos = 0;
    while (pos < len && p->state != WS_LOST) {
        if (p->state == WS_IN_HEADER)
            pos += take_header(p, data + pos, len - pos, ev, arg);
        else
            pos += take_payload(p, data + pos, len - pos, ev, arg);
    }
    return pos;
}

void ws_parser_gap(struct ws_parser *p, uint64_t len, const struct ws_events *ev, void *arg)
{
    p->pos += len;
    if (p->state == WS_IN_PAYLOAD && p->frame.len - p->payload_seen >= len) {
        p->payload_seen += len;
        if (p->payload_seen == p->frame.len)
            finish_frame(p, ev, arg);
        return;
    }
    p->state = WS_LOST;
    p->hdr_have = 0;
}

bool ws_frame_plausible(const struct ws_frame *f, bool from_client)
{
    bool known_op = f->opcode <= WS_OP_BINARY || (f->opcode >= WS_OP_CLOSE && f->opcode <= WS_OP_PONG);
    if (!known_op || f->masked != from_client || f->non_minimal || f->len_msb_set || (f->rsv & 0x3))
        return false;
    return !WS_OP_IS_CONTROL(f->opcode) || (f->len <= 125 && f->fin);
}

/* A complete text frame must carry UTF-8 (RFC 6455 §5.6); checked on the
 * first 64 bytes, unmasked, allowing a character cut at that edge. */
static bool text_payload_plausible(const struct ws_frame *f, const uint8_t *payload)
{
    uint8_t buf[64];
    size_t n = f->len < sizeof buf ? (size_t)f->len : sizeof buf;
    for (size_t i = 0; i < n; i++)
        buf[i] = f->masked ? (uint8_t)(payload[i] ^ f->mask[i & 3]) : payload[i];
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_sequence(buf + i, n - i);
        if (k == 0)
            return n == sizeof buf && n - i < 4; /* a character cut by our window */
        i += k;
    }
    return true;
}

/* Does this segment consist of whole WebSocket frames that a real peer
 * could have sent, all masked alike? Sets *masked. Mid-stream pickup rests
 * on this, so it is strict: the first frame starts a message or is a
 * control frame, data frames are not empty, text is UTF-8. */
bool ws_frames_tile(const uint8_t *p, size_t len, bool *masked)
{
    size_t pos = 0;
    for (int n = 0; pos < len; n++) {
        struct ws_frame f;
        size_t h = ws_decode_header(p + pos, len - pos, &f);
        if (h == 0 || (n == 0 && f.opcode == WS_OP_CONTINUATION))
            return false;
        if (n == 0)
            *masked = f.masked;
        if (!ws_frame_plausible(&f, *masked) || f.len > len - pos - h)
            return false;
        if (!WS_OP_IS_CONTROL(f.opcode) && f.len == 0)
            return false;
        if (f.opcode == WS_OP_TEXT && !(f.rsv & 0x4) && !text_payload_plausible(&f, p + pos + h))
            return false;
        pos += h + (size_t)f.len;
    }
    return pos > 0;
}

bool ws_parser_resync(struct ws_parser *p, const uint8_t *buf, size_t len, bool from_client)
{
    bool masked;
    if (!ws_frames_tile(buf, len, &masked) || masked != from_client)
        return false;
    p->state = WS_IN_HEADER;
    p->hdr_have = 0;
    p->payload_seen = 0;
    return true;
}
