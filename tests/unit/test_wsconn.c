/*
 * tests/unit/test_wsconn.c — app/websocket/session.c: handshake, frames, closes, record.
 *
 * Proves, driving wsconn_data()/wsconn_gap() and reading wsconn_fill_record():
 *  - ws_accept_for_key() gives RFC 6455 §1.3's accept value for its key;
 *  - the handshake fields (host, path, origin, user agent, subprotocol,
 *    extensions, http_status, upgraded_at) land in the record;
 *  - close_code / close_reason / close_initiator / outcome follow the table
 *    of docs/design.md §3 (clean, half_closed, abnormal 1006, unfinished -1,
 *    rejected with its http_status), per-side close codes and reasons from
 *    MASKED client frames, 1005 for an empty payload, only a side's first
 *    close frame counting;
 *  - each docs/design.md §4 frame violation is raised by exactly the frame that
 *    breaks the rule and not by its legal neighbours (close codes that may
 *    and may not be sent, UTF-8 reasons, control frames, continuation,
 *    opcodes, RSV with and without permessage-deflate, masking, minimal
 *    lengths, data after close, Sec-WebSocket-Accept);
 *  - a response coalesced with the first frames, a request followed by
 *    frames before the answer, interim 1xx answers, and request/response/
 *    frame bytes split at EVERY byte boundary all give the same record;
 *  - a 101 or request coalesced with a frame larger than the head buffer,
 *    cut anywhere; a response before its request; captures of one side only
 *    (wsconn_finish); empty deliveries in every state;
 *  - frame/message/byte/ping/pong counters with a ping inside a fragmented
 *    message; gaps during frames keep counting, gaps during the handshake
 *    switch to frame mode; mid-stream pickup resynchronises; close payload
 *    bytes lost in a gap never yield a code read from uninitialised memory
 *    (checked by filling fresh allocations two ways with glibc M_PERTURB);
 *  - violations_format() / outcome_name() / termination_name() (record.c);
 *  - wsconn_mem() is the sum of the blocks the connection holds after every
 *    delivery; a request or response head over WSCONN_HEAD_MAX is read up
 *    to its last complete line within the limit and its rest skipped to the
 *    blank line, wherever that line falls against the buffer's end and
 *    however the bytes are split (the connection is recorded, counted in
 *    heads_oversized, holds no head buffer while it waits); an Upgrade
 *    header beyond the cut is not seen; an accept value beyond it is no
 *    bad_accept; frames claiming 2^63 bytes or more are counted.
 * Record strings point into the wsconn: every comparison happens before
 * wsconn_free().
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../model/codes.h"
#include "../../model/record.h"
#include "../../app/websocket/session.h"

#define T_REQ 1000000
#define T_RESP 2000000
#define T_C 3000000 /* client frames */
#define T_S 4000000 /* server frames */

static const char REQ[] =
    "GET /chat?room=7 HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "User-Agent: UnitTest/1.0 (x)\r\n"
    "\r\n";

static const char RESP[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";

static const char RESP_DEFLATE[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n"
    "\r\n";

static const char RESP_403[] =
    "HTTP/1.1 403 Forbidden\r\n"
    "Content-Length: 9\r\n"
    "\r\n"
    "forbidden";

/* ---- byte buffers and frames --------------------------------------------- */

struct bb {
    uint8_t *d;
    size_t n, cap;
};

static void bb_put(struct bb *b, const void *p, size_t len)
{
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len)
            cap *= 2;
        b->d = realloc(b->d, cap);
        assert_non_null(b->d);
        b->cap = cap;
    }
    if (len)
        memcpy(b->d + b->n, p, len);
    b->n += len;
}

static void bb_str(struct bb *b, const char *s)
{
    bb_put(b, s, strlen(s));
}

static void bb_free(struct bb *b)
{
    free(b->d);
    memset(b, 0, sizeof *b);
}

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Appends a frame; len_bytes forces the length encoding (0: minimal, 2 or 8). */
static void frame_x(struct bb *b, bool fin, uint8_t rsv, uint8_t op, bool masked, const void *payload,
                    size_t len, int len_bytes)
{
    uint8_t h[14];
    size_t n = 0;
    h[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (op & 0x0f));
    uint8_t m = masked ? 0x80 : 0;
    if (len_bytes == 0)
        len_bytes = len < 126 ? 0 : len <= 0xffff ? 2 : 8;
    if (len_bytes == 0) {
        h[n++] = (uint8_t)(m | len);
    } else if (len_bytes == 2) {
        h[n++] = m | 126;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            h[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(h + n, MASK, 4);
        n += 4;
    }
    bb_put(b, h, n);
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++) {
        uint8_t x = masked ? (uint8_t)(p[i] ^ MASK[i & 3]) : p[i];
        bb_put(b, &x, 1);
    }
}

static void frame(struct bb *b, bool fin, uint8_t rsv, uint8_t op, bool masked, const void *payload, size_t len)
{
    frame_x(b, fin, rsv, op, masked, payload, len, 0);
}

/* A complete frame from the client (masked) / the server (unmasked). */
static void cf(struct bb *b, uint8_t op, const void *payload, size_t len)
{
    frame(b, true, 0, op, true, payload, len);
}

static void sf(struct bb *b, uint8_t op, const void *payload, size_t len)
{
    frame(b, true, 0, op, false, payload, len);
}

/* A close frame with a status code (code < 0: empty payload). */
static void close_frame(struct bb *b, bool masked, int code, const char *reason)
{
    uint8_t p[256] = {0};
    size_t n = 0;
    if (code >= 0) {
        p[n++] = (uint8_t)(code >> 8);
        p[n++] = (uint8_t)code;
        size_t rl = strlen(reason);
        memcpy(p + n, reason, rl);
        n += rl;
    }
    frame(b, true, 0, WS_OP_CLOSE, masked, p, n);
}

/* ---- connections and records --------------------------------------------- */

static void push(struct wsconn *c, int dir, const struct bb *b, ts_us_t ts)
{
    wsconn_data(c, dir, b->d, b->n, ts);
}

static struct wsconn *open_with(const char *resp)
{
    struct wsconn *c = wsconn_new();
    assert_non_null(c);
    assert_int_equal(c->state, WSC_AWAIT_REQUEST);
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    assert_int_equal(c->state, WSC_AWAIT_RESPONSE);
    wsconn_data(c, DIR_SERVER, (const uint8_t *)resp, strlen(resp), T_RESP);
    return c;
}

static struct wsconn *open_ws(void)
{
    struct wsconn *c = open_with(RESP);
    assert_int_equal(c->state, WSC_OPEN);
    return c;
}

static struct ws_record rec(const struct wsconn *c, bool torn_down)
{
    struct ws_record r;
    memset(&r, 0, sizeof r);
    wsconn_fill_record(c, torn_down, &r);
    return r;
}

static void assert_violations(uint32_t got, uint32_t want)
{
    if (got != want) {
        char g[512], w[512];
        violations_format(got, g, sizeof g);
        violations_format(want, w, sizeof w);
        print_error("violations: got \"%s\", want \"%s\"\n", g, w);
        fail();
    }
}

