/*
 * capture/decode.c — link layer, IP and TCP decoding of one packet.
 *
 * Link layers: Ethernet with any stack of 802.1Q / 802.1ad (QinQ) tags, MPLS
 * and PPPoE sessions; Linux cooked captures v1 and v2; raw IP; BSD loopback
 * (DLT_NULL in either byte order, DLT_LOOP). IPv4 (RFC 791) and IPv6 (RFC
 * 8200, walking extension headers), and GTP-U (3GPP TS 29.281) tunnels as
 * seen on mobile taps. Every read is bounds-checked through bytes.h.
 */
#include "decode.h"

#include <pcap/pcap.h>
#include <string.h>

#include "../common/bytes.h"

/* EtherTypes (IEEE 802 numbers registry). */
enum {
    ETHERTYPE_IPV4 = 0x0800,
    ETHERTYPE_VLAN = 0x8100,   /* 802.1Q */
    ETHERTYPE_QINQ = 0x88a8,   /* 802.1ad service tag */
    ETHERTYPE_QINQ_OLD = 0x9100,
    ETHERTYPE_IPV6 = 0x86dd,
    ETHERTYPE_MPLS = 0x8847,
    ETHERTYPE_MPLS_MC = 0x8848,
    ETHERTYPE_PPPOE = 0x8864,
};

/* IP protocol numbers / IPv6 next-header values (IANA). */
enum {
    IPPROTO_HOPOPTS_ = 0,
    IPPROTO_TCP_ = 6,
    IPPROTO_UDP_ = 17,
    IPPROTO_ROUTING_ = 43,
    IPPROTO_FRAGMENT_ = 44,
    IPPROTO_AH_ = 51,
    IPPROTO_NONE_ = 59,
    IPPROTO_DSTOPTS_ = 60,
    IPPROTO_MOBILITY_ = 135,
    IPPROTO_HIP_ = 139,
    IPPROTO_SHIM6_ = 140,
};

#define GTPU_PORT 2152
#define MAX_TUNNEL_DEPTH 2  /* GTP-U inside GTP-U is not followed further */
#define MAX_IPV6_EXT_HEADERS 16
#define MAX_MPLS_LABELS 8
#define MAX_VLAN_TAGS 4

struct walk {
    const uint8_t *p;
    size_t len;
    struct tcp_segment *seg;
    int depth;
};

static enum decode_result decode_ip(struct walk *w, size_t off);
static enum decode_result decode_ethertype(struct walk *w, uint16_t type, size_t off);

bool decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case DLT_NULL:
    case DLT_EN10MB:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_LOOP:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
#if DLT_RAW != 14
    case 14: /* OpenBSD's DLT_RAW */
#endif
        return true;
    default:
        return false;
    }
}

void decoder_init(struct decoder *d, int linktype)
{
    memset(d, 0, sizeof *d);
    d->linktype = linktype;
}

/* RFC 9293 §3.1: the TCP header and where its payload lies. `ip_payload` is
 * the number of bytes the IP header says follow it. */
static enum decode_result decode_tcp(struct walk *w, size_t off, size_t ip_payload)
{
    if (!bytes_have(w->len, off, 14)) /* up to the data offset and flags */
        return DECODE_TRUNCATED;
    const uint8_t *h = w->p + off;
    size_t hlen = (size_t)(h[12] >> 4) * 4;
    if (hlen < 20 || hlen > ip_payload)
        return DECODE_INVALID;
    if (!bytes_have(w->len, off, hlen)) /* the whole header: its fixed 20 bytes are read below */
        return DECODE_TRUNCATED;
    struct tcp_segment *s = w->seg;
    s->src.port = bytes_be16_at(h, 0);
    s->dst.port = bytes_be16_at(h, 2);
    s->seq = bytes_be32_at(h, 4);
    s->ack = bytes_be32_at(h, 8);
    s->flags = h[13] & 0x3f;
    size_t payload_off = off + hlen;
    size_t wire = ip_payload - hlen;
    size_t captured = w->len - payload_off;
    s->payload = w->p + payload_off;
    s->payload_wire = (uint32_t)wire;
    s->payload_len = (uint32_t)(captured < wire ? captured : wire);
    return DECODE_TCP;
}

/* 3GPP TS 29.281 §5.1: a GTPv1-U G-PDU carries a user IP packet. */
static enum decode_result decode_gtpu(struct walk *w, size_t off)
{
    uint8_t flags, type;
    if (!bytes_u8(w->p, w->len, off, &flags) || !bytes_u8(w->p, w->len, off + 1, &type))
        return DECODE_TRUNCATED;
    if ((flags >> 5) != 1 || !(flags & 0x10) || type != 0xff)
        return DECODE_SKIP; /* not GTPv1, or a signalling message */
    size_t pos = off + 8;
    if (flags & 0x07) { /* E, S or PN: 4 more bytes, the last the next-extension type */
        uint8_t next;
        if (!bytes_u8(w->p, w->len, pos + 3, &next))
            return DECODE_TRUNCATED;
        pos += 4;
        for (int i = 0; next != 0 && i < 8; i++) {
            uint8_t units;
            if (!bytes_u8(w->p, w->len, pos, &units))
                return DECODE_TRUNCATED;
            if (units == 0)
                return DECODE_INVALID;
            pos += (size_t)units * 4;
            if (!bytes_u8(w->p, w->len, pos - 1, &next))
                return DECODE_TRUNCATED;
        }
        if (next != 0)
            return DECODE_INVALID;
    }
    if (++w->depth > MAX_TUNNEL_DEPTH)
        return DECODE_SKIP;
    return decode_ip(w, pos);
}

