/*
 * store/tally.h — TLS flows counted in memory between two commits.
 *
 * One entry per (hour, sensor, server, port, server name); a flow adds one
 * to its entry. The table is open-addressed and fixed in size, so counting
 * a flow is a hash and, nearly always, one string comparison — not a scan
 * (26,000 TLS flows in the benchmark capture made a linear scan 8% of the
 * run). The store writes the entries out and clears the table.
 */
#ifndef WSSTATS_TALLY_H
#define WSSTATS_TALLY_H

#include <stddef.h>
#include <stdint.h>

#define TALLY_MAX 4096 /* distinct entries between two commits */

struct tally_entry {
    double hour; /* epoch seconds at the start of the hour */
    char sensor[128], server_ip[46], sni[256];
    uint16_t server_port;
    long long connections;
};

struct tally {
    struct tally_entry *entries; /* in order of first appearance */
    uint16_t *slots;             /* open addressing: entry index + 1, 0 = free */
    uint32_t *hashes;            /* per entry, for the probe */
    size_t n;
};

/* Returns 0, or -1 if memory could not be had. */
int tally_init(struct tally *t);
void tally_free(struct tally *t);

/* Adds `connections` flows to the key's entry. Returns 0, or -1 if the
 * table is full (nothing counted). */
int tally_add(struct tally *t, double hour, const char *sensor, const char *server_ip, uint16_t server_port,
              const char *sni, long long connections);

/* Forgets every entry (after they were written). */
void tally_clear(struct tally *t);

#endif