static void assert_opt_str(const char *got, const char *want)
{
    if (want == NULL) {
        if (got != NULL) {
            print_error("got \"%s\", want NULL\n", got);
            fail();
        }
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* Violations of a connection after the client sent `cb` and the server `sb`. */
static uint32_t violations_after(const char *resp, const struct bb *cb, const struct bb *sb)
{
    struct wsconn *c = open_with(resp);
    if (cb)
        push(c, DIR_CLIENT, cb, T_C);
    if (sb)
        push(c, DIR_SERVER, sb, T_S);
    uint32_t v = rec(c, false).violations;
    wsconn_free(c);
    return v;
}

/* ---- handshake ----------------------------------------------------------- */

static void accept_for_key(void **state)
{
    (void)state;
    char out[29];
    memset(out, 'x', sizeof out);
    ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ws_accept_for_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    /* the key is bounded by its length, not by a NUL */
    ws_accept_for_key("dGhlIHNhbXBsZSBub25jZQ==garbage", 24, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void handshake_fields(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct ws_record r = rec(c, false);
    assert_opt_str(r.host, "server.example.com");
    assert_opt_str(r.path, "/chat?room=7");
    assert_opt_str(r.origin, "http://example.com");
    assert_opt_str(r.user_agent, "UnitTest/1.0 (x)");
    assert_opt_str(r.subprotocol, "chat");
    assert_null(r.extensions);
    assert_int_equal(r.http_status, 101);
    assert_int_equal(r.handshake_seen, 1);
    assert_int_equal(r.upgraded_at, T_RESP);
    assert_int_equal(r.last_frame_at, TS_NONE);
    assert_int_equal(r.last_data_at, TS_NONE);
    assert_violations(r.violations, 0);
    assert_int_equal(r.frames[0] + r.frames[1] + r.messages[0] + r.messages[1], 0);
    assert_int_equal(r.bytes[0] + r.bytes[1] + r.pings + r.pongs, 0);
    /* open, no close, no teardown */
    assert_int_equal(r.close_code, -1);
    assert_null(r.close_reason);
    assert_int_equal(r.close_initiator, -1);
    assert_int_equal(r.outcome, OUTCOME_UNFINISHED);
    wsconn_free(c);

    c = open_with(RESP_DEFLATE);
    r = rec(c, false);
    assert_opt_str(r.extensions, "permessage-deflate; client_max_window_bits=15");
    assert_null(r.subprotocol);
    assert_true(c->deflate);
    wsconn_free(c);
}

static void interim_response_skipped(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    struct bb s = {0};
    bb_str(&s, "HTTP/1.1 100 Continue\r\n\r\n");
    bb_str(&s, RESP);
    sf(&s, WS_OP_TEXT, "hi", 2);
    push(c, DIR_SERVER, &s, T_RESP);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.http_status, 101);
    assert_int_equal(r.frames[DIR_SERVER], 1);
    assert_int_equal(r.messages[DIR_SERVER], 1);
    assert_violations(r.violations, 0);
    wsconn_free(c);
    bb_free(&s);
}

static void not_websocket(void **state)
{
    (void)state;
    static const char *reqs[] = {
        "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
        "GET / HTTX/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        struct wsconn *c = wsconn_new();
        wsconn_data(c, DIR_CLIENT, (const uint8_t *)reqs[i], strlen(reqs[i]), T_REQ);
        assert_int_equal(c->state, WSC_NOT_WEBSOCKET);
        wsconn_free(c);
    }
    /* repeated Upgrade / Connection headers and odd case still count */
    static const char ok[] =
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: foo\r\nUPGRADE: WebSocket\r\nConnection: Upgrade\r\n\r\n";
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)ok, strlen(ok), T_REQ);
    assert_int_equal(c->state, WSC_AWAIT_RESPONSE);
    wsconn_free(c);
}

static void looks_like_request(void **state)
{
    (void)state;
    assert_true(wsconn_looks_like_request((const uint8_t *)"GET / HTTP/1.1\r\n", 16));
    assert_true(wsconn_looks_like_request((const uint8_t *)"GET ", 4));
    /* a first segment shorter than "GET " may be its prefix (wsconn.h) */
    assert_true(wsconn_looks_like_request((const uint8_t *)"GET", 3));
    assert_true(wsconn_looks_like_request((const uint8_t *)"G", 1));
    assert_false(wsconn_looks_like_request((const uint8_t *)"", 0));
    assert_false(wsconn_looks_like_request((const uint8_t *)"GEX", 3));
    assert_false(wsconn_looks_like_request((const uint8_t *)"get /", 5));
    assert_false(wsconn_looks_like_request((const uint8_t *)"POST / HTTP/1.1", 15));
    assert_true(wsconn_looks_like_response((const uint8_t *)"HTTP/1.1 101 OK\r\n", 17));
    assert_false(wsconn_looks_like_response((const uint8_t *)"HTTP/2 200", 10));
    assert_false(wsconn_looks_like_request((const uint8_t *)"\x81\x05hello", 7));
    assert_false(wsconn_looks_like_request((const uint8_t *)"\x16\x03\x01\x00\x10", 5));
    assert_false(wsconn_looks_like_request((const uint8_t *)"HTTP/1.1 101 X\r\n", 16));
}

/* ---- outcomes (docs/design.md §3) ----------------------------------------------- */

static void clean_close_client_first(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb cb = {0}, sb = {0};
    close_frame(&cb, true, 1000, "bye");
    close_frame(&sb, false, 1000, "ok");
    push(c, DIR_CLIENT, &cb, T_C);
    push(c, DIR_SERVER, &sb, T_S);
    for (int torn = 0; torn < 2; torn++) {
        struct ws_record r = rec(c, torn);
        assert_int_equal(r.close_code, 1000);
        assert_opt_str(r.close_reason, "bye");
        assert_int_equal(r.close_initiator, DIR_CLIENT);
        assert_int_equal(r.outcome, OUTCOME_CLEAN);
        assert_int_equal(r.close[DIR_CLIENT].code, 1000);
        assert_opt_str(r.close[DIR_CLIENT].reason, "bye");
        assert_int_equal(r.close[DIR_CLIENT].at, T_C);
        assert_int_equal(r.close[DIR_SERVER].code, 1000);
        assert_opt_str(r.close[DIR_SERVER].reason, "ok");
        assert_int_equal(r.close[DIR_SERVER].at, T_S);
        assert_int_equal(r.frames[DIR_CLIENT], 1);
        assert_int_equal(r.frames[DIR_SERVER], 1);
        assert_int_equal(r.messages[DIR_CLIENT], 0);
        assert_int_equal(r.messages[DIR_SERVER], 0);
        assert_int_equal(r.bytes[DIR_CLIENT], 5);
        assert_int_equal(r.bytes[DIR_SERVER], 4);
        assert_int_equal(r.last_frame_at, T_S);
        assert_int_equal(r.last_data_at, TS_NONE); /* close frames are not data */
        assert_violations(r.violations, 0);
    }
    wsconn_free(c);
    bb_free(&cb);
    bb_free(&sb);
}

static void clean_close_server_first_empty_reply(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb cb = {0}, sb = {0};
    close_frame(&sb, false, 1001, "going away");
    close_frame(&cb, true, -1, NULL);
    push(c, DIR_SERVER, &sb, T_S);
    push(c, DIR_CLIENT, &cb, T_C);
    struct ws_record r = rec(c, true);
    assert_int_equal(r.close_code, 1001);
    assert_opt_str(r.close_reason, "going away");
    assert_int_equal(r.close_initiator, DIR_SERVER);
    assert_int_equal(r.outcome, OUTCOME_CLEAN);
    assert_int_equal(r.close[DIR_SERVER].code, 1001);
    assert_int_equal(r.close[DIR_CLIENT].code, 1005);
    assert_null(r.close[DIR_CLIENT].reason);
    assert_int_equal(r.close[DIR_CLIENT].at, T_C);
    assert_violations(r.violations, 0);
    wsconn_free(c);
    bb_free(&cb);
    bb_free(&sb);
}

static void half_closed(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb sb = {0};
    close_frame(&sb, false, 1011, "internal");
    push(c, DIR_SERVER, &sb, T_S);
    for (int torn = 0; torn < 2; torn++) {
        struct ws_record r = rec(c, torn);
        assert_int_equal(r.close_code, 1011);
        assert_opt_str(r.close_reason, "internal");
        assert_int_equal(r.close_initiator, DIR_SERVER);
        assert_int_equal(r.outcome, OUTCOME_HALF_CLOSED);
        assert_int_equal(r.close[DIR_CLIENT].code, -1);
        assert_null(r.close[DIR_CLIENT].reason);
        assert_int_equal(r.close[DIR_CLIENT].at, TS_NONE);
        assert_int_equal(r.close[DIR_SERVER].code, 1011);
    }
    wsconn_free(c);
    bb_free(&sb);
}

static void abnormal_and_unfinished(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb cb = {0}, sb = {0};
    cf(&cb, WS_OP_TEXT, "hello", 5);
    sf(&sb, WS_OP_TEXT, "world!", 6);
    push(c, DIR_CLIENT, &cb, T_C);
    push(c, DIR_SERVER, &sb, T_S);
    struct ws_record r = rec(c, true);
    assert_int_equal(r.close_code, 1006);
    assert_null(r.close_reason);
    assert_int_equal(r.close_initiator, -1);
    assert_int_equal(r.outcome, OUTCOME_ABNORMAL);
    assert_int_equal(r.close[0].code, -1);
    assert_int_equal(r.close[1].code, -1);
    assert_int_equal(r.last_data_at, T_S);
    r = rec(c, false);
    assert_int_equal(r.close_code, -1);
    assert_null(r.close_reason);
    assert_int_equal(r.close_initiator, -1);
    assert_int_equal(r.outcome, OUTCOME_UNFINISHED);
    wsconn_free(c);
    bb_free(&cb);
    bb_free(&sb);
}

static void rejected(void **state)
{
    (void)state;
    struct wsconn *c = open_with(RESP_403);
    assert_int_equal(c->state, WSC_REJECTED);
    /* whatever follows is not frames */
    struct bb cb = {0};
    close_frame(&cb, true, 1000, "");
    push(c, DIR_CLIENT, &cb, T_C);
    for (int torn = 0; torn < 2; torn++) {
        struct ws_record r = rec(c, torn);
        assert_int_equal(r.outcome, OUTCOME_REJECTED);
        assert_int_equal(r.http_status, 403);
        assert_int_equal(r.close_code, -1);
        assert_null(r.close_reason);
        assert_int_equal(r.close_initiator, -1);
        assert_int_equal(r.close[0].code, -1);
        assert_int_equal(r.close[1].code, -1);
        assert_int_equal(r.upgraded_at, TS_NONE);
        assert_int_equal(r.frames[0], 0);
        assert_opt_str(r.path, "/chat?room=7");
        assert_int_equal(r.handshake_seen, 1);
    }
    wsconn_free(c);
    bb_free(&cb);

    /* a 200 to an upgrade request is a rejection too */
    c = open_with("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    struct ws_record r = rec(c, true);
    assert_int_equal(r.outcome, OUTCOME_REJECTED);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.close_code, -1);
    wsconn_free(c);
}

/* ---- close frames -------------------------------------------------------- */

static void empty_close_is_1005(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb cb = {0};
    close_frame(&cb, true, -1, NULL);
    push(c, DIR_CLIENT, &cb, T_C);
    struct ws_record r = rec(c, true);
    assert_int_equal(r.close_code, 1005);
    assert_null(r.close_reason);
    assert_int_equal(r.close_initiator, DIR_CLIENT);
    assert_int_equal(r.outcome, OUTCOME_HALF_CLOSED);
    assert_int_equal(r.close[DIR_CLIENT].code, 1005);
    assert_violations(r.violations, 0);
    wsconn_free(c);
    bb_free(&cb);
}

static void close_too_short(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb sb = {0};
    sf(&sb, WS_OP_CLOSE, "\x03", 1);
    push(c, DIR_SERVER, &sb, T_S);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.close_code, 1005);
    assert_null(r.close_reason);
    assert_int_equal(r.close[DIR_SERVER].code, 1005);
    assert_violations(r.violations, V_CLOSE_TOO_SHORT);
    wsconn_free(c);
    bb_free(&sb);
}

static void close_code_with_empty_reason(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb cb = {0};
    close_frame(&cb, true, 4001, "");
    push(c, DIR_CLIENT, &cb, T_C);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.close_code, 4001);
    assert_null(r.close_reason); /* empty reason is NULL */
    assert_null(r.close[DIR_CLIENT].reason);
    wsconn_free(c);
    bb_free(&cb);
}

static void invalid_close_codes(void **state)
{
    (void)state;
    static const int bad[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int dir = 0; dir < 2; dir++) {
            struct wsconn *c = open_ws();
            struct bb b = {0};
            close_frame(&b, dir == DIR_CLIENT, bad[i], "r");
            push(c, dir, &b, T_C);
            struct ws_record r = rec(c, false);
            if (r.close_code != bad[i] || r.violations != V_INVALID_CLOSE_CODE) {
                print_error("code %d from %d: close_code %d, violations %#x\n", bad[i], dir, r.close_code,
                            r.violations);
                fail();
            }
            assert_int_equal(r.close[dir].code, bad[i]);
            assert_opt_str(r.close_reason, "r");
            wsconn_free(c);
            bb_free(&b);
        }
    }
}

static void valid_close_codes(void **state)
{
    (void)state;
    static const int good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                               1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct wsconn *c = open_ws();
        struct bb b = {0};
        close_frame(&b, true, good[i], "");
        push(c, DIR_CLIENT, &b, T_C);
        struct ws_record r = rec(c, false);
        if (r.close_code != good[i] || r.violations != 0) {
            print_error("code %d: close_code %d, violations %#x\n", good[i], r.close_code, r.violations);
            fail();
        }
        wsconn_free(c);
        bb_free(&b);
    }
}

static void reasons_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *reason;
        bool valid;
    } cases[] = {
        {"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", true},
        {"plain ascii", true},
        {"\xff\xfe", false},
        {"bad \xc0\xaf overlong", false},
        {"\xed\xa0\x80 surrogate", false},
        {"cut \xe2\x9c", false},
        {"\xf4\x90\x80\x80 above U+10FFFF", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wsconn *c = open_ws();
        struct bb b = {0};
        close_frame(&b, true, 1000, cases[i].reason);
        push(c, DIR_CLIENT, &b, T_C);
        struct ws_record r = rec(c, false);
        assert_int_equal(r.close_code, 1000);
        assert_violations(r.violations, cases[i].valid ? 0 : V_INVALID_UTF8_REASON);
        /* the reason is kept as sent, for the record */
        assert_opt_str(r.close_reason, cases[i].reason);
        wsconn_free(c);
        bb_free(&b);
    }
}

