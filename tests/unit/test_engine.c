/*
 * tests/unit/test_engine.c — engine/ with flow/ and the WebSocket parser:
 * flows, lifecycle, records.
 *
 * Proves, feeding hand-built TCP segments to an engine without a
 * classifier: a whole connection (handshake, 101, frames, close frames both
 * ways, FIN/FIN) gives exactly ONE record with the right endpoints, times,
 * handshake fields, close columns, counters and termination fin_client; a
 * RST without close gives 1006 / abnormal / rst_client (or rst_server); a
 * rejected upgrade gives outcome rejected with its status; a second SYN on a
 * finished 4-tuple (port reuse) gives a second record; engine_finish()
 * writes open connections as unfinished / capture_end; idle expiry (explicit
 * engine_expire() or the packet clock) gives idle_timeout with ended_at =
 * last packet + timeout; eviction at max_flows gives evicted; non-HTTP and
 * non-upgrade HTTP flows give no record; out-of-order, duplicated and
 * snaplen-cut segments, lost segments (gap), VLAN ids and IPv6 addresses
 * reach the record; roles come from the SYN, else the request, else the
 * masking of mid-stream frames (not the port numbers); a request whose
 * first segment is shorter than "GET " still counts; the first FIN is the
 * one that did not acknowledge the other's; stragglers after the end are
 * absorbed without a second record; idle expiry and eviction follow the
 * order of the flows' last touches (not their packet times), whether a
 * touch moved the flow in its list at once or was only noted; the flow
 * table's bucket array grows without losing flows, within --max-flows; the
 * memcap covers handshake heads that grow in place and nDPI's per-flow
 * state (with a classifier, for that test only): flows are evicted and
 * state + held bytes stay within it after every segment, and every charge
 * is taken back when the flows go; an oversized head and a frame claiming
 * 2^63 bytes are counted in the statistics.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../engine/engine.h"
#include "../../flow/flow_internal.h"
#include "../../app/websocket/frame.h"

/* ---- records as copies ----------------------------------------------------- */

struct saved {
    struct ws_record r; /* string pointers replaced by the copies below */
    char *strs[12];
};

struct sink {
    struct saved rec[16];
    int n;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void on_record(void *arg, const struct ws_record *r)
{
    struct sink *k = arg;
    assert_true(k->n < (int)(sizeof k->rec / sizeof k->rec[0]));
    struct saved *s = &k->rec[k->n++];
    s->r = *r;
    const char **fields[] = {&s->r.sensor, &s->r.host, &s->r.path, &s->r.origin, &s->r.user_agent,
                             &s->r.subprotocol, &s->r.extensions, &s->r.close_reason,
                             &s->r.close[0].reason, &s->r.close[1].reason, &s->r.ndpi_protocol};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        s->strs[i] = dup_or_null(*fields[i]);
        *fields[i] = s->strs[i];
    }
}

static void sink_free(struct sink *k)
{
    for (int i = 0; i < k->n; i++)
        for (int j = 0; j < 12; j++)
            free(k->rec[i].strs[j]);
    k->n = 0;
}

