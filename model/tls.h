/*
 * model/tls.h — a TLS flow, as it is counted (docs/design.md, "TLS flows").
 *
 * A TCP flow nDPI classified as TLS cannot be decoded: its WebSocket
 * frames, if any, are encrypted. Such flows are counted per hour, sensor,
 * server and SNI (table tls_flows), so that a report can say what it could
 * not see.
 */
#ifndef WSSTATS_TLS_H
#define WSSTATS_TLS_H

#include <stdint.h>

#include "../common/ipaddr.h"
#include "../common/timestamp.h"

struct tls_flow {
    const char *sensor;
    char server_ip[IPADDR_TEXT_MAX];
    uint16_t server_port;
    const char *sni; /* "" if the ClientHello named none */
    ts_us_t ts;      /* when it was classified */
};

#endif
