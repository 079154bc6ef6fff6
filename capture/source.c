/*
 * capture/source.c — packets from libpcap: capture files or a live interface.
 */
#include "source.h"

#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "../common/path.h"
#include "decode.h"

#define FILE_BUFFER (1u << 17) /* stdio buffer for capture files */

static ts_us_t packet_time(const struct pcap_pkthdr *h);

static void set_sensor(struct capture_source *s, const char *name)
{
    snprintf(s->sensor, sizeof s->sensor, "%s", strcmp(name, "-") == 0 ? "stdin" : path_base(name));
}

static int check_linktype(struct capture_source *s, char *err, size_t errlen)
{
    s->linktype = pcap_datalink(s->pcap);
    if (decode_linktype_supported(s->linktype))
        return 0;
    const char *lname = pcap_datalink_val_to_name(s->linktype);
    snprintf(err, errlen, "%s: unsupported link type %d (%s)", s->name, s->linktype, lname ? lname : "unknown");
    pcap_close(s->pcap);
    s->pcap = NULL;
    return -1;
}

/* The file (or standard input) with a large stdio buffer: libpcap reads
 * each record through stdio, and the default 4 KiB buffer costs a read(2)
 * per 4 KiB — 300,000 system calls for a 1.2 GB capture. 128 KiB stays in
 * the CPU's cache between the kernel's copy and libpcap's: 4% faster on
 * the bench capture than 1 MiB, and 64 KiB no better (bench/README.md). */
static FILE *open_buffered(struct capture_source *s, const char *path, char *ebuf)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!fp) {
        snprintf(ebuf, PCAP_ERRBUF_SIZE, "%s", strerror(errno));
        return NULL;
    }
    struct stat sb; /* standard input has no name to be known by */
    s->file_size = fp != stdin && fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
    if ((s->iobuf = malloc(FILE_BUFFER)) != NULL)
        setvbuf(fp, s->iobuf, _IOFBF, FILE_BUFFER);
    return fp;
}

/* libpcap's words for why a read failed, with the packets read before it;
 * a pcapng of several link types is told what to do about it. */
static void read_error(struct capture_source *s, char *err, size_t errlen)
{
    const char *why = pcap_geterr(s->pcap);
    bool mixed = strstr(why, "different from the type of the first interface") != NULL;
    snprintf(err, errlen, "%s: %s (after packet %llu)%s%s%s", s->name, why, (unsigned long long)s->packets,
             mixed ? "; libpcap reads one link type per file: split it per interface first, with "
                     "wsstats-split-pcapng "
                   : "",
             mixed ? s->name : "", mixed ? " (README, \"Capture files\")" : "");
}

/* A regular file's first packet, kept for source_next: its time identifies
 * the file, and a file that fails at once fails before the database is
 * touched. The packet stays in libpcap's buffer until the next read. */
static int read_first_packet(struct capture_source *s, char *err, size_t errlen)
{
    const u_char *data;
    int rc = pcap_next_ex(s->pcap, &s->first_hdr, &data);
    if (rc == 1) {
        s->first_data = data;
        s->first_pending = s->has_first = true;
        s->first_ts = packet_time(s->first_hdr);
        return 0;
    }
    if (rc == PCAP_ERROR_BREAK) {
        s->at_end = true;
        return 0;
    }
    read_error(s, err, errlen);
    source_close(s);
    return -1;
}

int source_open_file(struct capture_source *s, const char *path, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    memset(s, 0, sizeof *s);
    s->name = path;
    set_sensor(s, path);
    FILE *fp = open_buffered(s, path, ebuf);
    if (fp) {
        s->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
        if (!s->pcap) /* libpcap closes the file only once it has taken it; stdin
                       * too, as nothing else reads it, before its buffer goes */
            fclose(fp);
    }
    if (!s->pcap) {
        free(s->iobuf);
        s->iobuf = NULL;
        /* libpcap often starts its message with the path already */
        if (strncmp(ebuf, path, strlen(path)) == 0)
            snprintf(err, errlen, "%s", ebuf);
        else
            snprintf(err, errlen, "%s: %s", path, ebuf);
        return -1;
    }
    if (check_linktype(s, err, errlen) < 0)
        return -1;
    return s->file_size >= 0 ? read_first_packet(s, err, errlen) : 0;
}

static int live_fail(struct capture_source *s, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s: %s", s->name, what, pcap_geterr(s->pcap));
    pcap_close(s->pcap);
    s->pcap = NULL;
    return -1;
}

/* Explains pcap_activate()'s result in an operator's words. */
static int activate(struct capture_source *s, char *err, size_t errlen)
{
    int rc = pcap_activate(s->pcap);
    if (rc >= 0)
        return 0; /* warnings (e.g. promiscuous mode unsupported) are not fatal */
    const char *why = pcap_statustostr(rc);
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
        why = "no such interface";
    else if (rc == PCAP_ERROR_PERM_DENIED)
        why = "permission denied (run as root or grant CAP_NET_RAW)";
    snprintf(err, errlen, "%s: cannot capture: %s%s%s", s->name, why,
             rc == PCAP_ERROR ? ": " : "", rc == PCAP_ERROR ? pcap_geterr(s->pcap) : "");
    pcap_close(s->pcap);
    s->pcap = NULL;
    return -1;
}

