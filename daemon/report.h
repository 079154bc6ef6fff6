/*
 * daemon/report.h — what wsstatsd tells of its tracking: the -v lines at
 * the end, the one warning when a limit cost records, and the figures it
 * publishes for --metrics.
 */
#ifndef WSSTATS_REPORT_H
#define WSSTATS_REPORT_H

#include "../capture/source.h"
#include "../engine/engine.h"
#include "log.h"
#include "metrics.h"

/* -v: what the flow table and reassembly did, and how often a limit bit. */
void report_tracking(const struct engine *engine, unsigned linger_max, const struct logger *log);
/* Without -v: one line when a limit cost records or data. */
void warn_limits(const struct engine *engine, const struct logger *log);

/* The source's and the engine's figures for --metrics (m may be NULL). */
void report_health(struct metrics *m, const struct engine *engine, struct capture_source *s, enum link_state link,
                   uint64_t packets_before, uint64_t bytes_before); /* of the sources read before s */

#endif
