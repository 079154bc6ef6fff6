/*
 * tests/unit/test_decode.c — capture/decode.c, link/IP/TCP decoding.
 *
 * Proves, with packets built byte by byte: Ethernet, 802.1Q (VLAN id
 * without the PCP bits), QinQ (the OUTER id kept), Linux SLL and SLL2, raw
 * IPv4/IPv6 (DLT_RAW, DLT_IPV4, DLT_IPV6), BSD loopback (DLT_NULL either
 * byte order, DLT_LOOP), MPLS and PPPoE all reach the TCP segment with the
 * exact addresses (IPv4 v4-mapped), ports, seq/ack, flags, payload and l3
 * view; Ethernet padding is not payload; IPv4 and TCP options are skipped; an IPv6
 * hop-by-hop + destination-options chain is walked; IPv4 and IPv6 fragments
 * are DECODE_FRAGMENT (but not DF-only or atomic fragments); every prefix of
 * every valid packet is DECODE_TRUNCATED or, once the TCP header is whole,
 * DECODE_TCP with payload_len < payload_wire — each decoded from an
 * exact-size heap copy so ASan sees any read past the captured bytes;
 * nonsense headers (IHL < 5, total < IHL, TCP data offset < 5 or past the IP
 * payload, IP version 5, IPv6 payload length 0) are DECODE_INVALID; UDP,
 * ICMP, ARP and no-next-header are DECODE_SKIP; GTP-U (with and without an
 * extension header) carrying TCP is decoded to the inner packet; the
 * per-result counters add up.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../capture/decode.h"

/* ---- packet building ------------------------------------------------------ */

struct pk {
    uint8_t b[2048];
    size_t n;
};

static size_t put(struct pk *p, const void *d, size_t n)
{
    size_t at = p->n;
    assert_true(p->n + n <= sizeof p->b);
    memcpy(p->b + p->n, d, n);
    p->n += n;
    return at;
}

static void u8(struct pk *p, uint8_t v)
{
    put(p, &v, 1);
}

static void be16(struct pk *p, uint16_t v)
{
    u8(p, (uint8_t)(v >> 8));
    u8(p, (uint8_t)v);
}

static void be32(struct pk *p, uint32_t v)
{
    be16(p, (uint16_t)(v >> 16));
    be16(p, (uint16_t)v);
}

