/*
 * daemon/wsstatsd.c — the capture daemon: options, the packet loop, wiring.
 *
 * capture/ (libpcap, link/IP/TCP decoding) -> dissect/ (flows, reassembly,
 * WebSocket) -> store/ (SQLite). Exit codes (DESIGN §1): 0 success, 1 a
 * runtime error, 2 a usage error; every error is one line on stderr.
 */
#include <errno.h>
#include <gcrypt.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../capture/decode.h"
#include "../capture/source.h"
#include "../dissect/classify.h"
#include "../dissect/dissect.h"
#include "../store/store.h"
#include "../cli/duration.h"

#ifndef WSSTATS_VERSION
#define WSSTATS_VERSION "0.0.0"
#endif

#define MAX_SOURCES 64
#define LIVE_COMMIT_US 1000000 /* live records reach the database within ~1 s */

/* Set by signal handlers, read by the loop: the one mutable static. */
static volatile sig_atomic_t stop_requested;

struct options {
    const char *files[MAX_SOURCES];
    int nfiles;
    const char *iface;
    const char *db;
    struct live_options live;
    struct dissect_config dissect;
    int verbosity; /* 0 quiet, 1 normal, 2 verbose */
};

struct daemon {
    struct options opt;
    struct capture_source sources[MAX_SOURCES];
    int nsources;
    struct classifier *classifier;
    struct store *store;
    struct dissector dis;
    uint64_t records_written;
    bool store_failed;
    char err[1024];
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wsstatsd [OPTIONS] -r FILE [-r FILE ...]\n"
            "       wsstatsd [OPTIONS] -i INTERFACE\n"
            "\n"
            "Follows every WebSocket connection in the traffic and writes one record per\n"
            "connection (close code, reason, initiator, outcome, counters) to SQLite.\n"
            "\n"
            "Sources:\n"
            "  -r, --read FILE         read a pcap or pcapng file (repeatable; - is stdin)\n"
            "  -i, --interface IFACE   capture live from IFACE (needs root or CAP_NET_RAW)\n"
            "  -f, --filter BPF        live capture filter (default: tcp)\n"
            "      --snaplen BYTES     live capture length per packet (default: 262144)\n"
            "      --buffer-size BYTES live capture buffer (default: libpcap's)\n"
            "      --no-promisc        do not put the interface in promiscuous mode\n"
            "\n"
            "Output:\n"
            "  -w, --db PATH           the database (default: $WSSTATS_DB or ./wsstats.db)\n"
            "\n"
            "Tracking:\n"
            "      --idle-timeout DUR  expire connections silent this long (default: 15m)\n"
            "      --max-flows N       TCP flows tracked at once (default: 1048576)\n"
            "      --memcap BYTES      memory for flows, connection state and out-of-order\n"
            "                          data, all together (default: 256M)\n"
            "      --stream-cap BYTES  out-of-order data held per direction (default: 1M)\n"
            "\n"
            "  -q, --quiet             print errors only\n"
            "  -v, --verbose           print per-source statistics\n"
            "  -h, --help              this help\n"
            "  -V, --version           the version\n"
            "\n"
            "Durations: 90s, 15m, 1h, 7d. Sizes: 512K, 64M, 1G.\n"
            "Exit status: 0 success, 1 runtime error, 2 usage error. See wsstatsd(8).\n");
}

__attribute__((format(printf, 1, 2))) static void complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wsstatsd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wsstatsd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see wsstatsd --help)\n", stderr);
    va_end(ap);
    return 2;
}

