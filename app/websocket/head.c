/*
 * app/websocket/head.c — the handshake's head bytes (see session_internal.h):
 * each side's buffer with where its bytes lay on the wire, a complete head
 * parsed, what a head looks like or mentions, the bytes after a head handed
 * to the frame parser with their positions, an oversized head cut to its
 * lines and its rest skipped, and the Sec-WebSocket-Accept value (RFC 6455
 * §4.2.2). handshake.c decides with them; this file calls only http.c and
 * frame_events.c.
 */
#include "session_internal.h"

#include <gcrypt.h>

#include "http.h"

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; /* RFC 6455 §1.3 */

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

/* Notes where the bytes about to be appended lie on the wire. */
void head_mark(struct head_buf *h, const struct ws_side *s)
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
    h->mark[h->nmarks++] = (struct head_mark){
        .seq = s->chunk_seq, .ack = s->chunk_ack, .off = (uint16_t)h->len, .has_ack = s->chunk_has_ack};
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

bool head_append(struct wsconn *c, int dir, const uint8_t *data, size_t len)
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

void head_free(struct wsconn *c, int dir)
{
    struct head_buf *h = &c->head[dir];
    conn_free(c, h->p, h->cap);
    memset(h, 0, sizeof *h);
}

/* Parses a complete head in h; returns its length, 0 if incomplete, -1 bad. */
long parse_head(struct head_buf *hb, int dir, struct http_head *h)
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
void feed_buffered(struct wsconn *c, int dir, size_t from, ts_us_t ts)
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

struct chunk_at chunk_now(const struct ws_side *s)
{
    return (struct chunk_at){s->chunk_known, s->chunk_has_ack, s->chunk_seq, s->chunk_ack};
}

/* The position of the chunk's bytes from `skip` on. */
void reposition(struct wsconn *c, int dir, const struct chunk_at *at, size_t skip)
{
    if (at->known)
        wsconn_position(c, dir, at->seq + (uint32_t)skip, at->ack, at->has_ack);
    else
        c->side[dir].chunk_known = false;
}

/* Does the part of a head that was captured mention WebSocket at all?
 * (Any case: header names and the token are case-insensitive, RFC 6455
 * §4.1 / RFC 9110 §5.1.) */
bool head_mentions_websocket(const struct head_buf *h)
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
int head_status(const struct head_buf *h)
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

/* Where the search for the blank line stands after the buffered bytes. */
uint8_t trailing_newlines(const struct head_buf *hb)
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
size_t skip_head_rest(struct ws_side *s, const uint8_t *data, size_t len)
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
bool head_cut_to_lines(struct wsconn *c, int dir)
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
