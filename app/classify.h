/*
 * app/classify.h — flow classification; the one adapter to nDPI.
 *
 * nDPI's API changes between releases (4.2 here; 4.6-4.10 changed packet
 * processing, give-up and initialisation), so nothing else includes its
 * headers.
 *
 * nDPI runs on a thread of its own, beside the packet loop, for the flows
 * that cannot be WebSocket: a flow's first packets are copied to it
 * through a ring (ring.h), it writes the result into the flow's shared
 * cell and reports TLS flows itself. Flows that may be WebSocket are
 * classified in line by the packet loop (their answers are needed at
 * once). Either way the answers are those of running nDPI packet for
 * packet in capture order, so runs are deterministic.
 * A flow's nDPI state lives only while its first packets are examined;
 * afterwards only the two protocol ids remain (a TLS flow is reported,
 * with its server name, as soon as nDPI names it).
 */
#ifndef WSSTATS_CLASSIFY_H
#define WSSTATS_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/timestamp.h"

struct classifier;
struct class_cell; /* shared by the packet loop and the classifier thread */

/* A flow's side of it, owned by the packet loop. */
struct flow_class {
    struct class_cell *cell; /* NULL until its first packet is sent */
    uint8_t sent;            /* packets handed over */
    bool finish_sent;        /* no more will be (finish sent, or the answer seen) */
    bool in_line;            /* classified by the packet loop itself */
};

/* Where a flow goes, as the packet loop knows it when it hands a packet
 * over: the classifier thread reports TLS flows with it. */
struct class_flow_info {
    const uint8_t *server_addr; /* 16 bytes, IPv4 v4-mapped */
    uint16_t server_port;
    const char *sensor; /* kept by pointer */
    ts_us_t last_seen;  /* the flow's newest packet (a TLS guess made at the end is dated so) */
};

/* A TLS flow, reported once, on the classifier thread, when nDPI says TLS
 * (or guesses it at the end): sni "" if the ClientHello named none; ts the
 * packet that decided it. */
typedef void (*class_tls_fn)(void *arg, const struct class_flow_info *where, const char *sni, ts_us_t ts);

/* NULL on failure, with a message in err. */
struct classifier *classifier_new(char *err, size_t errlen);
void classifier_free(struct classifier *cl);

/* Where TLS flows are reported (NULL: nowhere). Called on the classifier
 * thread: fn must be safe to call from there. Set it before any packet. */
void classifier_on_tls(struct classifier *cl, class_tls_fn fn, void *arg);

/* Whether the flow's next packet is still of use to nDPI. */
bool classifier_wants(struct flow_class *fc);

/* One packet of a flow, as nDPI gets it. */
struct class_packet {
    const uint8_t *l3; /* the IP header */
    uint32_t l3_len;   /* captured bytes from it on */
    const uint8_t *payload; /* the TCP payload inside them ... */
    uint32_t payload_len;   /* ... and its captured bytes */
    ts_us_t ts;
};

/* Hands one packet of the flow to nDPI. in_line, on the flow's first
 * packet, keeps the flow on the packet loop's own nDPI instance: for flows
 * that may be WebSocket, whose answers are needed at once (a record's
 * name, the mid-stream pickup's question). */
void classifier_packet(struct classifier *cl, struct flow_class *fc, const struct class_packet *p,
                       const struct class_flow_info *where, bool in_line);

/* Ends classification (give up and guess if not yet known) and waits for
 * the result (only if nDPI had not decided yet). */
void classifier_finish(struct classifier *cl, struct flow_class *fc, const struct class_flow_info *where);

/* After classifier_finish(): nDPI's name, e.g. "HTTP" or "TLS.Google",
 * "Unknown" if nDPI examined the flow and could not name it; NULL only if
 * it never had a packet of it (no payload, or no memory for its state). */
const char *classifier_name(struct classifier *cl, const struct flow_class *fc, char *buf, size_t len);

/* Whether nDPI recognised WebSocket framing in the packets sent so far
 * (helps picking up a connection whose handshake the capture missed);
 * waits for them to be examined. */
bool classifier_says_websocket(struct classifier *cl, struct flow_class *fc);

/* Gives the flow up (finishing it first if need be): what the thread still
 * has to do for it, it does and frees. Waits only while too many flows
 * given up this way still hold nDPI state on the thread (a flood that
 * outruns it; classify.c, LIMBO_MAX), until half of them are freed. */
void classifier_release(struct classifier *cl, struct flow_class *fc, const struct class_flow_info *where);

/* What the flow's classification holds in memory, by a fixed estimate
 * (classify.c): its cell and, until the packet loop has learnt that nDPI is
 * done with it (classifier_wants() saw the answer, classifier_finish(), a
 * flow classified in line decided, or its last packet was handed over),
 * nDPI's flow state. Changes only in
 * the calls above, made by the packet loop; 0 after classifier_release().
 * The owner charges it to its memcap. */
size_t classifier_flow_cost(const struct flow_class *fc);

/* Wakes the thread for what waits (live capture: at least once a second). */
void classifier_flush(struct classifier *cl);

/* Waits until the thread has handled everything sent so far (every TLS
 * report made). */
void classifier_sync(struct classifier *cl);

#endif