static void only_first_close_per_side_counts(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb cb = {0};
    close_frame(&cb, true, 1000, "first");
    close_frame(&cb, true, 4000, "second");
    push(c, DIR_CLIENT, &cb, T_C);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.close_code, 1000);
    assert_opt_str(r.close_reason, "first");
    assert_int_equal(r.close[DIR_CLIENT].code, 1000);
    assert_int_equal(r.frames[DIR_CLIENT], 2);
    assert_int_equal(r.outcome, OUTCOME_HALF_CLOSED);
    wsconn_free(c);
    bb_free(&cb);
}

static void close_payload_bytewise_masked(void **state)
{
    (void)state;
    /* a masked close arriving one byte at a time: mask phase kept per byte */
    struct wsconn *c = open_ws();
    struct bb cb = {0};
    close_frame(&cb, true, 3001, "split reason, longer than one mask");
    for (size_t i = 0; i < cb.n; i++)
        wsconn_data(c, DIR_CLIENT, cb.d + i, 1, T_C + (ts_us_t)i);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.close_code, 3001);
    assert_opt_str(r.close_reason, "split reason, longer than one mask");
    assert_int_equal(r.close[DIR_CLIENT].at, T_C + (ts_us_t)cb.n - 1); /* when the frame completed */
    assert_violations(r.violations, 0);
    wsconn_free(c);
    bb_free(&cb);
}

/* ---- violations (docs/design.md §4) ---------------------------------------------- */

static void control_frame_too_long(void **state)
{
    (void)state;
    uint8_t p[200];
    memset(p, 'a', sizeof p);
    struct bb b = {0};
    frame(&b, true, 0, WS_OP_PING, true, p, 126);
    assert_violations(violations_after(RESP, &b, NULL), V_CONTROL_FRAME_TOO_LONG);
    bb_free(&b);
    frame(&b, true, 0, WS_OP_PING, true, p, 125);
    assert_violations(violations_after(RESP, &b, NULL), 0);
    bb_free(&b);
    /* an over-long close still yields its code */
    p[0] = 0x03, p[1] = 0xe8;
    frame(&b, true, 0, WS_OP_CLOSE, false, p, 200);
    struct wsconn *c = open_ws();
    push(c, DIR_SERVER, &b, T_S);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.close_code, 1000);
    assert_violations(r.violations, V_CONTROL_FRAME_TOO_LONG);
    assert_int_equal(strlen(r.close_reason), 198);
    wsconn_free(c);
    bb_free(&b);
}

static void fragmented_control_frame(void **state)
{
    (void)state;
    struct bb b = {0};
    frame(&b, false, 0, WS_OP_PING, false, "x", 1);
    assert_violations(violations_after(RESP, NULL, &b), V_FRAGMENTED_CONTROL_FRAME);
    bb_free(&b);
    frame(&b, false, 0, WS_OP_CLOSE, true, "\x03\xe8", 2);
    assert_violations(violations_after(RESP, &b, NULL), V_FRAGMENTED_CONTROL_FRAME);
    bb_free(&b);
}

static void bad_continuation(void **state)
{
    (void)state;
    struct bb b = {0};
    /* a continuation with no message open */
    frame(&b, true, 0, WS_OP_CONTINUATION, true, "x", 1);
    assert_violations(violations_after(RESP, &b, NULL), V_BAD_CONTINUATION);
    bb_free(&b);
    /* a new message while a fragmented one is open */
    frame(&b, false, 0, WS_OP_TEXT, false, "a", 1);
    frame(&b, true, 0, WS_OP_BINARY, false, "b", 1);
    assert_violations(violations_after(RESP, NULL, &b), V_BAD_CONTINUATION);
    bb_free(&b);
    /* legal: start, continuation, continuation-fin, then a new message */
    frame(&b, false, 0, WS_OP_TEXT, false, "a", 1);
    frame(&b, false, 0, WS_OP_CONTINUATION, false, "b", 1);
    frame(&b, true, 0, WS_OP_CONTINUATION, false, "c", 1);
    frame(&b, true, 0, WS_OP_BINARY, false, "d", 1);
    assert_violations(violations_after(RESP, NULL, &b), 0);
    bb_free(&b);
    /* the two directions' messages are independent */
    struct bb cb = {0}, sb = {0};
    frame(&cb, false, 0, WS_OP_TEXT, true, "a", 1);
    frame(&sb, true, 0, WS_OP_TEXT, false, "b", 1);
    assert_violations(violations_after(RESP, &cb, &sb), 0);
    bb_free(&cb);
    bb_free(&sb);
}

static void reserved_opcode(void **state)
{
    (void)state;
    static const uint8_t ops[] = {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf};
    for (size_t i = 0; i < sizeof ops; i++) {
        struct bb b = {0};
        frame(&b, true, 0, ops[i], false, "zz", 2);
        assert_violations(violations_after(RESP, NULL, &b), V_RESERVED_OPCODE);
        bb_free(&b);
    }
}

static void rsv_bits(void **state)
{
    (void)state;
    struct bb b = {0};
    /* no extension negotiated: any RSV bit is a violation */
    frame(&b, true, 4, WS_OP_TEXT, true, "x", 1);
    assert_violations(violations_after(RESP, &b, NULL), V_RSV_WITHOUT_EXTENSION);
    bb_free(&b);
    frame(&b, true, 1, WS_OP_BINARY, false, "x", 1);
    assert_violations(violations_after(RESP, NULL, &b), V_RSV_WITHOUT_EXTENSION);
    bb_free(&b);
    /* permessage-deflate: RSV1 on the first frame of a data message is legal */
    frame(&b, true, 4, WS_OP_TEXT, true, "x", 1);
    frame(&b, false, 4, WS_OP_BINARY, true, "x", 1);
    frame(&b, true, 0, WS_OP_CONTINUATION, true, "y", 1);
    assert_violations(violations_after(RESP_DEFLATE, &b, NULL), 0);
    bb_free(&b);
    frame(&b, true, 4, WS_OP_TEXT, false, "x", 1);
    assert_violations(violations_after(RESP_DEFLATE, NULL, &b), 0);
    bb_free(&b);
    /* ... but not RSV2/RSV3, not on continuations, not on control frames (RFC 7692 §6.1) */
    frame(&b, true, 2, WS_OP_TEXT, true, "x", 1);
    assert_violations(violations_after(RESP_DEFLATE, &b, NULL), V_RSV_WITHOUT_EXTENSION);
    bb_free(&b);
    frame(&b, false, 4, WS_OP_TEXT, true, "x", 1);
    frame(&b, true, 4, WS_OP_CONTINUATION, true, "y", 1);
    assert_violations(violations_after(RESP_DEFLATE, &b, NULL), V_RSV_WITHOUT_EXTENSION);
    bb_free(&b);
    frame(&b, true, 4, WS_OP_PING, false, "", 0);
    assert_violations(violations_after(RESP_DEFLATE, NULL, &b), V_RSV_WITHOUT_EXTENSION);
    bb_free(&b);
}

static void masking_rules(void **state)
{
    (void)state;
    struct bb b = {0};
    frame(&b, true, 0, WS_OP_TEXT, false, "x", 1);
    assert_violations(violations_after(RESP, &b, NULL), V_UNMASKED_CLIENT_FRAME);
    assert_violations(violations_after(RESP, NULL, &b), 0);
    bb_free(&b);
    frame(&b, true, 0, WS_OP_PONG, true, "x", 1);
    assert_violations(violations_after(RESP, NULL, &b), V_MASKED_SERVER_FRAME);
    assert_violations(violations_after(RESP, &b, NULL), 0);
    bb_free(&b);
}

static void non_minimal_length(void **state)
{
    (void)state;
    uint8_t p[300];
    memset(p, 'q', sizeof p);
    struct bb b = {0};
    frame_x(&b, true, 0, WS_OP_TEXT, true, p, 5, 2);
    assert_violations(violations_after(RESP, &b, NULL), V_NON_MINIMAL_LENGTH);
    bb_free(&b);
    frame_x(&b, true, 0, WS_OP_BINARY, false, p, 300, 8);
    assert_violations(violations_after(RESP, NULL, &b), V_NON_MINIMAL_LENGTH);
    bb_free(&b);
    frame_x(&b, true, 0, WS_OP_BINARY, false, p, 126, 2); /* 126 needs 16 bits */
    assert_violations(violations_after(RESP, NULL, &b), 0);
    bb_free(&b);
    /* the frame is still followed correctly */
    frame_x(&b, true, 0, WS_OP_TEXT, true, p, 5, 8);
    close_frame(&b, true, 1000, "");
    struct wsconn *c = open_ws();
    push(c, DIR_CLIENT, &b, T_C);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.close_code, 1000);
    assert_int_equal(r.messages[DIR_CLIENT], 1);
    wsconn_free(c);
    bb_free(&b);
}

static void data_after_close(void **state)
{
    (void)state;
    struct bb cb = {0}, sb = {0};
    close_frame(&cb, true, 1000, "");
    cf(&cb, WS_OP_TEXT, "late", 4);
    assert_violations(violations_after(RESP, &cb, NULL), V_DATA_AFTER_CLOSE);
    bb_free(&cb);
    /* control frames after a close are not data */
    close_frame(&cb, true, 1000, "");
    cf(&cb, WS_OP_PING, "", 0);
    assert_violations(violations_after(RESP, &cb, NULL), 0);
    bb_free(&cb);
    /* the other side may finish sending before it answers the close */
    close_frame(&cb, true, 1000, "");
    sf(&sb, WS_OP_TEXT, "still mine", 10);
    close_frame(&sb, false, 1000, "");
    assert_violations(violations_after(RESP, &cb, &sb), 0);
    bb_free(&cb);
    bb_free(&sb);
}

static void bad_accept(void **state)
{
    (void)state;
    static const char wrong[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n\r\n";
    static const char missing[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    static const char longer[] =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=x\r\n\r\n";
    static const char spaced[] =
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
        "sec-websocket-accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n\r\n";
    assert_violations(violations_after(wrong, NULL, NULL), V_BAD_ACCEPT);
    assert_violations(violations_after(missing, NULL, NULL), V_BAD_ACCEPT);
    assert_violations(violations_after(longer, NULL, NULL), V_BAD_ACCEPT);
    assert_violations(violations_after(spaced, NULL, NULL), 0);
    assert_violations(violations_after(RESP, NULL, NULL), 0);
    /* a request without a key cannot be checked: no violation */
    static const char nokey[] = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)nokey, strlen(nokey), T_REQ);
    wsconn_data(c, DIR_SERVER, (const uint8_t *)wrong, strlen(wrong), T_RESP);
    assert_int_equal(c->state, WSC_OPEN);
    assert_violations(rec(c, false).violations, 0);
    wsconn_free(c);
}

