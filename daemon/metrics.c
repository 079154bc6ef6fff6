/*
 * daemon/metrics.c — wsstatsd's counters and their Prometheus text
 * exposition (format 0.0.4: https://prometheus.io/docs/instrumenting/
 * exposition_formats/). Every series is declared in wsstatsd(8).
 *
 * Label sets are bounded: a connection's `code` is its close code
 * (1000-1015 always, the first METRICS_CODES_MAX others seen, later ones
 * their registry range such as "4000-4999", "none" without one), with
 * `outcome`, `initiator` (client, server, none) and `termination`, all
 * from closed lists; rejected handshakes by the first METRICS_STATUSES_MAX
 * statuses seen, then "other". The histograms' buckets set a proxy's 60 s
 * idle timeout (59-61 s) and a NAT gateway's 350 s (349-351 s) apart.
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/countmap.h"
#include "../common/utf8.h"
#include "../model/codes.h"

#define SEP '\x1f' /* between the labels of a connection series' key */
#define ENDED_MAX 8192

static const double lifetime_buckets[] = {1, 5, 10, 30, 59, 61, 120, 300, 349, 351, 600, 900, 1800, 3600, 14400, 86400};
static const double idle_buckets[] = {0.5, 1, 5, 10, 30, 55, 59, 61, 65, 120, 300, 349, 351, 600, 900, 3600};
#define NBUCKETS 16
_Static_assert(sizeof lifetime_buckets / sizeof lifetime_buckets[0] == NBUCKETS, "lifetime buckets");
_Static_assert(sizeof idle_buckets / sizeof idle_buckets[0] == NBUCKETS, "idle buckets");

struct histogram {
    const double *bounds;
    uint64_t counts[NBUCKETS]; /* per bucket, not yet cumulative */
    uint64_t count;
    double sum;
};

