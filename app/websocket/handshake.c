/*
 * app/websocket/handshake.c — the opening handshake of a WebSocket
 * connection (see session_internal.h).
 *
 * RFC 6455 §4.1 (client request: GET, Upgrade: websocket, Connection:
 * Upgrade, Sec-WebSocket-Key) and §4.2.2 (server response: 101,
 * Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), -Protocol,
 * -Extensions). Each side's head is buffered (up to HEAD_MAX) until it is
 * complete; the response may arrive in many segments or coalesced with the
 * first frames, and bytes after a head go to that side's frames, each with
 * the position it had on the wire. A head only one side of which was
 * captured is settled at the end; an oversized one is read up to its cut.
 */
#include "session_internal.h"

#include "http.h"

#define HEAD_MAX_HEADERS 512 /* browsers send 10-30; a proxy chain adds some: room to spare */
#define FIELD_MAX 1024       /* longest handshake value kept in the record */

/* ---- small helpers ------------------------------------------------------ */

static char *dup_field(struct wsconn *c, struct http_str s)
{
    return conn_strdup(c, s.p, s.len < FIELD_MAX ? s.len : FIELD_MAX);
}

static char *dup_header(struct wsconn *c, const struct http_head *h, const char *name)
{
    const struct http_header *hd = http_find(h, name);
    return hd ? dup_field(c, hd->value) : NULL;
}

/* True if any header called `name` lists `token` (repeated headers count). */
static bool any_header_has_token(const struct http_head *h, const char *name, const char *token)
{
    for (size_t i = 0; i < h->num_headers; i++)
        if (http_str_ieq(h->headers[i].name, name) && http_list_has_token(h->headers[i].value, token))
            return true;
    return false;
}

/* ---- request and response ----------------------------------------------- */

/* RFC 6455 §4.1: is this request an opening handshake? Records its fields. */
static bool take_request(struct wsconn *c, const struct http_head *h)
{
    if (!http_str_ieq(h->method, "GET") || !any_header_has_token(h, "Upgrade", "websocket"))
        return false;
    c->path = dup_field(c, h->target);
    c->host = dup_header(c, h, "Host");
    c->origin = dup_header(c, h, "Origin");
    if (!c->origin)
        c->origin = dup_header(c, h, "Sec-WebSocket-Origin"); /* drafts 8-13 */
    c->user_agent = dup_header(c, h, "User-Agent");
    const struct http_header *key = http_find(h, "Sec-WebSocket-Key");
    if (key)
        ws_accept_for_key(key->value.p, key->value.len, c->accept_expected);
    return true;
}

/* RFC 6455 §4.2.2 / §4.1 (client's checks of the response). A response
 * `cut` (oversized) may have had its Sec-WebSocket-Accept or -Extensions
 * beyond the cut: what was not seen is no violation, and RSV1 is allowed. */
static void take_response(struct wsconn *c, const struct http_head *h, ts_us_t ts, bool cut)
{
    if (c->request_lost && !(h->status == 101 && any_header_has_token(h, "Upgrade", "websocket"))) {
        /* no request seen asking for an upgrade: a refusal is recorded only
         * when the part captured asked for one ("lost heads", below) */
        bool refusal = c->request_hinted && h->status != 101;
        c->http_status = refusal ? h->status : -1;
        c->state = refusal ? WSC_REJECTED : WSC_NOT_WEBSOCKET;
        return;
    }
    c->http_status = h->status;
    if (h->status != 101) {
        c->state = WSC_REJECTED;
        return;
    }
    c->state = WSC_OPEN;
    c->upgraded_at = c->request_lost && c->head_ts[DIR_SERVER] != TS_NONE ? c->head_ts[DIR_SERVER] : ts;
    c->subprotocol = dup_header(c, h, "Sec-WebSocket-Protocol");
    c->extensions = dup_header(c, h, "Sec-WebSocket-Extensions");
    c->deflate = c->extensions ? strstr(c->extensions, "permessage-deflate") != NULL : cut;
    const struct http_header *accept = http_find(h, "Sec-WebSocket-Accept");
    bool accept_ok = accept ? accept->value.len == 28 && memcmp(accept->value.p, c->accept_expected, 28) == 0 : cut;
    if (c->accept_expected[0] && !accept_ok)
        c->violations |= V_BAD_ACCEPT;
}

