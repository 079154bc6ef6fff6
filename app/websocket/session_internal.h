/*
 * app/websocket/session_internal.h — what the WebSocket session's files
 * share (see session.h). Each calls only those listed after it:
 *
 *   session.c    a connection: made, fed, given gaps, finished, freed
 *   handshake.c  the HTTP/1.1 opening handshake (RFC 6455 §4): request and
 *                response, one-sided, oversized and lost heads
 *   head.c       the heads' bytes: buffers and positions, parsing, what a
 *                head looks like, the bytes after it handed on
 *   frame_events.c  frame events (RFC 6455 §5): counters, violations, close
 *                frames and their payloads
 *   outcome.c    the record's columns: who closed first, the outcome
 *
 * Memory: every block a connection allocates goes through conn_alloc /
 * conn_free / conn_strdup (and head_reserve, handshake.c), which keep
 * c->mem, the figure its owner charges to the memcap (common/mem.h).
 */
#ifndef WSSTATS_SESSION_INTERNAL_H
#define WSSTATS_SESSION_INTERNAL_H

#include <stdlib.h>
#include <string.h>

#include "../../common/mem.h"
#include "http.h"
#include "session.h"

#define HEAD_MAX WSCONN_HEAD_MAX /* head bytes kept per direction (session.h) */

static inline void *conn_alloc(struct wsconn *c, size_t n)
{
    void *p = malloc(n);
    if (p)
        c->mem += mem_block(n);
    return p;
}

/* Frees a block of n bytes from conn_alloc (NULL is fine). */
static inline void conn_free(struct wsconn *c, void *p, size_t n)
{
    if (!p)
        return;
    free(p);
    c->mem -= mem_block(n);
}

static inline char *conn_strdup(struct wsconn *c, const char *p, size_t n)
{
    char *out = conn_alloc(c, n + 1);
    if (!out)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* ---- head.c ---- */

void head_mark(struct head_buf *h, const struct ws_side *s);
bool head_append(struct wsconn *c, int dir, const uint8_t *data, size_t len);
void head_free(struct wsconn *c, int dir);
/* Parses a complete head in hb; returns its length, 0 if incomplete, -1 bad. */
long parse_head(struct head_buf *hb, int dir, struct http_head *h);
/* Feeds buffered bytes [from, len) to the frame parser, each segment's
 * part with the position it had on the wire. */
void feed_buffered(struct wsconn *c, int dir, size_t from, ts_us_t ts);
bool head_mentions_websocket(const struct head_buf *h);
/* A status line captured whole: "HTTP/1.x NNN ...\r\n"; -1 if none. */
int head_status(const struct head_buf *h);
uint8_t trailing_newlines(const struct head_buf *hb);
/* Cuts the full buffer of side dir after its last complete line and ends
 * it with a blank line; false if there is no complete line to keep. */
bool head_cut_to_lines(struct wsconn *c, int dir);

/* ---- handshake.c ---- */

/* Handshake bytes of side dir (the connection awaits a request or a
 * response). Returns how many were taken: all of them, or fewer when the
 * rest goes on in whatever state the handshake reached (frames after a
 * head, the rest of an oversized head), for wsconn_data() to hand on. */
size_t handshake_data(struct wsconn *c, int dir, const uint8_t *data, size_t len, ts_us_t ts);
/* Bytes of side dir lost while the handshake is under way ("lost heads"). */
void handshake_gap(struct wsconn *c, int dir);
/* Only one side of the handshake is in the capture: see handshake.c. */
bool settle_one_sided(struct wsconn *c, ts_us_t ts);
/* Consumes bytes of an oversized head's rest; returns how many. */
size_t skip_head_rest(struct ws_side *s, const uint8_t *data, size_t len);

/* Where a chunk's bytes lie, remembered across buffering. */
struct chunk_at {
    bool known, has_ack;
    uint32_t seq, ack;
};
struct chunk_at chunk_now(const struct ws_side *s);
/* The position of the chunk's bytes from `skip` on. */
void reposition(struct wsconn *c, int dir, const struct chunk_at *at, size_t skip);

/* ---- frame_events.c ---- */

/* Frame bytes of side dir, in order. */
void feed_frames(struct wsconn *c, int dir, const uint8_t *data, size_t len, ts_us_t ts);
/* len bytes of side dir's frames are missing. */
void frames_gap(struct wsconn *c, int dir, uint64_t len);

#endif
