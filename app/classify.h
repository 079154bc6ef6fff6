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
 * cell and notes TLS flows for the engine to take. Flows that may be WebSocket are
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

#define CLASS_SNI_MAX 255 /* RFC 6066 §3: a host name, at most 255 bytes */

/* A TLS flow, found once, when nDPI says TLS (or guesses it at the end,
 * from a payload that began as a TLS record does): its server, the name
 * its ClientHello asked for ("" if none) and when it was decided (the
 * packet's time; for a guess, the flow's newest packet). */
struct class_tls {
    uint8_t server_addr[16];
    uint16_t server_port;
    const char *sensor;
    ts_us_t ts;
    char sni[CLASS_SNI_MAX + 1];
};

/* NULL on failure, with a message in err. */
struct classifier *classifier_new(char *err, size_t errlen);
void classifier_free(struct classifier *cl);

/* TLS flows found and not yet taken. */
struct class_tls_batch {
    struct class_tls *v;
    size_t n, cap;
};

/* TLS flows are found on either thread and wait in the classifier until
 * the packet loop takes them: whether any wait (one relaxed load, cheap
 * enough for every packet), and all of them, swapped into *b, whose own
 * (taken, emptied: n 0) array the classifier keeps for the next ones.
 * What waits is at most one per message the thread handled since the last
 * take (the ring's worth) and one per flow the packet loop classified in
 * line since. Once classifier_sync() has returned, every TLS flow of the
 * flows given up so far waits. Free a batch with classifier_batch_free(). */
bool classifier_tls_waiting(struct classifier *cl);
void classifier_take_tls(struct classifier *cl, struct class_tls_batch *b);
void classifier_batch_free(struct class_tls_batch *b);
/* TLS flows found that could not be kept, for want of memory. */
uint64_t classifier_tls_lost(struct classifier *cl);

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
 * flow of the flows released so far found). */
void classifier_sync(struct classifier *cl);

#endif