int source_open_live(struct capture_source *s, const char *iface, const struct live_options *o,
                     char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    memset(s, 0, sizeof *s);
    s->name = iface;
    s->live = true;
    s->file_size = -1;
    set_sensor(s, iface);
    s->pcap = pcap_create(iface, ebuf);
    if (!s->pcap) {
        snprintf(err, errlen, "%s: %s", iface, ebuf);
        return -1;
    }
    pcap_set_snaplen(s->pcap, o->snaplen);
    pcap_set_promisc(s->pcap, o->promisc);
    pcap_set_timeout(s->pcap, o->timeout_ms);
    pcap_set_immediate_mode(s->pcap, 1);
    if (o->buffer_size > 0)
        pcap_set_buffer_size(s->pcap, o->buffer_size);
    pcap_set_tstamp_precision(s->pcap, PCAP_TSTAMP_PRECISION_MICRO);
    if (activate(s, err, errlen) < 0)
        return -1;
    /* Non-blocking reads and our own poll(): the loop gets control back
     * every timeout_ms even when no packet comes (libpcap's read timeout
     * does not apply in immediate mode), and a signal cuts the wait short. */
    s->timeout_ms = o->timeout_ms;
    s->fd = pcap_get_selectable_fd(s->pcap);
    if (s->fd < 0 || pcap_setnonblock(s->pcap, 1, ebuf) < 0) {
        snprintf(err, errlen, "%s: cannot read without blocking: %s", iface, s->fd < 0 ? "no selectable descriptor" : ebuf);
        pcap_close(s->pcap);
        s->pcap = NULL;
        return -1;
    }
    if (o->filter) {
        char what[600];
        struct bpf_program prog;
        snprintf(what, sizeof what, "bad filter '%s'", o->filter);
        if (pcap_compile(s->pcap, &prog, o->filter, 1, PCAP_NETMASK_UNKNOWN) < 0)
            return live_fail(s, what, err, errlen);
        int rc = pcap_setfilter(s->pcap, &prog);
        pcap_freecode(&prog);
        snprintf(what, sizeof what, "cannot set filter '%s'", o->filter);
        if (rc < 0)
            return live_fail(s, what, err, errlen);
    }
    if (check_linktype(s, err, errlen) < 0)
        return -1;
    s->watch_link = true;
    s->watch_link = source_link_state(s) != LINK_UNWATCHED;
    return 0;
}

/* The packet's time in microseconds. A pcapng timestamp is 64 bits of any
 * unit: clamp it to 2^62 µs (year 148,000), which leaves the dissector's
 * timer arithmetic (now + timeouts) room; a negative one is the epoch. */
static ts_us_t packet_time(const struct pcap_pkthdr *h)
{
    const int64_t max_sec = ((int64_t)1 << 62) / 1000000;
    int64_t sec = (int64_t)h->ts.tv_sec, usec = (int64_t)h->ts.tv_usec;
    sec = sec < 0 ? 0 : sec > max_sec ? max_sec : sec;
    usec = usec < 0 ? 0 : usec > 999999 ? 999999 : usec;
    return (ts_us_t)(sec * 1000000 + usec);
}

static enum source_status packet_of(struct capture_source *s, const struct pcap_pkthdr *h, const u_char *data,
                                    struct packet *pkt)
{
    pkt->data = data;
    pkt->caplen = h->caplen;
    pkt->len = h->len;
    pkt->ts = packet_time(h);
    pkt->linktype = s->linktype;
    s->packets++;
    s->bytes += h->len;
    return SOURCE_PACKET;
}

enum source_status source_next(struct capture_source *s, struct packet *pkt, char *err, size_t errlen)
{
    if (s->first_pending) {
        s->first_pending = false;
        return packet_of(s, s->first_hdr, s->first_data, pkt);
    }
    if (s->at_end)
        return SOURCE_END;
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc = pcap_next_ex(s->pcap, &h, &data);
    if (rc == 1)
        return packet_of(s, h, data, pkt);
    if (rc == 0) {
        if (s->live) {
            struct pollfd p = {.fd = s->fd, .events = POLLIN};
            if (poll(&p, 1, s->timeout_ms) < 0 && errno != EINTR) {
                snprintf(err, errlen, "%s: waiting for packets: %s", s->name, strerror(errno));
                return SOURCE_ERROR;
            }
        }
        return SOURCE_TIMEOUT;
    }
    if (rc == PCAP_ERROR_BREAK)
        return SOURCE_END;
    read_error(s, err, errlen);
    return SOURCE_ERROR;
}

void source_counters(struct capture_source *s, struct source_counters *c)
{
    struct pcap_stat st;
    if (s->live && s->pcap && pcap_stats(s->pcap, &st) == 0) {
        /* unsigned differences: right across a wrap of the 32-bit counters */
        s->received += (uint32_t)(st.ps_recv - s->last.ps_recv);
        s->dropped += (uint32_t)(st.ps_drop - s->last.ps_drop);
        s->if_dropped += (uint32_t)(st.ps_ifdrop - s->last.ps_ifdrop);
        s->last = st;
    }
    c->received = s->received;
    c->dropped = s->dropped;
    c->if_dropped = s->if_dropped;
}

enum link_state source_link_state(const struct capture_source *s)
{
    if (!s->live || !s->pcap || !s->watch_link)
        return LINK_UNWATCHED;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", s->name);
    if (ioctl(s->fd, SIOCGIFFLAGS, &ifr) < 0)
        return errno == ENODEV || errno == ENXIO ? LINK_GONE : LINK_UNWATCHED;
    return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING) ? LINK_UP : LINK_DOWN;
}

void source_close(struct capture_source *s)
{
    if (s->pcap)
        pcap_close(s->pcap); /* closes the file: its buffer goes after */
    s->pcap = NULL;
    free(s->iobuf);
    s->iobuf = NULL;
}