static void assert_opt_str(const char *got, const char *want)
{
    if (!want) {
        if (got) {
            print_error("got \"%s\", want NULL\n", got);
            fail();
        }
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

/* ---- frames ------------------------------------------------------------------ */

struct bb {
    uint8_t d[8192];
    size_t n;
};

static void bb_put(struct bb *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->d);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void frame(struct bb *b, uint8_t op, bool masked, const void *payload, size_t len)
{
    static const uint8_t mask[4] = {0xa1, 0xb2, 0xc3, 0xd4};
    uint8_t h[8];
    size_t n = 0;
    h[n++] = (uint8_t)(0x80 | op);
    assert_true(len < 0x10000);
    if (len < 126) {
        h[n++] = (uint8_t)((masked ? 0x80 : 0) | len);
    } else {
        h[n++] = (uint8_t)((masked ? 0x80 : 0) | 126);
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    }
    bb_put(b, h, n);
    if (masked)
        bb_put(b, mask, 4);
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++) {
        uint8_t x = masked ? (uint8_t)(p[i] ^ mask[i & 3]) : p[i];
        bb_put(b, &x, 1);
    }
}

static void close_frame(struct bb *b, bool masked, int code, const char *reason)
{
    uint8_t p[128];
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    size_t rl = strlen(reason);
    memcpy(p + 2, reason, rl);
    frame(b, WS_OP_CLOSE, masked, p, 2 + rl);
}

static const char REQ[] =
    "GET /feed HTTP/1.1\r\n"
    "Host: ws.example.org:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

static const char RESP[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

/* ---- a TCP connection -------------------------------------------------------- */

#define T0 1700000000000000LL
#define STEP 1000

struct conn {
    struct engine *d;
    struct endpoint ep[2]; /* DIR_CLIENT, DIR_SERVER */
    uint32_t seq[2];
    uint16_t vlan;
    uint8_t ipv;
    ts_us_t t;
};

static void conn_init(struct conn *k, struct engine *d, uint16_t cport, uint16_t sport)
{
    memset(k, 0, sizeof *k);
    k->d = d;
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t c[4] = {192, 0, 2, 10}, s[4] = {198, 51, 100, 20};
    memcpy(k->ep[0].addr, v4, 12);
    memcpy(k->ep[0].addr + 12, c, 4);
    memcpy(k->ep[1].addr, v4, 12);
    memcpy(k->ep[1].addr + 12, s, 4);
    k->ep[0].port = cport;
    k->ep[1].port = sport;
    k->seq[0] = 0x10000000u;
    k->seq[1] = 0xfffffff0u; /* wraps during the test */
    k->vlan = VLAN_NONE;
    k->ipv = 4;
    k->t = T0;
}

/* One segment at an explicit sequence number; does not advance anything but the clock. */
static void seg_at(struct conn *k, int dir, uint32_t seq, uint8_t flags, const void *p, uint32_t caplen,
                   uint32_t wire)
{
    struct tcp_segment s;
    memset(&s, 0, sizeof s);
    s.src = k->ep[dir];
    s.dst = k->ep[!dir];
    s.vlan = k->vlan;
    s.ip_version = k->ipv;
    s.flags = flags;
    s.seq = seq;
    s.ack = k->seq[!dir];
    s.payload = p;
    s.payload_len = caplen;
    s.payload_wire = wire;
    s.ts = k->t;
    k->t += STEP;
    engine_segment(k->d, &s, "unit0");
}

/* The next segment of direction dir. */
static void seg(struct conn *k, int dir, uint8_t flags, const void *p, size_t len)
{
    seg_at(k, dir, k->seq[dir], flags, p, (uint32_t)len, (uint32_t)len);
    k->seq[dir] += (uint32_t)len + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
}

static void handshake_tcp(struct conn *k)
{
    seg(k, DIR_CLIENT, TCP_SYN, NULL, 0);
    seg(k, DIR_SERVER, TCP_SYN | TCP_ACK, NULL, 0);
    seg(k, DIR_CLIENT, TCP_ACK, NULL, 0);
}

static void upgrade(struct conn *k)
{
    seg(k, DIR_CLIENT, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
    seg(k, DIR_SERVER, TCP_ACK | TCP_PSH, RESP, strlen(RESP));
}

static void text(struct conn *k, int dir, const char *msg)
{
    struct bb b = {.n = 0};
    frame(&b, WS_OP_TEXT, dir == DIR_CLIENT, msg, strlen(msg));
    seg(k, dir, TCP_ACK | TCP_PSH, b.d, b.n);
}

static void send_close(struct conn *k, int dir, int code, const char *reason)
{
    struct bb b = {.n = 0};
    close_frame(&b, dir == DIR_CLIENT, code, reason);
    seg(k, dir, TCP_ACK | TCP_PSH, b.d, b.n);
}

static void fin_fin(struct conn *k, int first)
{
    seg(k, first, TCP_FIN | TCP_ACK, NULL, 0);
    seg(k, !first, TCP_FIN | TCP_ACK, NULL, 0);
    seg(k, first, TCP_ACK, NULL, 0);
}

static struct engine *new_engine(const struct flow_config *cfg, struct classifier *cl,
                                 void (*fn)(void *, const struct ws_record *), void *arg)
{
    struct flow_config def;
    flow_config_defaults(&def);
    struct engine_output out = {.record = fn, .arg = arg};
    struct engine *e = engine_new(cfg ? cfg : &def, cl, &out);
    assert_non_null(e);
    return e;
}

static struct engine *setup(struct sink *k, const struct flow_config *cfg)
{
    memset(k, 0, sizeof *k);
    return new_engine(cfg, NULL, on_record, k);
}

/* The engine's figures. */
#define FLOWS(e) flow_table_stats(engine_flows(e))
#define ENGINE(e) engine_stats(e)
#define TABLE(e) ((const struct flow_table *)engine_flows(e))

/* Every flow freed: every charge taken back. */
static void assert_all_charges_back(struct engine *e)
{
    engine_release_flows(e);
    assert_int_equal(flow_table_count(engine_flows(e)), 0);
    assert_int_equal(flow_table_state_bytes(engine_flows(e)), 0);
}

/* ---- whole connections ---------------------------------------------------------- */

static void full_connection(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 8080);
    handshake_tcp(&c);                 /* T0 .. T0+2 */
    upgrade(&c);                       /* request T0+3, response T0+4 */
    text(&c, DIR_CLIENT, "hello");     /* T0+5 */
    text(&c, DIR_SERVER, "hi there");  /* T0+6 */
    send_close(&c, DIR_CLIENT, 1000, "bye");  /* T0+7 */
    send_close(&c, DIR_SERVER, 1000, "");     /* T0+8 */
    assert_int_equal(k.n, 0);
    fin_fin(&c, DIR_CLIENT);           /* T0+9, T0+10, T0+11 */
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_opt_str(r->sensor, "unit0");
    assert_string_equal(r->client_ip, "192.0.2.10");
    assert_string_equal(r->server_ip, "198.51.100.20");
    assert_int_equal(r->client_port, 51000);
    assert_int_equal(r->server_port, 8080);
    assert_int_equal(r->vlan, -1);
    assert_int_equal(r->started_at, T0);
    assert_int_equal(r->upgraded_at, T0 + 4 * STEP);
    assert_int_equal(r->ended_at, T0 + 10 * STEP);
    assert_opt_str(r->host, "ws.example.org:8080");
    assert_opt_str(r->path, "/feed");
    assert_null(r->origin);
    assert_null(r->user_agent);
    assert_null(r->subprotocol);
    assert_null(r->extensions);
    assert_int_equal(r->http_status, 101);
    assert_int_equal(r->handshake_seen, 1);
    assert_int_equal(r->close_code, 1000);
    assert_opt_str(r->close_reason, "bye");
    assert_int_equal(r->close_initiator, DIR_CLIENT);
    assert_int_equal(r->close[DIR_CLIENT].code, 1000);
    assert_opt_str(r->close[DIR_CLIENT].reason, "bye");
    assert_int_equal(r->close[DIR_CLIENT].at, T0 + 7 * STEP);
    assert_int_equal(r->close[DIR_SERVER].code, 1000);
    assert_null(r->close[DIR_SERVER].reason);
    assert_int_equal(r->close[DIR_SERVER].at, T0 + 8 * STEP);
    assert_int_equal(r->outcome, OUTCOME_CLEAN);
    assert_int_equal(r->termination, TERM_FIN_CLIENT);
    assert_int_equal(r->frames[DIR_CLIENT], 2);
    assert_int_equal(r->frames[DIR_SERVER], 2);
    assert_int_equal(r->messages[DIR_CLIENT], 1);
    assert_int_equal(r->messages[DIR_SERVER], 1);
    assert_int_equal(r->bytes[DIR_CLIENT], 5 + 5);
    assert_int_equal(r->bytes[DIR_SERVER], 8 + 2);
    assert_int_equal(r->pings + r->pongs, 0);
    assert_int_equal(r->last_frame_at, T0 + 8 * STEP);
    assert_int_equal(r->last_data_at, T0 + 6 * STEP);
    assert_int_equal(r->violations, 0);
    assert_null(r->ndpi_protocol);
    assert_int_equal(FLOWS(d)->flows, 1);
    assert_int_equal(ENGINE(d)->followed, 1);
    assert_int_equal(ENGINE(d)->records, 1);
    /* the last ACK and a retransmitted FIN are absorbed */
    seg_at(&c, DIR_SERVER, c.seq[DIR_SERVER] - 1, TCP_FIN | TCP_ACK, NULL, 0, 0);
    engine_finish(d);
    assert_int_equal(k.n, 1);
    engine_free(d);
    sink_free(&k);
}

static void server_fin_first(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    send_close(&c, DIR_SERVER, 1001, "restart");
    send_close(&c, DIR_CLIENT, 1001, "");
    fin_fin(&c, DIR_SERVER);
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->termination, TERM_FIN_SERVER);
    assert_int_equal(r->close_code, 1001);
    assert_opt_str(r->close_reason, "restart");
    assert_int_equal(r->close_initiator, DIR_SERVER);
    assert_int_equal(r->outcome, OUTCOME_CLEAN);
    engine_free(d);
    sink_free(&k);
}

static void rst_without_close(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        struct engine *d;
        struct sink k;
        d = setup(&k, NULL);
        struct conn c;
        conn_init(&c, d, 51000, 80);
        handshake_tcp(&c);
        upgrade(&c);
        text(&c, DIR_SERVER, "tick");
        seg(&c, who, TCP_RST | TCP_ACK, NULL, 0); /* T0+6 */
        assert_int_equal(k.n, 0); /* data sent before a RST may still arrive ... */
        engine_expire(d, c.t + flow_table_config(engine_flows(d))->rst_linger);
        assert_int_equal(k.n, 1); /* ... until rst_linger has passed */
        const struct ws_record *r = &k.rec[0].r;
        assert_int_equal(r->close_code, 1006);
        assert_null(r->close_reason);
        assert_int_equal(r->close_initiator, -1);
        assert_int_equal(r->outcome, OUTCOME_ABNORMAL);
        assert_int_equal(r->termination, who == DIR_CLIENT ? TERM_RST_CLIENT : TERM_RST_SERVER);
        assert_int_equal(r->ended_at, T0 + 6 * STEP);
        assert_int_equal(r->frames[DIR_SERVER], 1);
        engine_finish(d);
        assert_int_equal(k.n, 1);
        engine_free(d);
        sink_free(&k);
    }
}