static void set16(struct pk *p, size_t at, uint16_t v)
{
    p->b[at] = (uint8_t)(v >> 8);
    p->b[at + 1] = (uint8_t)v;
}

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0xaa}, MAC_B[6] = {0x02, 0, 0, 0, 0, 0xbb};
static const uint8_t IP4_C[4] = {192, 0, 2, 10}, IP4_S[4] = {198, 51, 100, 20};
static const uint8_t IP6_C[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t IP6_S[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static void eth(struct pk *p, uint16_t type)
{
    put(p, MAC_B, 6);
    put(p, MAC_A, 6);
    be16(p, type);
}

static void vlan_tag(struct pk *p, uint16_t tci, uint16_t inner)
{
    be16(p, tci);
    be16(p, inner);
}

/* IPv4 header; the total length is patched by finish_ip4(). */
static size_t ip4(struct pk *p, uint8_t proto, uint16_t frag, const uint8_t src[4], const uint8_t dst[4])
{
    size_t at = p->n;
    u8(p, 0x45);
    u8(p, 0);
    be16(p, 0);      /* total length, patched */
    be16(p, 0x1234); /* id */
    be16(p, frag);
    u8(p, 64);
    u8(p, proto);
    be16(p, 0); /* checksum: not checked by the decoder */
    put(p, src, 4);
    put(p, dst, 4);
    return at;
}

static void finish_ip4(struct pk *p, size_t at)
{
    set16(p, at + 2, (uint16_t)(p->n - at));
}

static size_t ip6(struct pk *p, uint8_t next)
{
    size_t at = p->n;
    be32(p, 0x60000000);
    be16(p, 0); /* payload length, patched */
    u8(p, next);
    u8(p, 64);
    put(p, IP6_C, 16);
    put(p, IP6_S, 16);
    return at;
}

static void finish_ip6(struct pk *p, size_t at)
{
    set16(p, at + 4, (uint16_t)(p->n - at - 40));
}

/* An 8-byte extension header (hop-by-hop / destination options) with PadN. */
static void ext8(struct pk *p, uint8_t next)
{
    static const uint8_t padn[6] = {0x01, 0x04, 0, 0, 0, 0};
    u8(p, next);
    u8(p, 0);
    put(p, padn, 6);
}

#define SEQ 0x11223344u
#define ACK 0x55667788u

/* TCP header with `optwords` 32-bit words of NOP options, then payload. */
static size_t tcp(struct pk *p, uint16_t sport, uint16_t dport, uint8_t flags, int optwords, const char *payload)
{
    size_t at = p->n;
    be16(p, sport);
    be16(p, dport);
    be32(p, SEQ);
    be32(p, ACK);
    u8(p, (uint8_t)((5 + optwords) << 4));
    u8(p, flags);
    be16(p, 65535);
    be16(p, 0);
    be16(p, 0);
    for (int i = 0; i < optwords * 4; i++)
        u8(p, 1); /* NOP */
    if (payload)
        put(p, payload, strlen(payload));
    return at;
}

static const char PAYLOAD[] = "GET / HTTP/1.1\r\n";

/* Ethernet / IPv4 / TCP with PAYLOAD. */
static void build_eth4(struct pk *p)
{
    p->n = 0;
    eth(p, 0x0800);
    size_t ip = ip4(p, 6, 0x4000, IP4_C, IP4_S);
    tcp(p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(p, ip);
}

/* ---- decoding ------------------------------------------------------------- */

static enum decode_result decode_len(int linktype, const struct pk *p, size_t caplen, struct tcp_segment *seg,
                                     struct decoder *d)
{
    /* an exact-size heap copy: reading past caplen is an ASan error */
    uint8_t *copy = malloc(caplen ? caplen : 1);
    assert_non_null(copy);
    memcpy(copy, p->b, caplen);
    struct packet pkt = {copy, (uint32_t)caplen, (uint32_t)p->n, 1700000000123456LL, linktype};
    enum decode_result r = decode_packet(d, &pkt, seg);
    /* pointers into the copy would dangle: rebase them onto p->b */
    if (r == DECODE_TCP) {
        if (seg->payload)
            seg->payload = p->b + (seg->payload - copy);
        if (seg->l3)
            seg->l3 = p->b + (seg->l3 - copy);
    }
    free(copy);
    return r;
}

static enum decode_result decode_all(int linktype, const struct pk *p, struct tcp_segment *seg)
{
    struct decoder d;
    decoder_init(&d, linktype);
    return decode_len(linktype, p, p->n, seg, &d);
}

static const uint8_t V4MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void assert_v4(const struct endpoint *e, const uint8_t ip[4], uint16_t port)
{
    assert_memory_equal(e->addr, V4MAPPED, 12);
    assert_memory_equal(e->addr + 12, ip, 4);
    assert_int_equal(e->port, port);
}

static void assert_seg_v4(const struct tcp_segment *s, const struct pk *p, size_t l3_off)
{
    assert_int_equal(s->ip_version, 4);
    assert_v4(&s->src, IP4_C, 51000);
    assert_v4(&s->dst, IP4_S, 80);
    assert_int_equal(s->seq, SEQ);
    assert_int_equal(s->ack, ACK);
    assert_int_equal(s->flags, TCP_ACK | TCP_PSH);
    assert_int_equal(s->payload_len, strlen(PAYLOAD));
    assert_int_equal(s->payload_wire, strlen(PAYLOAD));
    assert_memory_equal(s->payload, PAYLOAD, strlen(PAYLOAD));
    assert_ptr_equal(s->l3, p->b + l3_off);
    assert_int_equal(s->l3_len, 20 + 20 + strlen(PAYLOAD));
    assert_int_equal(s->ts, 1700000000123456LL);
}

static void ethernet_ipv4(void **state)
{
    (void)state;
    struct pk p;
    build_eth4(&p);
    struct tcp_segment s;
    struct decoder d;
    decoder_init(&d, DLT_EN10MB);
    assert_int_equal(decode_len(DLT_EN10MB, &p, p.n, &s, &d), DECODE_TCP);
    assert_seg_v4(&s, &p, 14);
    assert_int_equal(s.vlan, VLAN_NONE);
    assert_ptr_equal(s.payload, p.b + 14 + 40);
    assert_int_equal(d.stats.tcp, 1);
    assert_int_equal(d.stats.truncated + d.stats.invalid + d.stats.skipped + d.stats.fragments, 0);
}

static void ethernet_padding_not_payload(void **state)
{
    (void)state;
    /* a bare ACK padded to the 60-byte Ethernet minimum */
    struct pk p = {.n = 0};
    eth(&p, 0x0800);
    size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 51000, 80, TCP_ACK, 0, NULL);
    finish_ip4(&p, ip);
    static const uint8_t pad[6] = {0xde, 0xad, 0xbe, 0xef, 0, 0};
    put(&p, pad, sizeof pad);
    assert_int_equal(p.n, 60);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
    assert_int_equal(s.payload_len, 0);
    assert_int_equal(s.payload_wire, 0);
    assert_int_equal(s.l3_len, 40);
    assert_int_equal(s.flags, TCP_ACK);
}

static void tcp_options_skipped(void **state)
{
    (void)state;
    struct pk p = {.n = 0};
    eth(&p, 0x0800);
    size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 51000, 80, TCP_SYN, 3, "xy");
    finish_ip4(&p, ip);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
    assert_int_equal(s.flags, TCP_SYN);
    assert_int_equal(s.payload_len, 2);
    assert_ptr_equal(s.payload, p.b + 14 + 20 + 32);
    assert_memory_equal(s.payload, "xy", 2);
    /* the reserved/ECN bits are not flags */
    p.b[14 + 20 + 13] = 0xc0 | TCP_FIN | TCP_ACK;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
    assert_int_equal(s.flags, TCP_FIN | TCP_ACK);
}

static void vlan_8021q(void **state)
{
    (void)state;
    struct pk p = {.n = 0};
    eth(&p, 0x8100);
    vlan_tag(&p, 0xa123, 0x0800); /* PCP 5, VLAN 0x123 */
    size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(&p, ip);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
    assert_int_equal(s.vlan, 0x123);
    assert_seg_v4(&s, &p, 18);
}

static void vlan_qinq_outer_kept(void **state)
{
    (void)state;
    static const uint16_t outer_types[] = {0x88a8, 0x9100, 0x8100};
    for (size_t i = 0; i < 3; i++) {
        struct pk p = {.n = 0};
        eth(&p, outer_types[i]);
        vlan_tag(&p, 100, 0x8100);
        vlan_tag(&p, 200, 0x0800);
        size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
        tcp(&p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
        finish_ip4(&p, ip);
        struct tcp_segment s;
        assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
        assert_int_equal(s.vlan, 100);
        assert_seg_v4(&s, &p, 22);
    }
    /* VLAN 0 (priority tag) is a real id, not "none" */
    struct pk p = {.n = 0};
    eth(&p, 0x8100);
    vlan_tag(&p, 0x6000, 0x0800);
    size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(&p, ip);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
    assert_int_equal(s.vlan, 0);
}

static void linux_sll(void **state)
{
    (void)state;
    struct pk p = {.n = 0};
    be16(&p, 0);      /* packet type: to us */
    be16(&p, 1);      /* ARPHRD_ETHER */
    be16(&p, 6);      /* address length */
    put(&p, MAC_A, 6);
    be16(&p, 0);      /* address padding to 8 */
    be16(&p, 0x0800); /* protocol */
    assert_int_equal(p.n, 16);
    size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(&p, ip);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_LINUX_SLL, &p, &s), DECODE_TCP);
    assert_seg_v4(&s, &p, 16);
    assert_int_equal(s.vlan, VLAN_NONE);
}

