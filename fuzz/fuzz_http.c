/*
 * fuzz/fuzz_http.c — libFuzzer target for the HTTP upgrade parser:
 * app/websocket/http.c on its own, then the opening handshake in app/websocket/session.c.
 *
 * Input: byte 0 = header-array capacity (low 5 bits) and flags (bit 5:
 * gaps in the wsconn run), bytes 1-2 = length of the client's part (LE,
 * clamped), bytes 3-6 = seed for chunk sizes; then the client's bytes
 * (a request head, maybe frames after it) and the server's (a response).
 *
 * Checked: a parse result is an error, "incomplete" or a length within the
 * buffer; every string it returns points inside the head; the header count
 * respects the capacity; http_head_end() resumed from an earlier length
 * finds what a search from the start finds. Then both streams go through a
 * wsconn, chunked and interleaved, and its record is checked.
 *
 * Seeds (fuzz/mkseeds.py): the handshake heads of the project's captures.
 */
#include <string.h>

#include "../app/websocket/http.h"
#include "fuzz.h"

#define MAX_HEADERS 32

static volatile size_t sink;

static void check_str(struct http_str s, const uint8_t *buf, size_t end)
{
    if (!s.p) {
        fuzz_check(s.len == 0);
        return;
    }
    const uint8_t *p = (const uint8_t *)s.p;
    fuzz_check(p >= buf && (size_t)(p - buf) <= end && s.len <= end - (size_t)(p - buf));
    for (size_t i = 0; i < s.len; i++)
        sink += (uint8_t)s.p[i];
}

static void parse_one(const uint8_t *buf, size_t len, size_t cap, bool request)
{
    struct http_header hdrs[MAX_HEADERS];
    memset(hdrs, 0, sizeof hdrs);
    struct http_head h;
    memset(&h, 0, sizeof h);
    h.headers = hdrs;
    h.num_headers = cap;
    long n = request ? http_parse_request(buf, len, &h) : http_parse_response(buf, len, &h);
    fuzz_check(n == HTTP_ERROR || n == HTTP_INCOMPLETE || (n > 0 && (size_t)n <= len));
    if (n <= 0)
        return;
    size_t end = (size_t)n;
    /* a complete head ends where http_head_end() says */
    fuzz_check(http_head_end(buf, len, 0) == end);
    fuzz_check(h.num_headers <= cap);
    fuzz_check(h.minor_version >= 0 && h.minor_version <= 9);
    if (request) {
        check_str(h.method, buf, end);
        check_str(h.target, buf, end);
    } else {
        fuzz_check(h.status >= 0 && h.status <= 999);
    }
    for (size_t i = 0; i < h.num_headers; i++) {
        check_str(hdrs[i].name, buf, end);
        check_str(hdrs[i].value, buf, end);
        sink += (size_t)http_list_has_token(hdrs[i].value, "websocket");
        sink += (size_t)http_list_has_token(hdrs[i].value, "upgrade");
        sink += (size_t)http_str_ieq(hdrs[i].name, "Sec-WebSocket-Key");
    }
    static const char *const names[] = {
        "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Accept",
        "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Origin", "User-Agent",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct http_header *f = http_find(&h, names[i]);
        if (f) {
            fuzz_check(f >= hdrs && f < hdrs + h.num_headers);
            fuzz_check(http_str_ieq(f->name, names[i]));
        }
    }
}

/* http_head_end() resumed at each earlier length agrees with a fresh search.
 * Beyond FRESH_MAX bytes (inputs reach 36 KiB, heads over 16 KiB) the fresh
 * search of every prefix would be quadratic: there it is derived from one
 * search of the whole buffer (the first end within a prefix is the first
 * end of the buffer if it fits in the prefix, else there is none). */
#define FRESH_MAX 256
static void check_head_end(const uint8_t *buf, size_t len, uint32_t *rng)
{
    size_t have = 0, scanned = 0;
    size_t whole = http_head_end(buf, len, 0);
    while (have < len) {
        size_t step = 1 + fuzz_rand(rng) % 16;
        have = step < len - have ? have + step : len;
        size_t resumed = http_head_end(buf, have, scanned);
        size_t fresh = have <= FRESH_MAX ? http_head_end(buf, have, 0) : whole && whole <= have ? whole : 0;
        fuzz_check(resumed == fresh);
        fuzz_check(fresh == 0 || (fresh >= 2 && fresh <= have));
        if (fresh)
            break; /* a caller stops at the first complete head */
        scanned = have;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_gcrypt();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    size_t cap = flags & 31;
    bool gaps = (flags & 0x20) != 0;
    size_t clen = fuzz_u16(&in);
    uint32_t rng = fuzz_u32(&in);
    if (clen > in.n)
        clen = in.n;
    uint8_t *cli = fuzz_dup(in.p, clen);
    uint8_t *srv = fuzz_dup(in.p + clen, in.n - clen);
    size_t slen = in.n - clen;

    parse_one(cli, clen, cap, true);
    parse_one(srv, slen, cap, false);
    parse_one(cli, clen, cap, false);
    parse_one(srv, slen, cap, true);
    check_head_end(cli, clen, &rng);
    check_head_end(srv, slen, &rng);

    struct wsconn *c = wsconn_new();
    if (c) {
        fuzz_drive_wsconn(c, cli, clen, srv, slen, &rng, gaps);
        wsconn_free(c);
    }
    free(cli);
    free(srv);
    return 0;
}