static void fin_without_close_then_capture_end(void **state)
{
    (void)state;
    /* only the server's FIN: torn down (1006) although TCP never finished */
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    seg(&c, DIR_SERVER, TCP_FIN | TCP_ACK, NULL, 0);
    assert_int_equal(k.n, 0);
    engine_finish(d);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.rec[0].r.close_code, 1006);
    assert_int_equal(k.rec[0].r.outcome, OUTCOME_ABNORMAL);
    assert_int_equal(k.rec[0].r.termination, TERM_FIN_SERVER);
    engine_free(d);
    sink_free(&k);
}

static void rejected_upgrade(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    seg(&c, DIR_CLIENT, TCP_ACK | TCP_PSH, REQ, strlen(REQ));
    static const char no[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    seg(&c, DIR_SERVER, TCP_ACK | TCP_PSH, no, strlen(no));
    fin_fin(&c, DIR_SERVER);
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->outcome, OUTCOME_REJECTED);
    assert_int_equal(r->http_status, 403);
    assert_int_equal(r->close_code, -1);
    assert_int_equal(r->upgraded_at, TS_NONE);
    assert_int_equal(r->termination, TERM_FIN_SERVER);
    engine_free(d);
    sink_free(&k);
}

static void close_reordered_after_rst(void **state)
{
    (void)state;
    /* A tap may deliver a close frame after the RST that followed it; the
     * close is still counted (data before the RST's sequence number), and
     * data at or after it is not. */
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51002, 80);
    handshake_tcp(&c);
    upgrade(&c);
    struct bb b = {.n = 0};
    close_frame(&b, true, 4002, "late");
    uint32_t close_seq = c.seq[DIR_CLIENT];
    seg_at(&c, DIR_CLIENT, close_seq + (uint32_t)b.n, TCP_RST, NULL, 0, 0);
    seg_at(&c, DIR_CLIENT, close_seq, TCP_ACK | TCP_PSH, b.d, (uint32_t)b.n, (uint32_t)b.n);
    c.seq[DIR_CLIENT] = close_seq - 4; /* overlaps the close, runs past the RST: clipped there */
    seg(&c, DIR_CLIENT, TCP_ACK, "\x88\x80zzzzzzzzzz", 12);
    text(&c, DIR_CLIENT, "after the reset"); /* at or after the RST's sequence number: ignored */
    assert_int_equal(k.n, 0);
    engine_finish(d);
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->close_code, 4002);
    assert_opt_str(r->close_reason, "late");
    assert_int_equal(r->outcome, OUTCOME_HALF_CLOSED);
    assert_int_equal(r->termination, TERM_RST_CLIENT);
    assert_int_equal(r->frames[DIR_CLIENT], 1);
    engine_free(d);
    sink_free(&k);
}

static void acked_hole_released_early(void **state)
{
    (void)state;
    /* A long-lived connection loses one client segment to the capture; the
     * server's ACKs show it got those bytes. The data behind the hole must
     * not wait for the end of the connection: it is delivered (and its
     * memory released) once the ACK has passed the hole for a while. */
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51003, 80);
    handshake_tcp(&c);
    upgrade(&c);
    struct bb lost = {.n = 0};
    frame(&lost, WS_OP_TEXT, true, "never captured", 14);
    c.seq[DIR_CLIENT] += (uint32_t)lost.n; /* sent, not captured */
    for (int i = 0; i < 40; i++) {          /* 40 * (10 ms + 2 STEP) of packet time */
        c.t += 10000;
        text(&c, DIR_CLIENT, "after the loss");
        seg(&c, DIR_SERVER, TCP_ACK, NULL, 0); /* acknowledges everything */
    }
    size_t held = flow_table_held_bytes(engine_flows(d));
    send_close(&c, DIR_CLIENT, 1000, "bye");
    send_close(&c, DIR_SERVER, 1000, "");
    fin_fin(&c, DIR_CLIENT);
    assert_int_equal(held, 0);
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->close_code, 1000);
    assert_int_equal(r->outcome, OUTCOME_CLEAN);
    assert_true(r->violations & V_GAP);
    assert_int_equal(r->frames[DIR_CLIENT], 41); /* 40 texts and the close */
    engine_free(d);
    sink_free(&k);
}