static void linux_sll2(void **state)
{
    (void)state;
    struct pk p = {.n = 0};
    be16(&p, 0x86dd); /* protocol */
    be16(&p, 0);      /* reserved */
    be32(&p, 3);      /* interface index */
    be16(&p, 1);      /* ARPHRD_ETHER */
    u8(&p, 4);        /* packet type: outgoing */
    u8(&p, 6);
    put(&p, MAC_A, 6);
    be16(&p, 0);
    assert_int_equal(p.n, 20);
    size_t ip = ip6(&p, 6);
    tcp(&p, 51000, 443, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip6(&p, ip);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_LINUX_SLL2, &p, &s), DECODE_TCP);
    assert_int_equal(s.ip_version, 6);
    assert_memory_equal(s.src.addr, IP6_C, 16);
    assert_memory_equal(s.dst.addr, IP6_S, 16);
    assert_int_equal(s.src.port, 51000);
    assert_int_equal(s.dst.port, 443);
    assert_int_equal(s.payload_len, strlen(PAYLOAD));
    assert_ptr_equal(s.l3, p.b + 20);
    assert_int_equal(s.l3_len, 40 + 20 + strlen(PAYLOAD));
}

static void raw_ip(void **state)
{
    (void)state;
    struct pk p = {.n = 0};
    size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(&p, ip);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_RAW, &p, &s), DECODE_TCP);
    assert_seg_v4(&s, &p, 0);
    assert_int_equal(decode_all(DLT_IPV4, &p, &s), DECODE_TCP);
    assert_seg_v4(&s, &p, 0);

    struct pk q = {.n = 0};
    ip = ip6(&q, 6);
    tcp(&q, 51000, 80, TCP_ACK, 0, "z");
    finish_ip6(&q, ip);
    assert_int_equal(decode_all(DLT_RAW, &q, &s), DECODE_TCP);
    assert_int_equal(s.ip_version, 6);
    assert_int_equal(s.payload_len, 1);
    assert_int_equal(decode_all(DLT_IPV6, &q, &s), DECODE_TCP);
    assert_int_equal(s.ip_version, 6);
}

