/*
 * dissect/classify.h — flow classification; the one adapter to nDPI.
 *
 * nDPI's API changes between releases (4.2 here; 4.6-4.10 changed packet
 * processing, give-up and initialisation), so nothing else includes its
 * headers. A flow's nDPI state lives only while the first packets are
 * examined; afterwards only the two protocol ids remain (4 bytes), and for
 * a TLS flow its server name until the dissector has reported it.
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
    char *sni;        /* a TLS flow's server name, until taken (classifier_take_tls) */
    uint16_t master, app; /* nDPI protocol ids once known */
    uint8_t packets;  /* packets examined */
    bool done;        /* classified or given up; state freed */
    bool tls_seen;    /* nDPI said TLS: classifier_take_tls() reports it once */
    bool tls_taken;
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

/* Once per TLS flow, true with its SNI ("" if the ClientHello carried
 * none) copied into buf; the copy in fc is freed. */
bool classifier_take_tls(struct flow_class *fc, char *buf, size_t len);

/* Whether nDPI recognised WebSocket framing in the flow (helps picking up
 * a connection whose handshake the capture missed). */
bool classifier_says_websocket(const struct flow_class *fc);

/* Frees what fc holds (nDPI state, an SNI not taken). */
void classifier_release(struct flow_class *fc);

#endif