/* Hands what followed the heads to the frame parsers, then frees the heads. */
static void enter_frames(struct wsconn *c, size_t client_used, size_t server_used, ts_us_t ts)
{
    size_t used[2] = {client_used, server_used};
    for (int d = 0; d < 2; d++) {
        if (c->state == WSC_OPEN)
            feed_buffered(c, d, used[d], ts);
        head_free(c, d);
    }
}

/* An interim response (RFC 9110 §15.2) is dropped: the final one follows. */
static bool is_interim(const struct http_head *h)
{
    return h->status >= 100 && h->status < 200 && h->status != 101;
}

/* Reads the server's buffered heads once the request is complete. */
static void advance_response(struct wsconn *c, struct http_head *h, ts_us_t ts)
{
    for (;;) {
        h->num_headers = HEAD_MAX_HEADERS;
        long n = parse_head(&c->head[DIR_SERVER], DIR_SERVER, h);
        if (n == 0)
            return;
        if (n < 0) { /* an upgrade was asked for; the answer was no HTTP */
            c->state = WSC_REJECTED;
            return;
        }
        if (is_interim(h)) { /* drop it, read on */
            struct head_buf *hb = &c->head[DIR_SERVER];
            memmove(hb->p, hb->p + n, hb->len - (size_t)n);
            hb->len -= (size_t)n;
            hb->scanned = 0;
            continue;
        }
        take_response(c, h, ts, false);
        enter_frames(c, c->head[DIR_CLIENT].end, (size_t)n, ts);
        return;
    }
}

/* Tries to complete the handshake with what is buffered. */
static void advance_handshake(struct wsconn *c, ts_us_t ts)
{
    struct http_header hdrs[HEAD_MAX_HEADERS];
    struct http_head h = {.headers = hdrs, .num_headers = HEAD_MAX_HEADERS};
    if (c->state == WSC_AWAIT_REQUEST) {
        long n = parse_head(&c->head[DIR_CLIENT], DIR_CLIENT, &h);
        if (n == 0)
            return;
        if (n < 0 || !take_request(c, &h)) {
            c->state = WSC_NOT_WEBSOCKET;
            return;
        }
        c->state = WSC_AWAIT_RESPONSE;
        c->head[DIR_CLIENT].end = (size_t)n; /* later client bytes are frames */
    }
    advance_response(c, &h, ts);
}

/* Only one side of the handshake is in the capture. A response alone is
 * one whose request was not captured: a 101 with Upgrade: websocket opens
 * the connection, anything else is no WebSocket; a request followed by
 * client bytes means the server said yes (a client sends frames only
 * after a 101). Returns true if the connection is now open or settled. */
bool settle_one_sided(struct wsconn *c, ts_us_t ts)
{
    struct http_header hdrs[HEAD_MAX_HEADERS];
    struct http_head h = {.headers = hdrs, .num_headers = HEAD_MAX_HEADERS};
    if (c->state == WSC_AWAIT_REQUEST && c->head[DIR_CLIENT].len == 0) {
        struct head_buf *hb = &c->head[DIR_SERVER];
        long n = http_head_end(hb->p, hb->len, 0) ? http_parse_response(hb->p, hb->len, &h) : HTTP_INCOMPLETE;
        if (n < 0)
            return false;
        c->request_lost = true;
        take_response(c, &h, ts, false);
        enter_frames(c, 0, (size_t)n, ts);
        return true;
    }
    if (c->state == WSC_AWAIT_RESPONSE && c->head[DIR_SERVER].len == 0 && !c->request_lost &&
        (c->head[DIR_CLIENT].len > c->head[DIR_CLIENT].end || c->client_frames_early)) {
        c->state = WSC_OPEN;
        enter_frames(c, c->head[DIR_CLIENT].end, 0, ts);
        return true;
    }
    return false;
}