static enum decode_result decode_udp(struct walk *w, size_t off)
{
    uint16_t sport, dport;
    if (!bytes_be16(w->p, w->len, off, &sport) || !bytes_be16(w->p, w->len, off + 2, &dport))
        return DECODE_TRUNCATED;
    if (sport == GTPU_PORT || dport == GTPU_PORT)
        return decode_gtpu(w, off + 8);
    return DECODE_SKIP;
}

static enum decode_result decode_l4(struct walk *w, uint8_t proto, size_t off, size_t ip_payload)
{
    if (proto == IPPROTO_TCP_)
        return decode_tcp(w, off, ip_payload);
    if (proto == IPPROTO_UDP_)
        return decode_udp(w, off);
    return DECODE_SKIP;
}

/* The l3 view handed to nDPI: from the IP header to the end of the captured
 * IP packet (link-layer padding excluded). Set for the innermost header. */
static void set_l3(struct walk *w, size_t off, size_t ip_total)
{
    size_t avail = w->len - off;
    w->seg->l3 = w->p + off;
    w->seg->l3_len = (uint32_t)(avail < ip_total ? avail : ip_total);
}

/* RFC 791 §3.1. */
static enum decode_result decode_ipv4(struct walk *w, size_t off)
{
    if (!bytes_have(w->len, off, 10)) /* up to the protocol */
        return DECODE_TRUNCATED;
    const uint8_t *h = w->p + off;
    size_t ihl = (size_t)(h[0] & 0x0f) * 4;
    uint16_t total = bytes_be16_at(h, 2);
    if (ihl < 20 || total < ihl)
        return DECODE_INVALID;
    if (!bytes_have(w->len, off, 20)) /* the fixed header, addresses included */
        return DECODE_TRUNCATED;
    if (bytes_be16_at(h, 6) & 0x3fff) /* MF set or a non-zero offset */
        return DECODE_FRAGMENT;
    struct tcp_segment *s = w->seg;
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memcpy(s->src.addr, v4mapped, 12);
    memcpy(s->src.addr + 12, h + 12, 4);
    memcpy(s->dst.addr, v4mapped, 12);
    memcpy(s->dst.addr + 12, h + 16, 4);
    s->ip_version = 4;
    set_l3(w, off, total);
    if (!bytes_have(w->len, off, ihl))
        return DECODE_TRUNCATED;
    return decode_l4(w, h[9], off + ihl, total - ihl);
}

/* RFC 8200 §4: skip extension headers up to the upper-layer header. */
static enum decode_result decode_ipv6(struct walk *w, size_t off)
{
    uint16_t plen;
    uint8_t next;
    if (!bytes_be16(w->p, w->len, off + 4, &plen) || !bytes_u8(w->p, w->len, off + 6, &next))
        return DECODE_TRUNCATED;
    if (!bytes_have(w->len, off + 8, 32))
        return DECODE_TRUNCATED;
    if (plen == 0)
        return DECODE_INVALID; /* jumbograms (RFC 2675) are not seen on taps */
    struct tcp_segment *s = w->seg;
    memcpy(s->src.addr, w->p + off + 8, 16);
    memcpy(s->dst.addr, w->p + off + 24, 16);
    s->ip_version = 6;
    set_l3(w, off, (size_t)plen + 40);
    size_t pos = off + 40, left = plen;
    for (int i = 0; i < MAX_IPV6_EXT_HEADERS; i++) {
        uint8_t hdr_next, hdr_len;
        size_t ext;
        switch (next) {
        case IPPROTO_HOPOPTS_:
        case IPPROTO_ROUTING_:
        case IPPROTO_DSTOPTS_:
        case IPPROTO_MOBILITY_:
        case IPPROTO_HIP_:
        case IPPROTO_SHIM6_:
        case IPPROTO_FRAGMENT_:
        case IPPROTO_AH_:
            if (!bytes_u8(w->p, w->len, pos, &hdr_next) || !bytes_u8(w->p, w->len, pos + 1, &hdr_len))
                return DECODE_TRUNCATED;
            if (next == IPPROTO_FRAGMENT_) {
                uint16_t fo;
                if (!bytes_be16(w->p, w->len, pos + 2, &fo))
                    return DECODE_TRUNCATED;
                if (fo & 0xfff9) /* offset or M flag */
                    return DECODE_FRAGMENT;
                ext = 8;
            } else if (next == IPPROTO_AH_) {
                ext = ((size_t)hdr_len + 2) * 4; /* RFC 4302 §2.2 */
            } else {
                ext = ((size_t)hdr_len + 1) * 8;
            }
            if (ext > left)
                return DECODE_INVALID;
            pos += ext;
            left -= ext;
            next = hdr_next;
            break;
        case IPPROTO_NONE_:
            return DECODE_SKIP;
        default:
            return decode_l4(w, next, pos, left);
        }
    }
    return DECODE_INVALID;
}

