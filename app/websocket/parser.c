/*
 * app/websocket/parser.c — the WebSocket parser's registration with the
 * engine (app/app.h): probing of a flow's first bytes, and the session
 * (session.c) behind the interface's state functions.
 *
 * Probing. With the client's SYN seen, its first bytes must be the upgrade
 * request (RFC 6455 §4.1: "GET "), or the server's the response
 * ("HTTP/1."; a reordered capture may show it first). Without it (the
 * connection began before the capture), whole frames filling a segment
 * are picked up when their masking fits the direction (§5.1: only clients
 * mask), and the roles are learnt from it.
 */
#include "../app.h"
#include "frame.h"
#include "session.h"

static int ws_sender_role(const uint8_t *payload, size_t len)
{
    bool masked = false;
    if (wsconn_looks_like_request(payload, len))
        return DIR_CLIENT;
    if (ws_frames_tile(payload, len, &masked))
        return masked ? DIR_CLIENT : DIR_SERVER; /* RFC 6455 §5.1: only clients mask */
    return -1;
}

static bool ws_may_open(const uint8_t *payload, size_t len)
{
    return wsconn_looks_like_request(payload, len) || wsconn_looks_like_response(payload, len);
}

static enum app_probe ws_probe(int dir, const uint8_t *data, size_t len, bool client_syn_seen)
{
    bool http = dir == DIR_CLIENT ? wsconn_looks_like_request(data, len) : wsconn_looks_like_response(data, len);
    bool masked = false;
    if (http)
        return APP_PROBE_HANDSHAKE;
    if (!client_syn_seen && ws_frames_tile(data, len, &masked) && masked == (dir == DIR_CLIENT))
        return APP_PROBE_MIDSTREAM;
    return client_syn_seen ? APP_PROBE_NO : APP_PROBE_UNSURE;
}

static void *ws_open(enum app_probe how)
{
    return how == APP_PROBE_MIDSTREAM ? wsconn_new_midstream() : wsconn_new();
}

static void ws_close(void *state, struct app_anomalies *a)
{
    struct wsconn *c = state;
    a->heads_oversized += c->heads_oversized;
    a->frames_len_msb += c->frames_len_msb;
    wsconn_free(c);
}

static size_t ws_mem(const void *state)
{
    return wsconn_mem(state);
}

static void ws_position(void *state, int dir, uint32_t seq, uint32_t ack, bool has_ack)
{
    wsconn_position(state, dir, seq, ack, has_ack);
}

static void ws_data(void *state, int dir, const uint8_t *data, size_t len, ts_us_t ts)
{
    wsconn_data(state, dir, data, len, ts);
}

static void ws_gap(void *state, int dir, uint64_t len, bool cut)
{
    wsconn_gap(state, dir, len, cut);
}

static bool ws_refused(const void *state)
{
    const struct wsconn *c = state;
    return c->state == WSC_NOT_WEBSOCKET;
}

static void ws_finish(void *state, ts_us_t ts)
{
    wsconn_finish(state, ts);
}

static void ws_fill_record(const void *state, bool torn_down, struct ws_record *r)
{
    wsconn_fill_record(state, torn_down, r);
}

const struct app_parser app_websocket = {
    .name = "WebSocket",
    .sender_role = ws_sender_role,
    .may_open = ws_may_open,
    .probe = ws_probe,
    .open = ws_open,
    .close = ws_close,
    .mem = ws_mem,
    .position = ws_position,
    .data = ws_data,
    .gap = ws_gap,
    .refused = ws_refused,
    .finish = ws_finish,
    .fill_record = ws_fill_record,
};