static void several_violations_sorted(void **state)
{
    (void)state;
    struct bb cb = {0};
    frame(&cb, true, 0, WS_OP_TEXT, false, "x", 1);        /* unmasked_client_frame */
    frame(&cb, false, 0, WS_OP_PING, true, "", 0);         /* fragmented_control_frame */
    frame(&cb, true, 0, WS_OP_CONTINUATION, true, "", 0);  /* bad_continuation */
    frame(&cb, true, 0, WS_OP_CLOSE, true, "\x03", 1);     /* close_too_short */
    struct wsconn *c = open_ws();
    push(c, DIR_CLIENT, &cb, T_C);
    struct ws_record r = rec(c, false);
    char buf[256];
    violations_format(r.violations, buf, sizeof buf);
    assert_string_equal(buf, "bad_continuation,close_too_short,fragmented_control_frame,unmasked_client_frame");
    assert_int_equal(r.close_code, 1005);
    wsconn_free(c);
    bb_free(&cb);
}

/* ---- coalescing and splits ------------------------------------------------ */

static void response_coalesced_with_frames(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    struct bb s = {0};
    bb_str(&s, RESP);
    sf(&s, WS_OP_TEXT, "welcome", 7);
    close_frame(&s, false, 1001, "bye");
    push(c, DIR_SERVER, &s, T_RESP);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.http_status, 101);
    assert_int_equal(r.upgraded_at, T_RESP);
    assert_int_equal(r.frames[DIR_SERVER], 2);
    assert_int_equal(r.messages[DIR_SERVER], 1);
    assert_int_equal(r.bytes[DIR_SERVER], 7 + 5);
    assert_int_equal(r.close_code, 1001);
    assert_opt_str(r.close_reason, "bye");
    assert_int_equal(r.close_initiator, DIR_SERVER);
    assert_int_equal(r.outcome, OUTCOME_HALF_CLOSED);
    assert_violations(r.violations, 0);
    wsconn_free(c);
    bb_free(&s);
}

static void request_coalesced_with_frames(void **state)
{
    (void)state;
    /* the client sends frames right behind its request, before the 101 */
    struct wsconn *c = wsconn_new();
    struct bb cb = {0};
    bb_str(&cb, REQ);
    cf(&cb, WS_OP_BINARY, "early", 5);
    push(c, DIR_CLIENT, &cb, T_REQ);
    struct bb more = {0};
    cf(&more, WS_OP_TEXT, "more", 4);
    push(c, DIR_CLIENT, &more, T_REQ + 1);
    assert_int_equal(c->state, WSC_AWAIT_RESPONSE);
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP, strlen(RESP), T_RESP);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.frames[DIR_CLIENT], 2);
    assert_int_equal(r.messages[DIR_CLIENT], 2);
    assert_int_equal(r.bytes[DIR_CLIENT], 9);
    assert_violations(r.violations, 0);
    wsconn_free(c);
    bb_free(&cb);
    bb_free(&more);
}

static void big_first_frame_coalesced(void **state)
{
    (void)state;
    /* Loopback and GRO captures carry segments of up to 64 KiB: a 101 and a
     * large first message in one delivery is ordinary. */
    size_t big = 40000;
    uint8_t *p = calloc(1, big);
    assert_non_null(p);
    struct bb s = {0};
    bb_str(&s, RESP);
    sf(&s, WS_OP_BINARY, p, big);
    close_frame(&s, false, 1000, "done");
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    push(c, DIR_SERVER, &s, T_RESP);
    struct ws_record r = rec(c, false);
    int status = r.http_status, code = r.close_code;
    enum outcome outcome = r.outcome;
    uint64_t frames = r.frames[DIR_SERVER], bytes = r.bytes[DIR_SERVER];
    wsconn_free(c); /* before asserting: nothing leaks when this fails */
    bb_free(&s);
    free(p);
    assert_int_equal(status, 101);
    assert_int_equal(outcome, OUTCOME_HALF_CLOSED);
    assert_int_equal(code, 1000);
    assert_int_equal(frames, 2);
    assert_int_equal(bytes, big + 6);
}

static void big_request_frame_coalesced(void **state)
{
    (void)state;
    size_t big = 40000;
    uint8_t *p = calloc(1, big);
    assert_non_null(p);
    struct bb cb = {0};
    bb_str(&cb, REQ);
    cf(&cb, WS_OP_BINARY, p, big);
    struct wsconn *c = wsconn_new();
    push(c, DIR_CLIENT, &cb, T_REQ);
    enum wsconn_state after_request = c->state;
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP, strlen(RESP), T_RESP);
    enum wsconn_state after_response = c->state;
    struct ws_record r = rec(c, false);
    uint64_t frames = r.frames[DIR_CLIENT], bytes = r.bytes[DIR_CLIENT];
    wsconn_free(c);
    bb_free(&cb);
    free(p);
    assert_int_equal(after_request, WSC_AWAIT_RESPONSE);
    assert_int_equal(after_response, WSC_OPEN);
    assert_int_equal(frames, 1);
    assert_int_equal(bytes, big);
}

static void zero_length_data(void **state)
{
    (void)state;
    /* an empty delivery is allowed in every state and changes nothing
     * (run last: under UBSan a failure here aborts the binary) */
    static const uint8_t none[1] = {0};
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, none, 0, T_REQ);
    wsconn_data(c, DIR_SERVER, none, 0, T_REQ);
    assert_int_equal(c->state, WSC_AWAIT_REQUEST);
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    wsconn_data(c, DIR_CLIENT, none, 0, T_REQ);
    wsconn_data(c, DIR_SERVER, none, 0, T_REQ);
    assert_int_equal(c->state, WSC_AWAIT_RESPONSE);
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP, strlen(RESP), T_RESP);
    wsconn_data(c, DIR_SERVER, none, 0, T_S);
    wsconn_data(c, DIR_CLIENT, none, 0, T_C);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.frames[0] + r.frames[1], 0);
    assert_int_equal(r.last_frame_at, TS_NONE);
    wsconn_free(c);
}

static void big_coalesced_split_anywhere(void **state)
{
    (void)state;
    /* the 101 plus a 20000-byte frame plus a close, cut in two anywhere
     * (every byte near the start and around 16 KiB, sampled elsewhere) */
    size_t big = 20000;
    uint8_t *p = malloc(big);
    assert_non_null(p);
    for (size_t i = 0; i < big; i++)
        p[i] = (uint8_t)(i * 31);
    struct bb s = {0};
    bb_str(&s, RESP);
    sf(&s, WS_OP_BINARY, p, big);
    close_frame(&s, false, 1001, "later");
    free(p);
    for (size_t k = 1; k < s.n; k += (k < 400 || (k > 15900 && k < 16900)) ? 1 : 97) {
        struct wsconn *c = wsconn_new();
        wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
        wsconn_data(c, DIR_SERVER, s.d, k, T_RESP);
        wsconn_data(c, DIR_SERVER, s.d + k, s.n - k, T_RESP);
        struct ws_record r = rec(c, false);
        int status = r.http_status, code = r.close_code;
        uint64_t frames = r.frames[DIR_SERVER], bytes = r.bytes[DIR_SERVER];
        uint32_t viol = r.violations;
        char reason[16];
        snprintf(reason, sizeof reason, "%s", r.close_reason ? r.close_reason : "(null)");
        wsconn_free(c);
        if (status != 101 || code != 1001 || frames != 2 || bytes != big + 7 || viol != 0 ||
            strcmp(reason, "later") != 0) {
            bb_free(&s);
            print_error("split at %zu: status %d code %d frames %llu bytes %llu violations %#x reason %s\n", k,
                        status, code, (unsigned long long)frames, (unsigned long long)bytes, viol, reason);
            fail();
        }
    }
    bb_free(&s);
}

static void response_before_request(void **state)
{
    (void)state;
    /* a tap can deliver the answer before the question */
    struct wsconn *c = wsconn_new();
    struct bb sb = {0};
    bb_str(&sb, RESP);
    sf(&sb, WS_OP_TEXT, "hello", 5);
    push(c, DIR_SERVER, &sb, T_RESP);
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.http_status, 101);
    assert_opt_str(r.path, "/chat?room=7");
    assert_int_equal(r.frames[DIR_SERVER], 1);
    assert_violations(r.violations, 0); /* the accept matches the key */
    wsconn_free(c);
    bb_free(&sb);
}

static void one_sided_captures(void **state)
{
    (void)state;
    /* only the server's direction was captured */
    struct wsconn *c = wsconn_new();
    struct bb sb = {0};
    bb_str(&sb, RESP);
    sf(&sb, WS_OP_TEXT, "s", 1);
    close_frame(&sb, false, 1001, "away");
    push(c, DIR_SERVER, &sb, T_RESP);
    wsconn_finish(c, T_S);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, true);
    assert_int_equal(r.http_status, 101);
    assert_null(r.path);
    assert_int_equal(r.frames[DIR_SERVER], 2);
    assert_int_equal(r.close_code, 1001);
    assert_opt_str(r.close_reason, "away");
    assert_int_equal(r.outcome, OUTCOME_HALF_CLOSED);
    wsconn_free(c);
    bb_free(&sb);

    /* only the client's direction: frames after the request mean a 101 */
    c = wsconn_new();
    struct bb cb = {0};
    bb_str(&cb, REQ);
    cf(&cb, WS_OP_TEXT, "c1", 2);
    close_frame(&cb, true, 1000, "");
    push(c, DIR_CLIENT, &cb, T_C);
    wsconn_finish(c, T_C);
    assert_int_equal(c->state, WSC_OPEN);
    r = rec(c, true);
    assert_opt_str(r.path, "/chat?room=7");
    assert_int_equal(r.frames[DIR_CLIENT], 2);
    assert_int_equal(r.messages[DIR_CLIENT], 1);
    assert_int_equal(r.close_code, 1000);
    assert_int_equal(r.close_initiator, DIR_CLIENT);
    wsconn_free(c);
    bb_free(&cb);
}

/* The scenario used by the split tests: the record's fields, as copies. */
struct snap {
    char host[64], path[64], origin[64], ua[64], sub[64];
    char reason[64], creason[64], sreason[64];
    int http_status, close_code, initiator, ccode, scode, outcome;
    uint64_t frames[2], messages[2], bytes[2], pings, pongs;
    uint32_t violations;
    ts_us_t upgraded_at;
};

static void cp(char *dst, const char *src)
{
    snprintf(dst, 64, "%s", src ? src : "(null)");
}

static struct snap snap_of(const struct wsconn *c)
{
    struct ws_record r = rec(c, true);
    struct snap s;
    memset(&s, 0, sizeof s);
    cp(s.host, r.host);
    cp(s.path, r.path);
    cp(s.origin, r.origin);
    cp(s.ua, r.user_agent);
    cp(s.sub, r.subprotocol);
    cp(s.reason, r.close_reason);
    cp(s.creason, r.close[0].reason);
    cp(s.sreason, r.close[1].reason);
    s.http_status = r.http_status;
    s.close_code = r.close_code;
    s.initiator = r.close_initiator;
    s.ccode = r.close[0].code;
    s.scode = r.close[1].code;
    s.outcome = (int)r.outcome;
    for (int d = 0; d < 2; d++) {
        s.frames[d] = r.frames[d];
        s.messages[d] = r.messages[d];
        s.bytes[d] = r.bytes[d];
    }
    s.pings = r.pings;
    s.pongs = r.pongs;
    s.violations = r.violations;
    s.upgraded_at = r.upgraded_at;
    return s;
}

