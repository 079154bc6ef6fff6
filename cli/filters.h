/*
 * cli/filters.h — the filter options of wsstats (docs/design.md §5) parsed from
 * what the user typed into a struct query_filter.
 *
 * Each parser returns NULL on success or a message naming what is wrong
 * (the caller prefixes the option). Addresses are normalised to the text
 * form wsstatsd stores (inet_ntop; IPv4-mapped IPv6 as plain IPv4), so
 * "::0001" finds "::1".
 */
#ifndef WSSTATS_FILTERS_H
#define WSSTATS_FILTERS_H

#include <stddef.h>

#include "../query/query.h"

/* Address text normalised by the filter parsers lives here. */
struct filter_text {
    char server_ip[64], client_ip[64];
};

/* --server IP[:PORT] | [IPv6]:PORT | IPv6 | :PORT */
const char *filter_parse_server(const char *s, struct query_filter *f, struct filter_text *ft);
/* --client IP[:PORT], same forms */
const char *filter_parse_client(const char *s, struct query_filter *f, struct filter_text *ft);
/* --code N[,N-M,none...]: codes 0 to 65535, ranges, "none" for no close code */
const char *filter_parse_codes(const char *s, struct query_filter *f);
/* --outcome clean,half_closed,...: names of docs/design.md §3 */
const char *filter_parse_outcomes(const char *s, struct query_filter *f);

#endif
