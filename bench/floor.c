/*
 * bench/floor.c — the floor for `make bench`'s speed runs (issues 7, 21):
 * the fastest any libpcap reader can go over a capture file, so that
 * wsstatsd's throughput can be stated as a share of it.
 *
 * A bare pcap_next_ex() loop over a file opened with fopen() and given a
 * stdio buffer of BYTES (default 128 KiB, what wsstatsd uses; libpcap's own
 * pcap_open_offline() leaves stdio's 4 KiB, three to four times slower).
 * It counts packets and their bytes (wire length, as wsstatsd's captures
 * row does) and touches each captured packet's bytes (one load per 64-byte
 * cache line, folded into a checksum that is printed, so the compiler keeps
 * the loads): a reader that looks at its packets can go no faster. Prints
 * one line:  packets N bytes N seconds S buffer B sum X  (seconds of the
 * loop alone, by CLOCK_MONOTONIC; opening the file is not counted), and
 * with -v the peak RSS by getrusage.
 *
 *   floor [-v] [-b BYTES] FILE
 *
 * bench/speed.sh runs it with several buffer sizes and takes the fastest.
 * Exit status: 0, 1 if the file cannot be read, 2 on a usage error.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BUFFER (128u * 1024)
#define CACHE_LINE 64

struct floor_run {
    uint64_t packets, bytes, sum;
    double seconds;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One load per cache line of the captured bytes. */
static uint64_t touch(const u_char *data, uint32_t caplen)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < caplen; i += CACHE_LINE)
        s += data[i];
    return s;
}

static int read_all(pcap_t *p, const char *path, struct floor_run *r)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    double t0 = now_s();
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        r->packets++;
        r->bytes += h->len;
        r->sum += touch(data, h->caplen);
    }
    r->seconds = now_s() - t0;
    if (rc != PCAP_ERROR_BREAK) {
        fprintf(stderr, "floor: %s: %s\n", path, pcap_geterr(p));
        return 1;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: floor [-v] [-b BYTES] FILE\n");
    return 2;
}

int main(int argc, char **argv)
{
    int verbose = 0, opt;
    unsigned long buffer = DEFAULT_BUFFER;
    while ((opt = getopt(argc, argv, "vb:")) != -1) {
        char *end;
        if (opt == 'v')
            verbose = 1;
        else if (opt == 'b' && (buffer = strtoul(optarg, &end, 10)) >= 512 && *end == '\0' && buffer <= (1ul << 30))
            continue;
        else
            return usage();
    }
    if (optind != argc - 1)
        return usage();
    const char *path = argv[optind];
    FILE *fp = fopen(path, "rb");
    char *iobuf = malloc(buffer);
    if (!fp || !iobuf) {
        fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
        free(iobuf);
        if (fp)
            fclose(fp);
        return 1;
    }
    setvbuf(fp, iobuf, _IOFBF, buffer);
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!p) {
        fprintf(stderr, "floor: %s: %s\n", path, ebuf);
        fclose(fp);
        free(iobuf);
        return 1;
    }
    struct floor_run r = {0};
    int rc = read_all(p, path, &r);
    pcap_close(p); /* closes fp */
    free(iobuf);
    if (rc)
        return rc;
    printf("packets %llu bytes %llu seconds %.6f buffer %lu sum %llu\n", (unsigned long long)r.packets,
           (unsigned long long)r.bytes, r.seconds, buffer, (unsigned long long)r.sum);
    if (verbose) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
            printf("peak RSS %ld KiB\n", ru.ru_maxrss);
    }
    return 0;
}