static enum decode_result decode_ip(struct walk *w, size_t off)
{
    uint8_t v;
    if (!bytes_u8(w->p, w->len, off, &v))
        return DECODE_TRUNCATED;
    switch (v >> 4) {
    case 4: return decode_ipv4(w, off);
    case 6: return decode_ipv6(w, off);
    default: return DECODE_INVALID;
    }
}

/* RFC 3032 §2.1: pop labels to the bottom of the stack, then guess IP. */
static enum decode_result decode_mpls(struct walk *w, size_t off)
{
    for (int i = 0; i < MAX_MPLS_LABELS; i++, off += 4) {
        uint32_t entry;
        if (!bytes_be32(w->p, w->len, off, &entry))
            return DECODE_TRUNCATED;
        if (entry & 0x100) /* bottom of stack */
            return decode_ip(w, off + 4);
    }
    return DECODE_INVALID;
}

/* RFC 2516 §4: PPPoE session header, then the PPP protocol field. */
static enum decode_result decode_pppoe(struct walk *w, size_t off)
{
    uint16_t proto;
    if (!bytes_be16(w->p, w->len, off + 6, &proto))
        return DECODE_TRUNCATED;
    if (proto == 0x0021 || proto == 0x0057)
        return decode_ip(w, off + 8);
    return DECODE_SKIP;
}

/* Dispatch on an EtherType, popping 802.1Q/802.1ad tags; the first (outer)
 * tag's VLAN id goes into the flow key. */
static enum decode_result decode_ethertype(struct walk *w, uint16_t type, size_t off)
{
    for (int tags = 0; type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD; tags++) {
        uint16_t tci;
        if (tags == MAX_VLAN_TAGS)
            return DECODE_INVALID;
        if (!bytes_be16(w->p, w->len, off, &tci) || !bytes_be16(w->p, w->len, off + 2, &type))
            return DECODE_TRUNCATED;
        if (w->seg->vlan == VLAN_NONE)
            w->seg->vlan = tci & 0x0fff;
        off += 4;
    }
    switch (type) {
    case ETHERTYPE_IPV4:
    case ETHERTYPE_IPV6: return decode_ip(w, off);
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_MC: return decode_mpls(w, off);
    case ETHERTYPE_PPPOE: return decode_pppoe(w, off);
    default: return DECODE_SKIP;
    }
}

/* BSD loopback: a 4-byte address family, host order (DLT_NULL, either byte
 * order since it depends on the capturing machine) or network order
 * (DLT_LOOP). Only the IP version nibble really matters. */
static enum decode_result decode_loopback(struct walk *w)
{
    if (!bytes_have(w->len, 0, 4))
        return DECODE_TRUNCATED;
    return decode_ip(w, 4);
}

static enum decode_result decode_link(struct walk *w, int linktype)
{
    uint16_t type;
    switch (linktype) {
    case DLT_EN10MB:
        if (!bytes_be16(w->p, w->len, 12, &type))
            return DECODE_TRUNCATED;
        return decode_ethertype(w, type, 14);
    case DLT_LINUX_SLL: /* 16-byte header, protocol last */
        if (!bytes_be16(w->p, w->len, 14, &type))
            return DECODE_TRUNCATED;
        return decode_ethertype(w, type, 16);
    case DLT_LINUX_SLL2: /* 20-byte header, protocol first */
        if (!bytes_be16(w->p, w->len, 0, &type))
            return DECODE_TRUNCATED;
        return decode_ethertype(w, type, 20);
    case DLT_NULL:
    case DLT_LOOP:
        return decode_loopback(w);
    default: /* DLT_RAW, DLT_IPV4, DLT_IPV6 */
        return decode_ip(w, 0);
    }
}

enum decode_result decode_packet(struct decoder *d, const struct packet *pkt, struct tcp_segment *seg)
{
    memset(seg, 0, sizeof *seg);
    seg->vlan = VLAN_NONE;
    seg->ts = pkt->ts;
    struct walk w = {.p = pkt->data, .len = pkt->caplen, .seg = seg};
    enum decode_result r = decode_link(&w, d->linktype);
    switch (r) {
    case DECODE_TCP: d->stats.tcp++; break;
    case DECODE_SKIP: d->stats.skipped++; break;
    case DECODE_FRAGMENT: d->stats.fragments++; break;
    case DECODE_TRUNCATED: d->stats.truncated++; break;
    case DECODE_INVALID: d->stats.invalid++; break;
    }
    return r;
}
