/*
 * app/websocket/session.h — one WebSocket connection: handshake, frames, closes.
 *
 * Fed the in-order byte streams of both directions (from reasm.c via
 * engine/), it parses the HTTP/1.1 opening handshake (RFC 6455 §4), then
 * the frames of each direction (§5), applies the protocol rules that bear on
 * how connections end (§5, §7) and fills the record's columns.
 */
#ifndef WSSTATS_WSCONN_H
#define WSSTATS_WSCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../model/record.h"
#include "../../common/utf8.h"
#include "frame.h"

enum wsconn_state {
    WSC_AWAIT_REQUEST,  /* client's upgrade request not complete yet */
    WSC_AWAIT_RESPONSE, /* request seen, waiting for the server's answer */
    WSC_OPEN,           /* 101 seen (or picked up mid-stream): frames flow */
    WSC_REJECTED,       /* the answer to an upgrade request was not 101 */
    WSC_NOT_WEBSOCKET,  /* no WebSocket: no upgrade asked for, or nothing captured says one happened */
};

/* Where buffered bytes came from: sequence numbers are linear over the
 * buffer (the bytes are in order); the ACK changes per segment. */
#define HEAD_MARKS 8
struct head_mark {
    uint32_t seq; /* its sequence number */
    uint32_t ack;
    uint16_t off; /* first buffer byte of the segment (a head is at most WSCONN_HEAD_MAX) */
    bool has_ack;
};

/* The handshake's head bytes, kept only until the head is complete. Every
 * offset is within WSCONN_HEAD_MAX: 32 bits (the marks 16) keep the two
 * of them in every open connection small (128 bytes each). */
struct head_buf {
    uint8_t *p;
    uint32_t len, cap;
    uint32_t scanned; /* bytes already searched for the end of the head */
    uint32_t end;     /* length of the parsed head; 0 until it is complete */
    int8_t nmarks;    /* 0: positions unknown; -1: a piece came from nowhere known */
    struct head_mark mark[HEAD_MARKS];
};

/* (The fields of a side are grouped by kind, not by topic, so that the
 * two sides of every open connection carry no padding.) */
struct ws_side {
    struct ws_parser parser;
    uint64_t frames, messages, bytes;
    char *close_reason;
    ts_us_t close_at;
    uint8_t *close_buf;  /* payload of this side's first close frame, unmasked */
    uint64_t chunk_pos;  /* parser position at chunk_seq */
    int close_code;      /* -1: its status code was lost in a gap */
    uint32_t close_have; /* contiguous bytes from the payload's start */
    uint32_t close_cap;
    /* where the bytes being parsed lie on the wire (from the reassembler) */
    uint32_t chunk_seq, chunk_ack;
    /* where this side's close frame ended, and what its segment acknowledged */
    uint32_t close_end_seq, close_ack;
    bool chunk_known;
    bool chunk_has_ack;
    bool close_pos_known;
    bool close_has_ack;
    bool in_message; /* a fragmented data message is open */
    bool close_seen; /* this side sent a close frame */
    bool collecting_close;
    /* this side's head outgrew WSCONN_HEAD_MAX: its rest is being skipped
     * up to the blank line that ends it (wsconn.c, "oversized heads") */
    bool skipping_head;
    uint8_t skip_newlines; /* 0, or 1 after "\n", 2 after "\n\r" */
    /* Frames that were none (frame_events.c): bytes of this side were
     * missing before its first frame; that first frame, read where a frame
     * must begin, broke the header rules of §5.2 (after a false 101); some
     * frame did (after frames that tiled a segment by chance). */
    bool gap_before_frames;
    bool first_frame_not_frame;
    bool a_frame_not_frame;
};

/* The longest handshake head kept, per direction. RFC 9112 sets no limit;
 * browsers send well under 8 KiB. A longer head is read as far as its last
 * complete line within the limit and the rest of it skipped (wsconn.c). */
