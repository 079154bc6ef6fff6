/*
 * daemon/wsstatsd.c — the capture daemon: the packet loop and the wiring
 * (its options are daemon/options.c's).
 *
 * capture/ (libpcap, link/IP/TCP decoding) -> engine/ (flows, reassembly,
 * WebSocket, nDPI) -> store/ (SQLite). Exit codes (docs/design.md,
 * "Programs"): 0 success, 1 a runtime error, 2 a usage error; every error
 * is one line on stderr.
 *
 * Live capture runs a timer off the packet loop (libpcap wakes it at least
 * every 200 ms when idle): once a second (TICK_US) idle connections expire
 * and the captures row's figures go to the store; stats lines are logged.
 * The packet loop never waits for SQLite: the store's writer thread
 * commits the records (within a second), writes the captures row, deletes
 * old records (--retention), reopens the file (SIGHUP) and retries a
 * failing database, and tells what happened through on_store_report().
 * Signal handlers only set flags: SIGINT/SIGTERM stop, SIGUSR1 logs stats,
 * SIGHUP reopens the database.
 */
#include <errno.h>
#include <gcrypt.h>
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
#include "../engine/engine.h"
#include "../store/store.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "privdrop.h"
#include "recorded.h"
#include "report.h"
#include "shipper.h"

#ifndef WSSTATS_VERSION
#define WSSTATS_VERSION "0.0.0"
#endif

#define TICK_US 1000000            /* live: expiry and the captures row's figures */

/* Set by signal handlers, read by the loop: the only mutable statics. */
static volatile sig_atomic_t stop_requested, stats_requested, reopen_requested;

struct daemon {
    struct options opt;
    struct capture_source sources[MAX_SOURCES];
    bool skip[MAX_SOURCES]; /* files left out (--skip-recorded) */
    int nsources;
    struct classifier *classifier;
    struct store *store;
    struct engine *engine;
    struct logger log;
    struct metrics *metrics;        /* --metrics: the counters ... */
    struct metrics_server *metrics_http; /* ... and their HTTP thread */
    int metrics_fd;                 /* its socket until the thread takes it; -1: none */
    uint64_t packets_before, bytes_before; /* of the sources already read (the counters go on) */
    struct shipper *shipper;        /* --clickhouse */
    struct ship_setup ship;
    uint64_t records_written; /* handed to the store (committed or queued) */
    uint64_t lost_reported;
    bool ran;                  /* the sources were read: teardown says what became of them */
    uint64_t packets, flows;   /* of the whole run, for that line */
    struct capture_row row;   /* the current source's captures row */
    int capture;              /* its handle in the store */
    ts_us_t next_tick, next_stats;
    enum link_state link; /* live: the interface when last looked at */
    ts_us_t link_down_at;
    uint64_t stats_packets; /* packets at the last stats line */
    char err[1024];
};

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
    if (store_add(dm->store, r) == 0) {
        dm->records_written++; /* written, or queued for the writer */
        metrics_record(dm->metrics, r);
    } else
        note_lost(dm);
}

/* A TLS flow nDPI found, counted per hour (a flow not counted is counted
 * in store_tls_lost(), told at the end). */
static void on_tls(void *arg, const struct tls_flow *t)
{
    const struct daemon *dm = arg;
    store_tls_add(dm->store, t);
    metrics_tls(dm->metrics);
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
        /* A stop interrupts a read from a pipe waiting for input (reading
         * `-`); SIGUSR1 and SIGHUP must not (libpcap takes a cut-short read
         * of a file as damage), and a live capture's poll() returns for
         * them anyway. */
        sa.sa_flags = handlers[i].fn == on_stop ? 0 : SA_RESTART;
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
    row->file_size = s->file_size;
    row->packets = s->packets;
    row->bytes = s->bytes;
    struct source_counters pc;
    source_counters(s, &pc);
    row->received = pc.received;
    row->drops = pc.dropped;
    row->if_drops = pc.if_dropped;
    row->tcp_flows = flow_table_stats(engine_flows(dm->engine))->flows - flows0;
}

/* ---- the live timer ------------------------------------------------------ */

