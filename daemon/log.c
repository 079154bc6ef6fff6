/*
 * daemon/log.c — wsstatsd's messages (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void log_open(struct logger *lg, int verbosity, bool use_syslog)
{
    lg->verbosity = verbosity;
    lg->syslog = use_syslog;
    if (use_syslog)
        openlog("wsstatsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(struct logger *lg)
{
    if (lg->syslog)
        closelog();
    lg->syslog = false;
}

static bool shown(const struct logger *lg, int priority)
{
    if (priority <= LOG_ERR)
        return true;
    if (priority <= LOG_INFO)
        return lg->verbosity >= 1;
    return lg->verbosity >= 2;
}

void log_msg(const struct logger *lg, int priority, const char *fmt, ...)
{
    if (!shown(lg, priority))
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "wsstatsd: %s\n", line);
    if (lg->syslog)
        syslog(priority, "%s", line);
}
