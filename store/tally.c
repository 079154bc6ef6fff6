/*
 * store/tally.c — the in-memory TLS tally (see tally.h): a bounded
 * countmap whose keys are zero-filled struct tally_key values, so that two
 * flows of one entry have the same key bytes.
 */
#include "tally.h"

#include <stdio.h>
#include <string.h>

int tally_init(struct tally *t)
{
    struct countmap_options o = {.max_entries = TALLY_MAX, .reserve_key_bytes = TALLY_MAX * sizeof(struct tally_key)};
    return countmap_init(&t->map, &o);
}

void tally_free(struct tally *t)
{
    countmap_free(&t->map);
}

int tally_add(struct tally *t, double hour, const char *sensor, const char *server_ip, uint16_t server_port,
              const char *sni, long long connections)
{
    struct tally_key k;
    memset(&k, 0, sizeof k); /* the padding too: keys compare as bytes */
    k.hour = hour;
    k.server_port = server_port;
    snprintf(k.sensor, sizeof k.sensor, "%s", sensor);
    snprintf(k.server_ip, sizeof k.server_ip, "%s", server_ip);
    snprintf(k.sni, sizeof k.sni, "%s", sni);
    return countmap_add(&t->map, &k, sizeof k, connections) < 0 ? -1 : 0;
}

size_t tally_size(const struct tally *t)
{
    return t->map.n;
}

const struct tally_key *tally_key_at(const struct tally *t, size_t i)
{
    return t->map.e[i].key;
}

long long tally_count_at(const struct tally *t, size_t i)
{
    return t->map.e[i].n;
}

void tally_clear(struct tally *t)
{
    countmap_clear(&t->map);
}
