/*
 * bench/floor.c — the floor for `make bench`'s speed run (issue 7): the
 * fastest any libpcap reader can go over a capture file, so that wsstatsd's
 * throughput can be stated as a share of it.
 *
 * A bare pcap_next_ex() loop that counts packets and their bytes (wire
 * length, as wsstatsd's captures row does) and touches nothing else. Prints
 * one line:  packets N bytes N seconds S  (seconds of the loop alone, by
 * CLOCK_MONOTONIC; opening the file is not counted), and with -v the peak
 * RSS by getrusage.
 *
 *   floor [-v] FILE
 *
 * Exit status: 0, 1 if the file cannot be read, 2 on a usage error.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int verbose = argc == 3 && strcmp(argv[1], "-v") == 0;
    if (argc != 2 + verbose) {
        fprintf(stderr, "usage: floor [-v] FILE\n");
        return 2;
    }
    const char *path = argv[1 + verbose];
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!p) {
        fprintf(stderr, "floor: %s: %s\n", path, ebuf);
        return 1;
    }
    uint64_t packets = 0, bytes = 0;
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    double t0 = now_s();
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        bytes += h->len;
    }
    double t1 = now_s();
    if (rc != PCAP_ERROR_BREAK) {
        fprintf(stderr, "floor: %s: %s\n", path, pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    printf("packets %llu bytes %llu seconds %.6f\n", (unsigned long long)packets, (unsigned long long)bytes,
           t1 - t0);
    if (verbose) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
            printf("peak RSS %ld KiB\n", ru.ru_maxrss);
    }
    return 0;
}
