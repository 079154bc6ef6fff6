/*
 * dissect/classify.c — the adapter to nDPI (built against Debian's 4.2).
 *
 * Everything version-specific is here, switched on nDPI's own NDPI_MAJOR /
 * NDPI_MINOR (ndpi_define.h), or forced with -DWSSTATS_NDPI_VERSION=410:
 *   4.2-4.4  init(prefs); process_packet(5 args); giveup(3 args + guessed)
 *   4.6      process_packet takes a flow-info pointer (NULL here); giveup
 *            lost enable_guess
 *   4.8-4.10 init(global context, NULL here); the protocol bitmask is gone
 *            (every protocol is on by default)
 * Only 4.2 is compiled and tested here (Debian 12).
 */
#include "classify.h"

#include <ndpi/ndpi_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLASSIFY_MAX_PACKETS 12 /* nDPI decides HTTP/TLS well within this */
#define SNI_MAX 255                /* RFC 6066 §3: a host name, at most 255 bytes */

#ifndef WSSTATS_NDPI_VERSION
#define WSSTATS_NDPI_VERSION (NDPI_MAJOR * 100 + NDPI_MINOR)
#endif

#if WSSTATS_NDPI_VERSION >= 408
#define NDPI_INIT() ndpi_init_detection_module(NULL)
#else
#define NDPI_INIT() ndpi_init_detection_module(ndpi_no_prefs)
#endif

#if WSSTATS_NDPI_VERSION >= 406
#define NDPI_PROCESS(n, f, p, l, t) ndpi_detection_process_packet(n, f, p, l, t, NULL)
#define NDPI_GIVEUP(n, f, g) ndpi_detection_giveup(n, f, g)
#else
#define NDPI_PROCESS(n, f, p, l, t) ndpi_detection_process_packet(n, f, p, l, t)
#define NDPI_GIVEUP(n, f, g) ndpi_detection_giveup(n, f, 1, g)
#endif

struct classifier {
    struct ndpi_detection_module_struct *ndpi;
};

struct classifier *classifier_new(char *err, size_t errlen)
{
    struct classifier *cl = calloc(1, sizeof *cl);
    if (!cl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    cl->ndpi = NDPI_INIT();
    if (!cl->ndpi) {
        snprintf(err, errlen, "nDPI initialisation failed");
        free(cl);
        return NULL;
    }
#if WSSTATS_NDPI_VERSION < 408
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(cl->ndpi, &all);
#endif
    ndpi_finalize_initialization(cl->ndpi);
    return cl;
}

void classifier_free(struct classifier *cl)
{
    if (!cl)
        return;
    ndpi_exit_detection_module(cl->ndpi);
    free(cl);
}

static void keep_result(struct flow_class *fc, ndpi_protocol p)
{
    fc->master = p.master_protocol;
    fc->app = p.app_protocol;
}

static bool is_tls(const struct flow_class *fc)
{
    return fc->master == NDPI_PROTOCOL_TLS || fc->app == NDPI_PROTOCOL_TLS;
}

/* The server name of a TLS flow, copied while nDPI's state exists. */
static void note_tls(struct flow_class *fc)
{
    if (fc->tls_seen || !is_tls(fc) || !fc->state)
        return;
    const struct ndpi_flow_struct *f = fc->state;
    size_t n = strnlen(f->host_server_name, sizeof f->host_server_name);
    fc->sni = malloc(n + 1);
    if (fc->sni) {
        memcpy(fc->sni, f->host_server_name, n);
        fc->sni[n] = '\0';
    }
    fc->tls_seen = true;
}

static void free_state(struct flow_class *fc)
{
    if (fc->state) {
        ndpi_free_flow(fc->state);
        fc->state = NULL;
    }
    fc->done = true;
}

void classifier_packet(struct classifier *cl, struct flow_class *fc, const uint8_t *l3,
                       uint32_t l3_len, ts_us_t ts)
{
    if (fc->done || !l3 || l3_len == 0)
        return;
    if (!fc->state) {
        fc->state = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
        if (!fc->state) {
            fc->done = true;
            return;
        }
        memset(fc->state, 0, SIZEOF_FLOW_STRUCT);
    }
    unsigned short len = l3_len > 0xffff ? 0xffff : (unsigned short)l3_len;
    ndpi_protocol p = NDPI_PROCESS(cl->ndpi, fc->state, l3, len, (uint64_t)(ts / 1000));
    keep_result(fc, p);
    note_tls(fc);
    fc->packets++;
    /* Classified is enough: nDPI's extra dissection (a TLS certificate, an
     * HTTP response) refines metadata nobody here reads, and was most of
     * its cost per flow. */
    bool known = p.app_protocol != NDPI_PROTOCOL_UNKNOWN || p.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (known || fc->packets >= CLASSIFY_MAX_PACKETS)
        classifier_finish(cl, fc);
}

void classifier_finish(struct classifier *cl, struct flow_class *fc)
{
    if (fc->done)
        return;
    if (fc->state && fc->master == NDPI_PROTOCOL_UNKNOWN && fc->app == NDPI_PROTOCOL_UNKNOWN) {
        uint8_t guessed = 0;
        keep_result(fc, NDPI_GIVEUP(cl->ndpi, fc->state, &guessed));
        note_tls(fc);
    }
    free_state(fc);
}

const char *classifier_name(struct classifier *cl, const struct flow_class *fc, char *buf, size_t len)
{
    if (fc->master == NDPI_PROTOCOL_UNKNOWN && fc->app == NDPI_PROTOCOL_UNKNOWN)
        return NULL;
    ndpi_protocol p;
    memset(&p, 0, sizeof p);
    p.master_protocol = fc->master;
    p.app_protocol = fc->app;
    return ndpi_protocol2name(cl->ndpi, p, buf, (u_int)len);
}

bool classifier_take_tls(struct flow_class *fc, char *buf, size_t len)
{
    if (!fc->tls_seen || fc->tls_taken)
        return false;
    snprintf(buf, len, "%.*s", SNI_MAX, fc->sni ? fc->sni : "");
    free(fc->sni);
    fc->sni = NULL;
    fc->tls_taken = true;
    return true;
}

bool classifier_says_websocket(const struct flow_class *fc)
{
    return fc->master == NDPI_PROTOCOL_WEBSOCKET || fc->app == NDPI_PROTOCOL_WEBSOCKET;
}

void classifier_release(struct flow_class *fc)
{
    free_state(fc);
    free(fc->sni);
    fc->sni = NULL;
}