struct metrics {
    pthread_mutex_t lock;
    char version[64];
    double started_at;
    struct countmap ended;    /* "code\x1foutcome\x1finitiator\x1ftermination" -> connections */
    struct countmap codes;    /* the close codes outside 1000-1015 with series of their own */
    struct countmap rejected; /* "status" -> handshakes */
    enum metrics_by by;
    struct countmap keys;     /* --metrics-by: the values with a label of their own */
    struct countmap by_key;   /* "key\x1fcode\x1foutcome" -> connections */
    uint64_t violations[V_COUNT];
    uint64_t tls_flows, records;
    struct histogram lifetime, idle;
    struct metrics_health health;
    bool shipping; /* --clickhouse: its series are shown */
    uint64_t shipped, ship_failures;
    long long ship_backlog;
    double ship_oldest; /* end time of the oldest unshipped record; 0: none */
    double shipped_at;
};

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct metrics *metrics_new(const char *version, enum metrics_by by)
{
    struct metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    struct countmap_options ended = {.max_entries = ENDED_MAX, .reserve_key_bytes = ENDED_MAX * 48},
                            codes = {.max_entries = METRICS_CODES_MAX, .reserve_key_bytes = METRICS_CODES_MAX * 8},
                            statuses = {.max_entries = METRICS_STATUSES_MAX + 1, .reserve_key_bytes = 256};
    struct countmap_options keys = {.max_entries = METRICS_KEYS_MAX, .reserve_key_bytes = METRICS_KEYS_MAX * 64},
                            by_key = {.max_entries = ENDED_MAX, .reserve_key_bytes = ENDED_MAX * 80};
    m->by = by;
    if (countmap_init(&m->ended, &ended) < 0 || countmap_init(&m->codes, &codes) < 0 ||
        countmap_init(&m->rejected, &statuses) < 0 ||
        (by && (countmap_init(&m->keys, &keys) < 0 || countmap_init(&m->by_key, &by_key) < 0))) {
        metrics_free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    snprintf(m->version, sizeof m->version, "%s", version);
    m->started_at = now_wall();
    m->lifetime.bounds = lifetime_buckets;
    m->idle.bounds = idle_buckets;
    m->health.interface_up = -1;
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    countmap_free(&m->ended);
    countmap_free(&m->codes);
    countmap_free(&m->rejected);
    countmap_free(&m->keys);
    countmap_free(&m->by_key);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- counting (under lock) ---------------------------------------------------- */

/* The `code` label (see the file's comment). */
static void code_label(struct metrics *m, int code, char *buf, size_t len)
{
    uint16_t c = (uint16_t)code;
    if (code < 0) {
        snprintf(buf, len, "none");
    } else if ((code >= 1000 && code <= 1015) || countmap_find(&m->codes, &c, sizeof c) >= 0 ||
               countmap_add(&m->codes, &c, sizeof c, 1) >= 0) {
        snprintf(buf, len, "%d", code);
    } else {
        const struct close_code_info *range = close_code_lookup(code);
        if (range)
            snprintf(buf, len, "%d-%d", range->lo, range->hi);
        else
            snprintf(buf, len, "5000-65535");
    }
}

/* --metrics-by's value of the record ("" when it has none: no host, no
 * path), or "other" beyond the first METRICS_KEYS_MAX. */
static void by_value(struct metrics *m, const struct ws_record *r, char *buf, size_t len)
{
    if (m->by == METRICS_BY_SERVER)
        snprintf(buf, len, strchr(r->server_ip, ':') ? "[%s]:%u" : "%s:%u", r->server_ip, r->server_port);
    else {
        const char *v = m->by == METRICS_BY_HOST ? r->host : r->path;
        snprintf(buf, len, "%s", v ? v : "");
    }
    if (countmap_find(&m->keys, buf, strlen(buf)) < 0 && countmap_add_str(&m->keys, buf, 1) < 0)
        snprintf(buf, len, "other");
}

static void count_by_key(struct metrics *m, const struct ws_record *r, const char *code)
{
    char value[256], key[320];
    by_value(m, r, value, sizeof value);
    snprintf(key, sizeof key, "%s%c%s%c%s", value, SEP, code, SEP, outcome_name(r->outcome));
    countmap_add_str(&m->by_key, key, 1);
}

/* By status: the first METRICS_STATUSES_MAX seen, then the null key ("other"). */
static void count_rejected(struct metrics *m, int status)
{
    char s[16];
    snprintf(s, sizeof s, "%d", status);
    bool known = status > 0 && countmap_find(&m->rejected, s, strlen(s)) >= 0;
    size_t named = m->rejected.n - (countmap_find(&m->rejected, NULL, 0) >= 0 ? 1 : 0);
    countmap_add_str(&m->rejected, known || (status > 0 && named < METRICS_STATUSES_MAX) ? s : NULL, 1);
}

static void observe(struct histogram *h, double v)
{
    if (!(v >= 0)) /* NaN or a clock that went back */
        v = 0;
    int i = 0;
    while (i < NBUCKETS && v > h->bounds[i])
        i++;
    if (i < NBUCKETS)
        h->counts[i]++;
    h->count++;
    h->sum += v;
}

static double seconds(ts_us_t from, ts_us_t to)
{
    return (double)(to - from) / 1e6;
}

/* Lifetime from the first packet; idle time from the last data frame (or
 * the upgrade, or the start) to the first close frame, or to the end
 * without one. A refused handshake is no connection to time. */
static void observe_times(struct metrics *m, const struct ws_record *r)
{
    if (r->outcome == OUTCOME_REJECTED)
        return;
    observe(&m->lifetime, seconds(r->started_at, r->ended_at));
    ts_us_t quiet_from = r->last_data_at != TS_NONE  ? r->last_data_at
                         : r->upgraded_at != TS_NONE ? r->upgraded_at
                                                     : r->started_at;
    ts_us_t closing = r->ended_at;
    for (int d = DIR_CLIENT; d <= DIR_SERVER; d++)
        if (r->close[d].code >= 0 && r->close[d].at != TS_NONE && r->close[d].at < closing)
            closing = r->close[d].at;
    observe(&m->idle, closing > quiet_from ? seconds(quiet_from, closing) : 0);
}

void metrics_record(struct metrics *m, const struct ws_record *r)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    char code[24], key[128];
    code_label(m, r->close_code, code, sizeof code);
    const char *initiator = side_name(r->close_initiator), *term = termination_name(r->termination);
    snprintf(key, sizeof key, "%s%c%s%c%s%c%s", code, SEP, outcome_name(r->outcome), SEP,
             initiator ? initiator : "none", SEP, term ? term : "none");
    countmap_add_str(&m->ended, key, 1); /* full (beyond every closed list): not counted */
    if (m->by)
        count_by_key(m, r, code);
    if (r->outcome == OUTCOME_REJECTED)
        count_rejected(m, r->http_status);
    for (int v = 0; v < V_COUNT; v++)
        m->violations[v] += (r->violations >> v) & 1u;
    observe_times(m, r);
    m->records++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_tls(struct metrics *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->tls_flows++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_shipping(struct metrics *m, uint64_t sent, long long backlog, double oldest, bool failed)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->shipping = true;
    m->shipped += sent;
    m->ship_failures += failed;
    m->ship_backlog = backlog;
    m->ship_oldest = oldest;
    if (!failed)
        m->shipped_at = now_wall();
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_health(struct metrics *m, const struct metrics_health *h)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->health = *h;
    pthread_mutex_unlock(&m->lock);
}

/* ---- the exposition ------------------------------------------------------------ */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *type, const char *help, double v)
{
    family(f, name, type, help);
    fprintf(f, "%s %.17g\n", name, v);
}

/* A label value as the exposition format escapes it (backslash, double
 * quote, line feed); bytes that are not UTF-8 (a path off the wire) as '?'. */
static void label_value(FILE *f, const char *v, size_t n)
{
    bool utf8 = utf8_valid((const uint8_t *)v, n);
    for (size_t i = 0; i < n; i++) {
        if (!utf8 && (v[i] & 0x80)) {
            fputc('?', f);
            continue;
        }
        if (v[i] == '\\' || v[i] == '"')
            fputc('\\', f);
        if (v[i] == '\n')
            fputs("\\n", f);
        else
            fputc(v[i], f);
    }
}

/* One sample of a series whose labels' values are the SEP-separated
 * parts of key, named by names[0..n). */
static void labelled(FILE *f, const char *series, const char *const *names, int n, const char *key, long long v)
{
    fprintf(f, "%s{", series);
    const char *p = key;
    for (int l = 0; l < n; l++) {
        const char *end = p ? strchr(p, SEP) : NULL;
        size_t len = p ? (end ? (size_t)(end - p) : strlen(p)) : 0;
        fprintf(f, "%s%s=\"", l ? "," : "", names[l]);
        label_value(f, p ? p : "", len);
        fputc('"', f);
        p = end ? end + 1 : NULL;
    }
    fprintf(f, "} %lld\n", v);
}

static void render_ended(FILE *f, struct metrics *m)
{
    static const char *const names[] = {"code", "outcome", "initiator", "termination"};
    family(f, "wsstats_connections_ended_total", "counter",
           "WebSocket connections whose record was handed to the database writer, by close code "
           "(\"none\": unfinished or rejected), outcome, who sent the first close frame and how TCP ended.");
    for (size_t i = 0; i < m->ended.n; i++)
        labelled(f, "wsstats_connections_ended_total", names, 4, m->ended.e[i].key, m->ended.e[i].n);
    if (!m->by)
        return;
    static const char *const keys[] = {NULL, "server", "host", "path"};
    const char *by[] = {keys[m->by], "code", "outcome"};
    char series[64], help[256];
    snprintf(series, sizeof series, "wsstats_connections_ended_by_%s_total", keys[m->by]);
    snprintf(help, sizeof help, "The connections of wsstats_connections_ended_total by %s (the first %d seen; later "
             "ones \"other\"), close code and outcome.", keys[m->by], METRICS_KEYS_MAX);
    family(f, series, "counter", help);
    for (size_t i = 0; i < m->by_key.n; i++)
        labelled(f, series, by, 3, m->by_key.e[i].key, m->by_key.e[i].n);
}

static void render_histogram(FILE *f, const char *name, const char *help, const struct histogram *h)
{
    family(f, name, "histogram", help);
    uint64_t cumulative = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        cumulative += h->counts[i];
        fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cumulative);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n%s_count %llu\n", name, (unsigned long long)h->count, name,
            h->sum, name, (unsigned long long)h->count);
}

