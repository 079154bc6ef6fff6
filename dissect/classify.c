/*
 * dissect/classify.c — the adapter to nDPI (built against Debian's 4.2).
 *
 * Everything version-specific is here. NDPI_API_V46 marks where nDPI >= 4.6
 * differs (ndpi_detection_process_packet gained a flow-info argument and
 * ndpi_init_detection_module/ndpi_detection_giveup changed shape); define it
 * to build against those releases.
 */
#include "classify.h"

#include <ndpi/ndpi_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLASSIFY_MAX_PACKETS 12 /* nDPI decides HTTP/TLS well within this */

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
    cl->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!cl->ndpi) {
        snprintf(err, errlen, "nDPI initialisation failed");
        free(cl);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(cl->ndpi, &all);
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
    ndpi_protocol p = ndpi_detection_process_packet(cl->ndpi, fc->state, l3, len, (uint64_t)(ts / 1000));
    keep_result(fc, p);
    fc->packets++;
    bool known = p.app_protocol != NDPI_PROTOCOL_UNKNOWN || p.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if ((known && !ndpi_extra_dissection_possible(cl->ndpi, fc->state)) || fc->packets >= CLASSIFY_MAX_PACKETS)
        classifier_finish(cl, fc);
}

void classifier_finish(struct classifier *cl, struct flow_class *fc)
{
    if (fc->done)
        return;
    if (fc->state && fc->master == NDPI_PROTOCOL_UNKNOWN && fc->app == NDPI_PROTOCOL_UNKNOWN) {
        uint8_t guessed = 0;
        keep_result(fc, ndpi_detection_giveup(cl->ndpi, fc->state, 1, &guessed));
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