/* One stats line; `asked` (SIGUSR1) shows it even under -q. */
static void log_stats(struct daemon *dm, struct capture_source *s, bool asked)
{
    struct source_counters pc;
    source_counters(s, &pc);
    const struct flow_table *ft = engine_flows(dm->engine);
    const struct flow_stats *d = flow_table_stats(ft);
    char line[768];
    snprintf(line, sizeof line,
             "stats: packets %llu (+%llu), bytes %llu, flows %llu (%u in the table), records %llu (%zu queued, "
             "%llu lost), received %llu, drops %llu kernel %llu interface, memcap hits %llu, evicted %llu",
             (unsigned long long)s->packets, (unsigned long long)(s->packets - dm->stats_packets),
             (unsigned long long)s->bytes, (unsigned long long)d->flows, flow_table_count(ft),
             (unsigned long long)dm->records_written, store_queued(dm->store),
             (unsigned long long)store_lost(dm->store), (unsigned long long)pc.received,
             (unsigned long long)pc.dropped, (unsigned long long)pc.if_dropped,
             (unsigned long long)(flow_table_reasm_stats(ft)->memcap_hits + d->memcap_evictions),
             (unsigned long long)(d->evicted + d->evicted_other));
    if (asked)
        log_asked(&dm->log, LOG_INFO, "%s", line);
    else
        log_msg(&dm->log, LOG_INFO, "%s", line);
    dm->stats_packets = s->packets;
}

/* The interface went down or away: its open connections end now, as
 * interface_down (what comes after a gap is picked up mid-stream). */
static void end_connections_on_link_loss(struct daemon *dm, struct capture_source *s, const char *what,
                                         const char *then)
{
    uint64_t before = dm->records_written;
    ts_us_t now = wall_us();
    if (now > flow_table_now(engine_flows(dm->engine)))
        engine_set_clock(dm->engine, now);
    engine_end_all(dm->engine, TERM_INTERFACE_DOWN);
    uint64_t n = dm->records_written - before;
    log_msg(&dm->log, LOG_WARNING, "%s: the interface %s: %llu open WebSocket connection%s written as "
            "interface_down; %s", s->name, what, (unsigned long long)n, n == 1 ? "" : "s", then);
    dm->link_down_at = now;
}

/* Live, once a second: a link that went down (ip link set down, a tap
 * port's carrier lost) and came up again. The kernel keeps libpcap's
 * socket and delivers again once it is up: the capture goes on. An
 * interface that is gone (ip link del, a NIC unplugged) ends the run with
 * status 1, as libpcap's socket died with it: the service manager starts
 * wsstatsd again, which waits for nothing (docs/design.md §5). */
static void watch_link(struct daemon *dm, struct capture_source *s)
{
    enum link_state now = source_link_state(s);
    if (now == LINK_UNWATCHED || now == dm->link)
        return;
    if (now == LINK_UP)
        log_msg(&dm->log, LOG_NOTICE, "%s: the interface is up again after %.1f s: capturing", s->name,
                (double)(wall_us() - dm->link_down_at) / 1e6);
    else if (dm->link == LINK_UP && now == LINK_DOWN)
        end_connections_on_link_loss(dm, s, "went down", "capturing again when it comes back up");
    dm->link = now; /* gone: the packet loop ends the capture */
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
        watch_link(dm, s);
        engine_expire(dm->engine, now);
        capture_row_fill(dm, s, &dm->row, flows0);
        store_capture_update(dm->store, dm->capture, &dm->row);
        report_health(dm->metrics, dm->engine, s, dm->link, dm->packets_before, dm->bytes_before);
        note_lost(dm);
        dm->next_tick = now + TICK_US;
    }
    if (dm->opt.stats_interval > 0 && now >= dm->next_stats) {
        if (dm->next_stats)
            log_stats(dm, s, false);
        dm->next_stats = now + dm->opt.stats_interval;
    }
}

/* Reading a file: the captures row's figures once a second, written with
 * the next batch, so that a run killed part-way (kill -9) leaves a row
 * that says how far it got (the next writer marks it interrupted). */
static void file_tick(struct daemon *dm, struct capture_source *s, uint64_t flows0)
{
    ts_us_t now = wall_us();
    if (now < dm->next_tick)
        return;
    capture_row_fill(dm, s, &dm->row, flows0);
    store_capture_update(dm->store, dm->capture, &dm->row);
    report_health(dm->metrics, dm->engine, s, LINK_UNWATCHED, dm->packets_before, dm->bytes_before);
    dm->next_tick = now + TICK_US;
}