#define WSCONN_HEAD_MAX (16 * 1024)
_Static_assert(WSCONN_HEAD_MAX <= UINT16_MAX, "a head's offsets fit struct head_mark's 16 bits");

struct wsconn {
    enum wsconn_state state;
    bool handshake_seen;
    bool deflate; /* permessage-deflate negotiated, or maybe (the response was not
                   * seen: RFC 7692 is the deployed extension): RSV1 legal on data frames */
    bool client_frames_early; /* client frames parsed before the response came */
    /* Lost heads (handshake.c): the request was not captured (only a 101
     * with Upgrade: websocket makes this a WebSocket connection); what was
     * captured of it mentioned WebSocket (a refusal is then recorded); the
     * response fell in a hole (the server's next bytes decide). */
    bool request_lost, request_hinted, response_lost;
    ts_us_t head_ts[2]; /* when each side's head bytes last came: the response's time */
    struct head_buf head[2];
    char *host, *path, *origin, *user_agent, *subprotocol, *extensions;
    char accept_expected[29];
    int http_status;
    ts_us_t upgraded_at, last_frame_at, last_data_at;
    uint64_t pings, pongs;
    int first_close; /* DIR_* of the first close frame, or -1 */
    uint32_t violations;
    struct ws_side side[2];
    /* Heap bytes the connection holds, this struct included, each block
     * counted with malloc's own header: what its owner charges to a memcap
     * (wsconn_mem). Only the wsconn_* calls below change it. */
    size_t mem;
    /* Counted for the owner's statistics (not violations: docs/design.md §4 names
     * neither): heads over WSCONN_HEAD_MAX, and frame headers whose 64-bit
     * length has its most significant bit set (RFC 6455 §5.2: it "MUST
     * be 0"). */
    uint8_t heads_oversized;
    uint64_t frames_len_msb;
};

/* A connection whose first client bytes look like an HTTP request. */
struct wsconn *wsconn_new(void);
/* A connection picked up mid-stream, already in frame mode. */
struct wsconn *wsconn_new_midstream(void);
void wsconn_free(struct wsconn *c);

/* Heap bytes the connection holds now (see wsconn.mem). */
size_t wsconn_mem(const struct wsconn *c);

/* In-order stream bytes from side `dir` (DIR_CLIENT or DIR_SERVER). */
void wsconn_data(struct wsconn *c, int dir, const uint8_t *data, size_t len, ts_us_t ts);
/* Where the next bytes of side `dir` lie: the sequence number of the first,
 * and the ACK field of the segment that carried them. Optional; it lets the
 * initiator of a close be read from the ACKs rather than capture order. */
void wsconn_position(struct wsconn *c, int dir, uint32_t seq, uint32_t ack, bool has_ack);

/* `len` bytes of side `dir` are missing from the capture; `cut` says the
 * snaplen cut them (violation truncated) rather than lost them (gap). */
void wsconn_gap(struct wsconn *c, int dir, uint64_t len, bool cut);

/* True if the bytes could start an HTTP request: "GET " (RFC 6455 §4.1
 * requires GET) or, for a first segment shorter than that, a prefix of it. */
bool wsconn_looks_like_request(const uint8_t *data, size_t len);

/* True if the bytes could start an HTTP response ("HTTP/1."). */
bool wsconn_looks_like_response(const uint8_t *data, size_t len);

/* The streams are over: settles a handshake only one side of which was
 * captured (asymmetric routing, a one-way tap) so its frames still count. */
void wsconn_finish(struct wsconn *c, ts_us_t ts);

/* Fills the WebSocket columns of r; `torn_down` says a FIN or RST ended TCP.
 * Strings in r point into c. */
void wsconn_fill_record(const struct wsconn *c, bool torn_down, struct ws_record *r);

/* RFC 6455 §4.2.2: the Sec-WebSocket-Accept value for a key, base64 of SHA-1. */
void ws_accept_for_key(const char *key, size_t key_len, char out[29]);

#endif
