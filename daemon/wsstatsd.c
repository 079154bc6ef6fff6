/*
 * daemon/wsstatsd.c — the capture daemon: options, the packet loop, wiring.
 *
 * capture/ (libpcap, link/IP/TCP decoding) -> dissect/ (flows, reassembly,
 * WebSocket) -> store/ (SQLite). Exit codes (DESIGN §1): 0 success, 1 a
 * runtime error, 2 a usage error; every error is one line on stderr.
 *
 * Live capture runs a timer off the packet loop (libpcap wakes it at least
 * every LIVE_POLL_MS): once a second (TICK_US) idle connections expire and
 * the captures row's figures go to the store; stats lines are logged. The
 * packet loop never waits for SQLite: the store's writer thread commits the
 * records (within a second), writes the captures row, deletes old records
 * (--retention), reopens the file (SIGHUP) and retries a failing database,
 * and tells what happened through on_store_report().
 * Signal handlers only set flags (DESIGN §6): SIGINT/SIGTERM stop, SIGUSR1
 * logs stats, SIGHUP reopens the database.
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
#include <unistd.h>

#include "../capture/decode.h"
#include "../capture/source.h"
#include "../app/classify.h"
#include "../engine/dissect.h"
#include "../store/store.h"
#include "../common/duration.h"
#include "log.h"
#include "privdrop.h"

#ifndef WSSTATS_VERSION
#define WSSTATS_VERSION "0.0.0"
#endif

#define MAX_SOURCES 64
#define LIVE_POLL_MS 200           /* libpcap returns at least this often when idle */
#define TICK_US 1000000            /* live: expiry and the captures row's figures */
#define DEFAULT_STATS_US (3600 * 1000000LL) /* a live stats line every hour */
/* The kernel's capture ring: libpcap's 2 MiB holds only 8 packets of the
 * default 256 KiB snaplen in immediate mode, and a burst overflows it. */
#define DEFAULT_BUFFER (64 << 20)

/* Set by signal handlers, read by the loop: the only mutable statics. */
static volatile sig_atomic_t stop_requested, stats_requested, reopen_requested;

struct options {
    const char *files[MAX_SOURCES];
    int nfiles;
    const char *iface;
    const char *db;
    struct live_options live;
    struct dissect_config dissect;
    int verbosity; /* 0 quiet, 1 normal, 2 verbose */
    const char *user;      /* -u: drop to this user after start-up */
    bool syslog;
    int64_t stats_interval; /* µs; 0: none */
    int64_t retention;      /* µs; 0: keep everything */
};

struct daemon {
    struct options opt;
    struct capture_source sources[MAX_SOURCES];
    int nsources;
    struct classifier *classifier;
    struct store *store;
    struct dissector dis;
    struct logger log;
    uint64_t records_written; /* handed to the store (committed or queued) */
    uint64_t lost_reported;
    struct capture_row row;   /* the current source's captures row */
    int capture;              /* its handle in the store */
    ts_us_t next_tick, next_stats;
    uint64_t stats_packets; /* packets at the last stats line */
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
            "      --buffer-size BYTES live capture buffer (default: 64M)\n"
            "      --no-promisc        do not put the interface in promiscuous mode\n"
            "\n"
            "Output:\n"
            "  -w, --db PATH           the database (default: $WSSTATS_DB or ./wsstats.db)\n"
            "      --retention DUR     delete records that ended longer ago than DUR\n"
            "                          (with -r: before the newest record)\n"
            "\n"
            "Tracking:\n"
            "      --idle-timeout DUR  expire connections silent this long (default: 15m)\n"
            "      --max-flows N       TCP flows tracked at once (default: 1048576)\n"
            "      --memcap BYTES      memory for flows, connection state, nDPI's state and\n"
            "                          out-of-order data, all together (default: 256M)\n"
            "      --stream-cap BYTES  out-of-order data held per direction (default: 1M)\n"
            "\n"
            "Running:\n"
            "  -u, --user USER         after opening the capture and the database, run as\n"
            "                          USER (its group and supplementary groups)\n"
            "      --stats-interval DUR  live: log a stats line this often (default: 1h;\n"
            "                          0 = never); SIGUSR1 logs one at once\n"
            "      --syslog            also log to syslog (facility daemon)\n"
            "  -q, --quiet             print errors only (and stats asked for by SIGUSR1)\n"
            "  -v, --verbose           print per-source statistics\n"
            "  -h, --help              this help\n"
            "  -V, --version           the version\n"
            "\n"
            "Signals: SIGINT/SIGTERM stop (open connections written as unfinished),\n"
            "SIGUSR1 logs stats, SIGHUP reopens the database file.\n"
            "Durations: 90s, 15m, 1h, 7d. Sizes: 512K, 64M, 1G.\n"
            "Exit status: 0 success, 1 runtime error, 2 usage error. See wsstatsd(8).\n");
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

