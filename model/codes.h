/*
 * model/codes.h — the WebSocket close-code registry, in one place.
 *
 * Names and ranges as in docs/design.md §3 (RFC 6455 §7.4, the IANA "WebSocket Close
 * Code Number Registry", and CloseEvent.code). Used by the WebSocket parser to judge
 * codes on the wire and by the CLI to name them.
 */
#ifndef WSSTATS_CODES_H
#define WSSTATS_CODES_H

#include <stdbool.h>

enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_NO_STATUS = 1005, /* never on the wire: "no status code present" */
    WS_CLOSE_ABNORMAL = 1006,  /* never on the wire: closed without a close frame */
};

struct close_code_info {
    int lo, hi;              /* inclusive range */
    const char *name;        /* e.g. "Normal Closure" */
    const char *meaning;     /* one sentence, for `explain` */
    bool may_be_sent;        /* RFC 6455 §7.4.1/§7.4.2: allowed in a close frame */
};

/* The registry entry covering `code`, or NULL outside 0..65535 / above 4999. */
const struct close_code_info *close_code_lookup(int code);

/* Short name for reports; "Invalid" for codes >= 5000. */
const char *close_code_name(int code);

/* RFC 6455 §7.4: may this code appear in a close frame on the wire? */
bool close_code_may_be_sent(int code);

/* The whole table, for `wsstats codes`. */
const struct close_code_info *close_code_table(int *count);

#endif
