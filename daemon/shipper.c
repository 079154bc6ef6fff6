/*
 * daemon/shipper.c — wsstatsd --clickhouse: the daemon's committed records
 * to ClickHouse from a thread of their own.
 *
 * A round opens the database for reading (the store's read mode: a WAL
 * reader beside the writer), ships what ClickHouse lacks (ship_export:
 * exactly once), counts what is left, and closes it. Rounds come every
 * SHIP_EVERY_S seconds; after a failure the wait doubles up to
 * SHIP_BACKOFF_MAX_S, and the failure is told once, its end once. The
 * capture never waits for ClickHouse: SQLite is the spool. At exit the
 * store has committed everything, and one last round ships it.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "shipper.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SHIP_EVERY_S 1
#define SHIP_BACKOFF_MAX_S 60

struct shipper {
    struct ship_options opt;
    const char *db_path;
    const struct logger *log;
    struct metrics *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;         /* under lock */
    bool failing;      /* the thread's: a failure was told */
    long long backlog; /* after the last round: records not in ClickHouse (-1: unknown) */
    double oldest;     /* ... the end time of the first of them to end (0: none) */
    long long held;    /* the highest id ClickHouse last said it holds (-1: not yet asked) */
    char err[1024];
};

int shipper_prepare(struct ship_setup *s, const char *url, const char *auth_file, const char *sensor_name, char *err,
                    size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->o = (struct ship_options){.url = url, .sensor = sensor_name};
    if (auth_file) {
        if (ship_read_auth(auth_file, s->user, sizeof s->user, s->password, sizeof s->password, err, errlen) < 0)
            return -1;
        s->o.user = s->user;
        s->o.password = s->password;
    }
    if (!s->o.sensor) {
        if (gethostname(s->sensor, sizeof s->sensor - 1) != 0 || !ship_sensor_name_ok(s->sensor)) {
            snprintf(err, errlen, "--clickhouse: the host name '%s' is no sensor name: give --sensor-name", s->sensor);
            return -1;
        }
        s->o.sensor = s->sensor;
    }
    ship_cursor_key(s->o.sensor, s->cursor_key, sizeof s->cursor_key);
    return 0;
}

/* One round: 0, or -1 with the reason in s->err. */
static int ship_round(struct shipper *s)
{
    struct ship_result r;
    int rc = ship_database(s->db_path, &s->opt, s->held, &r, s->err, sizeof s->err);
    if (r.known)
        s->held = r.to;
    if (r.backlog >= 0) {
        s->backlog = r.backlog;
        s->oldest = r.oldest;
    }
    metrics_shipping(s->metrics, r.sent, s->backlog, s->oldest, rc < 0);
    return rc;
}

/* How long ago the oldest record waiting ended, in seconds (0: none). */
static double backlog_age(const struct shipper *s)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double t = (double)now.tv_sec + now.tv_nsec / 1e9;
    return s->backlog > 0 && s->oldest > 0 && t > s->oldest ? t - s->oldest : 0;
}

/* Tells a failure once and its end once; every failing round after the
 * first, the backlog and its age at -v (LOG_INFO). */
static void tell(struct shipper *s, int rc)
{
    if (rc < 0 && !s->failing)
        log_msg(s->log, LOG_ERR, "clickhouse: %s; %lld records wait in the database, retrying with back-off",
                s->err, s->backlog);
    else if (rc < 0)
        log_msg(s->log, LOG_INFO, "clickhouse: still failing (%s); %lld records wait, the oldest ended %.0f s ago",
                s->err, s->backlog, backlog_age(s));
    else if (s->failing)
        log_msg(s->log, LOG_NOTICE, "clickhouse: shipping again; %lld records left", s->backlog);
    s->failing = rc < 0;
}

static void *shipper_main(void *arg)
{
    struct shipper *s = arg;
    pthread_setname_np(pthread_self(), "wsstats-ship");
    int wait_s = SHIP_EVERY_S;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_s;
        while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
            ;
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->lock);
        int rc = ship_round(s);
        tell(s, rc);
        wait_s = rc < 0 ? (wait_s * 2 > SHIP_BACKOFF_MAX_S ? SHIP_BACKOFF_MAX_S : wait_s * 2) : SHIP_EVERY_S;
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

struct shipper *shipper_start(const struct ship_options *o, const char *db_path, const struct logger *log,
                              struct metrics *m, char *err, size_t errlen)
{
    struct shipper *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "--clickhouse: out of memory");
        return NULL;
    }
    *s = (struct shipper){.opt = *o, .db_path = db_path, .log = log, .metrics = m, .backlog = -1, .held = -1};
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&s->thread, NULL, shipper_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "--clickhouse: cannot start the shipping thread: %s", strerror(rc));
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    return s;
}

int shipper_stop(struct shipper *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    int rc = ship_round(s); /* the store is closed: everything is committed */
    if (rc < 0)
        log_msg(s->log, LOG_ERR, "clickhouse: %s; %lld records not shipped (the next run, or wsstats export, ships them)",
                s->err, s->backlog);
    else if (s->failing)
        log_msg(s->log, LOG_NOTICE, "clickhouse: shipping again; every record shipped");
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
}