enum {
    OPT_SNAPLEN = 256,
    OPT_BUFFER,
    OPT_NO_PROMISC,
    OPT_IDLE,
    OPT_MAX_FLOWS,
    OPT_MEMCAP,
    OPT_STREAM_CAP,
    OPT_STATS,
    OPT_SYSLOG,
    OPT_RETENTION
};

/* A duration option: microseconds, > 0 unless zero_ok. */
static int duration_option(const char *name, const char *value, bool zero_ok, int64_t *us)
{
    if (!duration_parse(value, us) || (*us == 0 && !zero_ok))
        return usage_error("%s: '%s' is not a duration such as 90s, 15m, 1h, 7d", name, value);
    return 0;
}

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
        {"user", required_argument, NULL, 'u'},
        {"stats-interval", required_argument, NULL, OPT_STATS},
        {"syslog", no_argument, NULL, OPT_SYSLOG},
        {"retention", required_argument, NULL, OPT_RETENTION},
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
    o->live.timeout_ms = LIVE_POLL_MS;
    o->live.buffer_size = DEFAULT_BUFFER;
    o->stats_interval = DEFAULT_STATS_US;
    dissect_config_defaults(&o->dissect);
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, ":r:i:f:w:u:qvhV", longopts, NULL)) != -1) {
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
        case OPT_IDLE:
            if (duration_option("--idle-timeout", optarg, false, &o->dissect.idle_timeout))
                return 2;
            break;
        case OPT_STATS:
            if (duration_option("--stats-interval", optarg, true, &o->stats_interval))
                return 2;
            break;
        case OPT_RETENTION:
            if (duration_option("--retention", optarg, false, &o->retention))
                return 2;
            break;
        case OPT_SYSLOG: o->syslog = true; break;
        case 'u': o->user = optarg; break;
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

static ts_us_t wall_us(void)
{
    return (ts_us_t)(wall_clock() * 1e6);
}

/* ---- the database: its writer tells failures, recoveries and reopens once */

/* Called on the store's writer thread: only the logger (which any thread
 * may use) and constant options are touched. */
static void on_store_report(void *arg, enum store_level level, const char *msg)
{
    const struct daemon *dm = arg;
    int priority = level == STORE_ERROR ? LOG_ERR : level == STORE_WARNING ? LOG_WARNING : LOG_NOTICE;
    log_msg(&dm->log, priority, "%s: %s", dm->opt.db, msg);
}

/* Records lost to a full queue, told once. */
static void note_lost(struct daemon *dm)
{
    uint64_t lost = store_lost(dm->store);
    if (lost > dm->lost_reported) {
        if (dm->lost_reported == 0)
            log_msg(&dm->log, LOG_ERR, "%s: the record queue is full: new records are being lost", dm->opt.db);
        dm->lost_reported = lost;
    }
}

static void on_record(void *arg, const struct ws_record *r)
{
    struct daemon *dm = arg;
    if (store_add(dm->store, r) == 0)
        dm->records_written++; /* written, or queued for the writer */
    else
        note_lost(dm);
}

/* Called on the classifier thread: only the store, which locks, is touched
 * (a flow not counted is counted in store_tls_lost(), told at the end). */
static void on_tls(void *arg, const struct tls_flow *t)
{
    const struct daemon *dm = arg;
    store_tls_add(dm->store, t);
}

/* ---- signals: handlers only set flags ---------------------------------- */

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_stats(int sig)
{
    (void)sig;
    stats_requested = 1;
}

static void on_reopen(int sig)
{
    (void)sig;
    reopen_requested = 1;
}

static void install_signals(void)
{
    static const struct {
        int sig;
        void (*fn)(int);
    } handlers[] = {{SIGINT, on_stop}, {SIGTERM, on_stop}, {SIGUSR1, on_stats}, {SIGHUP, on_reopen}};
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = handlers[i].fn;
        sigemptyset(&sa.sa_mask);
        sigaction(handlers[i].sig, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
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
            log_msg(&dm->log, LOG_ERR, "%s", dm->err);
            return -1;
        }
        dm->nsources++;
    }
    return 0;
}

