/*
 * app/websocket/session.c — one WebSocket connection: made, fed its two
 * streams, told of bytes the capture lost, finished, freed (see
 * session.h; the handshake is handshake.c's, frames frame_events.c's, the record
 * outcome.c's).
 *
 * A connection starts awaiting the client's upgrade request, or (picked up
 * mid-stream) in frame mode with both parsers looking for a frame header.
 * A head is kept up to WSCONN_HEAD_MAX bytes a direction; a longer one is
 * cut there (handshake.c, "oversized heads"). Bytes the capture lost inside
 * the handshake are handshake.c's ("lost heads"); lost among frames, they
 * put that side's parser out of sync until a segment of whole frames
 * (RFC 6455 §5.2).
 */
#include "session_internal.h"

size_t wsconn_mem(const struct wsconn *c)
{
    return c->mem;
}

struct wsconn *wsconn_new(void)
{
    struct wsconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->mem = mem_block(sizeof *c);
    c->state = WSC_AWAIT_REQUEST;
    c->handshake_seen = true;
    c->http_status = -1;
    c->first_close = -1;
    c->head_ts[DIR_CLIENT] = c->head_ts[DIR_SERVER] = TS_NONE;
    c->upgraded_at = c->last_frame_at = c->last_data_at = TS_NONE;
    for (int d = 0; d < 2; d++)
        ws_parser_init(&c->side[d].parser);
    return c;
}

struct wsconn *wsconn_new_midstream(void)
{
    struct wsconn *c = wsconn_new();
    if (!c)
        return NULL;
    c->state = WSC_OPEN;
    c->handshake_seen = false;
    c->deflate = true; /* the response was not seen: RSV1 may be permessage-deflate's */
    for (int d = 0; d < 2; d++)
        c->side[d].parser.state = WS_LOST; /* find a frame header first */
    return c;
}

void wsconn_free(struct wsconn *c)
{
    if (!c)
        return;
    for (int d = 0; d < 2; d++) {
        free(c->head[d].p);
        free(c->side[d].close_buf);
        free(c->side[d].close_reason);
    }
    free(c->host);
    free(c->path);
    free(c->origin);
    free(c->user_agent);
    free(c->subprotocol);
    free(c->extensions);
    free(c);
}

/* ---- the streams ---------------------------------------------------------- */

void wsconn_finish(struct wsconn *c, ts_us_t ts)
{
    if (c->state == WSC_AWAIT_REQUEST || c->state == WSC_AWAIT_RESPONSE)
        settle_one_sided(c, ts);
    if ((c->state == WSC_AWAIT_REQUEST || c->state == WSC_AWAIT_RESPONSE) && c->request_lost && !c->request_hinted)
        c->state = WSC_NOT_WEBSOCKET; /* the request lost, and no response said WebSocket: no record */
    /* a 101 whose request was lost, and a side whose first bytes after it,
     * read where a frame must begin, were no frame (plain HTTP after a false
     * 101): nothing captured was WebSocket. A side that lost bytes before its
     * first frame proves nothing: a lost frame leaves a continuation. */
    if (c->state == WSC_OPEN && c->request_lost && !c->request_hinted &&
        (c->side[DIR_CLIENT].first_frame_not_frame || c->side[DIR_SERVER].first_frame_not_frame))
        c->state = WSC_NOT_WEBSOCKET;
    /* picked up mid-stream, frames the only evidence, and a later header
     * broke §5.2: the first segments tiled as frames by chance (a binary
     * protocol) and nothing captured was WebSocket */
    if (c->state == WSC_OPEN && !c->handshake_seen &&
        (c->side[DIR_CLIENT].a_frame_not_frame || c->side[DIR_SERVER].a_frame_not_frame))
        c->state = WSC_NOT_WEBSOCKET;
}

void wsconn_data(struct wsconn *c, int dir, const uint8_t *data, size_t len, ts_us_t ts)
{
    for (;;) {
        struct ws_side *s = &c->side[dir];
        if (s->skipping_head) { /* the rest of an oversized head */
            struct chunk_at at = chunk_now(s);
            size_t n = skip_head_rest(s, data, len);
            if (n == len)
                return;
            reposition(c, dir, &at, n);
            data += n;
            len -= n;
        }
        switch (c->state) {
        case WSC_AWAIT_REQUEST:
        case WSC_AWAIT_RESPONSE: {
            size_t n = handshake_data(c, dir, data, len, ts);
            if (n == len)
                return;
            data += n; /* the rest, in the state the handshake reached */
            len -= n;
            continue;
        }
        case WSC_OPEN:
            feed_frames(c, dir, data, len, ts);
            return;
        case WSC_REJECTED:
        case WSC_NOT_WEBSOCKET:
            return;
        }
    }
}

void wsconn_gap(struct wsconn *c, int dir, uint64_t len, bool cut)
{
    c->violations |= cut ? V_TRUNCATED : V_GAP;
    if (c->side[dir].frames == 0)
        c->side[dir].gap_before_frames = true;
    c->side[dir].skipping_head = false; /* the end of an oversized head may be in the gap: resynchronise */
    if (c->state == WSC_AWAIT_REQUEST || c->state == WSC_AWAIT_RESPONSE)
        handshake_gap(c, dir);
    else if (c->state == WSC_OPEN)
        frames_gap(c, dir, len);
}