static bool snap_eq(const struct snap *a, const struct snap *b)
{
    return !strcmp(a->host, b->host) && !strcmp(a->path, b->path) && !strcmp(a->origin, b->origin) &&
           !strcmp(a->ua, b->ua) && !strcmp(a->sub, b->sub) && !strcmp(a->reason, b->reason) &&
           !strcmp(a->creason, b->creason) && !strcmp(a->sreason, b->sreason) &&
           a->http_status == b->http_status && a->close_code == b->close_code &&
           a->initiator == b->initiator && a->ccode == b->ccode && a->scode == b->scode &&
           a->outcome == b->outcome && a->frames[0] == b->frames[0] && a->frames[1] == b->frames[1] &&
           a->messages[0] == b->messages[0] && a->messages[1] == b->messages[1] &&
           a->bytes[0] == b->bytes[0] && a->bytes[1] == b->bytes[1] && a->pings == b->pings &&
           a->pongs == b->pongs && a->violations == b->violations && a->upgraded_at == b->upgraded_at;
}

static void assert_snap_eq(const struct snap *a, const struct snap *b, const char *what, size_t k)
{
    if (!snap_eq(a, b)) {
        print_error("%s %zu: record differs (close %d/%d, frames c %llu/%llu s %llu/%llu, viol %#x/%#x, "
                    "status %d/%d, reason '%s'/'%s')\n",
                    what, k, a->close_code, b->close_code, (unsigned long long)a->frames[0],
                    (unsigned long long)b->frames[0], (unsigned long long)a->frames[1],
                    (unsigned long long)b->frames[1], a->violations, b->violations, a->http_status,
                    b->http_status, a->reason, b->reason);
        fail();
    }
}

struct scenario {
    struct bb req;  /* request + early client frames */
    struct bb resp; /* response + server frames */
    struct bb cfr;  /* client frames after the response */
};

static void make_scenario(struct scenario *sc)
{
    memset(sc, 0, sizeof *sc);
    bb_str(&sc->req, REQ);
    cf(&sc->req, WS_OP_TEXT, "early bird", 10);
    bb_str(&sc->resp, RESP);
    sf(&sc->resp, WS_OP_TEXT, "welcome", 7);
    frame(&sc->resp, true, 0, WS_OP_PING, false, "pp", 2);
    uint8_t big[300];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    sf(&sc->resp, WS_OP_BINARY, big, sizeof big);
    close_frame(&sc->resp, false, 4000, "server says bye");
    frame(&sc->cfr, false, 0, WS_OP_TEXT, true, "frag", 4);
    frame(&sc->cfr, true, 0, WS_OP_PONG, true, "pp", 2);
    frame(&sc->cfr, true, 0, WS_OP_CONTINUATION, true, "ment", 4);
    close_frame(&sc->cfr, true, 4000, "client agrees \xe2\x9c\x93");
}

static void free_scenario(struct scenario *sc)
{
    bb_free(&sc->req);
    bb_free(&sc->resp);
    bb_free(&sc->cfr);
}

/* Feeds b to side dir as two calls, cut at k. */
static void feed2(struct wsconn *c, int dir, const struct bb *b, size_t k, ts_us_t ts)
{
    if (k > 0)
        wsconn_data(c, dir, b->d, k, ts);
    if (b->n > k)
        wsconn_data(c, dir, b->d + k, b->n - k, ts);
}

/* Feeds the scenario with the request cut at rk, the response at sk and the
 * late client frames at ck (each as two calls). */
static struct snap run_scenario(const struct scenario *sc, size_t rk, size_t sk, size_t ck)
{
    struct wsconn *c = wsconn_new();
    /* empty pieces are left out: zero_length_data covers those */
    feed2(c, DIR_CLIENT, &sc->req, rk, T_REQ);
    feed2(c, DIR_SERVER, &sc->resp, sk, T_RESP);
    feed2(c, DIR_CLIENT, &sc->cfr, ck, T_C);
    struct snap s = snap_of(c);
    wsconn_free(c);
    return s;
}

static void scenario_reference(void **state)
{
    (void)state;
    struct scenario sc;
    make_scenario(&sc);
    struct snap s = run_scenario(&sc, sc.req.n, sc.resp.n, sc.cfr.n);
    assert_string_equal(s.host, "server.example.com");
    assert_string_equal(s.path, "/chat?room=7");
    assert_string_equal(s.sub, "chat");
    assert_int_equal(s.http_status, 101);
    assert_int_equal(s.close_code, 4000);
    assert_string_equal(s.reason, "server says bye");
    assert_int_equal(s.initiator, DIR_SERVER);
    assert_int_equal(s.ccode, 4000);
    assert_string_equal(s.creason, "client agrees \xe2\x9c\x93");
    assert_int_equal(s.outcome, OUTCOME_CLEAN);
    assert_int_equal(s.frames[DIR_CLIENT], 5);
    assert_int_equal(s.frames[DIR_SERVER], 4);
    assert_int_equal(s.messages[DIR_CLIENT], 2);
    assert_int_equal(s.messages[DIR_SERVER], 2);
    assert_int_equal(s.bytes[DIR_CLIENT], 10 + 4 + 2 + 4 + 2 + strlen("client agrees \xe2\x9c\x93"));
    assert_int_equal(s.bytes[DIR_SERVER], 7 + 2 + 300 + 2 + strlen("server says bye"));
    assert_int_equal(s.pings, 1);
    assert_int_equal(s.pongs, 1);
    assert_int_equal(s.violations, 0);
    assert_int_equal(s.upgraded_at, T_RESP);
    free_scenario(&sc);
}

static void split_request_every_byte(void **state)
{
    (void)state;
    struct scenario sc;
    make_scenario(&sc);
    struct snap want = run_scenario(&sc, sc.req.n, sc.resp.n, sc.cfr.n);
    for (size_t k = 0; k <= sc.req.n; k++) {
        struct snap got = run_scenario(&sc, k, sc.resp.n, sc.cfr.n);
        assert_snap_eq(&want, &got, "request split at", k);
    }
    free_scenario(&sc);
}

static void split_response_every_byte(void **state)
{
    (void)state;
    struct scenario sc;
    make_scenario(&sc);
    struct snap want = run_scenario(&sc, sc.req.n, sc.resp.n, sc.cfr.n);
    for (size_t k = 0; k <= sc.resp.n; k++) {
        struct snap got = run_scenario(&sc, sc.req.n, k, sc.cfr.n);
        assert_snap_eq(&want, &got, "response split at", k);
    }
    free_scenario(&sc);
}

static void split_client_frames_every_byte(void **state)
{
    (void)state;
    struct scenario sc;
    make_scenario(&sc);
    struct snap want = run_scenario(&sc, sc.req.n, sc.resp.n, sc.cfr.n);
    for (size_t k = 0; k <= sc.cfr.n; k++) {
        struct snap got = run_scenario(&sc, sc.req.n, sc.resp.n, k);
        assert_snap_eq(&want, &got, "client frames split at", k);
    }
    free_scenario(&sc);
}

static void everything_bytewise(void **state)
{
    (void)state;
    struct scenario sc;
    make_scenario(&sc);
    struct snap want = run_scenario(&sc, sc.req.n, sc.resp.n, sc.cfr.n);
    struct wsconn *c = wsconn_new();
    /* interleave the directions byte by byte as far as each goes */
    size_t i = 0, j = 0;
    while (i < sc.req.n || j < sc.resp.n) {
        if (i < sc.req.n)
            wsconn_data(c, DIR_CLIENT, sc.req.d + i++, 1, T_REQ);
        if (j < sc.resp.n && i >= sc.req.n) /* the answer follows the question */
            wsconn_data(c, DIR_SERVER, sc.resp.d + j++, 1, T_RESP);
    }
    for (size_t k = 0; k < sc.cfr.n; k++)
        wsconn_data(c, DIR_CLIENT, sc.cfr.d + k, 1, T_C);
    struct snap got = snap_of(c);
    assert_snap_eq(&want, &got, "bytewise", 0);
    wsconn_free(c);
    free_scenario(&sc);
}

/* ---- counters ------------------------------------------------------------ */

static void counters_with_interleaved_ping(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb cb = {0}, sb = {0};
    frame(&cb, false, 0, WS_OP_TEXT, true, "hel", 3);      /* message 1 starts */
    frame(&cb, true, 0, WS_OP_PING, true, "ping", 4);      /* control frame inside it */
    frame(&cb, false, 0, WS_OP_CONTINUATION, true, "l", 1);
    frame(&cb, true, 0, WS_OP_CONTINUATION, true, "o", 1); /* message 1 ends */
    frame(&cb, true, 0, WS_OP_BINARY, true, "\x00\x01", 2);/* message 2 */
    frame(&cb, true, 0, WS_OP_PONG, true, "", 0);
    frame(&sb, true, 0, WS_OP_PONG, false, "ping", 4);
    frame(&sb, true, 0, WS_OP_PING, false, "", 0);
    frame(&sb, true, 0, WS_OP_TEXT, false, "x", 1);        /* message 1 */
    push(c, DIR_CLIENT, &cb, T_C);
    push(c, DIR_SERVER, &sb, T_S);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.frames[DIR_CLIENT], 6);
    assert_int_equal(r.frames[DIR_SERVER], 3);
    assert_int_equal(r.messages[DIR_CLIENT], 2);
    assert_int_equal(r.messages[DIR_SERVER], 1);
    assert_int_equal(r.bytes[DIR_CLIENT], 3 + 4 + 1 + 1 + 2 + 0);
    assert_int_equal(r.bytes[DIR_SERVER], 4 + 0 + 1);
    assert_int_equal(r.pings, 2);
    assert_int_equal(r.pongs, 2);
    assert_int_equal(r.last_frame_at, T_S);
    assert_int_equal(r.last_data_at, T_S);
    assert_violations(r.violations, 0);
    /* a message still open at the end is not counted */
    struct bb more = {0};
    frame(&more, false, 0, WS_OP_TEXT, true, "open", 4);
    push(c, DIR_CLIENT, &more, T_S + 5);
    r = rec(c, false);
    assert_int_equal(r.frames[DIR_CLIENT], 7);
    assert_int_equal(r.messages[DIR_CLIENT], 2);
    assert_int_equal(r.last_data_at, T_S + 5);
    wsconn_free(c);
    bb_free(&cb);
    bb_free(&sb);
    bb_free(&more);
}

static void last_data_not_bumped_by_control(void **state)
{
    (void)state;
    struct wsconn *c = open_ws();
    struct bb a = {0}, b = {0};
    cf(&a, WS_OP_TEXT, "x", 1);
    cf(&b, WS_OP_PING, "", 0);
    push(c, DIR_CLIENT, &a, T_C);
    push(c, DIR_CLIENT, &b, T_C + 10);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.last_data_at, T_C);
    assert_int_equal(r.last_frame_at, T_C + 10);
    wsconn_free(c);
    bb_free(&a);
    bb_free(&b);
}

