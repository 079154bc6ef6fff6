/*
 * capture/packet.h — the units that flow from capture/ into dissect/.
 *
 * A `struct packet` is one libpcap record; `struct tcp_segment` is what the
 * link/IP/TCP decoder makes of it. Both only point into libpcap's buffer:
 * they are valid until the next packet is read and are never stored.
 */
#ifndef WSSTATS_PACKET_H
#define WSSTATS_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/timestamp.h"


struct packet {
    const uint8_t *data;
    uint32_t caplen; /* bytes captured */
    uint32_t len;    /* bytes on the wire */
    ts_us_t ts;
    int linktype;    /* DLT_* of the source */
};

/* An endpoint address: IPv4 is stored v4-mapped (::ffff:a.b.c.d) so that one
 * 16-byte form serves both families. */
struct endpoint {
    uint8_t addr[16];
    uint16_t port;
};

/* TCP header flags (RFC 9293 §3.1). */
enum {
    TCP_FIN = 0x01,
    TCP_SYN = 0x02,
    TCP_RST = 0x04,
    TCP_PSH = 0x08,
    TCP_ACK = 0x10,
    TCP_URG = 0x20,
};

#define VLAN_NONE 0xffffu /* no 802.1Q tag; real ids are 12-bit */

struct tcp_segment {
    struct endpoint src, dst;
    uint16_t vlan;          /* outer VLAN id, or VLAN_NONE */
    uint8_t ip_version;     /* 4 or 6 */
    uint8_t flags;          /* TCP_* */
    uint32_t seq, ack;
    const uint8_t *payload; /* captured part of the TCP payload */
    uint32_t payload_len;   /* captured payload bytes */
    uint32_t payload_wire;  /* payload bytes on the wire (>= payload_len) */
    const uint8_t *l3;      /* the IP header, for nDPI */
    uint32_t l3_len;        /* captured bytes from the IP header on */
    ts_us_t ts;
};

#endif
