/*
 * daemon/recorded.c — capture files this database already holds a run of.
 *
 * Reading a file a second time into the same database doubled every one of
 * its records, silently. Each regular file is known by its base name, size
 * and the time of its first packet (capture/source.c reads that packet at
 * open); the store finds an earlier run by them (store_find_recorded). A
 * file given twice on one command line is the same case.
 */
#include "recorded.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "../common/path.h"

static bool identity_of(const struct capture_source *s, struct file_identity *id)
{
    if (s->live || s->file_size < 0 || !s->has_first)
        return false;
    *id = (struct file_identity){.name = path_base(s->name), .size = s->file_size,
                                 .first_packet_at = (double)s->first_ts / 1e6};
    return true;
}

static bool same_identity(const struct file_identity *a, const struct file_identity *b)
{
    return a->size == b->size && a->first_packet_at == b->first_packet_at && strcmp(a->name, b->name) == 0;
}

/* An earlier source of this command line that is the same file, or -1. */
static int given_before(const struct capture_source *src, int i, const struct file_identity *id)
{
    for (int j = 0; j < i; j++) {
        struct file_identity other;
        if (identity_of(&src[j], &other) && same_identity(&other, id))
            return j;
    }
    return -1;
}

/* "capture 3, read 2026-12-07 09:12:03 UTC, complete, 118 connections" */
static void describe_run(const struct recorded_capture *r, char *buf, size_t len)
{
    char when[32] = "?";
    time_t t = (time_t)r->started_at;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(buf, len, "capture %lld, read %s, %s, %llu connection%s", (long long)r->id, when, r->status,
             (unsigned long long)r->connections, r->connections == 1 ? "" : "s");
}

/* 1 if src[i] is recorded already (what says so in `seen`), 0 if not, -1. */
static int recorded_already(struct store *st, const char *db, const struct capture_source *src, int i,
                            const struct logger *log, char *seen, size_t len)
{
    struct file_identity id;
    if (!identity_of(&src[i], &id))
        return 0;
    int twice = given_before(src, i, &id);
    if (twice >= 0) {
        snprintf(seen, len, "given twice (also as %s)", src[twice].name);
        return 1;
    }
    struct recorded_capture r;
    char err[1024];
    int rc = store_find_recorded(st, &id, &r, err, sizeof err);
    if (rc < 0) {
        log_msg(log, LOG_ERR, "%s: %s", db, err);
        return -1;
    }
    if (rc > 0) {
        char run[400];
        describe_run(&r, run, sizeof run);
        snprintf(seen, len, "already recorded into %s (%s)", db, run);
    }
    return rc;
}

int recorded_check(struct store *st, const char *db, const struct capture_source *src, int n,
                   enum recorded_files mode, const struct logger *log, bool *skip)
{
    int refused = 0;
    for (int i = 0; i < n; i++) {
        char seen[1024];
        skip[i] = false;
        int rc = mode == RECORDED_APPEND ? 0 : recorded_already(st, db, src, i, log, seen, sizeof seen);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        if (mode == RECORDED_SKIP) {
            skip[i] = true;
            log_msg(log, LOG_NOTICE, "%s: %s: skipped (--skip-recorded)", src[i].name, seen);
            continue;
        }
        log_msg(log, LOG_ERR,
                "%s: %s: reading it again would count its connections twice (--append-again reads it anyway, "
                "--skip-recorded leaves it out)",
                src[i].name, seen);
        refused++;
    }
    return refused ? -1 : 0;
}
