/*
 * tests/unit/test_http.c — app/websocket/http.c, the HTTP/1.x head parser.
 *
 * Proves: request and status lines are split into method / target / version /
 * status exactly; header names and values come out trimmed and are found
 * case-insensitively (first of repeated headers); comma lists are searched
 * token by token with optional whitespace; bare-LF heads parse; every proper
 * prefix of a valid head is HTTP_INCOMPLETE (never an error, never a length);
 * malformed heads (bad version, missing colon, obs-fold, non-token method or
 * header name, bad status) are HTTP_ERROR; http_head_end finds the same end
 * when resumed from any earlier offset; headers beyond the caller's capacity
 * are counted as dropped.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../../app/websocket/http.h"

#define NH 16

static const char REQ[] =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin:   http://example.com  \r\n"
    "X-Empty:\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

static const char RESP[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

static void init_head(struct http_head *h, struct http_header *hdrs, size_t cap)
{
    memset(h, 0, sizeof *h);
    memset(hdrs, 0, cap * sizeof *hdrs);
    h->headers = hdrs;
    h->num_headers = cap;
}

static void assert_str(struct http_str s, const char *want)
{
    if (s.len != strlen(want) || (s.len && memcmp(s.p, want, s.len) != 0)) {
        print_error("got \"%.*s\" (len %zu), want \"%s\"\n", (int)s.len, s.p ? s.p : "", s.len, want);
        fail();
    }
}

static struct http_str S(const char *s)
{
    return (struct http_str){s, strlen(s)};
}

static long parse_req(const char *s, size_t len, struct http_head *h, struct http_header *hdrs)
{
    init_head(h, hdrs, NH);
    return http_parse_request((const uint8_t *)s, len, h);
}

static long parse_resp(const char *s, size_t len, struct http_head *h, struct http_header *hdrs)
{
    init_head(h, hdrs, NH);
    return http_parse_response((const uint8_t *)s, len, h);
}

/* ---- requests ------------------------------------------------------------ */

static void request_parsed(void **state)
{
    (void)state;
    struct http_header hdrs[NH];
    struct http_head h;
    long n = parse_req(REQ, strlen(REQ), &h, hdrs);
    assert_int_equal(n, (long)strlen(REQ));
    assert_str(h.method, "GET");
    assert_str(h.target, "/chat?room=1");
    assert_int_equal(h.minor_version, 1);
    assert_int_equal(h.num_headers, 7);
    assert_int_equal(h.dropped_headers, 0);
    assert_str(hdrs[0].name, "Host");
    assert_str(hdrs[0].value, "server.example.com");
    assert_str(hdrs[2].name, "Connection");
    assert_str(hdrs[2].value, "keep-alive, Upgrade");
    /* optional whitespace around the value is not part of it */
    assert_str(hdrs[4].name, "Origin");
    assert_str(hdrs[4].value, "http://example.com");
    assert_str(hdrs[5].name, "X-Empty");
    assert_str(hdrs[5].value, "");
    assert_str(hdrs[6].value, "13");
    /* the parser points into the caller's buffer: zero-copy */
    assert_ptr_equal(h.method.p, REQ);
    assert_ptr_equal(hdrs[0].value.p, strstr(REQ, "server.example.com"));
}

static void request_http10_and_other_methods(void **state)
{
    (void)state;
    struct http_header hdrs[NH];
    struct http_head h;
    static const char r[] = "POST /x HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse_req(r, strlen(r), &h, hdrs), (long)strlen(r));
    assert_str(h.method, "POST");
    assert_str(h.target, "/x");
    assert_int_equal(h.minor_version, 0);
    assert_int_equal(h.num_headers, 1);

    /* a token method with unusual but legal characters */
    static const char r2[] = "M-SEARCH * HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_req(r2, strlen(r2), &h, hdrs), (long)strlen(r2));
    assert_str(h.method, "M-SEARCH");
    assert_str(h.target, "*");
    assert_int_equal(h.num_headers, 0);
}

static void request_trailing_bytes_not_counted(void **state)
{
    (void)state;
    /* frames coalesced after the head: the head length excludes them */
    char buf[512];
    size_t hl = strlen(REQ);
    memcpy(buf, REQ, hl);
    memcpy(buf + hl, "\x81\x85\x01\x02\x03\x04hello", 11);
    struct http_header hdrs[NH];
    struct http_head h;
    assert_int_equal(parse_req(buf, hl + 11, &h, hdrs), (long)hl);
}