static void port_reuse_two_records(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    send_close(&c, DIR_CLIENT, 1000, "one");
    send_close(&c, DIR_SERVER, 1000, "");
    fin_fin(&c, DIR_CLIENT);
    assert_int_equal(k.n, 1);
    /* same 4-tuple, a new SYN with a new ISN, shortly after */
    ts_us_t second = c.t;
    c.seq[0] += 100000;
    c.seq[1] += 7777777;
    handshake_tcp(&c);
    upgrade(&c);
    send_close(&c, DIR_SERVER, 4001, "two");
    seg(&c, DIR_CLIENT, TCP_RST, NULL, 0);
    engine_expire(d, c.t + flow_table_config(engine_flows(d))->rst_linger);
    assert_int_equal(k.n, 2);
    assert_int_equal(k.rec[0].r.close_code, 1000);
    assert_opt_str(k.rec[0].r.close_reason, "one");
    assert_int_equal(k.rec[1].r.close_code, 4001);
    assert_opt_str(k.rec[1].r.close_reason, "two");
    assert_int_equal(k.rec[1].r.outcome, OUTCOME_HALF_CLOSED);
    assert_int_equal(k.rec[1].r.termination, TERM_RST_CLIENT);
    assert_int_equal(k.rec[1].r.started_at, second);
    assert_int_equal(k.rec[1].r.client_port, 51000);
    assert_int_equal(FLOWS(d)->port_reuse, 1);
    engine_finish(d);
    assert_int_equal(k.n, 2);
    engine_free(d);
    sink_free(&k);
}

static void finish_gives_unfinished(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    text(&c, DIR_CLIENT, "still open");
    ts_us_t last = c.t - STEP;
    /* another flow moves the packet clock on */
    struct conn o;
    conn_init(&o, d, 40000, 443);
    o.t = last + 5 * STEP;
    seg(&o, DIR_CLIENT, TCP_SYN, NULL, 0);
    engine_finish(d);
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->close_code, -1);
    assert_null(r->close_reason);
    assert_int_equal(r->close_initiator, -1);
    assert_int_equal(r->outcome, OUTCOME_UNFINISHED);
    assert_int_equal(r->termination, TERM_CAPTURE_END);
    assert_int_equal(r->ended_at, last + 5 * STEP); /* the moment the capture ended */
    assert_int_equal(r->frames[DIR_CLIENT], 1);
    engine_free(d);
    sink_free(&k);
}

static void non_websocket_flows_give_no_record(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 443);
    handshake_tcp(&c);
    static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00};
    seg(&c, DIR_CLIENT, TCP_ACK | TCP_PSH, tls, sizeof tls);
    seg(&c, DIR_SERVER, TCP_ACK | TCP_PSH, tls, sizeof tls);
    fin_fin(&c, DIR_CLIENT);

    struct conn h;
    conn_init(&h, d, 51001, 80);
    handshake_tcp(&h);
    static const char get[] = "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    seg(&h, DIR_CLIENT, TCP_ACK | TCP_PSH, get, strlen(get));
    seg(&h, DIR_SERVER, TCP_ACK | TCP_PSH, ok, strlen(ok));

    struct conn e; /* a bare SYN, never answered */
    conn_init(&e, d, 51002, 80);
    seg(&e, DIR_CLIENT, TCP_SYN, NULL, 0);

    engine_finish(d);
    assert_int_equal(k.n, 0);
    assert_int_equal(ENGINE(d)->records, 0);
    assert_int_equal(FLOWS(d)->ignored, 1 + 1);
    engine_free(d);
    sink_free(&k);
}

static void idle_expiry(void **state)
{
    (void)state;
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.idle_timeout = 10 * 1000000LL;
    struct engine *d;
    struct sink k;
    d = setup(&k, &cfg);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    text(&c, DIR_SERVER, "x");
    ts_us_t last = c.t - STEP;
    engine_expire(d, last + cfg.idle_timeout - 1);
    assert_int_equal(k.n, 0);
    engine_expire(d, last + cfg.idle_timeout);
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->termination, TERM_IDLE_TIMEOUT);
    assert_int_equal(r->outcome, OUTCOME_UNFINISHED);
    assert_int_equal(r->close_code, -1);
    assert_int_equal(r->ended_at, last + cfg.idle_timeout);
    assert_int_equal(FLOWS(d)->idle_expired, 1);
    assert_int_equal(flow_table_count(engine_flows(d)), 0);
    engine_finish(d);
    assert_int_equal(k.n, 1);
    engine_free(d);
    sink_free(&k);
}

static void idle_expiry_by_packet_clock(void **state)
{
    (void)state;
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.idle_timeout = 10 * 1000000LL;
    struct engine *d;
    struct sink k;
    d = setup(&k, &cfg);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    ts_us_t last = c.t - STEP;
    struct conn o;
    conn_init(&o, d, 40000, 443);
    o.t = last + 60 * 1000000LL; /* a minute later, another flow's packet */
    seg(&o, DIR_CLIENT, TCP_SYN, NULL, 0);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.rec[0].r.termination, TERM_IDLE_TIMEOUT);
    assert_int_equal(k.rec[0].r.ended_at, last + cfg.idle_timeout);
    engine_free(d);
    sink_free(&k);
}

static void eviction(void **state)
{
    (void)state;
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.max_flows = 1;
    struct engine *d;
    struct sink k;
    d = setup(&k, &cfg);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    struct conn o;
    conn_init(&o, d, 40000, 80);
    o.t = c.t;
    seg(&o, DIR_CLIENT, TCP_SYN, NULL, 0);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.rec[0].r.termination, TERM_EVICTED);
    assert_int_equal(k.rec[0].r.outcome, OUTCOME_UNFINISHED);
    assert_int_equal(k.rec[0].r.client_port, 51000);
    assert_int_equal(FLOWS(d)->evicted, 1);
    engine_free(d);
    sink_free(&k);
}

static void linger_then_removed(void **state)
{
    (void)state;
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.closed_linger = 5 * 1000000LL;
    struct engine *d;
    struct sink k;
    d = setup(&k, &cfg);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    fin_fin(&c, DIR_CLIENT);
    assert_int_equal(k.n, 1);
    assert_int_equal(flow_table_count(engine_flows(d)), 1); /* kept to absorb stragglers */
    seg_at(&c, DIR_CLIENT, c.seq[0], TCP_ACK, NULL, 0, 0);
    assert_int_equal(k.n, 1);
    engine_expire(d, c.t + cfg.closed_linger);
    assert_int_equal(flow_table_count(engine_flows(d)), 0);
    assert_int_equal(k.n, 1);
    engine_free(d);
    sink_free(&k);
}

/* Short connections in a burst: no more than linger_max finished flows
 * linger, the oldest going first when a new flow is made, each counted. */
static void linger_bounded_in_flows(void **state)
{
    (void)state;
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.linger_max = 3;
    struct engine *d;
    struct sink k;
    d = setup(&k, &cfg);
    for (int i = 0; i < 10; i++) {
        struct conn c;
        conn_init(&c, d, (uint16_t)(51000 + i), 80);
        handshake_tcp(&c);
        upgrade(&c);
        fin_fin(&c, DIR_CLIENT);
        assert_true(flow_table_count(engine_flows(d)) <= cfg.linger_max + 1);
    }
    assert_int_equal(k.n, 10);
    assert_int_equal(flow_table_count(engine_flows(d)), 4); /* three lingering, the last one ended */
    assert_int_equal(FLOWS(d)->linger_cut, 6);
    assert_int_equal(FLOWS(d)->evicted, 0);
    engine_free(d);
    sink_free(&k);
}