static void bsd_loopback(void **state)
{
    (void)state;
    static const uint8_t fam[][4] = {
        {2, 0, 0, 0},  /* AF_INET, little-endian host */
        {0, 0, 0, 2},  /* AF_INET, big-endian host */
    };
    for (size_t i = 0; i < 2; i++) {
        struct pk p = {.n = 0};
        put(&p, fam[i], 4);
        size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
        tcp(&p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
        finish_ip4(&p, ip);
        struct tcp_segment s;
        assert_int_equal(decode_all(DLT_NULL, &p, &s), DECODE_TCP);
        assert_seg_v4(&s, &p, 4);
        assert_int_equal(decode_all(DLT_LOOP, &p, &s), DECODE_TCP);
        assert_seg_v4(&s, &p, 4);
    }
    /* IPv6 over loopback: AF_INET6 is 24, 28 or 30 depending on the BSD */
    struct pk p = {.n = 0};
    static const uint8_t f6[4] = {30, 0, 0, 0};
    put(&p, f6, 4);
    size_t ip = ip6(&p, 6);
    tcp(&p, 51000, 80, TCP_ACK, 0, "v6");
    finish_ip6(&p, ip);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_NULL, &p, &s), DECODE_TCP);
    assert_int_equal(s.ip_version, 6);
    assert_memory_equal(s.payload, "v6", 2);
}