static void bare_lf_line_ends(void **state)
{
    (void)state;
    static const char r[] = "GET /lf HTTP/1.1\nHost: a.example\nUpgrade: websocket\n\n";
    struct http_header hdrs[NH];
    struct http_head h;
    assert_int_equal(parse_req(r, strlen(r), &h, hdrs), (long)strlen(r));
    assert_str(h.target, "/lf");
    assert_int_equal(h.num_headers, 2);
    assert_str(hdrs[0].value, "a.example");
    assert_str(hdrs[1].name, "Upgrade");
    assert_str(hdrs[1].value, "websocket");
    assert_int_equal(http_head_end((const uint8_t *)r, strlen(r), 0), strlen(r));

    /* mixed: CRLF lines, bare LF blank line */
    static const char m[] = "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\n";
    assert_int_equal(parse_resp(m, strlen(m), &h, hdrs), (long)strlen(m));
    assert_int_equal(h.status, 101);
    assert_int_equal(h.num_headers, 1);
    assert_str(hdrs[0].value, "websocket");
}

/* ---- responses ----------------------------------------------------------- */

static void response_parsed(void **state)
{
    (void)state;
    struct http_header hdrs[NH];
    struct http_head h;
    assert_int_equal(parse_resp(RESP, strlen(RESP), &h, hdrs), (long)strlen(RESP));
    assert_int_equal(h.status, 101);
    assert_int_equal(h.minor_version, 1);
    assert_int_equal(h.num_headers, 3);
    assert_str(hdrs[2].name, "Sec-WebSocket-Accept");
    assert_str(hdrs[2].value, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_null(h.method.p);
    assert_int_equal(h.method.len, 0);
    assert_int_equal(h.target.len, 0);
}

static void response_status_variants(void **state)
{
    (void)state;
    struct http_header hdrs[NH];
    struct http_head h;
    static const char a[] = "HTTP/1.0 403 Forbidden by policy\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(parse_resp(a, strlen(a), &h, hdrs), (long)strlen(a));
    assert_int_equal(h.status, 403);
    assert_int_equal(h.minor_version, 0);
    /* no reason phrase at all (RFC 9112 §4: reason-phrase is optional) */
    static const char b[] = "HTTP/1.1 200\r\n\r\n";
    assert_int_equal(parse_resp(b, strlen(b), &h, hdrs), (long)strlen(b));
    assert_int_equal(h.status, 200);
    static const char c[] = "HTTP/1.1 100 Continue\r\n\r\n";
    assert_int_equal(parse_resp(c, strlen(c), &h, hdrs), (long)strlen(c));
    assert_int_equal(h.status, 100);
    static const char d[] = "HTTP/1.1 599 \r\n\r\n";
    assert_int_equal(parse_resp(d, strlen(d), &h, hdrs), (long)strlen(d));
    assert_int_equal(h.status, 599);
}

/* ---- header lookup and token lists --------------------------------------- */

static void find_case_insensitive(void **state)
{
    (void)state;
    struct http_header hdrs[NH];
    struct http_head h;
    assert_true(parse_req(REQ, strlen(REQ), &h, hdrs) > 0);
    const struct http_header *k = http_find(&h, "sec-websocket-key");
    assert_non_null(k);
    assert_str(k->value, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_ptr_equal(http_find(&h, "HOST"), &hdrs[0]);
    assert_ptr_equal(http_find(&h, "Host"), &hdrs[0]);
    assert_null(http_find(&h, "Hos"));
    assert_null(http_find(&h, "Hostx"));
    assert_null(http_find(&h, "Sec-WebSocket-Protocol"));
}

static void repeated_headers(void **state)
{
    (void)state;
    static const char r[] =
        "GET / HTTP/1.1\r\n"
        "Connection: keep-alive\r\n"
        "Host: h\r\n"
        "connection: Upgrade\r\n"
        "\r\n";
    struct http_header hdrs[NH];
    struct http_head h;
    assert_int_equal(parse_req(r, strlen(r), &h, hdrs), (long)strlen(r));
    assert_int_equal(h.num_headers, 3);
    const struct http_header *c = http_find(&h, "Connection");
    assert_ptr_equal(c, &hdrs[0]); /* the first one */
    assert_str(c->value, "keep-alive");
    assert_str(hdrs[2].name, "connection");
    assert_str(hdrs[2].value, "Upgrade");
}

static void str_ieq(void **state)
{
    (void)state;
    assert_true(http_str_ieq(S("WebSocket"), "websocket"));
    assert_true(http_str_ieq(S("UPGRADE"), "upgrade"));
    assert_false(http_str_ieq(S("websockets"), "websocket"));
    assert_false(http_str_ieq(S("websocke"), "websocket"));
    assert_true(http_str_ieq((struct http_str){"GETX", 3}, "get"));
    assert_true(http_str_ieq((struct http_str){"", 0}, ""));
}

static void list_tokens(void **state)
{
    (void)state;
    assert_true(http_list_has_token(S("keep-alive, Upgrade"), "upgrade"));
    assert_true(http_list_has_token(S("keep-alive, Upgrade"), "keep-alive"));
    assert_true(http_list_has_token(S("Upgrade"), "Upgrade"));
    assert_true(http_list_has_token(S("  upgrade  "), "Upgrade"));
    assert_true(http_list_has_token(S("a,\tUPGRADE\t,b"), "upgrade"));
    assert_true(http_list_has_token(S(", , upgrade ,"), "upgrade"));
    assert_true(http_list_has_token(S("keep-alive,Upgrade"), "upgrade"));
    assert_false(http_list_has_token(S("keep-alive"), "upgrade"));
    assert_false(http_list_has_token(S("Upgrade2, keep-alive"), "upgrade"));
    assert_false(http_list_has_token(S("grade"), "upgrade"));
    assert_false(http_list_has_token(S("Up grade"), "upgrade"));
    assert_false(http_list_has_token(S(""), "upgrade"));
    assert_false(http_list_has_token(S(","), "upgrade"));
    /* substring of a longer token does not count */
    assert_false(http_list_has_token(S("websocketx"), "websocket"));
    /* the list is bounded by its length, not a NUL */
    assert_false(http_list_has_token((struct http_str){"keep-alive, Upgrade", 12}, "upgrade"));
    assert_true(http_list_has_token((struct http_str){"Upgrade, keep-alive", 7}, "upgrade"));
}

static void dropped_headers_counted(void **state)
{
    (void)state;
    struct http_header hdrs[2];
    struct http_head h;
    init_head(&h, hdrs, 2);
    long n = http_parse_request((const uint8_t *)REQ, strlen(REQ), &h);
    assert_int_equal(n, (long)strlen(REQ));
    assert_int_equal(h.num_headers, 2);
    assert_int_equal(h.dropped_headers, 5);
    assert_str(hdrs[1].name, "Upgrade");
    /* zero capacity: nothing stored, everything counted */
    init_head(&h, hdrs, 0);
    h.headers = NULL;
    assert_int_equal(http_parse_response((const uint8_t *)RESP, strlen(RESP), &h), (long)strlen(RESP));
    assert_int_equal(h.num_headers, 0);
    assert_int_equal(h.dropped_headers, 3);
}

/* ---- incomplete heads ---------------------------------------------------- */

static void check_prefixes(const char *full, int is_request)
{
    size_t n = strlen(full);
    for (size_t k = 0; k < n; k++) {
        struct http_header hdrs[NH];
        struct http_head h;
        init_head(&h, hdrs, NH);
        long r = is_request ? http_parse_request((const uint8_t *)full, k, &h)
                            : http_parse_response((const uint8_t *)full, k, &h);
        if (r != HTTP_INCOMPLETE) {
            print_error("prefix of %zu/%zu bytes: got %ld, want HTTP_INCOMPLETE\n", k, n, r);
            fail();
        }
        assert_int_equal(http_head_end((const uint8_t *)full, k, 0), 0);
    }
}

static void every_prefix_incomplete(void **state)
{
    (void)state;
    check_prefixes(REQ, 1);
    check_prefixes(RESP, 0);
    check_prefixes("GET /lf HTTP/1.1\nHost: a\n\n", 1);
    check_prefixes("HTTP/1.1 403 Forbidden\r\n\r\n", 0);
}

static void incomplete_even_if_garbage(void **state)
{
    (void)state;
    /* no end of head yet: the parser cannot judge, it must ask for more */
    struct http_header hdrs[NH];
    struct http_head h;
    assert_int_equal(parse_req("\x16\x03\x01\x02", 4, &h, hdrs), HTTP_INCOMPLETE);
    assert_int_equal(parse_resp("", 0, &h, hdrs), HTTP_INCOMPLETE);
}

/* ---- malformed heads ----------------------------------------------------- */

static void expect_req_error(const char *s)
{
    struct http_header hdrs[NH];
    struct http_head h;
    long r = parse_req(s, strlen(s), &h, hdrs);
    if (r != HTTP_ERROR) {
        print_error("request \"%s\": got %ld, want HTTP_ERROR\n", s, r);
        fail();
    }
}

static void expect_resp_error(const char *s)
{
    struct http_header hdrs[NH];
    struct http_head h;
    long r = parse_resp(s, strlen(s), &h, hdrs);
    if (r != HTTP_ERROR) {
        print_error("response \"%s\": got %ld, want HTTP_ERROR\n", s, r);
        fail();
    }
}

static void malformed_requests(void **state)
{
    (void)state;
    expect_req_error("GET / HTTP/2.0\r\n\r\n");          /* bad version */
    expect_req_error("GET / HTTP/1.10\r\n\r\n");
    expect_req_error("GET / HTTX/1.1\r\n\r\n");
    expect_req_error("GET / http/1.1\r\n\r\n");
    expect_req_error("GET / HTTP/1.x\r\n\r\n");
    expect_req_error("GET /\r\n\r\n");                   /* HTTP/0.9 style */
    expect_req_error("GET\r\n\r\n");
    expect_req_error("GET  / HTTP/1.1\r\n\r\n");         /* empty target */
    expect_req_error(" GET / HTTP/1.1\r\n\r\n");         /* empty method */
    expect_req_error("G(T / HTTP/1.1\r\n\r\n");          /* non-token method */
    expect_req_error("GE\"T / HTTP/1.1\r\n\r\n");
    expect_req_error("GET /a b HTTP/1.1\r\n\r\n");       /* space in target */
    expect_req_error("GET / HTTP/1.1\r\nHost example.com\r\n\r\n"); /* missing colon */
    expect_req_error("GET / HTTP/1.1\r\n: empty-name\r\n\r\n");
    expect_req_error("GET / HTTP/1.1\r\nHost : example.com\r\n\r\n"); /* space before colon */
    expect_req_error("GET / HTTP/1.1\r\nBad(Name): x\r\n\r\n");
    expect_req_error("GET / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n"); /* obs-fold */
    expect_req_error("GET / HTTP/1.1\r\nX-A: a\r\n\tfolded\r\n\r\n");
    expect_req_error("\r\n\r\n");
}

static void malformed_responses(void **state)
{
    (void)state;
    expect_resp_error("HTTP/2 101 Switching\r\n\r\n");
    expect_resp_error("HTTP/1.1 10 Short\r\n\r\n");
    expect_resp_error("HTTP/1.1 1010 Long\r\n\r\n");
    expect_resp_error("HTTP/1.1 1a1 X\r\n\r\n");
    expect_resp_error("HTTP/1.1\r\n\r\n");
    expect_resp_error("GET / HTTP/1.1\r\n\r\n");
    expect_resp_error("HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n");
    expect_resp_error("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n continued\r\n\r\n");
    expect_resp_error("SSH-2.0-OpenSSH_9.0\r\n\r\n");
}

/* ---- http_head_end ------------------------------------------------------- */

static void head_end_resumes(void **state)
{
    (void)state;
    const char *heads[] = {REQ, RESP, "GET / HTTP/1.1\nA: b\n\n", "HTTP/1.1 101 X\r\nA: b\r\n\n"};
    for (size_t t = 0; t < sizeof heads / sizeof heads[0]; t++) {
        const uint8_t *b = (const uint8_t *)heads[t];
        size_t n = strlen(heads[t]);
        assert_int_equal(http_head_end(b, n, 0), n);
        /* a caller that searched the first k bytes in vain resumes at k */
        for (size_t k = 0; k <= n; k++) {
            assert_int_equal(http_head_end(b, k, 0), k == n ? n : 0);
            size_t got = http_head_end(b, n, k);
            if (got != n) {
                print_error("head %zu resumed from %zu: got %zu, want %zu\n", t, k, got, n);
                fail();
            }
        }
    }
    /* the first blank line ends the head, even with more after it */
    static const char two[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 OK\r\n\r\n";
    assert_int_equal(http_head_end((const uint8_t *)two, strlen(two), 0), 25);
    /* "\r\n\r\n" must be found across an append boundary at any byte */
    static const char s[] = "HTTP/1.1 101 OK\r\nA: b\r\n\r\nXYZ";
    for (size_t k = 0; k <= 25; k++)
        assert_int_equal(http_head_end((const uint8_t *)s, strlen(s), k), 25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_parsed),
        cmocka_unit_test(request_http10_and_other_methods),
        cmocka_unit_test(request_trailing_bytes_not_counted),
        cmocka_unit_test(bare_lf_line_ends),
        cmocka_unit_test(response_parsed),
        cmocka_unit_test(response_status_variants),
        cmocka_unit_test(find_case_insensitive),
        cmocka_unit_test(repeated_headers),
        cmocka_unit_test(str_ieq),
        cmocka_unit_test(list_tokens),
        cmocka_unit_test(dropped_headers_counted),
        cmocka_unit_test(every_prefix_incomplete),
        cmocka_unit_test(incomplete_even_if_garbage),
        cmocka_unit_test(malformed_requests),
        cmocka_unit_test(malformed_responses),
        cmocka_unit_test(head_end_resumes),
    };
    RUN_TESTS(tests);
}