static void render_records(FILE *f, struct metrics *m)
{
    render_ended(f, m);
    render_histogram(f, "wsstats_connection_duration_seconds",
                     "Lifetime of the connections counted in wsstats_connections_ended_total (rejected "
                     "handshakes left out), from the first packet to the end.",
                     &m->lifetime);
    render_histogram(f, "wsstats_connection_idle_before_close_seconds",
                     "Silence before the end: from the last data frame (or the upgrade) to the first close "
                     "frame, or to the end of a connection closed without one.",
                     &m->idle);
    family(f, "wsstats_violations_total", "counter", "Connections with each RFC 6455 violation (docs/design.md §4).");
    for (int v = 0; v < V_COUNT; v++) {
        char name[40];
        violations_format(1u << v, name, sizeof name);
        fprintf(f, "wsstats_violations_total{kind=\"%s\"} %llu\n", name, (unsigned long long)m->violations[v]);
    }
    family(f, "wsstats_handshakes_rejected_total", "counter", "Upgrade requests answered without 101, by HTTP status.");
    for (size_t i = 0; i < m->rejected.n; i++)
        fprintf(f, "wsstats_handshakes_rejected_total{status=\"%s\"} %lld\n",
                m->rejected.e[i].key ? (const char *)m->rejected.e[i].key : "other", m->rejected.e[i].n);
    sample(f, "wsstats_tls_flows_total", "counter", "TCP flows nDPI classified as TLS: their frames cannot be decoded.",
           (double)m->tls_flows);
}

