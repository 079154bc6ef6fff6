/*
 * app/websocket/session.c — one WebSocket connection: made, fed its two
 * streams, told of bytes the capture lost, finished, freed (see
 * session.h; the handshake is handshake.c's, frames frame_events.c's, the record
 * outcome.c's).
 *
 * A connection starts awaiting the client's upgrade request, or (picked up
 * mid-stream) in frame mode with both parsers looking for a frame header.
 * A head is kept up to WSCONN_HEAD_MAX bytes a direction; a longer one is
 * cut there (handshake.c, "oversized heads"). Bytes the capture lost before
 * anything said WebSocket end the connection as no upgrade; lost inside a
 * head, they put it in frame mode, resynchronising (RFC 6455 §5.2).
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

/* True if data starts with lit, or is a (non-empty) prefix of it. */
static bool starts_like(const uint8_t *data, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len > 0 && memcmp(data, lit, len < n ? len : n) == 0;
}

bool wsconn_looks_like_request(const uint8_t *data, size_t len)
{
    return starts_like(data, len, "GET ");
}

bool wsconn_looks_like_response(const uint8_t *data, size_t len)
{
    return starts_like(data, len, "HTTP/1.");
}

/* ---- the streams ---------------------------------------------------------- */

void wsconn_finish(struct wsconn *c, ts_us_t ts)
{
    if (c->state == WSC_AWAIT_REQUEST || c->state == WSC_AWAIT_RESPONSE)
        settle_one_sided(c, ts);
}

/* Does the part of a head that was captured mention WebSocket at all?
 * (Any case: header names and the token are case-insensitive, RFC 6455
 * §4.1 / RFC 9110 §5.1.) */
static bool head_mentions_websocket(const struct head_buf *h)
{
    static const char token[] = "websocket";
    const size_t n = sizeof token - 1;
    for (size_t i = 0; i + n <= h->len; i++) {
        size_t k = 0;
        while (k < n && (h->p[i + k] | 0x20) == token[k])
            k++;
        if (k == n)
            return true;
    }
    return false;
}

/* A status line captured whole: "HTTP/1.x NNN ...\r\n"; -1 if none. */
static int head_status(const struct head_buf *h)
{
    if (h->len < 14 || memcmp(h->p, "HTTP/1.", 7) != 0 || h->p[8] != ' ' || !memchr(h->p, '\n', h->len))
        return -1;
    int v = 0;
    for (int i = 9; i < 12; i++) {
        if (h->p[i] < '0' || h->p[i] > '9')
            return -1;
        v = v * 10 + (h->p[i] - '0');
    }
    return v;
}

/* The request was cut, but the server's answer may be whole: a refusal is
 * recorded as such (RFC 6455 §4.1), a 101 head is skipped so the frames
 * behind it parse. Returns true when nothing of data is left for frames. */
static bool response_after_lost_request(struct wsconn *c, const uint8_t **data, size_t *len)
{
    if (c->side[DIR_SERVER].frames > 0 || *len < 12 || memcmp(*data, "HTTP/1.", 7) != 0) {
        c->request_lost = false; /* frames came first: no response to look for */
        return false;
    }
    struct head_buf view = {.p = (uint8_t *)(uintptr_t)*data, .len = *len};
    int status = head_status(&view);
    c->request_lost = false;
    if (status >= 0 && status != 101) {
        c->http_status = status;
        c->state = WSC_REJECTED;
        return true;
    }
    if (status == 101)
        c->http_status = 101;
    for (size_t i = 0; i + 4 <= *len; i++) {
        if (memcmp(*data + i, "\r\n\r\n", 4) == 0) {
            *data += i + 4;
            *len -= i + 4;
            return *len == 0;
        }
    }
    return true; /* the head goes on in the next segment: frames resync after it */
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
            if (dir == DIR_SERVER && c->request_lost && response_after_lost_request(c, &data, &len))
                return;
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
    c->side[dir].skipping_head = false; /* the end of an oversized head may be in the gap: resynchronise */
    if (c->state == WSC_AWAIT_REQUEST && !head_mentions_websocket(&c->head[DIR_CLIENT])) {
        /* a request lost or cut before anything said WebSocket: plain HTTP
         * most likely, and never a record (a phantom 1006 otherwise) */
        c->state = WSC_NOT_WEBSOCKET;
        return;
    }
    int status = head_status(&c->head[DIR_SERVER]);
    if (c->state == WSC_AWAIT_RESPONSE && status >= 0 && status != 101) {
        c->http_status = status; /* the refusal was captured: RFC 6455 §4.1 */
        c->state = WSC_REJECTED;
        return;
    }
    if (c->state == WSC_AWAIT_REQUEST || c->state == WSC_AWAIT_RESPONSE) {
        c->request_lost = c->state == WSC_AWAIT_REQUEST;
        /* the head is lost: carry on in frame mode, resynchronising */
        for (int d = 0; d < 2; d++) {
            head_free(c, d);
            c->side[d].parser.state = WS_LOST;
        }
        c->state = WSC_OPEN;
        return;
    }
    if (c->state != WSC_OPEN)
        return;
    frames_gap(c, dir, len);
}