/* The source's figures (its connections are counted by the store). */
static void capture_row_fill(struct daemon *dm, struct capture_source *s, struct capture_row *row, uint64_t flows0)
{
    row->sensor = s->sensor;
    row->source = s->name;
    row->live = s->live;
    row->packets = s->packets;
    row->bytes = s->bytes;
    struct source_counters pc;
    source_counters(s, &pc);
    row->received = pc.received;
    row->drops = pc.dropped;
    row->if_drops = pc.if_dropped;
    row->tcp_flows = dm->dis.stats.flows - flows0;
}

/* ---- the live timer ------------------------------------------------------ */

/* One stats line; `asked` (SIGUSR1) shows it even under -q. */
static void log_stats(struct daemon *dm, struct capture_source *s, bool asked)
{
    struct source_counters pc;
    source_counters(s, &pc);
    const struct dissect_stats *d = &dm->dis.stats;
    char line[768];
    snprintf(line, sizeof line,
             "stats: packets %llu (+%llu), bytes %llu, flows %llu (%u in the table), records %llu (%zu queued, "
             "%llu lost), received %llu, drops %llu kernel %llu interface, memcap hits %llu, evicted %llu",
             (unsigned long long)s->packets, (unsigned long long)(s->packets - dm->stats_packets),
             (unsigned long long)s->bytes, (unsigned long long)d->flows, dm->dis.nflows,
             (unsigned long long)dm->records_written, store_queued(dm->store),
             (unsigned long long)store_lost(dm->store), (unsigned long long)pc.received,
             (unsigned long long)pc.dropped, (unsigned long long)pc.if_dropped,
             (unsigned long long)(dm->dis.reasm.stats.memcap_hits + d->memcap_evictions),
             (unsigned long long)(d->evicted + d->evicted_other));
    if (asked)
        log_asked(&dm->log, LOG_INFO, "%s", line);
    else
        log_msg(&dm->log, LOG_INFO, "%s", line);
    dm->stats_packets = s->packets;
}

/* Signals, expiry, the captures row's figures and stats lines; nothing here
 * waits for the database (the store's writer does that). */
static void live_tick(struct daemon *dm, struct capture_source *s, uint64_t flows0)
{
    ts_us_t now = wall_us();
    if (reopen_requested) {
        reopen_requested = 0;
        log_msg(&dm->log, LOG_DEBUG, "SIGHUP: reopening %s", dm->opt.db);
        store_reopen(dm->store); /* the writer says "reopened" when done */
    }
    if (stats_requested) {
        stats_requested = 0;
        log_stats(dm, s, true);
    }
    if (now >= dm->next_tick) {
        dissect_expire(&dm->dis, now);
        capture_row_fill(dm, s, &dm->row, flows0);
        store_capture_update(dm->store, dm->capture, &dm->row);
        note_lost(dm);
        dm->next_tick = now + TICK_US;
    }
    if (dm->opt.stats_interval > 0 && now >= dm->next_stats) {
        if (dm->next_stats)
            log_stats(dm, s, false);
        dm->next_stats = now + dm->opt.stats_interval;
    }
}

