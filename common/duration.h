/*
 * common/duration.h — durations ("90s", "15m", "1h", "7d") and times (ISO 8601)
 * as typed on command lines, shared by wsstats and wsstatsd.
 */
#ifndef WSSTATS_DURATION_H
#define WSSTATS_DURATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "90s", "15m", "1h", "7d", "2w", "500ms", or a bare number of seconds;
 * also sums such as "1h30m". Microseconds into *us. */
bool duration_parse(const char *s, int64_t *us);

/* ISO 8601: "2026-11-23", "2026-11-23T19:30", "2026-11-23 19:30:05",
 * optional fraction, "Z" or "+01:00"; no zone means UTC. Seconds into *t. */
bool time_parse_iso(const char *s, double *t);

/* "2026-11-23 19:30:05" (UTC) into buf. */
void time_format(double t, char *buf, size_t len);

/* "1h 5m", "42s", "350ms" into buf. */
void duration_format(double seconds, char *buf, size_t len);

#endif
