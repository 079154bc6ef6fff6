/*
 * app/websocket/frame.h — incremental, zero-copy WebSocket frame parser (RFC 6455 §5.2).
 *
 * One parser per direction. Bytes go in as the reassembler delivers them, in
 * any split; the parser keeps at most one frame header (14 bytes) of its own
 * and reports frames through callbacks: a frame starts, payload chunks pass
 * by (pointing into the caller's buffer, never copied), a frame ends. It does
 * not judge frames: RFC rules live in wsconn.c, which receives the events.
 */
#ifndef WSSTATS_WS_H
#define WSSTATS_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes, RFC 6455 §5.2 and §11.8. */
enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

#define WS_OP_IS_CONTROL(op) (((op) & 0x8) != 0)
#define WS_MAX_HEADER 14

struct ws_frame {
    bool fin;
    uint8_t rsv;         /* RSV1..3 as bits 2..0 (RSV1 = 0x4) */
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    bool non_minimal;    /* length not in its shortest form (§5.2) */
    bool len_msb_set;    /* 64-bit length with the top bit set (§5.2) */
    uint8_t header_len;
    uint64_t len;        /* payload length */
};

struct ws_events {
    void (*frame_start)(void *arg, const struct ws_frame *f);
    /* `off` is the offset of data[0] within the frame's payload; data is
     * still masked, as on the wire. */
    void (*payload)(void *arg, const struct ws_frame *f, const uint8_t *data, size_t len, uint64_t off);
    void (*frame_end)(void *arg, const struct ws_frame *f);
};

enum ws_parser_state {
    WS_IN_HEADER,
    WS_IN_PAYLOAD,
    WS_LOST, /* lost frame sync after a gap; waits for ws_parser_resync() */
};

struct ws_parser {
    enum ws_parser_state state;
    uint8_t hdr[WS_MAX_HEADER];
    uint8_t hdr_have;
    struct ws_frame frame;
    uint64_t payload_seen;
    uint64_t pos; /* stream offset of the next byte; current inside callbacks */
};

void ws_parser_init(struct ws_parser *p);

/* Feeds bytes; returns the number consumed (all of them, unless the parser
 * is WS_LOST, in which case nothing is consumed). */
size_t ws_parse(struct ws_parser *p, const uint8_t *data, size_t len, const struct ws_events *ev, void *arg);

/* Tells the parser `len` bytes of the stream are missing. Inside a payload
 * the frame continues; anywhere else frame sync is lost (WS_LOST). */
void ws_parser_gap(struct ws_parser *p, uint64_t len, const struct ws_events *ev, void *arg);

/* Decodes a frame header at the start of buf: returns its length, 0 if more
 * bytes are needed. Never fails: every bit pattern is some header. */
size_t ws_decode_header(const uint8_t *buf, size_t len, struct ws_frame *f);

/* A header that breaks no rule a real peer keeps: a known opcode, a minimal
 * length, control frames short and unfragmented, masked iff from_client,
 * at most RSV1 (permessage-deflate) set. */
bool ws_frame_plausible(const struct ws_frame *f, bool from_client);

/* Does buf consist of whole WebSocket frames that a real peer could have
 * sent, all masked alike (*masked says how)? The first frame starts a
 * message or is a control frame, data frames are not empty, complete text
 * is UTF-8. Random bytes rarely pass: mid-stream pickup and resync rest on it. */
bool ws_frames_tile(const uint8_t *buf, size_t len, bool *masked);

/* After a gap: true (and the parser back in sync) if buf is whole frames
 * (ws_frames_tile) masked as this direction's must be. */
bool ws_parser_resync(struct ws_parser *p, const uint8_t *buf, size_t len, bool from_client);

#endif
