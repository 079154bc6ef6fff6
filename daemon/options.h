/*
 * daemon/options.h — wsstatsd's command line (wsstatsd --help, wsstatsd(8)).
 */
#ifndef WSSTATS_OPTIONS_H
#define WSSTATS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "../capture/source.h"
#include "../flow/flow.h"
#include "metrics.h"

#define MAX_SOURCES 64

struct options {
    const char *files[MAX_SOURCES];
    int nfiles;
    const char *iface;
    const char *db;
    struct live_options live;
    struct flow_config flow;
    int verbosity; /* 0 quiet, 1 normal, 2 verbose */
    const char *user;      /* -u: drop to this user after start-up */
    bool syslog;
    int64_t stats_interval; /* µs; 0: none */
    int64_t retention;      /* µs; 0: keep everything */
    const char *metrics;    /* --metrics ADDR:PORT; NULL: none */
    enum metrics_by metrics_by; /* --metrics-by */
    const char *clickhouse, *clickhouse_auth, *sensor_name; /* --clickhouse: shipping */
    enum recorded_files {   /* a file this database already holds a run of */
        RECORDED_REFUSE,    /* the run is refused (the default) */
        RECORDED_APPEND,    /* --append-again: read again, its records twice */
        RECORDED_SKIP,      /* --skip-recorded: left out, the others read */
    } recorded;
};

/* Parses the command line into *o (defaults for what it does not say).
 * Returns 0, or 2 after one line on stderr (a usage error); --help and
 * --version print and exit. */
int options_parse(int argc, char **argv, struct options *o);

#endif