static void fin_order_from_ack_field(void **state)
{
    (void)state;
    /* The tap shows the server's FIN first, but that FIN acknowledges the
     * client's FIN (RFC 9293 §3.6): the client closed first. */
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    send_close(&c, DIR_CLIENT, 1000, "");
    send_close(&c, DIR_SERVER, 1000, "");
    uint32_t cfin = c.seq[DIR_CLIENT], sfin = c.seq[DIR_SERVER];
    c.seq[DIR_CLIENT] = cfin + 1;                          /* the server has seen the client's FIN */
    seg_at(&c, DIR_SERVER, sfin, TCP_FIN | TCP_ACK, NULL, 0, 0);
    c.seq[DIR_SERVER] = sfin;                              /* the client's FIN acks only data */
    seg_at(&c, DIR_CLIENT, cfin, TCP_FIN | TCP_ACK, NULL, 0, 0);
    c.seq[DIR_SERVER] = sfin + 1;
    seg_at(&c, DIR_CLIENT, cfin + 1, TCP_ACK, NULL, 0, 0);
    engine_finish(d);
    int n = k.n;
    enum termination t = n ? k.rec[0].r.termination : TERM_NONE;
    engine_free(d);
    sink_free(&k);
    assert_int_equal(n, 1);
    assert_int_equal(t, TERM_FIN_CLIENT);
}

/* ---- reassembly through the engine ----------------------------------------------- */

static void out_of_order_and_duplicates(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    /* the request in two segments, second first, first twice */
    uint32_t s0 = c.seq[0];
    size_t half = 20;
    seg_at(&c, DIR_CLIENT, s0 + (uint32_t)half, TCP_ACK | TCP_PSH, REQ + half, (uint32_t)(strlen(REQ) - half),
           (uint32_t)(strlen(REQ) - half));
    seg_at(&c, DIR_CLIENT, s0, TCP_ACK, REQ, (uint32_t)half, (uint32_t)half);
    seg_at(&c, DIR_CLIENT, s0, TCP_ACK, REQ, (uint32_t)half, (uint32_t)half);
    c.seq[0] += (uint32_t)strlen(REQ);
    seg(&c, DIR_SERVER, TCP_ACK | TCP_PSH, RESP, strlen(RESP));
    /* server frames: two frames, sent as three segments out of order */
    struct bb b = {.n = 0};
    frame(&b, WS_OP_TEXT, false, "first message", 13);
    close_frame(&b, false, 1001, "moving");
    uint32_t s1 = c.seq[1];
    seg_at(&c, DIR_SERVER, s1 + 10, TCP_ACK, b.d + 10, (uint32_t)(b.n - 10), (uint32_t)(b.n - 10));
    seg_at(&c, DIR_SERVER, s1 + 4, TCP_ACK, b.d + 4, 8, 8); /* overlaps both */
    seg_at(&c, DIR_SERVER, s1, TCP_ACK, b.d, 6, 6);
    c.seq[1] += (uint32_t)b.n;
    send_close(&c, DIR_CLIENT, 1001, "");
    fin_fin(&c, DIR_SERVER);
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_opt_str(r->path, "/feed");
    assert_int_equal(r->http_status, 101);
    assert_int_equal(r->frames[DIR_SERVER], 2);
    assert_int_equal(r->messages[DIR_SERVER], 1);
    assert_int_equal(r->close_code, 1001);
    assert_opt_str(r->close_reason, "moving");
    assert_int_equal(r->outcome, OUTCOME_CLEAN);
    assert_int_equal(r->violations, 0);
    assert_int_equal(flow_table_held_bytes(engine_flows(d)), 0);
    engine_free(d);
    sink_free(&k);
}

static void lost_segment_is_gap(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    c.seq[DIR_SERVER] += 100; /* 100 bytes never captured */
    text(&c, DIR_SERVER, "after the hole");
    fin_fin(&c, DIR_CLIENT);
    /* the server's FIN lies beyond the hole: the flow waits, then the end
     * of the capture flushes it with an explicit gap */
    engine_finish(d);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.rec[0].r.violations, V_GAP);
    assert_int_equal(k.rec[0].r.close_code, 1006);
    assert_int_equal(k.rec[0].r.termination, TERM_FIN_CLIENT);
    assert_int_equal(k.rec[0].r.frames[DIR_SERVER], 1); /* resynchronised after the gap */
    assert_int_equal(flow_table_held_bytes(engine_flows(d)), 0);
    engine_free(d);
    sink_free(&k);
}

static void snaplen_truncated(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    upgrade(&c);
    uint8_t big[1000];
    memset(big, 'z', sizeof big);
    struct bb b = {.n = 0};
    frame(&b, WS_OP_BINARY, false, big, sizeof big);
    seg_at(&c, DIR_SERVER, c.seq[1], TCP_ACK, b.d, 60, (uint32_t)b.n); /* snaplen cut */
    c.seq[1] += (uint32_t)b.n;
    send_close(&c, DIR_SERVER, 1000, "");
    fin_fin(&c, DIR_SERVER);
    assert_int_equal(k.n, 1);
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->violations, V_TRUNCATED);
    assert_int_equal(r->frames[DIR_SERVER], 2); /* the cut frame is still followed */
    assert_int_equal(r->close_code, 1000);
    engine_free(d);
    sink_free(&k);
}

static void vlan_and_ipv6(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    c.vlan = 42;
    c.ipv = 6;
    inet_pton(AF_INET6, "2001:db8::1", c.ep[0].addr);
    inet_pton(AF_INET6, "2001:db8:0:1::2", c.ep[1].addr);
    handshake_tcp(&c);
    upgrade(&c);
    fin_fin(&c, DIR_CLIENT);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.rec[0].r.vlan, 42);
    assert_string_equal(k.rec[0].r.client_ip, "2001:db8::1");
    assert_string_equal(k.rec[0].r.server_ip, "2001:db8:0:1::2");

    /* the same 4-tuple on another VLAN is another connection */
    struct conn c2;
    conn_init(&c2, d, 51000, 80);
    memcpy(c2.ep, c.ep, sizeof c.ep);
    c2.ipv = 6;
    c2.vlan = 43;
    c2.t = c.t;
    handshake_tcp(&c2);
    upgrade(&c2);
    c.t = c2.t;
    handshake_tcp(&c); /* VLAN 42 again: port reuse there */
    upgrade(&c);
    engine_finish(d);
    assert_int_equal(k.n, 3);
    int v43 = 0;
    for (int i = 1; i < 3; i++)
        v43 += k.rec[i].r.vlan == 43;
    assert_int_equal(v43, 1);
    engine_free(d);
    sink_free(&k);
}

