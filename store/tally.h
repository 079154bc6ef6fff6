/*
 * store/tally.h — TLS flows counted in memory between two commits.
 *
 * One entry per (hour, sensor, server, port, server name); a flow adds one
 * to its entry. The entries are a bounded common/countmap.h keyed by the
 * struct below (strings cut to its fields' sizes, as the table stores
 * them), so counting a flow is a hash and, nearly always, one key
 * comparison — not a scan (26,000 TLS flows in the benchmark capture made
 * a linear scan 8% of the run) — and never an allocation. The store writes
 * the entries out and clears the table.
 */
#ifndef WSSTATS_TALLY_H
#define WSSTATS_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "../common/countmap.h"

#define TALLY_MAX 4096 /* distinct entries between two commits */

struct tally_key {
    double hour; /* epoch seconds at the start of the hour */
    char sensor[128], server_ip[46], sni[256];
    uint16_t server_port;
};

struct tally {
    struct countmap map; /* keys: struct tally_key; in order of first appearance */
};

/* Returns 0, or -1 if memory could not be had. */
int tally_init(struct tally *t);
void tally_free(struct tally *t);

/* Adds `connections` flows to the key's entry. Returns 0, or -1 if the
 * table is full (nothing counted). */
int tally_add(struct tally *t, double hour, const char *sensor, const char *server_ip, uint16_t server_port,
              const char *sni, long long connections);

/* The entries, 0 .. tally_size() - 1: the key and its flows. */
size_t tally_size(const struct tally *t);
const struct tally_key *tally_key_at(const struct tally *t, size_t i);
long long tally_count_at(const struct tally *t, size_t i);

/* Forgets every entry (after they were written). */
void tally_clear(struct tally *t);

#endif