static void build_ipv6_ext(struct pk *p)
{
    p->n = 0;
    eth(p, 0x86dd);
    size_t ip = ip6(p, 0); /* hop-by-hop */
    ext8(p, 60);           /* -> destination options */
    ext8(p, 6);            /* -> TCP */
    tcp(p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip6(p, ip);
}

static void ipv6_extension_chain(void **state)
{
    (void)state;
    struct pk p;
    build_ipv6_ext(&p);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
    assert_int_equal(s.ip_version, 6);
    assert_memory_equal(s.src.addr, IP6_C, 16);
    assert_memory_equal(s.dst.addr, IP6_S, 16);
    assert_int_equal(s.src.port, 51000);
    assert_int_equal(s.dst.port, 80);
    assert_int_equal(s.seq, SEQ);
    assert_int_equal(s.payload_len, strlen(PAYLOAD));
    assert_int_equal(s.payload_wire, strlen(PAYLOAD));
    assert_ptr_equal(s.payload, p.b + 14 + 40 + 16 + 20);
    assert_ptr_equal(s.l3, p.b + 14);
    assert_int_equal(s.l3_len, 40 + 16 + 20 + strlen(PAYLOAD));

    /* a longer destination-options header (hdr ext len 1: 16 bytes) */
    struct pk q = {.n = 0};
    size_t ip = ip6(&q, 60);
    u8(&q, 6);
    u8(&q, 1);
    static const uint8_t padn[14] = {0x01, 12};
    put(&q, padn, 14);
    tcp(&q, 1, 2, TCP_ACK, 0, "abc");
    finish_ip6(&q, ip);
    assert_int_equal(decode_all(DLT_RAW, &q, &s), DECODE_TCP);
    assert_ptr_equal(s.payload, q.b + 40 + 16 + 20);
    assert_int_equal(s.payload_len, 3);
}

static void ipv4_fragments(void **state)
{
    (void)state;
    static const struct {
        uint16_t frag;
        enum decode_result want;
    } cases[] = {
        {0x2000, DECODE_FRAGMENT}, /* MF, offset 0 */
        {0x0010, DECODE_FRAGMENT}, /* offset 16*8 */
        {0x2001, DECODE_FRAGMENT},
        {0x4000, DECODE_TCP},      /* DF only */
        {0x0000, DECODE_TCP},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pk p = {.n = 0};
        eth(&p, 0x0800);
        size_t ip = ip4(&p, 6, cases[i].frag, IP4_C, IP4_S);
        tcp(&p, 51000, 80, TCP_ACK, 0, "x");
        finish_ip4(&p, ip);
        struct tcp_segment s;
        struct decoder d;
        decoder_init(&d, DLT_EN10MB);
        assert_int_equal(decode_len(DLT_EN10MB, &p, p.n, &s, &d), cases[i].want);
        assert_int_equal(d.stats.fragments, cases[i].want == DECODE_FRAGMENT);
    }
}

static void ipv6_fragments(void **state)
{
    (void)state;
    static const struct {
        uint16_t fo;
        enum decode_result want;
    } cases[] = {
        {0x0001, DECODE_FRAGMENT}, /* M */
        {0x0008, DECODE_FRAGMENT}, /* offset 1 */
        {0x0000, DECODE_TCP},      /* atomic fragment (RFC 6946) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pk p = {.n = 0};
        size_t ip = ip6(&p, 44);
        u8(&p, 6);
        u8(&p, 0);
        be16(&p, cases[i].fo);
        be32(&p, 0xabcdef01);
        tcp(&p, 51000, 80, TCP_ACK, 0, "x");
        finish_ip6(&p, ip);
        struct tcp_segment s;
        assert_int_equal(decode_all(DLT_RAW, &p, &s), cases[i].want);
        if (cases[i].want == DECODE_TCP)
            assert_memory_equal(s.payload, "x", 1);
    }
}

/* GTP-U G-PDU inside IPv4/UDP, carrying IPv4/TCP. `ext`: with a PDU session
 * container extension header. */
static void build_gtpu(struct pk *p, bool ext)
{
    static const uint8_t outer_a[4] = {10, 0, 0, 1}, outer_b[4] = {10, 0, 0, 2};
    p->n = 0;
    eth(p, 0x0800);
    size_t oip = ip4(p, 17, 0, outer_a, outer_b);
    size_t udp = p->n;
    be16(p, 2152);
    be16(p, 2152);
    be16(p, 0); /* length, patched */
    be16(p, 0);
    size_t gtp = p->n;
    u8(p, ext ? 0x34 : 0x30); /* version 1, PT, (E) */
    u8(p, 0xff);              /* G-PDU */
    be16(p, 0);               /* length, patched */
    be32(p, 0x00c0ffee);      /* TEID */
    if (ext) {
        be16(p, 0);   /* sequence */
        u8(p, 0);     /* N-PDU */
        u8(p, 0x85);  /* next: PDU session container */
        u8(p, 1);     /* 1 x 4 bytes */
        u8(p, 0x10);
        u8(p, 0x09);
        u8(p, 0);     /* no more */
    }
    size_t iip = ip4(p, 6, 0, IP4_C, IP4_S);
    tcp(p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(p, iip);
    set16(p, gtp + 2, (uint16_t)(p->n - gtp - 8));
    set16(p, udp + 4, (uint16_t)(p->n - udp));
    finish_ip4(p, oip);
}

static void gtpu_tcp(void **state)
{
    (void)state;
    for (int ext = 0; ext < 2; ext++) {
        struct pk p;
        build_gtpu(&p, ext);
        struct tcp_segment s;
        assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
        /* the inner packet's addresses, ports and l3 */
        size_t inner = 14 + 20 + 8 + 8 + (ext ? 8 : 0);
        assert_seg_v4(&s, &p, inner);
    }
    /* a GTP-U echo request is signalling: skipped */
    struct pk p;
    build_gtpu(&p, false);
    p.b[14 + 20 + 8 + 1] = 0x01;
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_SKIP);
}

static void mpls_and_pppoe(void **state)
{
    (void)state;
    struct pk p = {.n = 0};
    eth(&p, 0x8847);
    be32(&p, (1000u << 12) | 0x40);          /* label 1000, not bottom */
    be32(&p, (2000u << 12) | 0x100 | 0x40);  /* bottom of stack */
    size_t ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(&p, ip);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
    assert_seg_v4(&s, &p, 22);

    struct pk q = {.n = 0};
    eth(&q, 0x8864);
    u8(&q, 0x11);  /* version 1, type 1 */
    u8(&q, 0);     /* session data */
    be16(&q, 0x0042);
    be16(&q, 0);   /* length */
    be16(&q, 0x0021); /* PPP: IPv4 */
    ip = ip4(&q, 6, 0, IP4_C, IP4_S);
    tcp(&q, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(&q, ip);
    assert_int_equal(decode_all(DLT_EN10MB, &q, &s), DECODE_TCP);
    assert_seg_v4(&s, &q, 22);
}

/* ---- truncation ----------------------------------------------------------- */

/* Every proper prefix: TRUNCATED, or TCP with the payload cut. */
static void check_prefixes(int linktype, const struct pk *p, const char *name)
{
    struct tcp_segment full;
    assert_int_equal(decode_all(linktype, p, &full), DECODE_TCP);
    size_t payload_off = (size_t)(full.payload - p->b);
    struct decoder d;
    decoder_init(&d, linktype);
    for (size_t k = 0; k < p->n; k++) {
        struct tcp_segment s;
        enum decode_result r = decode_len(linktype, p, k, &s, &d);
        if (r == DECODE_TRUNCATED)
            continue;
        if (r != DECODE_TCP || k < payload_off) {
            print_error("%s: prefix %zu/%zu gave %d\n", name, k, p->n, (int)r);
            fail();
        }
        if (s.payload_len != k - payload_off || s.payload_wire != full.payload_wire ||
            s.payload_len >= s.payload_wire || s.seq != full.seq || s.src.port != full.src.port) {
            print_error("%s: prefix %zu: payload_len %u wire %u (full wire %u)\n", name, k, s.payload_len,
                        s.payload_wire, full.payload_wire);
            fail();
        }
        assert_ptr_equal(s.payload, p->b + payload_off);
    }
    assert_int_equal(d.stats.invalid + d.stats.skipped + d.stats.fragments, 0);
}

static void every_prefix_truncated_or_cut(void **state)
{
    (void)state;
    struct pk p;
    build_eth4(&p);
    check_prefixes(DLT_EN10MB, &p, "eth/ipv4");
    build_ipv6_ext(&p);
    check_prefixes(DLT_EN10MB, &p, "eth/ipv6+ext");
    build_gtpu(&p, false);
    check_prefixes(DLT_EN10MB, &p, "gtpu");
    build_gtpu(&p, true);
    check_prefixes(DLT_EN10MB, &p, "gtpu+ext");

    p.n = 0;
    eth(&p, 0x88a8);
    vlan_tag(&p, 7, 0x8100);
    vlan_tag(&p, 8, 0x86dd);
    size_t ip = ip6(&p, 6);
    tcp(&p, 1, 2, TCP_ACK, 2, "payload!");
    finish_ip6(&p, ip);
    check_prefixes(DLT_EN10MB, &p, "qinq/ipv6");

    p.n = 0;
    static const uint8_t sll[16] = {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0xaa, 0, 0, 0x08, 0x00};
    put(&p, sll, 16);
    ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 1, 2, TCP_ACK, 0, "x");
    finish_ip4(&p, ip);
    check_prefixes(DLT_LINUX_SLL, &p, "sll");

    p.n = 0;
    static const uint8_t sll2[20] = {0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0xaa, 0, 0};
    put(&p, sll2, 20);
    ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 1, 2, TCP_ACK, 0, "x");
    finish_ip4(&p, ip);
    check_prefixes(DLT_LINUX_SLL2, &p, "sll2");

    p.n = 0;
    static const uint8_t lo[4] = {2, 0, 0, 0};
    put(&p, lo, 4);
    ip = ip4(&p, 6, 0, IP4_C, IP4_S);
    tcp(&p, 1, 2, TCP_ACK, 0, "x");
    finish_ip4(&p, ip);
    check_prefixes(DLT_NULL, &p, "null");
}

static void snaplen_cut_payload(void **state)
{
    (void)state;
    struct pk p;
    build_eth4(&p);
    struct tcp_segment s;
    struct decoder d;
    decoder_init(&d, DLT_EN10MB);
    assert_int_equal(decode_len(DLT_EN10MB, &p, 14 + 40 + 4, &s, &d), DECODE_TCP);
    assert_int_equal(s.payload_len, 4);
    assert_int_equal(s.payload_wire, strlen(PAYLOAD));
    assert_int_equal(s.l3_len, 44); /* what was captured of the IP packet */
    assert_int_equal(d.stats.tcp, 1);
}

static void build_ipv4_options(struct pk *p)
{
    p->n = 0;
    eth(p, 0x0800);
    size_t ip = ip4(p, 6, 0, IP4_C, IP4_S);
    p->b[ip] = 0x47; /* IHL 7: 8 bytes of options */
    static const uint8_t opts[8] = {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00}; /* NOPs, EOL */
    put(p, opts, sizeof opts);
    tcp(p, 51000, 80, TCP_ACK | TCP_PSH, 0, PAYLOAD);
    finish_ip4(p, ip);
}

static void ipv4_options_skipped(void **state)
{
    (void)state;
    struct pk p;
    build_ipv4_options(&p);
    struct tcp_segment s;
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_TCP);
    assert_int_equal(s.src.port, 51000);
    assert_int_equal(s.seq, SEQ);
    assert_ptr_equal(s.payload, p.b + 14 + 28 + 20);
    assert_int_equal(s.payload_len, strlen(PAYLOAD));
    assert_int_equal(s.payload_wire, strlen(PAYLOAD));
    assert_int_equal(s.l3_len, 28 + 20 + strlen(PAYLOAD));
    check_prefixes(DLT_EN10MB, &p, "eth/ipv4+options");
}

/* ---- invalid and skipped -------------------------------------------------- */

static void invalid_headers(void **state)
{
    (void)state;
    struct pk p;
    struct tcp_segment s;
    struct decoder d;

    build_eth4(&p);
    p.b[14] = 0x44; /* IHL 4 */
    decoder_init(&d, DLT_EN10MB);
    assert_int_equal(decode_len(DLT_EN10MB, &p, p.n, &s, &d), DECODE_INVALID);
    assert_int_equal(d.stats.invalid, 1);

    build_eth4(&p);
    set16(&p, 14 + 2, 19); /* total length < header */
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_INVALID);

    build_eth4(&p);
    p.b[14] = 0x55; /* IP version 5 */
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_INVALID);

    for (uint8_t off = 0; off < 5; off++) {
        build_eth4(&p);
        p.b[14 + 20 + 12] = (uint8_t)(off << 4); /* TCP data offset < 5 */
        assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_INVALID);
    }

    build_eth4(&p);
    p.b[14 + 20 + 12] = 0xf0; /* 60-byte header in a 36-byte IP payload */
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_INVALID);

    struct pk q = {.n = 0};
    size_t ip = ip6(&q, 6);
    tcp(&q, 1, 2, TCP_ACK, 0, "x");
    finish_ip6(&q, ip);
    set16(&q, 4, 0); /* payload length 0 (jumbogram) */
    assert_int_equal(decode_all(DLT_RAW, &q, &s), DECODE_INVALID);

    /* an extension header longer than the payload */
    q.n = 0;
    ip = ip6(&q, 0);
    u8(&q, 6);
    u8(&q, 200);
    static const uint8_t z[6] = {0};
    put(&q, z, 6);
    tcp(&q, 1, 2, TCP_ACK, 0, "x");
    finish_ip6(&q, ip);
    assert_int_equal(decode_all(DLT_RAW, &q, &s), DECODE_INVALID);
}

