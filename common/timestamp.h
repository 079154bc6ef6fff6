/*
 * common/timestamp.h — the one time unit of the project.
 *
 * Packet times, record times and every clock the daemon compares them with
 * are microseconds since the Unix epoch in a signed 64-bit integer. A time
 * that is not there (a connection never upgraded, a side that sent no close
 * frame) is TS_NONE.
 */
#ifndef WSSTATS_TIMESTAMP_H
#define WSSTATS_TIMESTAMP_H

#include <stdint.h>

typedef int64_t ts_us_t;

#define TS_NONE INT64_MIN

#endif