/* ---- one source ---------------------------------------------------------- */

/* Reads one source to its end (or to a stop signal). Returns 0, or -1 if the
 * source failed part-way; what was read before the damage is kept. */
static int run_source(struct daemon *dm, struct capture_source *s)
{
    dm->row = (struct capture_row){.started_at = wall_clock(), .first_packet_at = -1, .status = "running"};
    uint64_t flows0 = dm->dis.stats.flows;
    capture_row_fill(dm, s, &dm->row, flows0);
    dm->capture = store_capture_begin(dm->store, &dm->row); /* written by the store as soon as it can */
    if (dm->capture < 0)
        log_msg(&dm->log, LOG_ERR, "%s: %s (capturing anyway)", dm->opt.db, store_error(dm->store));
    struct decoder dec;
    decoder_init(&dec, s->linktype);
    int rc = 0;
    dm->next_tick = wall_us() + TICK_US;
    while (!stop_requested) {
        struct packet pkt;
        struct tcp_segment seg;
        enum source_status st = source_next(s, &pkt, dm->err, sizeof dm->err);
        if (st == SOURCE_END)
            break;
        if (st == SOURCE_ERROR) {
            log_msg(&dm->log, LOG_ERR, "%s", dm->err);
            rc = -1;
            break;
        }
        if (st == SOURCE_PACKET) {
            if (dm->row.first_packet_at < 0)
                dm->row.first_packet_at = (double)pkt.ts / 1e6;
            dm->row.last_packet_at = (double)pkt.ts / 1e6;
            if (decode_packet(&dec, &pkt, &seg) == DECODE_TCP)
                dissect_segment(&dm->dis, &seg, s->sensor);
        }
        if (s->live)
            live_tick(dm, s, flows0);
    }
    log_msg(&dm->log, LOG_DEBUG, "%s: %llu packets: %llu TCP, %llu other, %llu fragments, %llu truncated, %llu invalid",
            s->name, (unsigned long long)s->packets, (unsigned long long)dec.stats.tcp,
            (unsigned long long)dec.stats.skipped, (unsigned long long)dec.stats.fragments,
            (unsigned long long)dec.stats.truncated, (unsigned long long)dec.stats.invalid);
    if (s == &dm->sources[dm->nsources - 1] || stop_requested) {
        /* The capture is over: open connections are written unfinished,
         * ending when it ended (DESIGN §2) — for a live capture now, not at
         * its last packet, which may be long ago on a quiet link. */
        ts_us_t end = wall_us();
        if (s->live && end > dm->dis.now)
            dm->dis.now = end;
        dissect_finish(&dm->dis);
    }
    capture_row_fill(dm, s, &dm->row, flows0);
    dm->row.ended_at = wall_clock();
    dm->row.status = rc < 0 ? dm->err : stop_requested ? "stopped" : "complete";
    store_capture_update(dm->store, dm->capture, &dm->row);
    store_commit(dm->store); /* a failure was told by the store; teardown counts what is left */
    note_lost(dm);
    return rc;
}

