/*
 * app/websocket/outcome.c — the record's WebSocket columns (see
 * session_internal.h): the handshake's fields, each side's counters and
 * close, who closed first, and the outcome (docs/design.md, "The record").
 */
#include "session_internal.h"

#include "../../model/codes.h"

/* True if `by`'s close frame went out after `by` had received `of`'s. */
static bool close_answers(const struct ws_side *by, const struct ws_side *of)
{
    return by->close_has_ack && (int32_t)(by->close_ack - of->close_end_seq) >= 0;
}

/* RFC 6455 §7.1.2-§7.1.3: one side starts the closing handshake, the other
 * answers. Capture order may lie on a tap; the ACK carried with each close
 * frame says whether its sender had already received the other's close.
 * When neither or both did (a simultaneous close), capture order stands. */
static int close_initiator(const struct wsconn *c)
{
    const struct ws_side *cl = &c->side[DIR_CLIENT], *sv = &c->side[DIR_SERVER];
    if (!cl->close_seen || !sv->close_seen || !cl->close_pos_known || !sv->close_pos_known)
        return c->first_close;
    bool server_answered = close_answers(sv, cl), client_answered = close_answers(cl, sv);
    if (server_answered != client_answered)
        return server_answered ? DIR_CLIENT : DIR_SERVER;
    return c->first_close;
}

/* docs/design.md §3: outcome and close code from what the capture showed. */
static void decide_outcome(const struct wsconn *c, bool torn_down, struct ws_record *r)
{
    int first_close = close_initiator(c);
    r->close_code = -1;
    r->close_reason = NULL;
    r->close_initiator = first_close;
    if (c->state == WSC_REJECTED) {
        r->outcome = OUTCOME_REJECTED;
        return;
    }
    if (first_close >= 0) {
        const struct ws_side *first = &c->side[first_close];
        r->close_code = first->close_code;
        r->close_reason = first->close_reason;
        r->outcome = c->side[0].close_seen && c->side[1].close_seen ? OUTCOME_CLEAN : OUTCOME_HALF_CLOSED;
        return;
    }
    if (torn_down) {
        r->close_code = WS_CLOSE_ABNORMAL;
        r->outcome = OUTCOME_ABNORMAL;
    } else {
        r->outcome = OUTCOME_UNFINISHED;
    }
}

void wsconn_fill_record(const struct wsconn *c, bool torn_down, struct ws_record *r)
{
    r->host = c->host;
    r->path = c->path;
    r->origin = c->origin;
    r->user_agent = c->user_agent;
    r->subprotocol = c->subprotocol;
    r->extensions = c->extensions;
    r->http_status = c->http_status;
    r->handshake_seen = c->handshake_seen;
    r->upgraded_at = c->upgraded_at;
    r->last_frame_at = c->last_frame_at;
    r->last_data_at = c->last_data_at;
    r->pings = c->pings;
    r->pongs = c->pongs;
    r->violations |= c->violations;
    for (int d = 0; d < 2; d++) {
        const struct ws_side *s = &c->side[d];
        r->frames[d] = s->frames;
        r->messages[d] = s->messages;
        r->bytes[d] = s->bytes;
        r->close[d].code = s->close_seen ? s->close_code : -1; /* -1 also: code lost in a gap */
        r->close[d].reason = s->close_seen ? s->close_reason : NULL;
        r->close[d].at = s->close_seen ? s->close_at : TS_NONE;
    }
    decide_outcome(c, torn_down, r);
}