/* ---- oversized heads ----------------------------------------------------
 *
 * A head that outgrows HEAD_MAX (10,000 headers, a 10 MB cookie) is not
 * given up: padding a handshake must not hide a connection from the
 * record. What was kept is read as a head ending at its last complete line
 * (the request or status line and the header fields before the cut; an
 * Upgrade header or Sec-WebSocket-Key beyond it is not seen, and without
 * "Upgrade: websocket" in view the request is no upgrade), and the rest of
 * the head is skipped, not kept, up to the blank line that ends it (RFC 9112
 * §2.1); the bytes after it are frames as usual. Each is counted in
 * c->heads_oversized.
 */

/* The request's fields are taken from what was kept; then the buffer is
 * emptied: what follows the head is frames. */
static void request_overflow(struct wsconn *c, ts_us_t ts)
{
    struct http_header hdrs[HEAD_MAX_HEADERS];
    struct http_head h = {.headers = hdrs, .num_headers = HEAD_MAX_HEADERS};
    if (!head_cut_to_lines(c, DIR_CLIENT) || parse_head(&c->head[DIR_CLIENT], DIR_CLIENT, &h) <= 0 ||
        !take_request(c, &h)) {
        c->state = WSC_NOT_WEBSOCKET;
        return;
    }
    head_free(c, DIR_CLIENT);
    c->state = WSC_AWAIT_RESPONSE;
    advance_response(c, &h, ts); /* a response that came first */
}

/* The status line and the fields kept decide; an interim response is
 * dropped and the final one awaited. */
static void response_overflow(struct wsconn *c, ts_us_t ts)
{
    struct http_header hdrs[HEAD_MAX_HEADERS];
    struct http_head h = {.headers = hdrs, .num_headers = HEAD_MAX_HEADERS};
    long n = head_cut_to_lines(c, DIR_SERVER) ? parse_head(&c->head[DIR_SERVER], DIR_SERVER, &h) : -1;
    if (n <= 0) {
        c->state = WSC_REJECTED; /* no HTTP status line in 16 KiB */
        return;
    }
    if (is_interim(&h)) {
        head_free(c, DIR_SERVER);
        return;
    }
    take_response(c, &h, ts, true);
    enter_frames(c, c->head[DIR_CLIENT].end, c->head[DIR_SERVER].len, ts);
}

/* Side dir's head fills HEAD_MAX and has not ended. */
static bool head_overflows(const struct wsconn *c, int dir)
{
    bool reading = dir == DIR_CLIENT ? c->state == WSC_AWAIT_REQUEST : c->state == WSC_AWAIT_RESPONSE;
    return reading && c->head[dir].len == HEAD_MAX;
}

static void head_overflow(struct wsconn *c, int dir, ts_us_t ts)
{
    struct ws_side *s = &c->side[dir];
    if (c->heads_oversized < UINT8_MAX)
        c->heads_oversized++;
    s->skip_newlines = trailing_newlines(&c->head[dir]);
    s->skipping_head = true;
    if (dir == DIR_CLIENT)
        request_overflow(c, ts);
    else
        response_overflow(c, ts);
}

/* The request is complete and its response not yet seen, but the client
 * sends more than the buffer holds: its frames are parsed now instead. */
static void client_frames_early(struct wsconn *c, const struct chunk_at *at, const uint8_t *data, size_t skip,
                                size_t len, ts_us_t ts)
{
    struct head_buf *hb = &c->head[DIR_CLIENT];
    feed_buffered(c, DIR_CLIENT, hb->end, ts);
    hb->end = hb->len;
    c->client_frames_early = true;
    reposition(c, DIR_CLIENT, at, skip);
    feed_frames(c, DIR_CLIENT, data + skip, len - skip, ts);
}