/* ---- gaps and mid-stream ------------------------------------------------- */

static void gap_inside_frame(void **state)
{
    (void)state;
    uint8_t p[1000];
    memset(p, 7, sizeof p);
    struct bb sb = {0}, tail = {0};
    sf(&sb, WS_OP_BINARY, p, sizeof p); /* 4-byte header */
    close_frame(&tail, false, 1001, "x");
    for (int cut = 0; cut < 2; cut++) {
        struct wsconn *c = open_ws();
        wsconn_data(c, DIR_SERVER, sb.d, 104, T_S);          /* header + 100 bytes */
        wsconn_gap(c, DIR_SERVER, 500, cut);                 /* 500 missing */
        wsconn_data(c, DIR_SERVER, sb.d + 604, sb.n - 604, T_S + 1);
        push(c, DIR_SERVER, &tail, T_S + 2);
        struct ws_record r = rec(c, false);
        assert_int_equal(r.frames[DIR_SERVER], 2);
        assert_int_equal(r.messages[DIR_SERVER], 1);
        assert_int_equal(r.close_code, 1001);
        assert_violations(r.violations, cut ? V_TRUNCATED : V_GAP);
        wsconn_free(c);
    }
    bb_free(&sb);
    bb_free(&tail);
}

static void gap_between_frames_resyncs(void **state)
{
    (void)state;
    struct bb a = {0}, b = {0}, junk = {0};
    sf(&a, WS_OP_TEXT, "one", 3);
    sf(&b, WS_OP_TEXT, "two", 3);
    close_frame(&b, false, 1000, "");
    bb_put(&junk, "\x03\x04\x05", 3); /* the middle of something: not a header */
    struct wsconn *c = open_ws();
    push(c, DIR_SERVER, &a, T_S);
    wsconn_gap(c, DIR_SERVER, 50, false);
    push(c, DIR_SERVER, &junk, T_S + 1); /* ignored: no plausible header */
    push(c, DIR_SERVER, &b, T_S + 2);    /* starts with one: back in sync */
    struct ws_record r = rec(c, false);
    assert_int_equal(r.frames[DIR_SERVER], 3);
    assert_int_equal(r.messages[DIR_SERVER], 2);
    assert_int_equal(r.close_code, 1000);
    assert_violations(r.violations, V_GAP);
    wsconn_free(c);
    bb_free(&a);
    bb_free(&b);
    bb_free(&junk);
}

static void gap_during_handshake(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    wsconn_gap(c, DIR_SERVER, 100, false); /* the response is lost */
    assert_int_equal(c->state, WSC_AWAIT_RESPONSE); /* the server's next bytes decide */
    struct bb sb = {0}, cb = {0};
    sf(&sb, WS_OP_TEXT, "hi", 2);
    close_frame(&cb, true, 1000, "");
    push(c, DIR_SERVER, &sb, T_S);
    assert_int_equal(c->state, WSC_OPEN); /* unmasked frames: the upgrade happened */
    push(c, DIR_CLIENT, &cb, T_C);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.frames[DIR_SERVER], 1);
    assert_int_equal(r.close_code, 1000);
    assert_int_equal(r.close_initiator, DIR_CLIENT);
    assert_int_equal(r.http_status, -1);
    assert_opt_str(r.path, "/chat?room=7");
    assert_violations(r.violations, V_GAP);
    wsconn_free(c);
    bb_free(&sb);
    bb_free(&cb);
}

static void midstream_pickup(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new_midstream();
    assert_non_null(c);
    struct bb sb = {0}, cb = {0};
    bb_put(&sb, "\x22\x33", 2); /* tail of an earlier frame: skipped */
    push(c, DIR_SERVER, &sb, T_S);
    bb_free(&sb);
    sf(&sb, WS_OP_TEXT, "mid", 3);
    close_frame(&sb, false, 1008, "policy");
    push(c, DIR_SERVER, &sb, T_S + 1);
    close_frame(&cb, true, 1008, "");
    push(c, DIR_CLIENT, &cb, T_C);
    struct ws_record r = rec(c, true);
    assert_int_equal(r.handshake_seen, 0);
    assert_int_equal(r.http_status, -1);
    assert_int_equal(r.upgraded_at, TS_NONE);
    assert_null(r.host);
    assert_null(r.path);
    assert_int_equal(r.frames[DIR_SERVER], 2);
    assert_int_equal(r.frames[DIR_CLIENT], 1);
    assert_int_equal(r.close_code, 1008);
    assert_opt_str(r.close_reason, "policy");
    assert_int_equal(r.outcome, OUTCOME_CLEAN);
    assert_violations(r.violations, 0);
    wsconn_free(c);
    bb_free(&sb);
    bb_free(&cb);
}

/* Picked up on a segment that tiled as a frame, then bytes breaking §5.2
 * (a masked server frame, a reserved opcode): no WebSocket, no record. The
 * same pickup with a violation only of §5.4 (a lost message start) stays. */
static void midstream_frames_then_nonsense_is_no_record(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new_midstream();
    struct bb sb = {0}, junk = {0};
    sf(&sb, WS_OP_BINARY, "tiles", 5);
    push(c, DIR_SERVER, &sb, T_S);
    bb_put(&junk, "\x8b\x85\x01\x02\x03\x04zzzzz", 11); /* opcode 0xB, masked */
    push(c, DIR_SERVER, &junk, T_S + 1);
    wsconn_finish(c, T_S + 1);
    assert_int_equal(c->state, WSC_NOT_WEBSOCKET);
    wsconn_free(c);
    bb_free(&sb);
    c = wsconn_new_midstream();
    sf(&sb, WS_OP_BINARY, "tiles", 5);
    frame(&sb, true, 0, WS_OP_CONTINUATION, false, (const uint8_t *)"more", 4);
    push(c, DIR_SERVER, &sb, T_S);
    wsconn_finish(c, T_S);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, false);
    assert_violations(r.violations, V_BAD_CONTINUATION);
    wsconn_free(c);
    bb_free(&sb);
    bb_free(&junk);
}

/* Code and reason of a server close frame 1000 "bye-bye" of which `lost`
 * payload bytes from offset `at` were lost, with malloc'd memory pre-filled
 * by glibc's M_PERTURB. */
static void close_after_gap(int perturb, size_t at, size_t lost, int *code, char *reason, size_t rlen,
                            uint32_t *viol)
{
    struct bb b = {0};
    close_frame(&b, false, 1000, "bye-bye");
    mallopt(M_PERTURB, perturb);
    struct wsconn *c = open_ws();
    wsconn_data(c, DIR_SERVER, b.d, 2 + at, T_S); /* the header and `at` payload bytes */
    wsconn_gap(c, DIR_SERVER, lost, false);
    wsconn_data(c, DIR_SERVER, b.d + 2 + at + lost, b.n - 2 - at - lost, T_S);
    struct ws_record r = rec(c, false);
    *code = r.close_code;
    snprintf(reason, rlen, "%s", r.close_reason ? r.close_reason : "(null)");
    *viol = r.violations;
    wsconn_free(c);
    mallopt(M_PERTURB, 0);
    bb_free(&b);
}

static void lost_close_code_not_invented(void **state)
{
    (void)state;
    /* Bytes of the close payload were never captured: whatever the record
     * says must not come from uninitialised memory (made visible by filling
     * fresh allocations with two different patterns). A lost status code
     * is not invented; a status code that was captured is kept. */
    for (size_t at = 0; at <= 4; at++) {
        for (size_t lost = 1; at + lost <= 6; lost++) {
            int c1, c2;
            char r1[64], r2[64];
            uint32_t v1, v2;
            close_after_gap(0x11, at, lost, &c1, r1, sizeof r1, &v1);
            close_after_gap(0x5a, at, lost, &c2, r2, sizeof r2, &v2);
            if (c1 != c2 || strcmp(r1, r2) != 0 || v1 != v2) {
                print_error("payload bytes [%zu,%zu) lost: close code %d vs %d, reason \"%s\" vs \"%s\": "
                            "read from uninitialised memory\n", at, at + lost, c1, c2, r1, r2);
                fail();
            }
            assert_true(v1 & V_GAP);
            assert_false(v1 & V_INVALID_CLOSE_CODE);
            if (at >= 2)
                assert_int_equal(c1, 1000);
            else if (c1 != -1 && c1 != 1005) {
                print_error("payload bytes [%zu,%zu) lost: close code %d invented\n", at, at + lost, c1);
                fail();
            }
        }
    }
}

/* ---- record.c names ------------------------------------------------------ */

static void record_names(void **state)
{
    (void)state;
    assert_string_equal(outcome_name(OUTCOME_CLEAN), "clean");
    assert_string_equal(outcome_name(OUTCOME_HALF_CLOSED), "half_closed");
    assert_string_equal(outcome_name(OUTCOME_ABNORMAL), "abnormal");
    assert_string_equal(outcome_name(OUTCOME_UNFINISHED), "unfinished");
    assert_string_equal(outcome_name(OUTCOME_REJECTED), "rejected");
    assert_string_equal(termination_name(TERM_FIN_CLIENT), "fin_client");
    assert_string_equal(termination_name(TERM_FIN_SERVER), "fin_server");
    assert_string_equal(termination_name(TERM_RST_CLIENT), "rst_client");
    assert_string_equal(termination_name(TERM_RST_SERVER), "rst_server");
    assert_string_equal(termination_name(TERM_IDLE_TIMEOUT), "idle_timeout");
    assert_string_equal(termination_name(TERM_EVICTED), "evicted");
    assert_string_equal(termination_name(TERM_CAPTURE_END), "capture_end");

    char buf[512];
    violations_format(0, buf, sizeof buf);
    assert_string_equal(buf, "");
    violations_format((1u << V_COUNT) - 1, buf, sizeof buf);
    assert_string_equal(buf,
                        "bad_accept,bad_continuation,close_too_short,control_frame_too_long,"
                        "data_after_close,fragmented_control_frame,gap,invalid_close_code,"
                        "invalid_utf8_reason,masked_server_frame,non_minimal_length,reserved_opcode,"
                        "rsv_without_extension,truncated,unmasked_client_frame");
    violations_format(V_UNMASKED_CLIENT_FRAME | V_BAD_ACCEPT | V_GAP, buf, sizeof buf);
    assert_string_equal(buf, "bad_accept,gap,unmasked_client_frame");
    /* a short buffer holds whole names only, always terminated */
    violations_format(V_BAD_ACCEPT | V_GAP, buf, 12);
    assert_string_equal(buf, "bad_accept");
    violations_format(V_BAD_ACCEPT | V_GAP, buf, 15);
    assert_string_equal(buf, "bad_accept,gap");
    violations_format(V_BAD_ACCEPT, buf, 5);
    assert_string_equal(buf, "");
}

/* ---- hostile input: oversized heads, memory, length claims (issue 8) ------ */

/* What wsconn_mem() must say: the connection's blocks, each with the 16
 * bytes of malloc header wsconn.c counts (no reason holds a NUL here). */
