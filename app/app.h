/*
 * app/app.h — the application-parser interface: what the engine asks of a
 * protocol parser, and nothing more.
 *
 * After Suricata's app-layer registration (one struct of probe, parse and
 * state functions per protocol) and Zeek's analyzers (DeliverStream for
 * in-order bytes, Undelivered for bytes the capture lost). The engine
 * knows parsers only through this struct; a parser knows nothing of flows,
 * reassembly or the store. Directions are DIR_CLIENT and DIR_SERVER
 * (model/record.h).
 *
 * Registered: app_websocket (app/websocket/parser.c). Which flows a parser
 * follows, and when a flow whose handshake the capture missed is picked up,
 * is the policy of app/detect.h.
 */
#ifndef WSSTATS_APP_H
#define WSSTATS_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/timestamp.h"
#include "../model/record.h"

/* What a parser makes of the first in-order bytes of one direction. */
enum app_probe {
    APP_PROBE_HANDSHAKE, /* the protocol's opening (an HTTP upgrade request or response) */
    APP_PROBE_MIDSTREAM, /* the protocol's messages, of a connection that began before the capture */
    APP_PROBE_NO,        /* not this protocol */
    APP_PROBE_UNSURE,    /* not recognised here; later bytes may be (no SYN was seen) */
};

/* Counted for the daemon's statistics when a parser's state goes: inputs
 * that were read, though hostile (not violations of the record). */
struct app_anomalies {
    uint64_t heads_oversized; /* handshake heads over the parser's limit, read up to the cut */
    uint64_t frames_len_msb;  /* frame lengths with the most significant bit set */
};

struct app_parser {
    const char *name;

    /* ---- probing: before a flow is followed ---- */

    /* Who sent a segment with this payload, for a flow whose SYN was not
     * seen: DIR_CLIENT, DIR_SERVER, or -1 if the payload does not tell. */
    int (*sender_role)(const uint8_t *payload, size_t len);
    /* Whether a flow's first payload may be this protocol's opening. */
    bool (*may_open)(const uint8_t *payload, size_t len);
    /* The first in-order bytes of side dir; client_syn_seen: the
     * connection began in the capture (its opening must be seen). */
    enum app_probe (*probe)(int dir, const uint8_t *data, size_t len, bool client_syn_seen);

    /* ---- a followed flow's state ---- */

    /* State for a flow probed APP_PROBE_HANDSHAKE or _MIDSTREAM; NULL if
     * out of memory. */
    void *(*open)(enum app_probe how);
    /* Frees the state, adding its anomalies to *a. */
    void (*close)(void *state, struct app_anomalies *a);
    /* Heap bytes the state holds, each block as common/mem.h counts it. */
    size_t (*mem)(const void *state);
    /* Where the next bytes of side dir lie on the wire: the sequence
     * number of the first and the ACK of the segment that carried them. */
    void (*position)(void *state, int dir, uint32_t seq, uint32_t ack, bool has_ack);
    /* DeliverStream: in-order bytes of side dir. */
    void (*data)(void *state, int dir, const uint8_t *data, size_t len, ts_us_t ts);
    /* Undelivered: len bytes of side dir the capture lost, or (cut) that
     * the snaplen cut off. */
    void (*gap)(void *state, int dir, uint64_t len, bool cut);
    /* The flow turned out not to be this protocol: it is given up. */
    bool (*refused)(const void *state);
    /* The streams are over. */
    void (*finish)(void *state, ts_us_t ts);
    /* The record's protocol columns; torn_down: a FIN or RST ended TCP.
     * Strings in r point into the state. */
    void (*fill_record)(const void *state, bool torn_down, struct ws_record *r);
};

extern const struct app_parser app_websocket;

#endif