/* "64M" -> bytes; false if malformed. */
static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return false;
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1ull << 30, end++;
    if (*end != '\0' || v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

enum { OPT_SNAPLEN = 256, OPT_BUFFER, OPT_NO_PROMISC, OPT_IDLE, OPT_MAX_FLOWS, OPT_MEMCAP, OPT_STREAM_CAP };

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"read", required_argument, NULL, 'r'},
        {"interface", required_argument, NULL, 'i'},
        {"filter", required_argument, NULL, 'f'},
        {"db", required_argument, NULL, 'w'},
        {"snaplen", required_argument, NULL, OPT_SNAPLEN},
        {"buffer-size", required_argument, NULL, OPT_BUFFER},
        {"no-promisc", no_argument, NULL, OPT_NO_PROMISC},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
        {"memcap", required_argument, NULL, OPT_MEMCAP},
        {"stream-cap", required_argument, NULL, OPT_STREAM_CAP},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->verbosity = 1;
    o->db = getenv("WSSTATS_DB") && *getenv("WSSTATS_DB") ? getenv("WSSTATS_DB") : "wsstats.db";
    o->live = (struct live_options){.filter = "tcp", .snaplen = 262144, .promisc = true, .timeout_ms = 200};
    dissect_config_defaults(&o->dissect);
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, ":r:i:f:w:qvhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (o->nfiles == MAX_SOURCES)
                return usage_error("too many -r files (at most %s)", "64");
            o->files[o->nfiles++] = optarg;
            break;
        case 'i': o->iface = optarg; break;
        case 'f': o->live.filter = optarg; break;
        case 'w': o->db = optarg; break;
        case OPT_SNAPLEN:
            if (!parse_size(optarg, &v) || v < 64 || v > 262144)
                return usage_error("--snaplen: '%s' is not a size from 64 to 262144", optarg);
            o->live.snaplen = (int)v;
            break;
        case OPT_BUFFER:
            if (!parse_size(optarg, &v) || v > (1u << 31) - 1)
                return usage_error("--buffer-size: '%s' is not a size below 2G", optarg);
            o->live.buffer_size = (int)v;
            break;
        case OPT_NO_PROMISC: o->live.promisc = false; break;
        case OPT_IDLE: {
            int64_t us;
            if (!duration_parse(optarg, &us) || us <= 0)
                return usage_error("--idle-timeout: '%s' is not a duration such as 90s, 15m, 1h", optarg);
            o->dissect.idle_timeout = us;
            break;
        }
        case OPT_MAX_FLOWS:
            if (!parse_size(optarg, &v) || v == 0 || v > (1u << 30))
                return usage_error("--max-flows: '%s' is not a count from 1 to 1G", optarg);
            o->dissect.max_flows = (uint32_t)v;
            break;
        case OPT_STREAM_CAP:
            if (!parse_size(optarg, &v) || v < 4096 || v > (1u << 30))
                return usage_error("--stream-cap: '%s' is not a size from 4K to 1G", optarg);
            o->dissect.dir_cap = (uint32_t)v;
            break;
        case OPT_MEMCAP:
            if (!parse_size(optarg, &v) || v < (1u << 16))
                return usage_error("--memcap: '%s' is not a size of at least 64K", optarg);
            o->dissect.memcap = (size_t)v;
            break;
        case 'q': o->verbosity = 0; break;
        case 'v': o->verbosity = 2; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("wsstatsd %s\n", WSSTATS_VERSION); exit(0);
        case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (o->nfiles && o->iface)
        return usage_error("%s", "give either -r FILE or -i INTERFACE, not both");
    if (!o->nfiles && !o->iface)
        return usage_error("%s", "no source: give -r FILE or -i INTERFACE");
    return 0;
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_record(void *arg, const struct ws_record *r)
{
    struct daemon *dm = arg;
    if (dm->store_failed)
        return;
    if (store_add(dm->store, r) < 0) {
        complain("%s: %s", dm->opt.db, store_error(dm->store));
        dm->store_failed = true;
        return;
    }
    dm->records_written++;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Opens every source before the database is touched: a bad file name
 * leaves no trace in the database. */
static int open_sources(struct daemon *dm)
{
    struct options *o = &dm->opt;
    int n = o->iface ? 1 : o->nfiles;
    for (int i = 0; i < n; i++) {
        int rc = o->iface ? source_open_live(&dm->sources[i], o->iface, &o->live, dm->err, sizeof dm->err)
                          : source_open_file(&dm->sources[i], o->files[i], dm->err, sizeof dm->err);
        if (rc < 0) {
            complain("%s", dm->err);
            return -1;
        }
        dm->nsources++;
    }
    return 0;
}

static void capture_row_fill(struct daemon *dm, struct capture_source *s, struct capture_row *row,
                             uint64_t flows0, uint64_t records0)
{
    row->sensor = s->sensor;
    row->source = s->name;
    row->live = s->live;
    row->packets = s->packets;
    row->bytes = s->bytes;
    source_drops(s, &row->drops, &row->if_drops);
    row->tcp_flows = dm->dis.stats.flows - flows0;
    row->connections = dm->records_written - records0;
}

/* Reads one source to its end (or to a stop signal). Returns 0, or -1 if the
 * source failed part-way; what was read before the damage is kept. */
static int run_source(struct daemon *dm, struct capture_source *s)
{
    struct capture_row row = {.started_at = wall_clock(), .first_packet_at = -1, .status = "running"};
    uint64_t flows0 = dm->dis.stats.flows, records0 = dm->records_written;
    capture_row_fill(dm, s, &row, flows0, records0);
    int64_t id = store_capture_begin(dm->store, &row);
    if (id < 0) {
        complain("%s: %s", dm->opt.db, store_error(dm->store));
        return -1;
    }
    struct decoder dec;
    decoder_init(&dec, s->linktype);
    int rc = 0;
    ts_us_t last_commit = 0;
    while (!stop_requested && !dm->store_failed) {
        struct packet pkt;
        struct tcp_segment seg;
        enum source_status st = source_next(s, &pkt, dm->err, sizeof dm->err);
        if (st == SOURCE_END)
            break;
        if (st == SOURCE_ERROR) {
            complain("%s", dm->err);
            rc = -1;
            break;
        }
        if (st == SOURCE_PACKET) {
            if (row.first_packet_at < 0)
                row.first_packet_at = (double)pkt.ts / 1e6;
            row.last_packet_at = (double)pkt.ts / 1e6;
            if (decode_packet(&dec, &pkt, &seg) == DECODE_TCP)
                dissect_segment(&dm->dis, &seg, s->sensor);
        }
        if (s->live) {
            ts_us_t now = (ts_us_t)(wall_clock() * 1e6);
            if (now - last_commit >= LIVE_COMMIT_US) {
                dissect_expire(&dm->dis, now);
                store_commit(dm->store);
                last_commit = now;
            }
        }
    }
    if (dm->opt.verbosity >= 2)
        complain("%s: %llu packets: %llu TCP, %llu other, %llu fragments, %llu truncated, %llu invalid",
                 s->name, (unsigned long long)s->packets, (unsigned long long)dec.stats.tcp,
                 (unsigned long long)dec.stats.skipped, (unsigned long long)dec.stats.fragments,
                 (unsigned long long)dec.stats.truncated, (unsigned long long)dec.stats.invalid);
    if (s == &dm->sources[dm->nsources - 1])
        dissect_finish(&dm->dis); /* the last source: the capture is over */
    capture_row_fill(dm, s, &row, flows0, records0);
    row.ended_at = wall_clock();
    row.status = rc < 0 ? dm->err : stop_requested ? "stopped" : "complete";
    if (store_capture_update(dm->store, id, &row) < 0) {
        complain("%s: %s", dm->opt.db, store_error(dm->store));
        return -1;
    }
    return rc;
}

/* What the flow table and reassembly did, and how often a limit bit. */
static void report_tracking(const struct dissector *d)
{
    const struct dissect_stats *s = &d->stats;
    const struct reasm_stats *r = &d->reasm.stats;
    complain("flows: %llu seen, %llu WebSocket, %llu not WebSocket, %llu port reuses, %llu expired idle, "
             "%llu segments out of window; "
             "limits: %llu WebSocket and %llu other flows evicted for room (%llu of those by --memcap)",
             (unsigned long long)s->flows, (unsigned long long)s->websocket, (unsigned long long)s->ignored,
             (unsigned long long)s->port_reuse, (unsigned long long)s->idle_expired,
             (unsigned long long)s->out_of_window, (unsigned long long)s->evicted, (unsigned long long)s->evicted_other,
             (unsigned long long)s->memcap_evictions);
    complain("reassembly: %llu bytes in order, %llu segments held out of order, %llu duplicates, "
             "%llu conflicting overlaps, %llu gaps (%llu bytes); limits: memcap hit %llu times, "
             "--stream-cap %llu times",
             (unsigned long long)r->delivered_bytes, (unsigned long long)r->held_segments,
             (unsigned long long)r->duplicates, (unsigned long long)r->overlap_conflicts,
             (unsigned long long)r->gaps, (unsigned long long)r->gap_bytes,
             (unsigned long long)r->memcap_hits, (unsigned long long)r->dir_cap_hits);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        complain("memory: peak RSS %ld KiB", ru.ru_maxrss);
}

/* Without -v: one line when a limit cost records or data. */
static void warn_limits(const struct dissector *d)
{
    const struct dissect_stats *s = &d->stats;
    const struct reasm_stats *r = &d->reasm.stats;
    if (s->evicted)
        complain("warning: %llu WebSocket connections were evicted before they ended "
                 "(termination evicted): raise --memcap or --max-flows",
                 (unsigned long long)s->evicted);
    if (r->memcap_hits || r->dir_cap_hits)
        complain("warning: out-of-order data found no room %llu times (--memcap %llu, --stream-cap %llu): "
                 "reported as gaps",
                 (unsigned long long)(r->memcap_hits + r->dir_cap_hits), (unsigned long long)r->memcap_hits,
                 (unsigned long long)r->dir_cap_hits);
}

static int setup(struct daemon *dm)
{
    if (open_sources(dm) < 0)
        return -1;
    if (!gcry_check_version(GCRYPT_VERSION)) {
        complain("libgcrypt version mismatch");
        return -1;
    }
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    dm->classifier = classifier_new(dm->err, sizeof dm->err);
    if (!dm->classifier) {
        complain("%s", dm->err);
        return -1;
    }
    if (dissector_init(&dm->dis, &dm->opt.dissect, dm->classifier, on_record, dm) < 0) {
        complain("out of memory for %u flows (lower --max-flows)", dm->opt.dissect.max_flows);
        return -1;
    }
    dm->store = store_open_write(dm->opt.db, dm->err, sizeof dm->err);
    if (!dm->store) {
        complain("%s", dm->err);
        return -1;
    }
    return 0;
}

static void teardown(struct daemon *dm)
{
    if (dm->store && store_close(dm->store, dm->err, sizeof dm->err) < 0)
        complain("%s: %s", dm->opt.db, dm->err);
    dissector_free(&dm->dis);
    classifier_free(dm->classifier);
    for (int i = 0; i < dm->nsources; i++)
        source_close(&dm->sources[i]);
}

int main(int argc, char **argv)
{
    static struct daemon dm; /* lives for the whole run; not shared with anything */
    int rc = parse_options(argc, argv, &dm.opt);
    if (rc)
        return rc;
    install_signals();
    if (setup(&dm) < 0) {
        teardown(&dm);
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < dm.nsources && !stop_requested && !dm.store_failed; i++)
        failed |= run_source(&dm, &dm.sources[i]) < 0;
    if (stop_requested || dm.store_failed)
        dissect_finish(&dm.dis);
    if (dm.opt.verbosity >= 2)
        report_tracking(&dm.dis);
    else if (dm.opt.verbosity == 1)
        warn_limits(&dm.dis);
    if (dm.opt.verbosity >= 1) {
        uint64_t packets = 0;
        for (int i = 0; i < dm.nsources; i++)
            packets += dm.sources[i].packets;
        fprintf(stderr, "wsstatsd: %llu packets, %llu TCP flows, %llu WebSocket connections written to %s\n",
                (unsigned long long)packets, (unsigned long long)dm.dis.stats.flows,
                (unsigned long long)dm.records_written, dm.opt.db);
    }
    if (dm.store && store_commit(dm.store) < 0) {
        complain("%s: %s", dm.opt.db, store_error(dm.store));
        failed = 1;
    }
    teardown(&dm);
    return failed || dm.store_failed ? 1 : 0;
}
