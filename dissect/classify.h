/*
 * dissect/classify.h — flow classification; the one adapter to nDPI.
 *
 * nDPI's API changes between releases (4.2 here; 4.6-4.10 changed packet
 * processing, give-up and initialisation), so nothing else includes its
 * headers. A flow's nDPI state lives only while the first packets are
 * examined; afterwards only the two protocol ids remain (4 bytes).
 */
#ifndef WSSTATS_CLASSIFY_H
#define WSSTATS_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/packet.h"

struct classifier;

struct flow_class {
    void *state;      /* nDPI's per-flow struct while classifying */
    uint16_t master, app; /* nDPI protocol ids once known */
    uint8_t packets;  /* packets examined */
    bool done;        /* classified or given up; state freed */
};

/* NULL on failure, with a message in err. */
struct classifier *classifier_new(char *err, size_t errlen);
void classifier_free(struct classifier *cl);

/* Examines one packet of the flow (its IP header at l3) until classified. */
void classifier_packet(struct classifier *cl, struct flow_class *fc, const uint8_t *l3,
                       uint32_t l3_len, ts_us_t ts);

/* Ends classification (give up and guess if not yet known), frees state. */
void classifier_finish(struct classifier *cl, struct flow_class *fc);

/* nDPI's name, e.g. "HTTP" or "TLS.Google"; NULL if unknown. */
const char *classifier_name(struct classifier *cl, const struct flow_class *fc, char *buf, size_t len);

#endif