/* ---- roles ---------------------------------------------------------------------- */

static void roles_from_request_without_syn(void **state)
{
    (void)state;
    /* the client uses the LOWER port: the request, not the ports, decides */
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 1234, 50000);
    upgrade(&c);
    send_close(&c, DIR_CLIENT, 1000, "");
    send_close(&c, DIR_SERVER, 1000, "");
    engine_finish(d);
    int n = k.n;
    if (n != 1) {
        engine_free(d); /* before failing: nothing leaks */
        sink_free(&k);
        print_error("%d records, want 1\n", n);
        fail();
    }
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->client_port, 1234);
    assert_int_equal(r->server_port, 50000);
    assert_string_equal(r->client_ip, "192.0.2.10");
    assert_int_equal(r->close_initiator, DIR_CLIENT);
    assert_int_equal(r->violations, 0);
    engine_free(d);
    sink_free(&k);
}

static void midstream_roles_from_masking(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 1234, 50000); /* the client has the lower port again */
    text(&c, DIR_SERVER, "unmasked, so from the server");
    text(&c, DIR_CLIENT, "masked, so from the client");
    send_close(&c, DIR_CLIENT, 1000, "done");
    send_close(&c, DIR_SERVER, 1000, "");
    fin_fin(&c, DIR_CLIENT);
    engine_finish(d); /* the record may wait for the end of the capture */
    int n = k.n;
    if (n != 1) {
        engine_free(d);
        sink_free(&k);
        print_error("%d records, want 1\n", n);
        fail();
    }
    const struct ws_record *r = &k.rec[0].r;
    assert_int_equal(r->handshake_seen, 0);
    assert_int_equal(r->client_port, 1234);
    assert_int_equal(r->server_port, 50000);
    assert_int_equal(r->frames[DIR_CLIENT], 2);
    assert_int_equal(r->frames[DIR_SERVER], 2);
    assert_int_equal(r->close_code, 1000);
    assert_opt_str(r->close_reason, "done");
    assert_int_equal(r->close_initiator, DIR_CLIENT);
    assert_int_equal(r->outcome, OUTCOME_CLEAN);
    assert_int_equal(r->termination, TERM_FIN_CLIENT);
    assert_int_equal(r->violations, 0);
    engine_free(d);
    sink_free(&k);
}

static void request_in_tiny_segments(void **state)
{
    (void)state;
    /* a client writing its request in small pieces: "GET" then the rest,
     * and one byte per segment */
    for (size_t first = 1; first <= 4; first++) {
        struct engine *d;
        struct sink k;
        d = setup(&k, NULL);
        struct conn c;
        conn_init(&c, d, 51000, 80);
        handshake_tcp(&c);
        seg(&c, DIR_CLIENT, TCP_ACK, REQ, first);
        seg(&c, DIR_CLIENT, TCP_ACK | TCP_PSH, REQ + first, strlen(REQ) - first);
        seg(&c, DIR_SERVER, TCP_ACK | TCP_PSH, RESP, strlen(RESP));
        fin_fin(&c, DIR_CLIENT);
        int n = k.n, status = n ? k.rec[0].r.http_status : 0;
        engine_free(d); /* before asserting: nothing leaks when this fails */
        sink_free(&k);
        if (n != 1) {
            print_error("request split after %zu bytes: %d records\n", first, n);
            fail();
        }
        assert_int_equal(status, 101);
    }
}

/* ---- LRU order and the flow table ------------------------------------------------ */

/* `n` bare ACKs on a flow of no interest: clock ticks between two touches. */
static void filler(struct conn *e, ts_us_t t, int n)
{
    e->t = t;
    for (int i = 0; i < n; i++)
        seg_at(e, DIR_CLIENT, e->seq[DIR_CLIENT], TCP_ACK, NULL, 0, 0);
}

/* Four open WebSocket connections (client ports 51001..51004), then one
 * text frame each in the order 51003, 51001, 51004, 51002, `gap` filler
 * packets before each (few: the lists are only noted; many: moved at
 * once). The last touch carries an older packet time than the others. */
static void touch_in_order(struct engine *d, struct conn c[4], int gap)
{
    for (int i = 0; i < 4; i++) {
        conn_init(&c[i], d, (uint16_t)(51001 + i), 80);
        c[i].t = T0 + i * 10 * STEP;
        handshake_tcp(&c[i]);
        upgrade(&c[i]);
    }
    struct conn e;
    conn_init(&e, d, 40000, 22);
    e.t = T0 + 99 * 1000000LL;
    seg(&e, DIR_CLIENT, TCP_SYN, NULL, 0);
    static const int order[4] = {2, 0, 3, 1};
    static const ts_us_t at[4] = {100, 101, 102, 50}; /* seconds after T0: the last goes back */
    for (int i = 0; i < 4; i++) {
        filler(&e, T0 + at[i] * 1000000LL, gap);
        c[order[i]].t = T0 + at[i] * 1000000LL;
        text(&c[order[i]], DIR_SERVER, "tick");
    }
}

static void assert_ports(const struct sink *k, int from, const int *ports, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(k->rec[from + i].r.client_port, ports[i]);
}

/* Idle expiry goes by the order of the last touches, not by packet times,
 * and stops at the first flow not yet idle, as a list moved at every
 * packet would: the flow touched last with an older packet time waits for
 * those touched before it. */
static void expiry_follows_touch_order(int gap)
{
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.idle_timeout = 200 * 1000000LL;
    struct engine *d;
    struct sink k;
    d = setup(&k, &cfg);
    struct conn c[4];
    touch_in_order(d, c, gap);
    assert_int_equal(ENGINE(d)->followed, 4);
    engine_expire(d, T0 + 260 * 1000000LL); /* 51002 is idle, 51003 (touched before it) is not */
    assert_int_equal(k.n, 0);
    engine_expire(d, T0 + 302 * 1000000LL);
    assert_int_equal(k.n, 4);
    static const int want[4] = {51003, 51001, 51004, 51002};
    assert_ports(&k, 0, want, 4);
    assert_int_equal(k.rec[3].r.ended_at, T0 + 50 * 1000000LL + cfg.idle_timeout);
    engine_free(d);
    sink_free(&k);
}

