/*
 * cli/filters.c — parsing of the filter options (see filters.h).
 */
#include "filters.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ipaddr.h"
#include "../model/record.h"

/* A decimal number in [lo, hi] spanning exactly [s, s+len). */
static bool parse_number(const char *s, size_t len, long lo, long hi, long *out)
{
    if (len == 0 || len > 10)
        return false;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* IP, IP:PORT, [IPv6]:PORT, [IPv6], IPv6, :PORT. */
static const char *parse_endpoint(const char *s, char *ip, size_t iplen, const char **ip_out, int *port_out)
{
    const char *host = s, *port = NULL;
    size_t hostlen;
    const char *colon = strchr(s, ':');
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return "a '[' without its ']'";
        host = s + 1;
        hostlen = (size_t)(close - host);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return "expected ':PORT' after ']'";
    } else if (colon && !strchr(colon + 1, ':')) { /* one colon: IPv4:PORT or :PORT */
        hostlen = (size_t)(colon - s);
        port = colon + 1;
    } else {
        hostlen = strlen(s);
    }
    *ip_out = NULL;
    *port_out = -1;
    if (hostlen > 0) {
        if (!ipaddr_normalise(host, hostlen, ip, iplen))
            return "not an IPv4 or IPv6 address (write IPv6 with a port as [ADDR]:PORT)";
        *ip_out = ip;
    }
    if (port) {
        long p;
        if (!parse_number(port, strlen(port), 0, 65535, &p))
            return "the port is not a number from 0 to 65535";
        *port_out = (int)p;
    }
    if (!*ip_out && *port_out < 0)
        return "expected IP, IP:PORT, [IPv6]:PORT or :PORT";
    return NULL;
}

const char *filter_parse_server(const char *s, struct query_filter *f, struct filter_text *ft)
{
    return parse_endpoint(s, ft->server_ip, sizeof ft->server_ip, &f->server_ip, &f->server_port);
}

const char *filter_parse_client(const char *s, struct query_filter *f, struct filter_text *ft)
{
    return parse_endpoint(s, ft->client_ip, sizeof ft->client_ip, &f->client_ip, &f->client_port);
}

/* One item of a comma list: [s, s+len). */
static const char *parse_code_item(const char *s, size_t len, struct code_range *r)
{
    long lo, hi;
    const char *dash = memchr(s, '-', len);
    if (len == 4 && memcmp(s, "none", 4) == 0) {
        r->lo = r->hi = -1;
        return NULL;
    }
    if (dash) {
        if (!parse_number(s, (size_t)(dash - s), 0, 65535, &lo) ||
            !parse_number(dash + 1, len - (size_t)(dash - s) - 1, 0, 65535, &hi))
            return "a code is a number from 0 to 65535, a range N-M, or 'none'";
        if (hi < lo)
            return "a range must go from low to high";
    } else {
        if (!parse_number(s, len, 0, 65535, &lo))
            return "a code is a number from 0 to 65535, a range N-M, or 'none'";
        hi = lo;
    }
    r->lo = (int)lo;
    r->hi = (int)hi;
    return NULL;
}

const char *filter_parse_codes(const char *s, struct query_filter *f)
{
    f->ncodes = 0;
    for (const char *p = s;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (f->ncodes == QUERY_MAX_CODES)
            return "at most 16 codes or ranges";
        const char *err = parse_code_item(p, len, &f->codes[f->ncodes]);
        if (err)
            return err;
        f->ncodes++;
        if (!comma)
            return NULL;
        p = comma + 1;
    }
}

const char *filter_parse_outcomes(const char *s, struct query_filter *f)
{
    f->outcomes = 0;
    for (const char *p = s;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = -1;
        for (int o = OUTCOME_CLEAN; o <= OUTCOME_REJECTED; o++) {
            const char *name = outcome_name((enum outcome)o);
            if (strlen(name) == len && memcmp(name, p, len) == 0)
                found = o;
        }
        if (found < 0)
            return "an outcome is one of clean, half_closed, abnormal, unfinished, rejected";
        f->outcomes |= 1u << found;
        if (!comma)
            return NULL;
        p = comma + 1;
    }
}
