/*
 * daemon/log.h — wsstatsd's messages: to stderr, and to syslog with
 * --syslog (facility daemon), filtered by -q / -v.
 */
#ifndef WSSTATS_LOG_H
#define WSSTATS_LOG_H

#include <stdbool.h>
#include <syslog.h>

struct logger {
    int verbosity; /* 0 errors only (-q), 1 normal, 2 verbose (-v) */
    bool syslog;
};

void log_open(struct logger *lg, int verbosity, bool use_syslog);
void log_close(struct logger *lg);

/* priority: LOG_ERR and LOG_WARNING always (unless -q hides warnings),
 * LOG_NOTICE and LOG_INFO unless -q, LOG_DEBUG with -v only. */
__attribute__((format(printf, 3, 4))) void log_msg(const struct logger *lg, int priority, const char *fmt, ...);

#endif