/* ---- one source ---------------------------------------------------------- */

/* Reads one source to its end (or to a stop signal); after the `last` one
 * to be read, open connections are written. Returns 0, or -1 if the source
 * failed part-way; what was read before the damage is kept. */
static int run_source(struct daemon *dm, struct capture_source *s, bool last)
{
    dm->row = (struct capture_row){.started_at = wall_clock(), .first_packet_at = -1, .status = "running"};
    uint64_t flows0 = flow_table_stats(engine_flows(dm->engine))->flows;
    capture_row_fill(dm, s, &dm->row, flows0);
    dm->capture = store_capture_begin(dm->store, &dm->row); /* written by the store as soon as it can */
    if (dm->capture < 0)
        log_msg(&dm->log, LOG_ERR, "%s: %s (capturing anyway)", dm->opt.db, store_error(dm->store));
    struct decoder dec;
    decoder_init(&dec, s->linktype);
    int rc = 0;
    enum termination end_as = TERM_CAPTURE_END;
    dm->link = source_link_state(s);
    dm->next_tick = wall_us() + TICK_US;
    while (!stop_requested) {
        struct packet pkt;
        enum source_status st = source_next(s, &pkt, dm->err, sizeof dm->err);
        if (st == SOURCE_END)
            break;
        if (st == SOURCE_ERROR && stop_requested)
            break; /* a read from a pipe cut short by the stop signal (EINTR): a stop, not damage */
        if (st == SOURCE_ERROR) {
            log_msg(&dm->log, LOG_ERR, "%s", dm->err);
            rc = -1;
            if (s->live && dm->link != LINK_UNWATCHED && source_link_state(s) != LINK_UP)
                end_as = TERM_INTERFACE_DOWN; /* libpcap's socket died with its interface */
            break;
        }
        if (st == SOURCE_PACKET) {
            if (dm->row.first_packet_at < 0)
                dm->row.first_packet_at = (double)pkt.ts / 1e6;
            dm->row.last_packet_at = (double)pkt.ts / 1e6;
            engine_packet(dm->engine, &dec, &pkt, s->sensor);
        }
        if (s->live)
            live_tick(dm, s, flows0);
        if (s->live && dm->link == LINK_GONE) {
            snprintf(dm->err, sizeof dm->err, "%s: the interface is gone (deleted or unplugged)", s->name);
            log_msg(&dm->log, LOG_ERR, "%s", dm->err);
            rc = -1;
            end_as = TERM_INTERFACE_DOWN;
            break;
        }
        else if ((s->packets & 4095) == 0)
            file_tick(dm, s, flows0);
    }
    log_msg(&dm->log, LOG_DEBUG, "%s: %llu packets: %llu TCP, %llu other, %llu fragments, %llu truncated, %llu invalid",
            s->name, (unsigned long long)s->packets, (unsigned long long)dec.stats.tcp,
            (unsigned long long)dec.stats.skipped, (unsigned long long)dec.stats.fragments,
            (unsigned long long)dec.stats.truncated, (unsigned long long)dec.stats.invalid);
    if (last || stop_requested) {
        /* The capture is over: open connections are written unfinished,
         * ending when it ended (docs/design.md §2) — for a live capture now, not at
         * its last packet, which may be long ago on a quiet link. */
        ts_us_t end = wall_us();
        if (s->live && end > flow_table_now(engine_flows(dm->engine)))
            engine_set_clock(dm->engine, end);
        if (end_as == TERM_INTERFACE_DOWN)
            end_connections_on_link_loss(dm, s, "is gone", "exiting (status 1): the service manager starts "
                                         "wsstatsd again (systemd: Restart=on-failure)");
        else
            engine_finish(dm->engine);
    }
    capture_row_fill(dm, s, &dm->row, flows0);
    dm->row.ended_at = wall_clock();
    dm->row.status = rc < 0 ? dm->err : stop_requested ? "stopped" : "complete";
    store_capture_update(dm->store, dm->capture, &dm->row);
    store_commit(dm->store); /* a failure was told by the store; teardown counts what is left */
    report_health(dm->metrics, dm->engine, s, dm->link, dm->packets_before, dm->bytes_before);
    dm->packets_before += s->packets;
    dm->bytes_before += s->bytes;
    note_lost(dm);
    return rc;
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

/* --metrics: the counters, and the socket, opened while the daemon still
 * has its privileges (a port below 1024, an address in use: said now). */
static int open_metrics(struct daemon *dm)
{
    if (!dm->opt.metrics)
        return 0;
    if (!(dm->metrics = metrics_new(WSSTATS_VERSION, dm->opt.metrics_by))) {
        log_msg(&dm->log, LOG_ERR, "--metrics: out of memory");
        return -1;
    }
    if ((dm->metrics_fd = metrics_listen(dm->opt.metrics, dm->err, sizeof dm->err)) < 0) {
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
        return -1;
    }
    return 0;
}

/* --clickhouse: the credentials (a file only root may read, perhaps) and
 * the sensor's name, taken while the daemon still has its privileges. */
static int prepare_shipping(struct daemon *dm)
{
    const struct options *o = &dm->opt;
    if (o->clickhouse &&
        shipper_prepare(&dm->ship, o->clickhouse, o->clickhouse_auth, o->sensor_name, dm->err, sizeof dm->err) < 0) {
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
        return -1;
    }
    return 0;
}

/* The shipping thread, once privileges are given up and the database exists. */
static int start_shipping(struct daemon *dm)
{
    if (!dm->opt.clickhouse)
        return 0;
    dm->shipper = shipper_start(&dm->ship.o, dm->opt.db, &dm->log, dm->metrics, dm->err, sizeof dm->err);
    if (!dm->shipper) {
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
        return -1;
    }
    return 0;
}

/* Its HTTP thread, once privileges are given up. */
static int serve_metrics(struct daemon *dm)
{
    if (dm->metrics_fd < 0)
        return 0;
    dm->metrics_http = metrics_serve(dm->metrics, dm->store, dm->metrics_fd, dm->err, sizeof dm->err);
    dm->metrics_fd = -1; /* the server's now, or closed */
    if (!dm->metrics_http) {
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
        return -1;
    }
    log_msg(&dm->log, LOG_NOTICE, "serving metrics on http://%s/metrics", dm->opt.metrics);
    return 0;
}

static int setup(struct daemon *dm)
{
    if (dm->opt.user && privdrop_check(dm->opt.user, dm->err, sizeof dm->err) < 0) {
        log_msg(&dm->log, LOG_ERR, "%s", dm->err);
        return -1;
    }
    if (open_sources(dm) < 0 || open_metrics(dm) < 0 || prepare_shipping(dm) < 0 || drop_capabilities(dm) < 0)
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
    struct engine_output out = {.record = on_record, .tls = on_tls, .arg = dm};
    if (!(dm->engine = engine_new(&dm->opt.flow, dm->classifier, &out))) {
        log_msg(&dm->log, LOG_ERR, "out of memory for %u flows (lower --max-flows)", dm->opt.flow.max_flows);
        return -1;
    }
    struct store_options so = {.report = on_store_report,
                               .report_arg = dm,
                               .live = dm->opt.iface != NULL,
                               .retention = (double)dm->opt.retention / 1e6,
                               .hold_key = dm->opt.clickhouse ? dm->ship.cursor_key : NULL};
    struct store_open_error e;
    dm->store = store_open(dm->opt.db, STORE_WRITE, &so, &e);
    if (!dm->store) {
        log_msg(&dm->log, LOG_ERR, "%s", e.msg);
        return -1;
    }
    if (recorded_check(dm->store, dm->opt.db, dm->sources, dm->nsources, dm->opt.recorded, &dm->log, dm->skip) < 0)
        return -1;
    return drop_privileges(dm) < 0 || serve_metrics(dm) < 0 ? -1 : start_shipping(dm);
}

/* The run's last line: what was seen and where it went. One sentence
 * says what was written and what was not (and why), never a success over
 * records that are gone. */
static void say_what_was_written(struct daemon *dm, uint64_t queue_lost, uint64_t gone, const char *why)
{
    uint64_t seen = dm->records_written + queue_lost; /* a record the full queue refused was never handed over */
    uint64_t written = seen > gone ? seen - gone : 0;
    if (!gone) {
        log_msg(&dm->log, LOG_INFO, "%llu packets, %llu TCP flows, %llu WebSocket connections written to %s",
                (unsigned long long)dm->packets, (unsigned long long)dm->flows, (unsigned long long)written,
                dm->opt.db);
        return;
    }
    log_msg(&dm->log, LOG_ERR,
            "%llu packets, %llu TCP flows, %llu WebSocket connections: %llu written to %s, %llu not written (%s)",
            (unsigned long long)dm->packets, (unsigned long long)dm->flows, (unsigned long long)seen,
            (unsigned long long)written, dm->opt.db, (unsigned long long)gone, why);
}

/* Closes the database; records that could not be written are an error,
 * named with their number, and their captures rows end as failed
 * (store_abandon). The engine and the classifier go first: releasing the
 * flows left in the table makes nDPI give up on them, and a TLS flow it
 * guesses then is still counted in the open store. */
static int teardown(struct daemon *dm)
{
    int failed = 0;
    metrics_stop(dm->metrics_http); /* before the store it reads */
    if (dm->metrics_fd >= 0)
        close(dm->metrics_fd);
    dm->metrics_http = NULL;
    engine_free(dm->engine); /* the last TLS flows nDPI finds, counted in the store */
    dm->engine = NULL;
    uint64_t tls_unkept = dm->classifier ? classifier_tls_lost(dm->classifier) : 0;
    if (tls_unkept)
        log_msg(&dm->log, LOG_ERR, "%llu TLS flows were not counted: out of memory", (unsigned long long)tls_unkept);
    classifier_free(dm->classifier); /* joins the thread */
    dm->classifier = NULL;
    if (dm->store) {
        char why[1024] = "the record queue was full while the database could not be written";
        uint64_t queue_lost = store_lost(dm->store);
        if (store_commit(dm->store) < 0) {
            snprintf(why, sizeof why, "%s", store_error(dm->store));
            store_abandon(dm->store);
        }
        uint64_t lost = store_lost(dm->store), tls_lost = store_tls_lost(dm->store);
        if (tls_lost)
            log_msg(&dm->log, LOG_ERR, "%s: %llu TLS flows were not counted while the database could not be written",
                    dm->opt.db, (unsigned long long)tls_lost);
        if (queue_lost && queue_lost < lost)
            snprintf(why + strlen(why), sizeof why - strlen(why), "; %llu of them lost earlier to a full queue",
                     (unsigned long long)queue_lost);
        if (store_close(dm->store, dm->err, sizeof dm->err) < 0 && !lost)
            log_msg(&dm->log, LOG_ERR, "%s: %s", dm->opt.db, dm->err);
        if (dm->ran)
            say_what_was_written(dm, queue_lost, lost, why);
        failed = lost > 0;
    }
    failed |= shipper_stop(dm->shipper) < 0; /* a last round: every record is committed now */
    dm->shipper = NULL;
    for (int i = 0; i < dm->nsources; i++)
        source_close(&dm->sources[i]);
    metrics_free(dm->metrics);
    log_close(&dm->log);
    return failed;
}

int main(int argc, char **argv)
{
    static struct daemon dm; /* lives for the whole run; not shared with anything */
    dm.metrics_fd = -1;
    int rc = options_parse(argc, argv, &dm.opt);
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
    int failed = 0, last = -1;
    for (int i = 0; i < dm.nsources; i++)
        last = dm.skip[i] ? last : i;
    for (int i = 0; i < dm.nsources && !stop_requested; i++)
        if (!dm.skip[i])
            failed |= run_source(&dm, &dm.sources[i], i == last) < 0;
    if (dm.opt.verbosity >= 2)
        report_tracking(dm.engine, dm.opt.flow.linger_max, &dm.log);
    else
        warn_limits(dm.engine, &dm.log);
    for (int i = 0; i < dm.nsources; i++)
        dm.packets += dm.sources[i].packets;
    dm.flows = flow_table_stats(engine_flows(dm.engine))->flows;
    /* --retention from files: against the newest record (docs/design.md §5) */
    if (dm.opt.retention > 0 && !dm.opt.iface && store_expire(dm.store) < 0)
        log_msg(&dm.log, LOG_ERR, "%s: %s", dm.opt.db, store_error(dm.store));
    dm.ran = true;
    failed |= teardown(&dm);
    return failed ? 1 : 0;
}
