/*
 * app/detect.c — the detection policy (see detect.h).
 */
#include "detect.h"

int detect_sender_role(const struct app_parser *p, const uint8_t *payload, size_t len)
{
    return p->sender_role(payload, len);
}

bool detect_may_be_ours(const struct app_parser *p, bool client_syn_seen, const uint8_t *payload, size_t len)
{
    return !client_syn_seen || p->may_open(payload, len);
}

/* How many pieces of a mid-stream flow may pass before it is given up. */
static unsigned midstream_patience(struct classifier *cl, struct flow_class *fc)
{
    return cl && classifier_says_websocket(cl, fc) ? DETECT_MIDSTREAM_TRIES * 4 : DETECT_MIDSTREAM_TRIES;
}

enum app_probe detect_first_bytes(const struct app_parser *p, struct classifier *cl, struct flow_class *fc,
                                  uint8_t *tries, int dir, const uint8_t *data, size_t len, bool client_syn_seen)
{
    enum app_probe v = p->probe(dir, data, len, client_syn_seen);
    if (v != APP_PROBE_UNSURE)
        return v;
    return ++*tries >= midstream_patience(cl, fc) ? APP_PROBE_NO : APP_PROBE_UNSURE;
}
