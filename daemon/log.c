/*
 * daemon/log.c — wsstatsd's messages (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* $JOURNAL_STREAM is "DEVICE:INODE" of the journal's stream; it counts only
 * if that is still our stderr (not redirected by whoever started us). */
static bool stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat sb;
    if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &sb) != 0)
        return false;
    return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void log_open(struct logger *lg, int verbosity, bool use_syslog)
{
    lg->verbosity = verbosity;
    lg->syslog = use_syslog;
    lg->journal = stderr_is_journal();
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

/* One line, written with one call (lines of two threads do not mix). */
__attribute__((format(printf, 3, 0))) static void emit(const struct logger *lg, int priority, const char *fmt,
                                                      va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    if (lg->journal)
        fprintf(stderr, "<%d>%s\n", priority, line);
    else
        fprintf(stderr, "wsstatsd: %s\n", line);
    if (lg->syslog)
        syslog(priority, "%s", line);
}

void log_msg(const struct logger *lg, int priority, const char *fmt, ...)
{
    if (!shown(lg, priority))
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(lg, priority, fmt, ap);
    va_end(ap);
}

void log_asked(const struct logger *lg, int priority, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(lg, priority, fmt, ap);
    va_end(ap);
}
