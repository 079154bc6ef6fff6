/*
 * daemon/options.c — wsstatsd's command line: --help's text, the options
 * and their values, checked (exit 2 with one line naming the option, the
 * value and what was expected).
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/duration.h"
#include "../ship/ship.h"
#include "../store/store.h"

#ifndef WSSTATS_VERSION
#define WSSTATS_VERSION "0.0.0"
#endif

#define LIVE_POLL_MS 200                    /* libpcap returns at least this often when idle */
#define DEFAULT_STATS_US (3600 * 1000000LL) /* a live stats line every hour */
/* The kernel's capture ring: libpcap's 2 MiB holds only 8 packets of the
 * default 256 KiB snaplen in immediate mode, and a burst overflows it. */
#define DEFAULT_BUFFER (64 << 20)

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
            "      --append-again      read a file this database already holds a run of\n"
            "                          (refused by default: its records would be twice)\n"
            "      --skip-recorded     leave such files out and read the others\n"
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
            "      --metrics ADDR:PORT serve Prometheus metrics on http://ADDR:PORT/metrics\n"
            "                          (127.0.0.1:9477, [::1]:9477, :9477 for every address)\n"
            "      --metrics-by KEY    also count the connections by server, host or path\n"
            "                          (the first 20 values seen; later ones as \"other\")\n"
            "      --clickhouse URL    ship the committed records to ClickHouse as they come\n"
            "                          (http://HOST:8123/?database=wsstats; see wsstats export)\n"
            "      --clickhouse-auth FILE  user:password for it (read before privileges go)\n"
            "      --sensor-name NAME  this sensor's name there (default: the host name)\n"
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
    OPT_RETENTION,
    OPT_APPEND_AGAIN,
    OPT_SKIP_RECORDED,
    OPT_METRICS,
    OPT_METRICS_BY,
    OPT_CLICKHOUSE,
    OPT_CLICKHOUSE_AUTH,
    OPT_SENSOR_NAME
};

/* A duration option: microseconds, > 0 unless zero_ok. */
static int duration_option(const char *name, const char *value, bool zero_ok, int64_t *us)
{
    if (!duration_parse(value, us) || (*us == 0 && !zero_ok))
        return usage_error("%s: '%s' is not a duration such as 90s, 15m, 1h, 7d", name, value);
    return 0;
}

int options_parse(int argc, char **argv, struct options *o)
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
        {"append-again", no_argument, NULL, OPT_APPEND_AGAIN},
        {"skip-recorded", no_argument, NULL, OPT_SKIP_RECORDED},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"metrics-by", required_argument, NULL, OPT_METRICS_BY},
        {"clickhouse", required_argument, NULL, OPT_CLICKHOUSE},
        {"clickhouse-auth", required_argument, NULL, OPT_CLICKHOUSE_AUTH},
        {"sensor-name", required_argument, NULL, OPT_SENSOR_NAME},
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
    flow_config_defaults(&o->flow);
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
            if (duration_option("--idle-timeout", optarg, false, &o->flow.idle_timeout))
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
        case OPT_METRICS:
            if (!strchr(optarg, ':'))
                return usage_error("--metrics: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9477)", optarg);
            o->metrics = optarg;
            break;
        case OPT_CLICKHOUSE: o->clickhouse = optarg; break;
        case OPT_CLICKHOUSE_AUTH: o->clickhouse_auth = optarg; break;
        case OPT_SENSOR_NAME:
            if (!ship_sensor_name_ok(optarg))
                return usage_error("--sensor-name: '%s' is not a sensor name (1 to 64 letters, digits, . _ -)", optarg);
            o->sensor_name = optarg;
            break;
        case OPT_METRICS_BY:
            if (strcmp(optarg, "server") == 0)
                o->metrics_by = METRICS_BY_SERVER;
            else if (strcmp(optarg, "host") == 0)
                o->metrics_by = METRICS_BY_HOST;
            else if (strcmp(optarg, "path") == 0)
                o->metrics_by = METRICS_BY_PATH;
            else
                return usage_error("--metrics-by: '%s' is not server, host or path", optarg);
            break;
        case OPT_APPEND_AGAIN:
        case OPT_SKIP_RECORDED:
            if (o->recorded != RECORDED_REFUSE &&
                o->recorded != (c == OPT_APPEND_AGAIN ? RECORDED_APPEND : RECORDED_SKIP))
                return usage_error("%s", "give --append-again or --skip-recorded, not both");
            o->recorded = c == OPT_APPEND_AGAIN ? RECORDED_APPEND : RECORDED_SKIP;
            break;
        case 'u': o->user = optarg; break;
        case OPT_MAX_FLOWS:
            if (!parse_size(optarg, &v) || v == 0 || v > (1u << 30))
                return usage_error("--max-flows: '%s' is not a count from 1 to 1G", optarg);
            o->flow.max_flows = (uint32_t)v;
            break;
        case OPT_STREAM_CAP:
            if (!parse_size(optarg, &v) || v < 4096 || v > (1u << 30))
                return usage_error("--stream-cap: '%s' is not a size from 4K to 1G", optarg);
            o->flow.dir_cap = (uint32_t)v;
            break;
        case OPT_MEMCAP:
            if (!parse_size(optarg, &v) || v < (1u << 16))
                return usage_error("--memcap: '%s' is not a size of at least 64K", optarg);
            o->flow.memcap = (size_t)v;
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
    if ((o->clickhouse_auth || o->sensor_name) && !o->clickhouse)
        return usage_error("%s needs --clickhouse URL", o->clickhouse_auth ? "--clickhouse-auth" : "--sensor-name");
    if (o->clickhouse && !ship_url_ok(o->clickhouse))
        return usage_error("--clickhouse: '%s' is not an http:// or https:// URL", o->clickhouse);
    if (o->metrics_by && !o->metrics)
        return usage_error("%s", "--metrics-by needs --metrics ADDR:PORT");
    char why[600];
    if (store_check_write_path(o->db, why, sizeof why) == STORE_E_BAD_PATH) /* records would vanish */
        return usage_error("-w: %s", why);
    return 0;
}