/* ---- lost heads ------------------------------------------------------------
 *
 * A busy tap loses packets, and a handshake is two of them. What the
 * capture still holds decides (docs/design.md §3, "lost handshakes"):
 *
 *  - The request lost (a hole where it was, or the client's first bytes
 *    already frames), the response seen: a 101 with Upgrade: websocket
 *    opens the connection there, its subprotocol and extensions taken as
 *    usual and its Accept unchecked (the key went with the request); the
 *    client's frames resynchronise on their first segment of whole masked
 *    frames. Any other response is no WebSocket, never a "rejected"
 *    record, unless the part of the request captured asked for WebSocket.
 *  - The request seen, the response lost: the server's first bytes after
 *    the hole decide. Unmasked frames filling the segment mean the upgrade
 *    happened (RFC 6455 §5.1: only a server after a 101 sends unmasked
 *    frames): both directions are frames from there, http_status NULL,
 *    extensions unknown (RSV1 allowed). A response after all ("HTTP/1.")
 *    is read as one. Anything else is read as frames out of sync, as
 *    before these rules.
 */

/* The client's request is not in the capture: client bytes from here on
 * are frames (buffered until the response is read, then parsed from their
 * first segment of whole frames), and the response decides. */
static void lose_request(struct wsconn *c, ts_us_t ts)
{
    struct chunk_at at = chunk_now(&c->side[DIR_CLIENT]); /* where the bytes at hand lie */
    c->request_hinted = head_mentions_websocket(&c->head[DIR_CLIENT]);
    c->request_lost = true;
    head_free(c, DIR_CLIENT);
    c->side[DIR_CLIENT].parser.state = WS_LOST;
    c->state = WSC_AWAIT_RESPONSE; /* head[DIR_CLIENT].end 0: every later client byte is a frame's */
    advance_handshake(c, ts);
    reposition(c, DIR_CLIENT, &at, 0);
}

/* Whether bytes can begin a frame a client sent (§5.2: a known opcode,
 * masked), as the first bytes of a client whose request was lost do. */
static bool starts_client_frame(const uint8_t *data, size_t len)
{
    struct ws_frame f;
    return ws_decode_header(data, len, &f) > 0 && ws_frame_plausible(&f, true);
}

/* The response was lost and the server's first bytes after it are not a
 * response: frames from here on, both ways. The server's parser starts in
 * sync when they are whole unmasked frames, else looks for them. */
static void open_without_response(struct wsconn *c, const uint8_t *data, size_t len, ts_us_t ts)
{
    bool masked = true;
    struct chunk_at at = chunk_now(&c->side[DIR_SERVER]);
    c->state = WSC_OPEN;
    c->deflate = true; /* the extensions agreed are not known */
    if (!ws_frames_tile(data, len, &masked) || masked)
        c->side[DIR_SERVER].parser.state = WS_LOST;
    enter_frames(c, c->head[DIR_CLIENT].end, c->head[DIR_SERVER].len, ts);
    reposition(c, DIR_SERVER, &at, 0);
}

