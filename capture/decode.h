/*
 * capture/decode.h — link layer, IP and TCP decoding of one packet.
 *
 * Turns a libpcap record into a `struct tcp_segment`, or says why not. Like
 * a tcpdump dissector it has two failure exits, counted apart: a packet cut
 * short (truncated) and one whose headers make no sense (invalid). Packets
 * that are fine but not TCP are merely skipped.
 */
#ifndef WSSTATS_DECODE_H
#define WSSTATS_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

enum decode_result {
    DECODE_TCP,       /* *seg holds a TCP segment */
    DECODE_SKIP,      /* well-formed, but not TCP over IP (ARP, UDP, ...) */
    DECODE_FRAGMENT,  /* an IP fragment: not reassembled */
    DECODE_TRUNCATED, /* the capture cut a header short */
    DECODE_INVALID,   /* a header that cannot be right */
};

struct decode_stats {
    uint64_t tcp, skipped, fragments, truncated, invalid;
};

struct decoder {
    int linktype;
    struct decode_stats stats;
};

/* True if decode_packet() understands this DLT_* link type. */
bool decode_linktype_supported(int linktype);

void decoder_init(struct decoder *d, int linktype);

/* Decodes pkt; on DECODE_TCP fills *seg (pointing into pkt->data). */
enum decode_result decode_packet(struct decoder *d, const struct packet *pkt,
                                 struct tcp_segment *seg);

#endif
