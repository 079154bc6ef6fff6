/*
 * daemon/log.h — wsstatsd's messages: to stderr, and to syslog with
 * --syslog (facility daemon), filtered by -q / -v.
 *
 * When stderr is systemd's journal stream ($JOURNAL_STREAM names it), each
 * line starts with its syslog priority as "<N>" (sd-daemon(3)), so that the
 * journal records it (`journalctl -p err` finds the errors); the program's
 * name is then left to the journal.
 */
#ifndef WSSTATS_LOG_H
#define WSSTATS_LOG_H

#include <stdbool.h>
#include <syslog.h>

struct logger {
    int verbosity; /* 0 errors only (-q), 1 normal, 2 verbose (-v) */
    bool syslog;
    bool journal; /* stderr is the journal: "<N>" prefixes */
};

void log_open(struct logger *lg, int verbosity, bool use_syslog);
void log_close(struct logger *lg);

/* priority: LOG_ERR (and worse) always, LOG_WARNING to LOG_INFO unless -q,
 * LOG_DEBUG with -v only. Any thread may call it. */
__attribute__((format(printf, 3, 4))) void log_msg(const struct logger *lg, int priority, const char *fmt, ...);

/* The same, shown whatever -q says: an operator asked for it (SIGUSR1). */
__attribute__((format(printf, 3, 4))) void log_asked(const struct logger *lg, int priority, const char *fmt, ...);

#endif