static size_t blocks_of(const struct wsconn *c)
{
    size_t n = sizeof *c + 16;
    const char *strs[] = {c->host, c->path, c->origin, c->user_agent, c->subprotocol, c->extensions,
                          c->side[0].close_reason, c->side[1].close_reason};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i])
            n += strlen(strs[i]) + 1 + 16;
    for (int d = 0; d < 2; d++) {
        if (c->head[d].p)
            n += c->head[d].cap + 16;
        if (c->side[d].close_buf)
            n += c->side[d].close_cap + 16;
    }
    return n;
}

/* Feeds b to side dir in pieces of k bytes (0: at once), checking the
 * memory figure after each. */
static void feed_k(struct wsconn *c, int dir, const struct bb *b, size_t k, ts_us_t ts)
{
    size_t step = k ? k : b->n;
    for (size_t at = 0; at < b->n; at += step) {
        size_t n = b->n - at < step ? b->n - at : step;
        wsconn_data(c, dir, b->d + at, n, ts);
        if (wsconn_mem(c) != blocks_of(c)) {
            print_error("after %zu bytes of side %d in pieces of %zu: wsconn_mem %zu, blocks %zu\n", at + n, dir, k,
                        wsconn_mem(c), blocks_of(c));
            fail();
        }
    }
}

static void mem_counts_every_block(void **state)
{
    (void)state;
    static const size_t pieces[] = {1, 5, 64, 0};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        struct bb cb = {0}, sb = {0};
        bb_str(&cb, REQ);
        cf(&cb, WS_OP_TEXT, "hello", 5);
        close_frame(&cb, true, 4000, "client reason");
        bb_str(&sb, RESP_DEFLATE);
        close_frame(&sb, false, 1001, "server going away");
        struct wsconn *c = wsconn_new();
        assert_int_equal(wsconn_mem(c), blocks_of(c));
        feed_k(c, DIR_CLIENT, &cb, pieces[i], T_REQ);
        assert_true(wsconn_mem(c) > sizeof *c + 1024); /* the request and frames wait in the head buffer */
        feed_k(c, DIR_SERVER, &sb, pieces[i], T_RESP);
        assert_int_equal(c->state, WSC_OPEN);
        assert_null(c->head[0].p); /* heads freed, and uncounted */
        assert_null(c->head[1].p);
        assert_opt_str(c->side[DIR_CLIENT].close_reason, "client reason");
        assert_opt_str(c->side[DIR_SERVER].close_reason, "server going away");
        assert_int_equal(wsconn_mem(c), blocks_of(c));
        wsconn_free(c);
        bb_free(&cb);
        bb_free(&sb);
    }
}

static const char BIG_REQ_START[] =
    "GET /big?x=1 HTTP/1.1\r\n"
    "Host: big.example\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n";

/* A head of exactly `total` bytes: `start`, padding header lines, a blank
 * line ("\r\n", or "\n" with bare_lf). */
static void padded_head(struct bb *b, const char *start, size_t total, bool bare_lf)
{
    const char *eol = bare_lf ? "\n" : "\r\n";
    size_t eol_n = strlen(eol);
    size_t n0 = b->n;
    bb_str(b, start);
    char line[128];
    for (int i = 0;; i++) {
        size_t left = total - (b->n - n0) - eol_n; /* room for lines before the blank line */
        if (left == 0)
            break;
        assert_true(left >= 8);
        size_t len = left >= 40 + 8 ? 40 : left; /* the last line takes what is left */
        if (left - len > 0 && left - len < 8)
            len = left - 8;
        int h = snprintf(line, sizeof line, "X-P%d:", i % 1000);
        memset(line + h, 'v', len - (size_t)h - eol_n);
        memcpy(line + len - eol_n, eol, eol_n);
        bb_put(b, line, len);
    }
    bb_str(b, eol);
    assert_int_equal(b->n - n0, total);
}

/* An upgrade of a request head of `total` bytes, followed in the same
 * delivery by a client frame, fed in pieces of k; the 101 with a server
 * frame and closes both ways. */
static void check_big_request(size_t total, size_t k, bool bare_lf)
{
    struct bb cb = {0}, sb = {0}, cl = {0};
    padded_head(&cb, BIG_REQ_START, total, bare_lf);
    cf(&cb, WS_OP_TEXT, "early", 5);
    bb_str(&sb, RESP);
    sf(&sb, WS_OP_TEXT, "hi", 2);
    close_frame(&sb, false, 1000, "bye");
    close_frame(&cl, true, 1000, "");
    struct wsconn *c = wsconn_new();
    feed_k(c, DIR_CLIENT, &cb, k, T_REQ);
    enum wsconn_state after_request = c->state;
    size_t cap_waiting = c->head[DIR_CLIENT].cap; /* only the early frame's bytes */
    feed_k(c, DIR_SERVER, &sb, k, T_RESP);
    feed_k(c, DIR_CLIENT, &cl, k, T_C);
    struct ws_record r = rec(c, true);
    char path[64] = "", host[64] = "";
    snprintf(path, sizeof path, "%s", r.path ? r.path : "(null)");
    snprintf(host, sizeof host, "%s", r.host ? r.host : "(null)");
    int oversized = c->heads_oversized;
    if (r.http_status != 101 || r.outcome != OUTCOME_CLEAN || r.frames[DIR_CLIENT] != 2 ||
        r.frames[DIR_SERVER] != 2 || r.violations != 0 || strcmp(path, "/big?x=1") != 0 ||
        strcmp(host, "big.example") != 0 || oversized != (total > WSCONN_HEAD_MAX) ||
        after_request != WSC_AWAIT_RESPONSE) {
        print_error("head of %zu bytes%s in pieces of %zu: state after request %d, status %d, outcome %s, "
                    "frames %llu/%llu, violations %#x, path %s, host %s, oversized %d\n",
                    total, bare_lf ? " (bare LF)" : "", k, after_request, r.http_status, outcome_name(r.outcome),
                    (unsigned long long)r.frames[DIR_CLIENT], (unsigned long long)r.frames[DIR_SERVER],
                    r.violations, path, host, oversized);
        fail();
    }
    if (total > WSCONN_HEAD_MAX && cap_waiting > 1024) {
        print_error("head of %zu bytes in pieces of %zu: a head buffer of %zu bytes kept while the response is "
                    "awaited\n", total, k, cap_waiting);
        fail();
    }
    wsconn_free(c);
    bb_free(&cb);
    bb_free(&sb);
    bb_free(&cl);
}

static void oversized_request_read_to_the_cut(void **state)
{
    (void)state;
    /* the blank line on each side of the buffer's end, and well beyond it */
    static const size_t totals[] = {WSCONN_HEAD_MAX - 2, WSCONN_HEAD_MAX,     WSCONN_HEAD_MAX + 1,
                                    WSCONN_HEAD_MAX + 2, WSCONN_HEAD_MAX + 3, WSCONN_HEAD_MAX + 4,
                                    WSCONN_HEAD_MAX + 41, 70000};
    static const size_t pieces[] = {0, 1, 3, 1400, WSCONN_HEAD_MAX - 1, WSCONN_HEAD_MAX, WSCONN_HEAD_MAX + 2};
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++)
        for (size_t j = 0; j < sizeof pieces / sizeof pieces[0]; j++)
            for (int lf = 0; lf < 2; lf++)
                check_big_request(totals[i], pieces[j], lf);
}

static void oversized_request_upgrade_out_of_view(void **state)
{
    (void)state;
    /* "Upgrade: websocket" only after 20 KB: never seen, no upgrade */
    struct bb cb = {0};
    padded_head(&cb, "GET /late HTTP/1.1\r\nHost: a\r\n", 20000, false);
    cb.n -= 2; /* the blank line goes after the upgrade headers */
    bb_str(&cb, "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    struct wsconn *c = wsconn_new();
    push(c, DIR_CLIENT, &cb, T_REQ);
    assert_int_equal(c->state, WSC_NOT_WEBSOCKET);
    assert_int_equal(c->heads_oversized, 1);
    wsconn_free(c);
    bb_free(&cb);
}

static void oversized_request_never_ends(void **state)
{
    (void)state;
    /* a 1 MB header line that never ends: the connection is recorded as
     * far as it got, holding its strings and no more */
    struct bb cb = {0};
    bb_str(&cb, BIG_REQ_START);
    bb_str(&cb, "X-Big: ");
    for (int i = 0; i < 1 << 20; i += 1024) {
        char chunk[1024];
        memset(chunk, 'a', sizeof chunk);
        bb_put(&cb, chunk, sizeof chunk);
    }
    struct wsconn *c = wsconn_new();
    feed_k(c, DIR_CLIENT, &cb, 1400, T_REQ);
    assert_int_equal(c->state, WSC_AWAIT_RESPONSE);
    assert_true(c->side[DIR_CLIENT].skipping_head);
    assert_true(wsconn_mem(c) < sizeof *c + 1024);
    wsconn_finish(c, T_C);
    struct ws_record r = rec(c, false);
    assert_opt_str(r.path, "/big?x=1");
    assert_int_equal(r.http_status, -1);
    assert_int_equal(r.outcome, OUTCOME_UNFINISHED);
    assert_int_equal(c->heads_oversized, 1);
    wsconn_free(c);
    bb_free(&cb);
}

/* The server's head: `start`, padding to `total` bytes, then a frame. */
static struct wsconn *big_response(const char *start, size_t total, size_t k, const char *then)
{
    struct bb sb = {0};
    padded_head(&sb, start, total, false);
    if (then)
        bb_str(&sb, then);
    sf(&sb, WS_OP_TEXT, "after", 5);
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    feed_k(c, DIR_SERVER, &sb, k, T_RESP);
    bb_free(&sb);
    return c;
}

static void oversized_response_read_to_the_cut(void **state)
{
    (void)state;
    static const char R101[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    static const char R101_NO_ACCEPT[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n";
    static const size_t pieces[] = {0, 1, 7, 1400};
    for (size_t j = 0; j < sizeof pieces / sizeof pieces[0]; j++) {
        /* a 101: frames after it count; the accept value is checked */
        struct wsconn *c = big_response(R101, 30000, pieces[j], NULL);
        struct ws_record r = rec(c, false);
        assert_int_equal(r.http_status, 101);
        assert_int_equal(r.frames[DIR_SERVER], 1);
        assert_int_equal(r.messages[DIR_SERVER], 1);
        assert_violations(r.violations, 0);
        assert_int_equal(c->heads_oversized, 1);
        assert_int_equal(wsconn_mem(c), blocks_of(c));
        wsconn_free(c);
        /* the accept value beyond the cut: not seen, so no bad_accept; a
         * deflated frame (RSV1) is no violation either (-Extensions unseen) */
        c = big_response(R101_NO_ACCEPT, 30000, pieces[j], NULL);
        struct bb d = {0};
        frame(&d, true, 4, WS_OP_TEXT, false, "z", 1);
        push(c, DIR_SERVER, &d, T_S);
        bb_free(&d);
        r = rec(c, false);
        assert_int_equal(r.http_status, 101);
        assert_int_equal(r.frames[DIR_SERVER], 2);
        assert_violations(r.violations, 0);
        wsconn_free(c);
        /* a refusal */
        c = big_response("HTTP/1.1 403 Forbidden\r\n", 30000, pieces[j], NULL);
        r = rec(c, false);
        assert_int_equal(r.outcome, OUTCOME_REJECTED);
        assert_int_equal(r.http_status, 403);
        wsconn_free(c);
        /* an oversized interim response, then the 101 */
        c = big_response("HTTP/1.1 100 Continue\r\n", 20000, pieces[j], RESP);
        r = rec(c, false);
        assert_int_equal(r.http_status, 101);
        assert_int_equal(r.frames[DIR_SERVER], 1);
        assert_violations(r.violations, 0);
        assert_int_equal(c->heads_oversized, 1);
        wsconn_free(c);
    }
}

static void length_msb_counted(void **state)
{
    (void)state;
    /* RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0 */
    static const uint64_t lens[] = {1ull << 63, ~0ull, (1ull << 63) - 1, 70000};
    static const int counted[] = {1, 1, 0, 0};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        struct wsconn *c = open_ws();
        uint8_t h[10 + 8] = {0x82, 127};
        for (int b = 0; b < 8; b++)
            h[2 + b] = (uint8_t)(lens[i] >> (56 - 8 * b));
        memset(h + 10, 'x', 8);
        wsconn_data(c, DIR_SERVER, h, sizeof h, T_S);
        assert_int_equal(c->side[DIR_SERVER].frames, 1);
        assert_int_equal(c->frames_len_msb, counted[i]);
        wsconn_free(c);
    }
}

/* ---- lost heads (docs/design.md §3, "Lost handshakes") ---- */

static void request_lost_response_opens(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP, strlen(RESP), T_RESP);
    wsconn_gap(c, DIR_CLIENT, 300, false); /* the request was lost */
    assert_int_equal(c->state, WSC_OPEN);
    struct bb cb = {0}, sb = {0};
    cf(&cb, WS_OP_TEXT, "hi", 2);
    close_frame(&cb, true, 1000, "bye");
    close_frame(&sb, false, 1000, "");
    push(c, DIR_CLIENT, &cb, T_C);
    push(c, DIR_SERVER, &sb, T_S);
    wsconn_finish(c, T_S);
    struct ws_record r = rec(c, true);
    assert_int_equal(r.http_status, 101);
    assert_int_equal(r.handshake_seen, 1);
    assert_null(r.path);
    assert_null(r.host);
    assert_opt_str(r.subprotocol, "chat");
    assert_int_equal(r.frames[DIR_CLIENT], 2);
    assert_int_equal(r.close_code, 1000);
    assert_int_equal(r.close_initiator, DIR_CLIENT);
    assert_violations(r.violations, V_GAP);
    wsconn_free(c);
    bb_free(&cb);
    bb_free(&sb);
}

static void client_frames_first_mean_the_request_was_lost(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new(); /* opened at the 101: no SYN, no request */
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP, strlen(RESP), T_RESP);
    struct bb cb = {0};
    cf(&cb, WS_OP_BINARY, "abc", 3);
    push(c, DIR_CLIENT, &cb, T_C);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.frames[DIR_CLIENT], 1);
    assert_violations(r.violations, V_GAP);
    wsconn_free(c);
    bb_free(&cb);
}

