/*
 * daemon/report.c — what wsstatsd tells of its tracking: the -v lines at
 * the end (flows, reassembly, anomalies, peak RSS), the warning when a
 * limit cost records, and the figures published for --metrics.
 */
#include "report.h"

#include <sys/resource.h>
#include <syslog.h>

/* What the flow table and reassembly did, and how often a limit bit. */
void report_tracking(const struct engine *engine, unsigned linger_max, const struct logger *log)
{
    const struct flow_stats *s = flow_table_stats(engine_flows(engine));
    const struct reasm_stats *r = flow_table_reasm_stats(engine_flows(engine));
    const struct engine_stats *e = engine_stats(engine);
    log_msg(log, LOG_DEBUG,
            "flows: %llu seen: %llu WebSocket (recorded), %llu not WebSocket (%llu by their first bytes, "
            "%llu after following them), %llu the rest of a connection evicted for room, %llu undecided "
            "(no payload, or too little to tell); %llu port reuses, %llu expired idle, %llu ended ones freed before "
            "their linger (over %u lingering), %llu segments out of window; "
            "limits: %llu WebSocket and %llu other flows evicted for room (%llu of those by --memcap)",
            (unsigned long long)s->flows, (unsigned long long)e->records,
            (unsigned long long)(e->not_ours + e->refused), (unsigned long long)e->not_ours,
            (unsigned long long)e->refused, (unsigned long long)e->after_eviction,
            (unsigned long long)e->undecided, (unsigned long long)s->port_reuse,
            (unsigned long long)s->idle_expired, (unsigned long long)s->linger_cut, linger_max,
            (unsigned long long)s->out_of_window, (unsigned long long)s->evicted,
            (unsigned long long)s->evicted_other, (unsigned long long)s->memcap_evictions);
    log_msg(log, LOG_DEBUG,
            "reassembly: %llu bytes in order, %llu segments held out of order, %llu duplicates, "
            "%llu conflicting overlaps, %llu gaps (%llu bytes); limits: memcap hit %llu times, "
            "--stream-cap %llu times",
            (unsigned long long)r->delivered_bytes, (unsigned long long)r->held_segments,
            (unsigned long long)r->duplicates, (unsigned long long)r->overlap_conflicts,
            (unsigned long long)r->gaps, (unsigned long long)r->gap_bytes,
            (unsigned long long)r->memcap_hits, (unsigned long long)r->dir_cap_hits);
    log_msg(log, LOG_DEBUG, "anomalies: %llu handshake heads over 16 KiB, %llu frame lengths with the top bit set",
            (unsigned long long)e->anomalies.heads_oversized, (unsigned long long)e->anomalies.frames_len_msb);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        log_msg(log, LOG_DEBUG, "memory: peak RSS %ld KiB", ru.ru_maxrss);
}

/* Without -v: one line when a limit cost records or data. */
void warn_limits(const struct engine *engine, const struct logger *log)
{
    const struct flow_stats *s = flow_table_stats(engine_flows(engine));
    const struct reasm_stats *r = flow_table_reasm_stats(engine_flows(engine));
    if (s->evicted)
        log_msg(log, LOG_WARNING,
                "warning: %llu WebSocket connections were evicted before they ended "
                "(termination evicted): raise --memcap or --max-flows",
                (unsigned long long)s->evicted);
    if (r->memcap_hits || r->dir_cap_hits)
        log_msg(log, LOG_WARNING,
                "warning: out-of-order data found no room %llu times (--memcap %llu, --stream-cap %llu): "
                "reported as gaps",
                (unsigned long long)(r->memcap_hits + r->dir_cap_hits), (unsigned long long)r->memcap_hits,
                (unsigned long long)r->dir_cap_hits);
}

void report_health(struct metrics *m, const struct engine *engine, struct capture_source *s, enum link_state link,
                   uint64_t packets_before, uint64_t bytes_before)
{
    if (!m)
        return;
    const struct flow_table *ft = engine_flows(engine);
    const struct flow_stats *f = flow_table_stats(ft);
    const struct engine_stats *e = engine_stats(engine);
    struct source_counters pc;
    source_counters(s, &pc);
    uint64_t room = f->evicted + f->evicted_other;
    uint64_t ended = e->refused + e->records;
    struct metrics_health h = {
        .packets = packets_before + s->packets,
        .bytes = bytes_before + s->bytes,
        .received = pc.received,
        .kernel_drops = pc.dropped,
        .if_drops = pc.if_dropped,
        .flows = f->flows,
        .flows_tracked = flow_table_count(ft),
        .connections_open = e->followed > ended ? e->followed - ended : 0,
        .memcap_hits = flow_table_reasm_stats(ft)->memcap_hits + f->memcap_evictions,
        .evicted_memcap = f->memcap_evictions,
        .evicted_max_flows = room > f->memcap_evictions ? room - f->memcap_evictions : 0,
        .expired_idle = f->idle_expired,
        .interface_up = link == LINK_UNWATCHED ? -1 : link == LINK_UP,
    };
    metrics_set_health(m, &h);
}
