/*
 * store/tally.c — the in-memory TLS tally (see tally.h).
 *
 * Slots are twice the entry limit, so the load factor stays at or under one
 * half and linear probing ends quickly.
 */
#include "tally.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS (2 * TALLY_MAX) /* a power of two */

int tally_init(struct tally *t)
{
    memset(t, 0, sizeof *t);
    t->entries = malloc(TALLY_MAX * sizeof *t->entries);
    t->slots = calloc(SLOTS, sizeof *t->slots);
    t->hashes = malloc(TALLY_MAX * sizeof *t->hashes);
    if (!t->entries || !t->slots || !t->hashes) {
        tally_free(t);
        return -1;
    }
    return 0;
}

void tally_free(struct tally *t)
{
    free(t->entries);
    free(t->slots);
    free(t->hashes);
    memset(t, 0, sizeof *t);
}

/* Strings are keyed as stored: cut to their field's size. */
#define FIELD_CHARS(field) (sizeof(((struct tally_entry *)0)->field) - 1)

static uint32_t hash_str(uint32_t h, const char *s, size_t max)
{
    for (size_t i = 0; i < max && s[i]; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u; /* FNV-1a */
    return (h ^ 0xff) * 16777619u;           /* a terminator: "ab"+"c" differs from "a"+"bc" */
}

static uint32_t key_hash(double hour, const char *sensor, const char *server_ip, uint16_t port, const char *sni)
{
    uint32_t h = 2166136261u ^ (uint32_t)(int64_t)(hour / 3600.0);
    h = (h ^ port) * 16777619u;
    h = hash_str(h, server_ip, FIELD_CHARS(server_ip));
    h = hash_str(h, sni, FIELD_CHARS(sni));
    return hash_str(h, sensor, FIELD_CHARS(sensor));
}

static bool same_key(const struct tally_entry *e, double hour, const char *sensor, const char *server_ip,
                     uint16_t port, const char *sni)
{
    return e->hour == hour && e->server_port == port &&
           strncmp(e->server_ip, server_ip, FIELD_CHARS(server_ip)) == 0 &&
           strncmp(e->sni, sni, FIELD_CHARS(sni)) == 0 && strncmp(e->sensor, sensor, FIELD_CHARS(sensor)) == 0;
}

int tally_add(struct tally *t, double hour, const char *sensor, const char *server_ip, uint16_t server_port,
              const char *sni, long long connections)
{
    uint32_t h = key_hash(hour, sensor, server_ip, server_port, sni);
    uint32_t i = h & (SLOTS - 1);
    for (; t->slots[i]; i = (i + 1) & (SLOTS - 1)) {
        struct tally_entry *e = &t->entries[t->slots[i] - 1];
        if (t->hashes[t->slots[i] - 1] == h && same_key(e, hour, sensor, server_ip, server_port, sni)) {
            e->connections += connections;
            return 0;
        }
    }
    if (t->n == TALLY_MAX)
        return -1;
    struct tally_entry *e = &t->entries[t->n];
    e->hour = hour;
    snprintf(e->sensor, sizeof e->sensor, "%s", sensor);
    snprintf(e->server_ip, sizeof e->server_ip, "%s", server_ip);
    snprintf(e->sni, sizeof e->sni, "%s", sni);
    e->server_port = server_port;
    e->connections = connections;
    t->hashes[t->n] = h;
    t->slots[i] = (uint16_t)(t->n + 1);
    t->n++;
    return 0;
}

void tally_clear(struct tally *t)
{
    if (t->n)
        memset(t->slots, 0, SLOTS * sizeof *t->slots);
    t->n = 0;
}
