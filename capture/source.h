/*
 * capture/source.h — packets from libpcap: capture files or a live interface.
 *
 * One `struct capture_source` per -r FILE or -i IFACE. Files may be pcap or
 * pcapng ("-" reads standard input); live capture uses pcap_create() so that
 * buffer size, snaplen and immediate mode can be set before activation.
 */
#ifndef WSSTATS_SOURCE_H
#define WSSTATS_SOURCE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

struct capture_source {
    pcap_t *pcap;
    const char *name;  /* as given: path, "-" or interface */
    char sensor[128];  /* file base name, or the interface */
    bool live;
    int linktype;
    uint64_t packets, bytes;
    /* file: what identifies it (a second run over it is found by these,
     * daemon/wsstatsd.c): its size, -1 unless a regular file, and the time
     * of its first packet, read at open (source_open_file) so that a file
     * libpcap cannot read from its start fails before anything is written */
    int64_t file_size;
    bool has_first;     /* the file has a first packet: first_ts is its time */
    ts_us_t first_ts;
    struct pcap_pkthdr *first_hdr; /* that packet, until source_next returns it */
    const u_char *first_data;
    bool first_pending, at_end;
    int fd;         /* live: pcap's selectable descriptor, polled when idle */
    char *iobuf;    /* file: the stdio buffer libpcap reads through */
    int timeout_ms; /* live: how long source_next waits for a packet */
    /* live: libpcap's 32-bit counters, widened (see source_counters) */
    struct pcap_stat last;
    uint64_t received, dropped, if_dropped;
    bool watch_link; /* live: the interface has flags (source_link_state) */
};

struct live_options {
    const char *filter; /* BPF; NULL for none */
    int snaplen;
    int buffer_size;    /* bytes; 0 for libpcap's default */
    bool promisc;
    int timeout_ms;     /* how long a read may wait */
};

enum source_status {
    SOURCE_PACKET,  /* *pkt holds a packet */
    SOURCE_TIMEOUT, /* live: nothing arrived in time */
    SOURCE_END,     /* file: no more packets */
    SOURCE_ERROR,   /* message in err (e.g. a file cut mid-packet) */
};

/* Both return 0, or -1 with one line naming the culprit in err. A regular
 * file's first packet is read here: a file libpcap cannot read from its
 * start (damaged at once, or a pcapng whose interfaces differ in link type)
 * fails at open. */
int source_open_file(struct capture_source *s, const char *path, char *err, size_t errlen);
int source_open_live(struct capture_source *s, const char *iface, const struct live_options *o,
                     char *err, size_t errlen);

enum source_status source_next(struct capture_source *s, struct packet *pkt, char *err, size_t errlen);

/* libpcap's counters (live only; all 0 otherwise): packets the kernel
 * received for the capture (what passed the filter, dropped ones
 * included), dropped for want of room, dropped by the interface. libpcap
 * keeps them in 32 bits; they are widened here, so that months on a busy
 * tap do not wrap them — as long as they are read at least once per 2^32
 * packets (the daemon reads them every second). */
struct source_counters {
    uint64_t received, dropped, if_dropped;
};
void source_counters(struct capture_source *s, struct source_counters *c);

/* Live: the interface as the kernel sees it now (SIOCGIFFLAGS, asked on
 * libpcap's own packet socket). Down is not up, or up without a carrier
 * (a tap port whose link went away): no traffic passes. A pseudo-interface
 * such as "any" has no flags and is not watched. */
enum link_state { LINK_UNWATCHED, LINK_UP, LINK_DOWN, LINK_GONE };
enum link_state source_link_state(const struct capture_source *s);

void source_close(struct capture_source *s);

#endif