static void skipped(void **state)
{
    (void)state;
    struct pk p = {.n = 0};
    struct tcp_segment s;
    struct decoder d;
    decoder_init(&d, DLT_EN10MB);

    eth(&p, 0x0800);
    size_t ip = ip4(&p, 17, 0, IP4_C, IP4_S);
    be16(&p, 5353);
    be16(&p, 53);
    be16(&p, 12);
    be16(&p, 0);
    put(&p, "abcd", 4);
    finish_ip4(&p, ip);
    assert_int_equal(decode_len(DLT_EN10MB, &p, p.n, &s, &d), DECODE_SKIP);
    assert_int_equal(d.stats.skipped, 1);

    p.n = 0;
    eth(&p, 0x0800);
    ip = ip4(&p, 1, 0, IP4_C, IP4_S); /* ICMP */
    put(&p, "\x08\x00\x00\x00\x00\x01\x00\x01", 8);
    finish_ip4(&p, ip);
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_SKIP);

    p.n = 0;
    eth(&p, 0x0806); /* ARP */
    static const uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1};
    put(&p, arp, sizeof arp);
    assert_int_equal(decode_all(DLT_EN10MB, &p, &s), DECODE_SKIP);

    p.n = 0;
    ip = ip6(&p, 59); /* no next header */
    put(&p, "zz", 2);
    finish_ip6(&p, ip);
    assert_int_equal(decode_all(DLT_RAW, &p, &s), DECODE_SKIP);

    p.n = 0;
    ip = ip6(&p, 17); /* UDP over IPv6 */
    be16(&p, 1000);
    be16(&p, 2000);
    be16(&p, 8);
    be16(&p, 0);
    finish_ip6(&p, ip);
    assert_int_equal(decode_all(DLT_RAW, &p, &s), DECODE_SKIP);
}