/* What the flow table and reassembly did, and how often a limit bit. */
static void report_tracking(struct daemon *dm)
{
    const struct dissect_stats *s = &dm->dis.stats;
    const struct reasm_stats *r = &dm->dis.reasm.stats;
    log_msg(&dm->log, LOG_DEBUG,
            "flows: %llu seen, %llu WebSocket, %llu not WebSocket, %llu port reuses, %llu expired idle, "
            "%llu segments out of window; "
            "limits: %llu WebSocket and %llu other flows evicted for room (%llu of those by --memcap)",
            (unsigned long long)s->flows, (unsigned long long)s->websocket, (unsigned long long)s->ignored,
            (unsigned long long)s->port_reuse, (unsigned long long)s->idle_expired,
            (unsigned long long)s->out_of_window, (unsigned long long)s->evicted, (unsigned long long)s->evicted_other,
            (unsigned long long)s->memcap_evictions);
    log_msg(&dm->log, LOG_DEBUG,
            "reassembly: %llu bytes in order, %llu segments held out of order, %llu duplicates, "
            "%llu conflicting overlaps, %llu gaps (%llu bytes); limits: memcap hit %llu times, "
            "--stream-cap %llu times",
            (unsigned long long)r->delivered_bytes, (unsigned long long)r->held_segments,
            (unsigned long long)r->duplicates, (unsigned long long)r->overlap_conflicts,
            (unsigned long long)r->gaps, (unsigned long long)r->gap_bytes,
            (unsigned long long)r->memcap_hits, (unsigned long long)r->dir_cap_hits);
    log_msg(&dm->log, LOG_DEBUG, "anomalies: %llu handshake heads over 16 KiB, %llu frame lengths with the top bit set",
            (unsigned long long)s->heads_oversized, (unsigned long long)s->frames_len_msb);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        log_msg(&dm->log, LOG_DEBUG, "memory: peak RSS %ld KiB", ru.ru_maxrss);
}

/* Without -v: one line when a limit cost records or data. */
static void warn_limits(struct daemon *dm)
{
    const struct dissect_stats *s = &dm->dis.stats;
    const struct reasm_stats *r = &dm->dis.reasm.stats;
    if (s->evicted)
        log_msg(&dm->log, LOG_WARNING,
                "warning: %llu WebSocket connections were evicted before they ended "
                "(termination evicted): raise --memcap or --max-flows",
                (unsigned long long)s->evicted);
    if (r->memcap_hits || r->dir_cap_hits)
        log_msg(&dm->log, LOG_WARNING,
                "warning: out-of-order data found no room %llu times (--memcap %llu, --stream-cap %llu): "
                "reported as gaps",
                (unsigned long long)(r->memcap_hits + r->dir_cap_hits), (unsigned long long)r->memcap_hits,
                (unsigned long long)r->dir_cap_hits);
}

/* -u USER: the database files go to the user, then root is given up. */
static int drop_privileges(struct daemon *dm)
{
    if (!dm->opt.user)
        return 0;
    char wal[4096], shm[4096];
    snprintf(wal, sizeof wal, "%s-wal", dm->opt.db);
    snprintf(shm, sizeof shm, "%s-shm", dm->opt.db);
    const char *files[] = {dm->opt.db, wal, shm, NULL};
    if (privdrop(dm->opt.user, files, dm->err, sizeof dm->err) < 0) {
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
        return -1;
    }
    log_msg(&dm->log, LOG_NOTICE, "running as %s (uid %u, gid %u)", dm->opt.user, (unsigned)getuid(),
            (unsigned)getgid());
    return 0;
}

/* Started unprivileged with CAP_NET_RAW (systemd, setcap): the capture is
 * open, the capabilities go — before any thread exists, as they are each
 * thread's own. */
static int drop_capabilities(struct daemon *dm)
{
    if (dm->opt.user)
        return 0; /* -u: root's way down, after the database is open */
    int rc = privdrop_capabilities(dm->err, sizeof dm->err);
    if (rc < 0)
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
    else if (rc > 0)
        log_msg(&dm->log, LOG_NOTICE, "running as uid %u, gid %u, capabilities dropped", (unsigned)getuid(),
                (unsigned)getgid());
    return rc < 0 ? -1 : 0;
}

