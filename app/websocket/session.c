/*
 * app/websocket/session.c — one WebSocket connection: handshake, frames, closes.
 *
 * Handshake: RFC 6455 §4.1 (client request: GET, Upgrade: websocket,
 * Connection: Upgrade, Sec-WebSocket-Key) and §4.2.2 (server response: 101,
 * Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), -Protocol, -Extensions).
 * The response may arrive in many segments or coalesced with the first
 * frames; bytes after a head go to that side's frame parser.
 *
 * Frames: §5.1 masking, §5.2 header rules, §5.4 fragmentation, §5.5 control
 * frames, §5.5.1 and §7.4 close frames and codes, §8.1 UTF-8 in reasons.
 *
 * Memory: every block the connection allocates goes through conn_alloc /
 * conn_free / head_append, which keep c->mem, the figure its owner charges
 * to the memcap (engine/). A head is kept up to WSCONN_HEAD_MAX bytes a
 * direction; a longer one is cut there (see "oversized heads").
 */
#include "session.h"

#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/mem.h"
#include "../../model/codes.h"
#include "http.h"

#define HEAD_MAX WSCONN_HEAD_MAX  /* head bytes kept per direction (wsconn.h) */
#define HEAD_MAX_HEADERS 512     /* browsers send 10-30; a proxy chain adds some: room to spare */
#define FIELD_MAX 1024           /* longest handshake value kept in the record */
#define CLOSE_PAYLOAD_MAX 4096   /* close payload bytes kept (legal ones are <= 125) */

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; /* §1.3 */

/* ---- memory: every block counted in c->mem ------------------------------ */

static void *conn_alloc(struct wsconn *c, size_t n)
{
    void *p = malloc(n);
    if (p)
        c->mem += mem_block(n);
    return p;
}

/* Frees a block of n bytes from conn_alloc (NULL is fine). */
static void conn_free(struct wsconn *c, void *p, size_t n)
{
    if (!p)
        return;
    free(p);
    c->mem -= mem_block(n);
}