static void expiry_order_noted_touches(void **state)
{
    (void)state;
    expiry_follows_touch_order(0);
}

static void expiry_order_moved_touches(void **state)
{
    (void)state;
    expiry_follows_touch_order(300);
}

/* A full table gives up the least recently touched connection first; the
 * end of the capture writes the rest in the same order. */
static void eviction_follows_touch_order(int gap)
{
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.max_flows = 5; /* four connections and the filler flow */
    struct engine *d;
    struct sink k;
    d = setup(&k, &cfg);
    struct conn c[4], n[5];
    touch_in_order(d, c, gap);
    for (int i = 0; i < 5; i++) { /* each new connection evicts one: the filler first (no data) */
        conn_init(&n[i], d, (uint16_t)(52001 + i), 80);
        n[i].t = T0 + 103 * 1000000LL + i * 10 * STEP;
        handshake_tcp(&n[i]);
        upgrade(&n[i]);
    }
    assert_int_equal(FLOWS(d)->evicted_other, 1);
    assert_int_equal(FLOWS(d)->evicted, 4);
    assert_int_equal(k.n, 4);
    static const int evicted[4] = {51003, 51001, 51004, 51002};
    assert_ports(&k, 0, evicted, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(k.rec[i].r.termination, TERM_EVICTED);
    engine_finish(d);
    assert_int_equal(k.n, 9);
    static const int open[5] = {52001, 52002, 52003, 52004, 52005};
    assert_ports(&k, 4, open, 5);
    engine_free(d);
    sink_free(&k);
}

static void eviction_order_noted_touches(void **state)
{
    (void)state;
    eviction_follows_touch_order(0);
}

static void eviction_order_moved_touches(void **state)
{
    (void)state;
    eviction_follows_touch_order(300);
}

/* The bucket array grows with the table: flows made before it grew are
 * still found after (an answering SYN-ACK makes no second flow). */
static void table_grows(void **state)
{
    (void)state;
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    uint32_t first = TABLE(d)->nbuckets;
    enum { FLOWS = 20000 };
    struct conn c;
    conn_init(&c, d, 0, 80);
    for (int i = 0; i < FLOWS; i++) {
        c.ep[DIR_CLIENT].port = (uint16_t)(1024 + i % 50000);
        c.ep[DIR_CLIENT].addr[15] = (uint8_t)(i / 50000);
        seg(&c, DIR_CLIENT, TCP_SYN, NULL, 0);
    }
    assert_true(TABLE(d)->nbuckets > first);
    assert_true(TABLE(d)->nbuckets >= FLOWS / 2);
    for (int i = FLOWS - 1; i >= 0; i--) {
        c.ep[DIR_CLIENT].port = (uint16_t)(1024 + i % 50000);
        c.ep[DIR_CLIENT].addr[15] = (uint8_t)(i / 50000);
        seg_at(&c, DIR_SERVER, 7, TCP_SYN | TCP_ACK, NULL, 0, 0);
    }
    assert_int_equal(FLOWS(d)->flows, FLOWS);
    assert_int_equal(flow_table_count(engine_flows(d)), FLOWS);
    assert_int_equal(FLOWS(d)->port_reuse, 0);
    engine_free(d);
    sink_free(&k);
}

/* ... but never beyond one bucket per flow of --max-flows. */
static void table_stays_within_max_flows(void **state)
{
    (void)state;
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.max_flows = 3000;
    struct engine *d;
    struct sink k;
    d = setup(&k, &cfg);
    struct conn c;
    conn_init(&c, d, 0, 80);
    for (int i = 0; i < 10000; i++) {
        c.ep[DIR_CLIENT].port = (uint16_t)(1024 + i);
        seg(&c, DIR_CLIENT, TCP_SYN, NULL, 0);
    }
    assert_int_equal(flow_table_count(engine_flows(d)), 3000);
    assert_true(TABLE(d)->nbuckets <= 4096);
    assert_int_equal(FLOWS(d)->evicted_other, 10000 - 3000);
    engine_free(d);
    sink_free(&k);
}

/* ---- the memcap covers what grows in place (issue 8) ---------------------------- */

static void count_record(void *arg, const struct ws_record *r)
{
    (void)r;
    (*(uint64_t *)arg)++;
}

/* state_mem + held reassembly bytes within the memcap, after every segment */
static void assert_within_memcap(const struct engine *e)
{
    const struct flow_table *t = engine_flows(e);
    size_t state = flow_table_state_bytes(t), held = flow_table_held_bytes(t), cap = flow_table_config(t)->memcap;
    if (state + held > cap) {
        print_error("%zu bytes of state and %zu held, memcap %zu\n", state, held, cap);
        fail();
    }
}

static void memcap_covers_handshake_heads(void **state)
{
    (void)state;
    /* 40 upgrade requests that never end, 14 KB each: the head buffers
     * (16 KiB each) fill a 256 KiB memcap and the oldest are evicted */
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.memcap = 256u << 10;
    struct engine *d;
    uint64_t records = 0;
    d = new_engine(&cfg, NULL, count_record, &records);
    static char pad[1400];
    memset(pad, 'a', sizeof pad);
    for (int i = 0; i < 40; i++) {
        struct conn c;
        conn_init(&c, d, (uint16_t)(50000 + i), 80);
        handshake_tcp(&c);
        seg(&c, DIR_CLIENT, TCP_ACK, "GET /pad HTTP/1.1\r\nUpgrade: websocket\r\nX-Pad: ", 46);
        for (int j = 0; j < 10; j++) {
            seg(&c, DIR_CLIENT, TCP_ACK, pad, sizeof pad);
            assert_within_memcap(d);
        }
    }
    assert_true(FLOWS(d)->memcap_evictions > 0);
    assert_int_equal(FLOWS(d)->evicted, FLOWS(d)->memcap_evictions); /* WebSocket connections, each recorded */
    assert_int_equal(records, FLOWS(d)->evicted);
    engine_finish(d);
    assert_int_equal(records, 40);
    assert_all_charges_back(d); /* every charge taken back */
    engine_free(d);
}

/* One client segment of a flow with its IPv4 packet (for nDPI). */
static void seg_l3(struct conn *k, uint8_t flags, const uint8_t *p, uint16_t len)
{
    uint8_t pkt[40 + 128];
    assert_true(len <= 128);
    memset(pkt, 0, 40);
    pkt[0] = 0x45;
    pkt[2] = (uint8_t)((40 + len) >> 8);
    pkt[3] = (uint8_t)(40 + len);
    pkt[8] = 64;
    pkt[9] = 6;
    memcpy(pkt + 12, k->ep[DIR_CLIENT].addr + 12, 4);
    memcpy(pkt + 16, k->ep[DIR_SERVER].addr + 12, 4);
    uint8_t *t = pkt + 20;
    t[0] = (uint8_t)(k->ep[DIR_CLIENT].port >> 8);
    t[1] = (uint8_t)k->ep[DIR_CLIENT].port;
    t[2] = (uint8_t)(k->ep[DIR_SERVER].port >> 8);
    t[3] = (uint8_t)k->ep[DIR_SERVER].port;
    for (int b = 0; b < 4; b++)
        t[4 + b] = (uint8_t)(k->seq[DIR_CLIENT] >> (24 - 8 * b));
    t[12] = 0x50;
    t[13] = flags;
    if (len)
        memcpy(pkt + 40, p, len);
    struct tcp_segment s;
    memset(&s, 0, sizeof s);
    s.src = k->ep[DIR_CLIENT];
    s.dst = k->ep[DIR_SERVER];
    s.vlan = k->vlan;
    s.ip_version = 4;
    s.flags = flags;
    s.seq = k->seq[DIR_CLIENT];
    s.payload = pkt + 40;
    s.payload_len = s.payload_wire = len;
    s.l3 = pkt;
    s.l3_len = 40u + len;
    s.ts = k->t;
    k->t += STEP;
    engine_segment(k->d, &s, "unit0");
    k->seq[DIR_CLIENT] += len + ((flags & TCP_SYN) ? 1u : 0u);
}

static void memcap_covers_ndpi_state(void **state)
{
    (void)state;
    /* 300 flows of one TLS-like record each (nDPI keeps its state for
     * them, waiting for more): charged, so a 256 KiB memcap holds under
     * a hundred of them and evicts the rest */
    char err[256];
    struct classifier *cl = classifier_new(err, sizeof err);
    assert_non_null(cl);
    struct flow_config cfg;
    flow_config_defaults(&cfg);
    cfg.memcap = 256u << 10;
    struct engine *d;
    uint64_t records = 0;
    d = new_engine(&cfg, cl, count_record, &records);
    uint8_t rec[63] = {0x17, 0x03, 0x03};
    for (size_t i = 3; i < sizeof rec; i++)
        rec[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 300; i++) {
        struct conn c;
        conn_init(&c, d, (uint16_t)(30000 + i), 5000);
        seg_l3(&c, TCP_SYN, NULL, 0);
        seg_l3(&c, TCP_ACK | TCP_PSH, rec, sizeof rec);
        assert_within_memcap(d);
    }
    size_t held = flow_table_count(engine_flows(d));
    assert_true(FLOWS(d)->memcap_evictions > 0);
    assert_true(held < 100); /* 280 + 2.8 KiB each */
    engine_finish(d);
    assert_all_charges_back(d);
    engine_free(d);
    assert_int_equal(records, 0);
    classifier_free(cl);
}

static void hostile_counts(void **state)
{
    (void)state;
    /* an upgrade request of 20 KB, answered, and a frame claiming 2^63
     * bytes: counted in the engine's statistics, and recorded */
    struct engine *d;
    struct sink k;
    d = setup(&k, NULL);
    struct conn c;
    conn_init(&c, d, 51000, 80);
    handshake_tcp(&c);
    static char big[20000];
    size_t n = strlen(REQ) - 2;
    memcpy(big, REQ, n);
    while (n + 12 <= sizeof big - 2) {
        memcpy(big + n, "X-Pad: 123\r\n", 12);
        n += 12;
    }
    memcpy(big + n, "\r\n", 2);
    n += 2;
    for (size_t at = 0; at < n; at += 1400)
        seg(&c, DIR_CLIENT, TCP_ACK, big + at, n - at < 1400 ? n - at : 1400);
    seg(&c, DIR_SERVER, TCP_ACK | TCP_PSH, RESP, strlen(RESP));
    static const uint8_t claim[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 'x', 'y'};
    seg(&c, DIR_SERVER, TCP_ACK | TCP_PSH, claim, sizeof claim);
    assert_int_equal(ENGINE(d)->anomalies.heads_oversized + ENGINE(d)->anomalies.frames_len_msb, 0); /* counted when the state goes */
    fin_fin(&c, DIR_CLIENT);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.rec[0].r.http_status, 101);
    assert_opt_str(k.rec[0].r.path, "/feed");
    assert_int_equal(ENGINE(d)->anomalies.heads_oversized, 1);
    assert_int_equal(ENGINE(d)->anomalies.frames_len_msb, 1);
    assert_all_charges_back(d);
    engine_free(d);
    sink_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_connection),
        cmocka_unit_test(server_fin_first),
        cmocka_unit_test(rst_without_close),
        cmocka_unit_test(fin_without_close_then_capture_end),
        cmocka_unit_test(rejected_upgrade),
        cmocka_unit_test(close_reordered_after_rst),
        cmocka_unit_test(acked_hole_released_early),
        cmocka_unit_test(port_reuse_two_records),
        cmocka_unit_test(finish_gives_unfinished),
        cmocka_unit_test(non_websocket_flows_give_no_record),
        cmocka_unit_test(idle_expiry),
        cmocka_unit_test(idle_expiry_by_packet_clock),
        cmocka_unit_test(eviction),
        cmocka_unit_test(linger_then_removed),
        cmocka_unit_test(linger_bounded_in_flows),
        cmocka_unit_test(fin_order_from_ack_field),
        cmocka_unit_test(out_of_order_and_duplicates),
        cmocka_unit_test(lost_segment_is_gap),
        cmocka_unit_test(snaplen_truncated),
        cmocka_unit_test(vlan_and_ipv6),
        cmocka_unit_test(roles_from_request_without_syn),
        cmocka_unit_test(midstream_roles_from_masking),
        cmocka_unit_test(request_in_tiny_segments),
        cmocka_unit_test(expiry_order_noted_touches),
        cmocka_unit_test(expiry_order_moved_touches),
        cmocka_unit_test(eviction_order_noted_touches),
        cmocka_unit_test(eviction_order_moved_touches),
        cmocka_unit_test(table_grows),
        cmocka_unit_test(table_stays_within_max_flows),
        cmocka_unit_test(memcap_covers_handshake_heads),
        cmocka_unit_test(memcap_covers_ndpi_state),
        cmocka_unit_test(hostile_counts),
    };
    RUN_TESTS(tests);
}
