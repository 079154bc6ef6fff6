/*
 * app/dpi.c — the adapter to nDPI (built against Debian's 4.2; see dpi.h).
 *
 * Everything version-specific is here, switched on nDPI's own NDPI_MAJOR /
 * NDPI_MINOR (ndpi_define.h), or forced with -DWSSTATS_NDPI_VERSION=410:
 *   4.2-4.4  init(prefs); process_packet(5 args); giveup(3 args + guessed)
 *   4.6-4.8  process_packet takes a flow-info pointer (NULL here); giveup
 *            lost enable_guess; init still takes prefs
 *   4.10     init takes a global context (NULL here)
 *   every 4.x: the protocol bitmask must be set before finalising (gone
 *            only in 5.0, which also changed giveup and the protocol
 *            struct: refused at compile time, as is 4.12's)
 * Only 4.2 is linked and tested here (Debian 12); tests/ndpi/api-check.sh
 * (in make check) compiles this file against stand-in headers with the
 * 4.6, 4.8 and 4.10 signatures, so the other branches at least build.
 */
#include "dpi.h"

#include <gcrypt.h>
#include <ndpi/ndpi_api.h>
#include <stdlib.h>
#include <string.h>

#ifndef WSSTATS_NDPI_VERSION
#define WSSTATS_NDPI_VERSION (NDPI_MAJOR * 100 + NDPI_MINOR)
#endif

#if WSSTATS_NDPI_VERSION >= 412
#error "nDPI 4.12 and later (ndpi_master_app_protocol, 5.0's giveup) are not supported by this adapter yet"
#endif

#if WSSTATS_NDPI_VERSION >= 410
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

void dpi_init_once(void)
{
    if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
        return;
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

/* The dissectors both instances run. What a classification is used for:
 * the name on a WebSocket record (flows whose first bytes are an HTTP
 * request or response, or picked up mid-stream: nDPI names an HTTP flow
 * with its HTTP dissector, sub-protocols such as HTTP.Google or HTTP_Proxy
 * coming from the host and headers it parses; a mid-stream WebSocket flow
 * with its WebSocket dissector), and the count of TLS flows (its TLS
 * dissector). Nothing reads any other name nDPI could give. Running its
 * other ~250 dissectors cost a tenth of the packet loop and a quarter of
 * the classifier thread, and named nothing differently (bench capture,
 * corpus, real peers: tests/ndpi compares with WSSTATS_NDPI_ALL=1, which
 * turns them all on). What they did for the TLS count — a flow another
 * dissector claimed (SSH on port 443) was not guessed TLS by its port — is
 * done by the TLS-record test of the guess (classify.c, finish_cell). */
static void set_dissectors(NDPI_PROTOCOL_BITMASK *mask)
{
    NDPI_BITMASK_RESET(*mask);
    NDPI_ADD_PROTOCOL_TO_BITMASK(*mask, NDPI_PROTOCOL_HTTP);
    NDPI_ADD_PROTOCOL_TO_BITMASK(*mask, NDPI_PROTOCOL_WEBSOCKET);
    NDPI_ADD_PROTOCOL_TO_BITMASK(*mask, NDPI_PROTOCOL_TLS);
}

struct ndpi_detection_module_struct *dpi_new(void)
{
    struct ndpi_detection_module_struct *n = NDPI_INIT();
    if (!n)
        return NULL;
    NDPI_PROTOCOL_BITMASK mask;
    if (!getenv("WSSTATS_NDPI_ALL"))
        set_dissectors(&mask);
    else
        NDPI_BITMASK_SET_ALL(mask);
    ndpi_set_protocol_detection_bitmask2(n, &mask);
    ndpi_finalize_initialization(n);
    return n;
}

void dpi_free(struct ndpi_detection_module_struct *n)
{
    if (n)
        ndpi_exit_detection_module(n);
}

struct ndpi_flow_struct *dpi_flow_new(void)
{
    struct ndpi_flow_struct *f = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
    if (f)
        memset(f, 0, SIZEOF_FLOW_STRUCT);
    return f;
}

void dpi_flow_free(struct ndpi_flow_struct *f)
{
    ndpi_free_flow(f);
}

size_t dpi_flow_size(void)
{
    return SIZEOF_FLOW_STRUCT;
}

/* nDPI's HTTP dissector stacks HTTP on the protocol the flow's ports
 * suggested (guessed_protocol_id): a WebSocket client whose ephemeral port
 * happened to be 51413 or 53646 (BitTorrent's) was named "BitTorrent.HTTP"
 * (seen once in a CI run of the e2e suite's real peers; tests/ndpi makes
 * such flows). A master protocol that only the ports gave, under HTTP that
 * the bytes gave, is no detection: the answer is HTTP. */
static struct dpi_answer answer_of(const struct ndpi_flow_struct *f, ndpi_protocol p)
{
    struct dpi_answer a = {p.master_protocol, p.app_protocol};
    if (a.app == NDPI_PROTOCOL_HTTP && a.master != NDPI_PROTOCOL_UNKNOWN && a.master != NDPI_PROTOCOL_HTTP &&
        a.master == f->guessed_protocol_id)
        a.master = NDPI_PROTOCOL_UNKNOWN;
    return a;
}

struct dpi_answer dpi_packet(struct ndpi_detection_module_struct *n, struct ndpi_flow_struct *f, const uint8_t *l3,
                             size_t len, uint64_t ts_ms)
{
    unsigned short l = len > 0xffff ? 0xffff : (unsigned short)len;
    return answer_of(f, NDPI_PROCESS(n, f, l3, l, ts_ms));
}

struct dpi_answer dpi_give_up(struct ndpi_detection_module_struct *n, struct ndpi_flow_struct *f, bool *guessed)
{
    uint8_t g = 0;
    struct dpi_answer a = answer_of(f, NDPI_GIVEUP(n, f, &g));
    *guessed = g != 0;
    return a;
}

bool dpi_is_known(struct dpi_answer a)
{
    return a.master != NDPI_PROTOCOL_UNKNOWN || a.app != NDPI_PROTOCOL_UNKNOWN;
}

bool dpi_is_tls(struct dpi_answer a)
{
    return a.master == NDPI_PROTOCOL_TLS || a.app == NDPI_PROTOCOL_TLS;
}

bool dpi_is_websocket(struct dpi_answer a)
{
    return a.master == NDPI_PROTOCOL_WEBSOCKET || a.app == NDPI_PROTOCOL_WEBSOCKET;
}

/* Examined and given up without a name: nDPI's own "Unknown" (its name for
 * protocol 0), so the record says nDPI could not tell. */
const char *dpi_name(struct ndpi_detection_module_struct *n, struct dpi_answer a, char *buf, size_t len)
{
    ndpi_protocol p;
    memset(&p, 0, sizeof p);
    p.master_protocol = a.master;
    p.app_protocol = a.app;
    return ndpi_protocol2name(n, p, buf, (u_int)len);
}

void dpi_server_name(const struct ndpi_flow_struct *f, char *out, size_t max)
{
    size_t n = strnlen(f->host_server_name, sizeof f->host_server_name);
    n = n > max ? max : n;
    memcpy(out, f->host_server_name, n);
    out[n] = '\0';
}