static int setup(struct daemon *dm)
{
    if (dm->opt.user && privdrop_check(dm->opt.user, dm->err, sizeof dm->err) < 0) {
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
        return -1;
    }
    if (open_sources(dm) < 0 || drop_capabilities(dm) < 0)
        return -1;
    if (!gcry_check_version(GCRYPT_VERSION)) {
        log_msg(&dm->log, LOG_ERR, "libgcrypt version mismatch");
        return -1;
    }
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    dm->classifier = classifier_new(dm->err, sizeof dm->err);
    if (!dm->classifier) {
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
        return -1;
    }
    if (dissector_init(&dm->dis, &dm->opt.dissect, dm->classifier, on_record, dm) < 0) {
        log_msg(&dm->log, LOG_ERR, "out of memory for %u flows (lower --max-flows)", dm->opt.dissect.max_flows);
        return -1;
    }
    dissector_on_tls(&dm->dis, on_tls, dm);
    struct store_options so = {.report = on_store_report,
                               .report_arg = dm,
                               .live = dm->opt.iface != NULL,
                               .retention = (double)dm->opt.retention / 1e6};
    struct store_open_error e;
    dm->store = store_open(dm->opt.db, STORE_WRITE, &so, &e);
    if (!dm->store) {
        log_msg(&dm->log, LOG_ERR, "%s", e.msg);
        return -1;
    }
    return drop_privileges(dm);
}

/* Closes the database; records that still could not be written are an
 * error, named with their number. The dissector and the classifier go
 * first: releasing the flows left in the table makes nDPI give up on them,
 * and a TLS flow it guesses then is still counted in the open store. */
static int teardown(struct daemon *dm)
{
    int failed = 0;
    dissector_free(&dm->dis);
    classifier_free(dm->classifier); /* joins the thread: every report made */
    dm->classifier = NULL;
    if (dm->store) {
        size_t queued = store_queued(dm->store);
        uint64_t lost = store_lost(dm->store), tls_lost = store_tls_lost(dm->store);
        if (tls_lost)
            log_msg(&dm->log, LOG_ERR, "%s: %llu TLS flows were not counted while the database could not be written",
                    dm->opt.db, (unsigned long long)tls_lost);
        if (store_close(dm->store, dm->err, sizeof dm->err) < 0) {
            log_msg(&dm->log, LOG_ERR, "%s: %s: %zu records could not be written", dm->opt.db, dm->err, queued);
            failed = 1;
        }
        if (lost) {
            log_msg(&dm->log, LOG_ERR, "%s: %llu records were lost while the database could not be written",
                    dm->opt.db, (unsigned long long)lost);
            failed = 1;
        }
    }
    for (int i = 0; i < dm->nsources; i++)
        source_close(&dm->sources[i]);
    log_close(&dm->log);
    return failed;
}

int main(int argc, char **argv)
{
    static struct daemon dm; /* lives for the whole run; not shared with anything */
    int rc = parse_options(argc, argv, &dm.opt);
    if (rc)
        return rc;
    log_open(&dm.log, dm.opt.verbosity, dm.opt.syslog);
    install_signals();
    if (setup(&dm) < 0) {
        teardown(&dm);
        return 1;
    }
    if (dm.opt.iface)
        log_msg(&dm.log, LOG_NOTICE, "capturing on %s (filter '%s'), writing to %s", dm.opt.iface,
                dm.opt.live.filter ? dm.opt.live.filter : "", dm.opt.db);
    int failed = 0;
    for (int i = 0; i < dm.nsources && !stop_requested; i++)
        failed |= run_source(&dm, &dm.sources[i]) < 0;
    if (dm.opt.verbosity >= 2)
        report_tracking(&dm);
    else
        warn_limits(&dm);
    uint64_t packets = 0;
    for (int i = 0; i < dm.nsources; i++)
        packets += dm.sources[i].packets;
    /* --retention from files: against the newest record (DESIGN §5) */
    if (dm.opt.retention > 0 && !dm.opt.iface && store_expire(dm.store) < 0)
        log_msg(&dm.log, LOG_ERR, "%s: %s", dm.opt.db, store_error(dm.store));
    log_msg(&dm.log, LOG_INFO, "%llu packets, %llu TCP flows, %llu WebSocket connections written to %s",
            (unsigned long long)packets, (unsigned long long)dm.dis.stats.flows,
            (unsigned long long)dm.records_written, dm.opt.db);
    failed |= teardown(&dm);
    return failed ? 1 : 0;
}