static void a_refusal_without_its_request_is_no_record(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP_403, strlen(RESP_403), T_RESP);
    wsconn_gap(c, DIR_CLIENT, 300, false);
    assert_int_equal(c->state, WSC_NOT_WEBSOCKET);
    wsconn_free(c);
    c = wsconn_new(); /* the response alone, to the end (a one-sided capture) */
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP_403, strlen(RESP_403), T_RESP);
    wsconn_finish(c, T_RESP);
    assert_int_equal(c->state, WSC_NOT_WEBSOCKET);
    wsconn_free(c);
}

static void a_101_for_h2c_without_its_request_is_no_record(void **state)
{
    (void)state;
    static const char h2c[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_SERVER, (const uint8_t *)h2c, strlen(h2c), T_RESP);
    wsconn_gap(c, DIR_CLIENT, 300, false);
    assert_int_equal(c->state, WSC_NOT_WEBSOCKET);
    wsconn_free(c);
}

static void plain_http_after_a_false_101_is_no_record(void **state)
{
    (void)state;
    static const char http[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP, strlen(RESP), T_RESP);
    wsconn_gap(c, DIR_CLIENT, 300, false);
    wsconn_data(c, DIR_SERVER, (const uint8_t *)http, strlen(http), T_S);
    wsconn_finish(c, T_S);
    assert_int_equal(c->state, WSC_NOT_WEBSOCKET);
    wsconn_free(c);
}

/* The request and the first frame after it lost together: the client's
 * first frame read is a continuation (a violation the loss made), and the
 * connection is still the WebSocket the 101 said. */
static void a_frame_lost_with_the_request_keeps_the_record(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_SERVER, (const uint8_t *)RESP, strlen(RESP), T_RESP);
    wsconn_gap(c, DIR_CLIENT, 300, false); /* the request and a first fragment */
    struct bb ping = {0}, cont = {0}, cb = {0}, sb = {0};
    frame(&ping, true, 0, WS_OP_PING, true, NULL, 0); /* a segment to resynchronise on */
    frame(&cont, true, 0, WS_OP_CONTINUATION, true, (const uint8_t *)"end", 3);
    close_frame(&cb, true, 1000, "");
    close_frame(&sb, false, 1000, "");
    push(c, DIR_CLIENT, &ping, T_C);
    push(c, DIR_CLIENT, &cont, T_C);
    push(c, DIR_CLIENT, &cb, T_C);
    push(c, DIR_SERVER, &sb, T_S);
    wsconn_finish(c, T_S);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, true);
    assert_int_equal(r.frames[DIR_CLIENT], 3);
    assert_int_equal(r.close_code, 1000);
    assert_violations(r.violations, V_GAP | V_BAD_CONTINUATION);
    wsconn_free(c);
    bb_free(&ping);
    bb_free(&cont);
    bb_free(&cb);
    bb_free(&sb);
}

static void response_lost_then_frames_open_with_extensions_unknown(void **state)
{
    (void)state;
    struct wsconn *c = wsconn_new();
    wsconn_data(c, DIR_CLIENT, (const uint8_t *)REQ, strlen(REQ), T_REQ);
    struct bb cb = {0}, sb = {0};
    frame(&cb, true, 0x4, WS_OP_TEXT, true, (const uint8_t *)"zz", 2); /* RSV1: compressed */
    push(c, DIR_CLIENT, &cb, T_C); /* buffered: the response is awaited */
    wsconn_gap(c, DIR_SERVER, 129, false);
    frame(&sb, true, 0x4, WS_OP_TEXT, false, (const uint8_t *)"yy", 2);
    push(c, DIR_SERVER, &sb, T_S);
    assert_int_equal(c->state, WSC_OPEN);
    struct ws_record r = rec(c, false);
    assert_int_equal(r.http_status, -1);
    assert_opt_str(r.path, "/chat?room=7");
    assert_int_equal(r.frames[DIR_CLIENT], 1); /* the buffered frame, parsed */
    assert_int_equal(r.frames[DIR_SERVER], 1);
    assert_violations(r.violations, V_GAP); /* RSV1 legal: the extensions are unknown */
    wsconn_free(c);
    bb_free(&cb);
    bb_free(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_for_key),
        cmocka_unit_test(handshake_fields),
        cmocka_unit_test(interim_response_skipped),
        cmocka_unit_test(not_websocket),
        cmocka_unit_test(looks_like_request),
        cmocka_unit_test(clean_close_client_first),
        cmocka_unit_test(clean_close_server_first_empty_reply),
        cmocka_unit_test(half_closed),
        cmocka_unit_test(abnormal_and_unfinished),
        cmocka_unit_test(rejected),
        cmocka_unit_test(empty_close_is_1005),
        cmocka_unit_test(close_too_short),
        cmocka_unit_test(close_code_with_empty_reason),
        cmocka_unit_test(invalid_close_codes),
        cmocka_unit_test(valid_close_codes),
        cmocka_unit_test(reasons_utf8),
        cmocka_unit_test(only_first_close_per_side_counts),
        cmocka_unit_test(close_payload_bytewise_masked),
        cmocka_unit_test(control_frame_too_long),
        cmocka_unit_test(fragmented_control_frame),
        cmocka_unit_test(bad_continuation),
        cmocka_unit_test(reserved_opcode),
        cmocka_unit_test(rsv_bits),
        cmocka_unit_test(masking_rules),
        cmocka_unit_test(non_minimal_length),
        cmocka_unit_test(data_after_close),
        cmocka_unit_test(bad_accept),
        cmocka_unit_test(several_violations_sorted),
        cmocka_unit_test(response_coalesced_with_frames),
        cmocka_unit_test(request_coalesced_with_frames),
        cmocka_unit_test(big_first_frame_coalesced),
        cmocka_unit_test(big_request_frame_coalesced),
        cmocka_unit_test(big_coalesced_split_anywhere),
        cmocka_unit_test(response_before_request),
        cmocka_unit_test(one_sided_captures),
        cmocka_unit_test(scenario_reference),
        cmocka_unit_test(split_request_every_byte),
        cmocka_unit_test(split_response_every_byte),
        cmocka_unit_test(split_client_frames_every_byte),
        cmocka_unit_test(everything_bytewise),
        cmocka_unit_test(counters_with_interleaved_ping),
        cmocka_unit_test(last_data_not_bumped_by_control),
        cmocka_unit_test(gap_inside_frame),
        cmocka_unit_test(gap_between_frames_resyncs),
        cmocka_unit_test(gap_during_handshake),
        cmocka_unit_test(request_lost_response_opens),
        cmocka_unit_test(a_frame_lost_with_the_request_keeps_the_record),
        cmocka_unit_test(client_frames_first_mean_the_request_was_lost),
        cmocka_unit_test(a_refusal_without_its_request_is_no_record),
        cmocka_unit_test(a_101_for_h2c_without_its_request_is_no_record),
        cmocka_unit_test(plain_http_after_a_false_101_is_no_record),
        cmocka_unit_test(response_lost_then_frames_open_with_extensions_unknown),
        cmocka_unit_test(midstream_pickup),
        cmocka_unit_test(midstream_frames_then_nonsense_is_no_record),
        cmocka_unit_test(lost_close_code_not_invented),
        cmocka_unit_test(record_names),
        cmocka_unit_test(mem_counts_every_block),
        cmocka_unit_test(oversized_request_read_to_the_cut),
        cmocka_unit_test(oversized_request_upgrade_out_of_view),
        cmocka_unit_test(oversized_request_never_ends),
        cmocka_unit_test(oversized_response_read_to_the_cut),
        cmocka_unit_test(length_msb_counted),
        cmocka_unit_test(zero_length_data),
    };
    RUN_TESTS(tests);
}
