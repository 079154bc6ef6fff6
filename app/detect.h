/*
 * app/detect.h — the detection policy: which flows the application parser
 * follows, judged at their first bytes, and how long a flow whose
 * handshake the capture missed may take to be recognised.
 *
 * A flow whose client SYN was seen is followed only if its first bytes are
 * the protocol's opening; one that began before the capture is picked up
 * when whole messages fill a piece of its stream, within its first
 * DETECT_MIDSTREAM_TRIES pieces, or four times as many when nDPI
 * recognised the protocol's framing in the flow (a frame split oddly, or a
 * first piece cut mid-frame, takes a few more pieces to tile).
 */
#ifndef WSSTATS_DETECT_H
#define WSSTATS_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "classify.h"

#define DETECT_MIDSTREAM_TRIES 8 /* pieces of a flow without a SYN examined before it is given up */

/* Who sent a segment with this payload, by the parser: DIR_CLIENT,
 * DIR_SERVER, or -1 if it does not tell. */
int detect_sender_role(const struct app_parser *p, const uint8_t *payload, size_t len);

/* Whether a flow may be the parser's, judged at its first payload (nDPI
 * examines such flows in line: their answers are needed at once). */
bool detect_may_be_ours(const struct app_parser *p, bool client_syn_seen, const uint8_t *payload, size_t len);

/* The first in-order piece of side dir of an undecided flow: HANDSHAKE or
 * MIDSTREAM (follow it), NO (ignore it), UNSURE (wait for the next piece).
 * *tries counts the pieces a flow without a SYN has shown; nDPI's verdict
 * (cl may be NULL) is asked only when its patience is in question. */
enum app_probe detect_first_bytes(const struct app_parser *p, struct classifier *cl, struct flow_class *fc,
                                  uint8_t *tries, int dir, const uint8_t *data, size_t len, bool client_syn_seen);

#endif