/* Series without labels, declared once each: name, type, help, value. */
struct scalar {
    const char *name, *type, *help;
    double v;
};

static void scalars(FILE *f, const struct scalar *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sample(f, s[i].name, s[i].type, s[i].help, s[i].v);
}

static void render_capture(FILE *f, const struct metrics_health *h)
{
    sample(f, "wsstats_packets_total", "counter", "Packets read from the capture.", (double)h->packets);
    sample(f, "wsstats_bytes_total", "counter", "Bytes on the wire of the packets read.", (double)h->bytes);
    sample(f, "wsstats_capture_received_total", "counter",
           "Packets the kernel received for a live capture (libpcap's ps_recv; 0 reading files).", (double)h->received);
    family(f, "wsstats_capture_drops_total", "counter",
           "Packets lost before wsstatsd saw them: by the kernel (no room in the capture buffer) or the interface.");
    fprintf(f, "wsstats_capture_drops_total{where=\"kernel\"} %llu\n", (unsigned long long)h->kernel_drops);
    fprintf(f, "wsstats_capture_drops_total{where=\"interface\"} %llu\n", (unsigned long long)h->if_drops);
    if (h->interface_up >= 0)
        sample(f, "wsstats_interface_up", "gauge", "1 while the live interface is up with a carrier.", h->interface_up);
    const struct scalar flows[] = {
        {"wsstats_flows_total", "counter", "TCP flows seen.", (double)h->flows},
        {"wsstats_flows_tracked", "gauge", "TCP flows in the flow table now.", (double)h->flows_tracked},
        {"wsstats_connections_open", "gauge",
         "WebSocket connections being followed (an upgrade asked for, or frames seen) that have not ended.",
         (double)h->connections_open},
        {"wsstats_memcap_hits_total", "counter",
         "Times --memcap was reached: out-of-order data without room, or a flow evicted for it.",
         (double)h->memcap_hits},
    };
    scalars(f, flows, sizeof flows / sizeof flows[0]);
    family(f, "wsstats_flow_evictions_total", "counter",
           "Flows given up before they ended to make room, by the limit that forced it.");
    fprintf(f, "wsstats_flow_evictions_total{reason=\"memcap\"} %llu\n", (unsigned long long)h->evicted_memcap);
    fprintf(f, "wsstats_flow_evictions_total{reason=\"max_flows\"} %llu\n", (unsigned long long)h->evicted_max_flows);
    sample(f, "wsstats_flows_expired_total", "counter", "Flows expired by --idle-timeout (or silence without data).",
           (double)h->expired_idle);
}

