/*
 * fuzz/fuzz_decode.c — libFuzzer target for capture/decode.c, the link
 * layer, IP and TCP decoder.
 *
 * Input: byte 0 picks the link type (index into `linktypes`, modulo its
 * size); the rest is one captured frame, copied into a buffer of exactly its
 * size so that a read past caplen is an ASan report. When the decoder says
 * DECODE_TCP, the segment must point inside the frame, and every byte it
 * points at (payload, IP header view for nDPI) is read.
 *
 * Seeds (fuzz/mkseeds.py): every packet of the project's captures, one file
 * each, prefixed with its link type's index.
 */
#include <pcap/pcap.h>
#include <string.h>

#include "../capture/decode.h"
#include "fuzz.h"

/* Keep in step with fuzz/mkseeds.py (LINKTYPES). */
static const int linktypes[] = {
    DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4, DLT_IPV6, DLT_NULL, DLT_LOOP, 14,
};
#define NLINKTYPES (sizeof linktypes / sizeof linktypes[0])

static volatile unsigned sink;

static void touch(const uint8_t *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += p[i];
    sink += s;
}

/* True if [p, p+n) lies inside [base, base+len). */
static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
    return p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    int linktype = linktypes[fuzz_u8(&in) % NLINKTYPES];
    fuzz_check(decode_linktype_supported(linktype));
    uint8_t *frame = fuzz_dup(in.p, in.n);
    struct packet pkt = {
        .data = frame, .caplen = (uint32_t)in.n, .len = (uint32_t)in.n, .ts = 1700000000000000LL,
        .linktype = linktype,
    };
    struct decoder dec;
    decoder_init(&dec, linktype);
    struct tcp_segment seg;
    enum decode_result r = decode_packet(&dec, &pkt, &seg);
    const struct decode_stats *st = &dec.stats;
    fuzz_check(st->tcp + st->skipped + st->fragments + st->truncated + st->invalid == 1);
    if (r == DECODE_TCP) {
        fuzz_check(seg.ip_version == 4 || seg.ip_version == 6);
        fuzz_check((seg.flags & ~0x3f) == 0);
        fuzz_check(seg.vlan == VLAN_NONE || seg.vlan <= 0xfff);
        fuzz_check(seg.payload_len <= seg.payload_wire);
        fuzz_check(seg.payload != NULL && inside(seg.payload, seg.payload_len, frame, in.n));
        touch(seg.payload, seg.payload_len);
        fuzz_check(seg.l3 != NULL && inside(seg.l3, seg.l3_len, frame, in.n));
        touch(seg.l3, seg.l3_len);
        /* the payload follows the IP header it was found under */
        fuzz_check(seg.payload >= seg.l3);
        fuzz_check(seg.ts == pkt.ts);
    }
    free(frame);
    return 0;
}