static char *conn_strdup(struct wsconn *c, const char *p, size_t n)
{
    char *out = conn_alloc(c, n + 1);
    if (!out)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

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

static void head_free(struct wsconn *c, int dir)
{
    struct head_buf *h = &c->head[dir];
    conn_free(c, h->p, h->cap);
    memset(h, 0, sizeof *h);
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

static void base64_encode(const uint8_t *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

void ws_accept_for_key(const char *key, size_t key_len, char out[29])
{
    uint8_t digest[20];
    char buf[128 + sizeof WS_GUID];
    if (key_len > 128)
        key_len = 128;
    memcpy(buf, key, key_len);
    memcpy(buf + key_len, WS_GUID, sizeof WS_GUID - 1);
    gcry_md_hash_buffer(GCRY_MD_SHA1, digest, buf, key_len + sizeof WS_GUID - 1);
    base64_encode(digest, sizeof digest, out);
}

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

static void check_control_frame(struct wsconn *c, const struct ws_frame *f)
{
    if (f->len > 125) /* §5.5 */
        c->violations |= V_CONTROL_FRAME_TOO_LONG;
    if (!f->fin)
        c->violations |= V_FRAGMENTED_CONTROL_FRAME;
    if (f->opcode == WS_OP_PING)
        c->pings++;
    else if (f->opcode == WS_OP_PONG)
        c->pongs++;
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
    if (x->dir == DIR_CLIENT && !f->masked) /* §5.1 */
        c->violations |= V_UNMASKED_CLIENT_FRAME;
    if (x->dir == DIR_SERVER && f->masked)
        c->violations |= V_MASKED_SERVER_FRAME;
    if (f->non_minimal)
        c->violations |= V_NON_MINIMAL_LENGTH;
    if (f->len_msb_set) /* §5.2: no violation of DESIGN §4's, but counted */
        c->frames_len_msb++;
    if (!rsv_allowed(c, f))
        c->violations |= V_RSV_WITHOUT_EXTENSION;
    if (!opcode_is_known(f->opcode)) {
        c->violations |= V_RESERVED_OPCODE;
        return;
    }
    if (WS_OP_IS_CONTROL(f->opcode)) {
        check_control_frame(c, f);
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

static void feed_frames(struct wsconn *c, int dir, const uint8_t *data, size_t len, ts_us_t ts)
{
    struct ws_parser *p = &c->side[dir].parser;
    if (p->state == WS_LOST && !ws_parser_resync(p, data, len, dir == DIR_CLIENT)) {
        p->pos += len; /* resynchronise only where a segment starts with a header */
        return;
    }
    struct frame_ctx x = {c, dir, ts};
    ws_parse(p, data, len, &frame_events, &x);
}

/* ---- handshake ---------------------------------------------------------- */

/* Notes where the bytes about to be appended lie on the wire. */
static void head_mark(struct head_buf *h, const struct ws_side *s)
{
    if (!s->chunk_known) {
        h->nmarks = -1; /* one unknown piece spoils the mapping */
        return;
    }
    if (h->nmarks < 0)
        return;
    if (h->nmarks == HEAD_MARKS) { /* full: the newest ACK covers the tail */
        h->mark[HEAD_MARKS - 1].ack = s->chunk_ack;
        h->mark[HEAD_MARKS - 1].has_ack = s->chunk_has_ack;
        return;
    }
    h->mark[h->nmarks++] = (struct head_mark){h->len, s->chunk_seq, s->chunk_ack, s->chunk_has_ack};
}

/* Room for `need` bytes in side dir's head buffer (which doubles from 1 KiB). */
static bool head_reserve(struct wsconn *c, int dir, size_t need)
{
    struct head_buf *h = &c->head[dir];
    if (need <= h->cap)
        return true;
    size_t cap = h->cap ? h->cap : 1024;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(h->p, cap);
    if (!p)
        return false;
    c->mem += cap - h->cap + (h->p ? 0 : MEM_BLOCK_OVERHEAD);
    h->p = p;
    h->cap = cap;
    return true;
}

static bool head_append(struct wsconn *c, int dir, const uint8_t *data, size_t len)
{
    struct head_buf *h = &c->head[dir];
    if (len == 0)
        return true;
    if (len > HEAD_MAX - h->len || !head_reserve(c, dir, h->len + len))
        return false;
    memcpy(h->p + h->len, data, len);
    h->len += len;
    return true;
}

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
    c->http_status = h->status;
    if (h->status != 101) {
        c->state = WSC_REJECTED;
        return;
    }
    c->state = WSC_OPEN;
    c->upgraded_at = ts;
    c->subprotocol = dup_header(c, h, "Sec-WebSocket-Protocol");
    c->extensions = dup_header(c, h, "Sec-WebSocket-Extensions");
    c->deflate = c->extensions ? strstr(c->extensions, "permessage-deflate") != NULL : cut;
    const struct http_header *accept = http_find(h, "Sec-WebSocket-Accept");
    bool accept_ok = accept ? accept->value.len == 28 && memcmp(accept->value.p, c->accept_expected, 28) == 0 : cut;
    if (c->accept_expected[0] && !accept_ok)
        c->violations |= V_BAD_ACCEPT;
}

/* Parses a complete head in h; returns its length, 0 if incomplete, -1 bad. */
static long parse_head(struct head_buf *hb, int dir, struct http_head *h)
{
    size_t end = http_head_end(hb->p, hb->len, hb->scanned);
    hb->scanned = hb->len;
    if (end == 0)
        return 0;
    long n = dir == DIR_CLIENT ? http_parse_request(hb->p, end, h) : http_parse_response(hb->p, end, h);
    return n < 0 ? -1 : n;
}

/* Feeds buffered bytes [from, len) to the frame parser, each segment's
 * part with the position it had on the wire. */
static void feed_buffered(struct wsconn *c, int dir, size_t from, ts_us_t ts)
{
    struct head_buf *hb = &c->head[dir];
    struct ws_side *s = &c->side[dir];
    if (hb->nmarks <= 0) {
        s->chunk_known = false;
        if (hb->len > from)
            feed_frames(c, dir, hb->p + from, hb->len - from, ts);
        return;
    }
    for (int i = 0; i < hb->nmarks; i++) {
        const struct head_mark *m = &hb->mark[i];
        size_t end = i + 1 < hb->nmarks ? hb->mark[i + 1].off : hb->len;
        size_t start = from > m->off ? from : m->off;
        if (start >= end)
            continue;
        wsconn_position(c, dir, hb->mark[0].seq + (uint32_t)(start - hb->mark[0].off), m->ack, m->has_ack);
        feed_frames(c, dir, hb->p + start, end - start, ts);
    }
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
 * taken as it stands; a request followed by client bytes means the server
 * said yes (a client sends frames only after a 101). Returns true if the
 * connection is now open or settled. */
static bool settle_one_sided(struct wsconn *c, ts_us_t ts)
{
    struct http_header hdrs[HEAD_MAX_HEADERS];
    struct http_head h = {.headers = hdrs, .num_headers = HEAD_MAX_HEADERS};
    if (c->state == WSC_AWAIT_REQUEST && c->head[DIR_CLIENT].len == 0) {
        struct head_buf *hb = &c->head[DIR_SERVER];
        long n = http_head_end(hb->p, hb->len, 0) ? http_parse_response(hb->p, hb->len, &h) : HTTP_INCOMPLETE;
        if (n < 0)
            return false;
        take_response(c, &h, ts, false);
        enter_frames(c, 0, (size_t)n, ts);
        return true;
    }
    if (c->state == WSC_AWAIT_RESPONSE && c->head[DIR_SERVER].len == 0 &&
        (c->head[DIR_CLIENT].len > c->head[DIR_CLIENT].end || c->client_frames_early)) {
        c->state = WSC_OPEN;
        enter_frames(c, c->head[DIR_CLIENT].end, 0, ts);
        return true;
    }
    return false;
}

/* Where a chunk's bytes lie, remembered across buffering. */
struct chunk_at {
    bool known, has_ack;
    uint32_t seq, ack;
};

static struct chunk_at chunk_now(const struct ws_side *s)
{
    return (struct chunk_at){s->chunk_known, s->chunk_has_ack, s->chunk_seq, s->chunk_ack};
}

/* The position of the chunk's bytes from `skip` on. */
static void reposition(struct wsconn *c, int dir, const struct chunk_at *at, size_t skip)
{
    if (at->known)
        wsconn_position(c, dir, at->seq + (uint32_t)skip, at->ack, at->has_ack);
    else
        c->side[dir].chunk_known = false;
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

/* Where the search for the blank line stands after the buffered bytes. */
static uint8_t trailing_newlines(const struct head_buf *hb)
{
    if (hb->len >= 1 && hb->p[hb->len - 1] == '\n')
        return 1;
    if (hb->len >= 2 && hb->p[hb->len - 2] == '\n' && hb->p[hb->len - 1] == '\r')
        return 2;
    return 0;
}

/* Consumes bytes of an oversized head's rest and returns how many: all of
 * them, or up to the blank line, where skipping ends. The head ends where
 * http_head_end() says: at "\n\n" or "\n\r\n". */
static size_t skip_head_rest(struct ws_side *s, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        if (b == '\n' && s->skip_newlines) {
            s->skipping_head = false;
            s->skip_newlines = 0;
            return i + 1;
        }
        s->skip_newlines = b == '\n' ? 1 : (b == '\r' && s->skip_newlines == 1) ? 2 : 0;
    }
    return len;
}

/* Cuts the full buffer of side dir after its last complete line and ends
 * it with a blank line; false if there is no complete line to keep. */
static bool head_cut_to_lines(struct wsconn *c, int dir)
{
    struct head_buf *hb = &c->head[dir];
    size_t kept = hb->len;
    while (kept > 0 && hb->p[kept - 1] != '\n')
        kept--;
    if (kept == 0 || !head_reserve(c, dir, kept + 2))
        return false;
    memcpy(hb->p + kept, "\r\n", 2);
    hb->len = kept + 2;
    hb->scanned = 0;
    hb->nmarks = 0; /* none of these bytes are frames */
    return true;
}

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

/* Buffers head bytes up to HEAD_MAX. Bytes beyond that (a large first
 * frame coalesced with a head, say) go on in whatever state the handshake
 * reached; a head still not complete is oversized (see above), and a head
 * of the other side still not complete is no handshake we can read. */
static void handshake_data(struct wsconn *c, int dir, const uint8_t *data, size_t len, ts_us_t ts)
{
    struct head_buf *hb = &c->head[dir];
    struct chunk_at at = chunk_now(&c->side[dir]);
    size_t take = len < HEAD_MAX - hb->len ? len : HEAD_MAX - hb->len;
    if (take)
        head_mark(hb, &c->side[dir]);
    if (!head_append(c, dir, data, take)) {
        c->state = c->state == WSC_AWAIT_REQUEST ? WSC_NOT_WEBSOCKET : WSC_REJECTED;
        return;
    }
    advance_handshake(c, ts);
    if (take == len)
        return;
    if (head_overflows(c, dir)) {
        head_overflow(c, dir, ts);
        reposition(c, dir, &at, take);
        wsconn_data(c, dir, data + take, len - take, ts);
        return;
    }
    if (c->state == WSC_AWAIT_RESPONSE && dir == DIR_CLIENT) {
        client_frames_early(c, &at, data, take, len, ts);
        return;
    }
    bool waiting = c->state == WSC_AWAIT_REQUEST || c->state == WSC_AWAIT_RESPONSE;
    if (waiting && !settle_one_sided(c, ts)) {
        c->state = c->state == WSC_AWAIT_REQUEST ? WSC_NOT_WEBSOCKET : WSC_REJECTED;
        return;
    }
    reposition(c, dir, &at, take);
    wsconn_data(c, dir, data + take, len - take, ts);
}

void wsconn_finish(struct wsconn *c, ts_us_t ts)
{
    if (c->state == WSC_AWAIT_REQUEST || c->state == WSC_AWAIT_RESPONSE)
        settle_one_sided(c, ts);
}

static int head_status(const struct head_buf *h);

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
    case WSC_AWAIT_RESPONSE:
        handshake_data(c, dir, data, len, ts);
        break;
    case WSC_OPEN:
        if (dir == DIR_SERVER && c->request_lost && response_after_lost_request(c, &data, &len))
            break;
        feed_frames(c, dir, data, len, ts);
        break;
    case WSC_REJECTED:
    case WSC_NOT_WEBSOCKET:
        break;
    }
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
    struct frame_ctx x = {c, dir, c->last_frame_at};
    ws_parser_gap(&c->side[dir].parser, len, &frame_events, &x);
}

/* ---- the record --------------------------------------------------------- */

/* True if `by`'s close frame went out after `by` had received `of`'s. */
static bool close_answers(const struct ws_side *by, const struct ws_side *of)
{
    return by->close_has_ack && (int32_t)(by->close_ack - of->close_end_seq) >= 0;
}

/* RFC 6455 §7.1.2-§7.1.3: one side starts the closing handshake, the other
 * answers. Capture order may lie on a tap; the ACK carried with each close
 * frame says whether its sender had already received the other's close.
 * When neither or both did (a simultaneous close), capture order stands. */
static int close_initiator(const struct wsconn *c)
{
    const struct ws_side *cl = &c->side[DIR_CLIENT], *sv = &c->side[DIR_SERVER];
    if (!cl->close_seen || !sv->close_seen || !cl->close_pos_known || !sv->close_pos_known)
        return c->first_close;
    bool server_answered = close_answers(sv, cl), client_answered = close_answers(cl, sv);
    if (server_answered != client_answered)
        return server_answered ? DIR_CLIENT : DIR_SERVER;
    return c->first_close;
}

/* DESIGN §3: outcome and close code from what the capture showed. */
static void decide_outcome(const struct wsconn *c, bool torn_down, struct ws_record *r)
{
    int first_close = close_initiator(c);
    r->close_code = -1;
    r->close_reason = NULL;
    r->close_initiator = first_close;
    if (c->state == WSC_REJECTED) {
        r->outcome = OUTCOME_REJECTED;
        return;
    }
    if (first_close >= 0) {
        const struct ws_side *first = &c->side[first_close];
        r->close_code = first->close_code;
        r->close_reason = first->close_reason;
        r->outcome = c->side[0].close_seen && c->side[1].close_seen ? OUTCOME_CLEAN : OUTCOME_HALF_CLOSED;
        return;
    }
    if (torn_down) {
        r->close_code = WS_CLOSE_ABNORMAL;
        r->outcome = OUTCOME_ABNORMAL;
    } else {
        r->outcome = OUTCOME_UNFINISHED;
    }
}

void wsconn_fill_record(const struct wsconn *c, bool torn_down, struct ws_record *r)
{
    r->host = c->host;
    r->path = c->path;
    r->origin = c->origin;
    r->user_agent = c->user_agent;
    r->subprotocol = c->subprotocol;
    r->extensions = c->extensions;
    r->http_status = c->http_status;
    r->handshake_seen = c->handshake_seen;
    r->upgraded_at = c->upgraded_at;
    r->last_frame_at = c->last_frame_at;
    r->last_data_at = c->last_data_at;
    r->pings = c->pings;
    r->pongs = c->pongs;
    r->violations |= c->violations;
    for (int d = 0; d < 2; d++) {
        const struct ws_side *s = &c->side[d];
        r->frames[d] = s->frames;
        r->messages[d] = s->messages;
        r->bytes[d] = s->bytes;
        r->close[d].code = s->close_seen ? s->close_code : -1; /* -1 also: code lost in a gap */
        r->close[d].reason = s->close_seen ? s->close_reason : NULL;
        r->close[d].at = s->close_seen ? s->close_at : TS_NONE;
    }
    decide_outcome(c, torn_down, r);
}