static void render_store(FILE *f, const struct metrics *m, const struct store_figures *s)
{
    const struct scalar series[] = {
        {"wsstats_records_written_total", "counter",
         "Connection records handed to the database writer (counted in wsstats_connections_ended_total).",
         (double)m->records},
        {"wsstats_records_committed_total", "counter", "Records in committed transactions.", (double)s->committed},
        {"wsstats_records_queued", "gauge",
         "Records handed over and not yet committed: the commit lag (live, a second's worth when healthy).",
         (double)s->queued},
        {"wsstats_records_lost_total", "counter",
         "Records lost: the queue was full while the database could not be written.", (double)s->lost},
        {"wsstats_last_commit_timestamp_seconds", "gauge",
         "Wall-clock time of the last committed transaction (0: none yet).", s->last_commit_at},
        {"wsstats_db_write_failures_total", "counter",
         "Rounds in which the database writer could not write (retried every second).", (double)s->failures},
    };
    scalars(f, series, sizeof series / sizeof series[0]);
    const struct scalar shipping[] = {
        {"wsstats_clickhouse_shipped_total", "counter", "Records shipped to ClickHouse (--clickhouse).",
         (double)m->shipped},
        {"wsstats_clickhouse_backlog", "gauge",
         "Records in the database not yet in ClickHouse after the last round (-1: unknown).", (double)m->ship_backlog},
        {"wsstats_clickhouse_failures_total", "counter", "Shipping rounds that failed (retried with back-off).",
         (double)m->ship_failures},
        {"wsstats_clickhouse_last_success_timestamp_seconds", "gauge",
         "When a shipping round last succeeded (0: never).", m->shipped_at},
        {"wsstats_clickhouse_backlog_age_seconds", "gauge",
         "How long ago the oldest record not yet in ClickHouse ended (0: none waits).",
         m->ship_oldest > 0 && now_wall() > m->ship_oldest ? now_wall() - m->ship_oldest : 0},
        {"wsstats_retention_unshipped_dropped_total", "counter",
         "Records --retention deleted before they were shipped, because the disk was nearly full.",
         (double)s->unshipped_dropped},
    };
    if (m->shipping)
        scalars(f, shipping, sizeof shipping / sizeof shipping[0]);
}

char *metrics_render(struct metrics *m, struct store *st, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    struct store_figures s = {0};
    if (st)
        store_figures(st, &s);
    pthread_mutex_lock(&m->lock);
    family(f, "wsstats_build_info", "gauge", "The running wsstatsd's version.");
    fprintf(f, "wsstats_build_info{version=\"%s\"} 1\n", m->version);
    sample(f, "wsstats_start_time_seconds", "gauge", "When this wsstatsd started (Unix time).", m->started_at);
    render_records(f, m);
    render_capture(f, &m->health);
    render_store(f, m, &s);
    pthread_mutex_unlock(&m->lock);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