static void linktypes_supported(void **state)
{
    (void)state;
    assert_true(decode_linktype_supported(DLT_EN10MB));
    assert_true(decode_linktype_supported(DLT_LINUX_SLL));
    assert_true(decode_linktype_supported(DLT_LINUX_SLL2));
    assert_true(decode_linktype_supported(DLT_RAW));
    assert_true(decode_linktype_supported(DLT_NULL));
    assert_true(decode_linktype_supported(DLT_LOOP));
    assert_true(decode_linktype_supported(DLT_IPV4));
    assert_true(decode_linktype_supported(DLT_IPV6));
    assert_false(decode_linktype_supported(DLT_IEEE802_11));
    assert_false(decode_linktype_supported(DLT_PPP));
    assert_false(decode_linktype_supported(-1));
}

static void stats_add_up(void **state)
{
    (void)state;
    struct decoder d;
    decoder_init(&d, DLT_EN10MB);
    struct pk p;
    struct tcp_segment s;
    build_eth4(&p);
    decode_len(DLT_EN10MB, &p, p.n, &s, &d);  /* tcp */
    decode_len(DLT_EN10MB, &p, 20, &s, &d);   /* truncated */
    decode_len(DLT_EN10MB, &p, 0, &s, &d);    /* truncated */
    p.b[14] = 0x43;
    decode_len(DLT_EN10MB, &p, p.n, &s, &d);  /* invalid */
    build_eth4(&p);
    set16(&p, 14 + 6, 0x2000);
    decode_len(DLT_EN10MB, &p, p.n, &s, &d);  /* fragment */
    p.b[12] = 0x08, p.b[13] = 0x06;
    decode_len(DLT_EN10MB, &p, p.n, &s, &d);  /* skipped */
    assert_int_equal(d.stats.tcp, 1);
    assert_int_equal(d.stats.truncated, 2);
    assert_int_equal(d.stats.invalid, 1);
    assert_int_equal(d.stats.fragments, 1);
    assert_int_equal(d.stats.skipped, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ethernet_ipv4),
        cmocka_unit_test(ethernet_padding_not_payload),
        cmocka_unit_test(tcp_options_skipped),
        cmocka_unit_test(vlan_8021q),
        cmocka_unit_test(vlan_qinq_outer_kept),
        cmocka_unit_test(linux_sll),
        cmocka_unit_test(linux_sll2),
        cmocka_unit_test(raw_ip),
        cmocka_unit_test(bsd_loopback),
        cmocka_unit_test(ipv6_extension_chain),
        cmocka_unit_test(ipv4_fragments),
        cmocka_unit_test(ipv6_fragments),
        cmocka_unit_test(gtpu_tcp),
        cmocka_unit_test(mpls_and_pppoe),
        cmocka_unit_test(every_prefix_truncated_or_cut),
        cmocka_unit_test(snaplen_cut_payload),
        cmocka_unit_test(ipv4_options_skipped),
        cmocka_unit_test(invalid_headers),
        cmocka_unit_test(skipped),
        cmocka_unit_test(linktypes_supported),
        cmocka_unit_test(stats_add_up),
    };
    RUN_TESTS(tests);
}