void handshake_gap(struct wsconn *c, int dir)
{
    ts_us_t ts = c->head_ts[DIR_SERVER];
    if (c->state == WSC_AWAIT_REQUEST && dir == DIR_CLIENT) {
        lose_request(c, ts);
        return;
    }
    if (c->state == WSC_AWAIT_REQUEST) { /* the response cut while the request is not complete */
        c->state = head_mentions_websocket(&c->head[DIR_CLIENT]) ? WSC_AWAIT_RESPONSE : WSC_NOT_WEBSOCKET;
        if (c->state == WSC_NOT_WEBSOCKET)
            return;
        c->head[DIR_CLIENT].end = c->head[DIR_CLIENT].len;
    }
    if (dir == DIR_CLIENT) { /* client frames lost before the response: resynchronise on later ones */
        c->head[DIR_CLIENT].len = c->head[DIR_CLIENT].end;
        c->side[DIR_CLIENT].parser.state = WS_LOST;
        return;
    }
    int status = head_status(&c->head[DIR_SERVER]);
    if (status >= 0 && status != 101 && (!c->request_lost || c->request_hinted)) {
        c->http_status = status; /* the refusal was captured: RFC 6455 §4.1 */
        c->state = WSC_REJECTED;
        return;
    }
    if (c->request_lost && !c->request_hinted) { /* neither half of the handshake: nothing says WebSocket */
        c->state = WSC_NOT_WEBSOCKET;
        return;
    }
    if (status == 101) { /* the status line was captured, the rest of the head not */
        c->http_status = 101;
        c->upgraded_at = c->head_ts[DIR_SERVER];
    }
    head_free(c, DIR_SERVER);
    c->response_lost = true;
}

/* Server bytes while the response is awaited, in the light of lost heads:
 * true when they were dealt with here (the state says how to go on). */
static bool server_bytes_after_loss(struct wsconn *c, const uint8_t *data, size_t len, ts_us_t ts)
{
    if (c->head[DIR_SERVER].len > 0 || wsconn_looks_like_response(data, len))
        return false;
    if (c->response_lost) {
        open_without_response(c, data, len, ts);
        return true;
    }
    if (c->request_lost && !c->request_hinted) {
        c->state = WSC_NOT_WEBSOCKET;
        return true;
    }
    return false;
}

/* Buffers head bytes up to HEAD_MAX. Bytes beyond that (a large first
 * frame coalesced with a head, say) go on in whatever state the handshake
 * reached: what is not taken here, wsconn_data() hands on. A head still not
 * complete is oversized (see above), and a head of the other side still
 * not complete is no handshake we can read. */
size_t handshake_data(struct wsconn *c, int dir, const uint8_t *data, size_t len, ts_us_t ts)
{
    if (dir == DIR_CLIENT && c->state == WSC_AWAIT_REQUEST && c->head[DIR_CLIENT].len == 0 &&
        !wsconn_looks_like_request(data, len) && starts_client_frame(data, len)) {
        c->violations |= V_GAP; /* no hole was seen, but the request is not in the capture */
        lose_request(c, ts);
        return 0;
    }
    if (dir == DIR_SERVER && c->state == WSC_AWAIT_RESPONSE && server_bytes_after_loss(c, data, len, ts))
        return 0;
    struct head_buf *hb = &c->head[dir];
    c->head_ts[dir] = ts;
    struct chunk_at at = chunk_now(&c->side[dir]);
    size_t take = len < HEAD_MAX - hb->len ? len : HEAD_MAX - hb->len;
    if (take)
        head_mark(hb, &c->side[dir]);
    if (!head_append(c, dir, data, take)) {
        c->state = c->state == WSC_AWAIT_REQUEST ? WSC_NOT_WEBSOCKET : WSC_REJECTED;
        return len;
    }
    advance_handshake(c, ts);
    if (take == len)
        return len;
    if (head_overflows(c, dir)) {
        head_overflow(c, dir, ts);
        reposition(c, dir, &at, take);
        return take;
    }
    if (c->state == WSC_AWAIT_RESPONSE && dir == DIR_CLIENT) {
        client_frames_early(c, &at, data, take, len, ts);
        return len;
    }
    bool waiting = c->state == WSC_AWAIT_REQUEST || c->state == WSC_AWAIT_RESPONSE;
    if (waiting && !settle_one_sided(c, ts)) {
        c->state = c->state == WSC_AWAIT_REQUEST ? WSC_NOT_WEBSOCKET : WSC_REJECTED;
        return len;
    }
    reposition(c, dir, &at, take);
    return take;
}
