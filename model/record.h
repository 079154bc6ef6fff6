/*
 * model/record.h — the connection record (docs/design.md §2), as handed to store/.
 *
 * One per WebSocket connection. Strings are borrowed from the engine and
 * only valid during the emit callback; NULL means SQL NULL. Integers use -1
 * and timestamps TS_NONE for NULL.
 */
#ifndef WSSTATS_RECORD_H
#define WSSTATS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../common/ipaddr.h"
#include "../common/timestamp.h"

/* Violations (docs/design.md §4), one bit each. The names table in model/record.c is in
 * alphabetical order so that joined lists come out sorted. */
enum violation {
    V_BAD_ACCEPT = 1u << 0,
    V_BAD_CONTINUATION = 1u << 1,
    V_CLOSE_TOO_SHORT = 1u << 2,
    V_CONTROL_FRAME_TOO_LONG = 1u << 3,
    V_DATA_AFTER_CLOSE = 1u << 4,
    V_FRAGMENTED_CONTROL_FRAME = 1u << 5,
    V_GAP = 1u << 6,
    V_INVALID_CLOSE_CODE = 1u << 7,
    V_INVALID_UTF8_REASON = 1u << 8,
    V_MASKED_SERVER_FRAME = 1u << 9,
    V_NON_MINIMAL_LENGTH = 1u << 10,
    V_RESERVED_OPCODE = 1u << 11,
    V_RSV_WITHOUT_EXTENSION = 1u << 12,
    V_TRUNCATED = 1u << 13,
    V_UNMASKED_CLIENT_FRAME = 1u << 14,
};
#define V_COUNT 15

/* How the TCP connection ended (docs/design.md §2 `termination`). */
enum termination {
    TERM_NONE = 0,
    TERM_FIN_CLIENT,
    TERM_FIN_SERVER,
    TERM_RST_CLIENT,
    TERM_RST_SERVER,
    TERM_IDLE_TIMEOUT,
    TERM_EVICTED,
    TERM_CAPTURE_END,
    TERM_INTERFACE_DOWN, /* live: the interface went down or away (daemon/wsstatsd.c) */
};
#define TERM_LAST TERM_INTERFACE_DOWN

enum outcome {
    OUTCOME_CLEAN,
    OUTCOME_HALF_CLOSED,
    OUTCOME_ABNORMAL,
    OUTCOME_UNFINISHED,
    OUTCOME_REJECTED,
};

enum { DIR_CLIENT = 0, DIR_SERVER = 1 }; /* index of the sending side */

struct close_info {
    int code;           /* -1: this side sent no close frame */
    const char *reason; /* NULL if none or empty */
    ts_us_t at;
};

struct ws_record {
    const char *sensor;
    char client_ip[IPADDR_TEXT_MAX], server_ip[IPADDR_TEXT_MAX];
    uint16_t client_port, server_port;
    int vlan; /* -1: none */
    ts_us_t started_at, upgraded_at, ended_at;
    const char *host, *path, *origin, *user_agent, *subprotocol, *extensions;
    int http_status;
    int handshake_seen;
    int close_code;
    const char *close_reason;
    int close_initiator; /* DIR_CLIENT, DIR_SERVER or -1 */
    struct close_info close[2]; /* indexed by DIR_* */
    enum outcome outcome;
    enum termination termination;
    uint64_t frames[2], messages[2], bytes[2];
    uint64_t pings, pongs;
    ts_us_t last_frame_at, last_data_at;
    uint32_t violations; /* V_* bits */
    const char *ndpi_protocol;
};

const char *outcome_name(enum outcome o);
const char *termination_name(enum termination t); /* NULL for TERM_NONE */
/* "client" / "server" for DIR_CLIENT / DIR_SERVER, NULL for anything else. */
const char *side_name(int dir);

/* Writes the sorted, comma-separated violation names into buf ("" if none). */
void violations_format(uint32_t bits, char *buf, size_t len);

/* The inverses: a name back to its value. Each returns 0, or -1 if the
 * name is none of them (*out unchanged). */
int outcome_parse(const char *name, enum outcome *out);
int termination_parse(const char *name, enum termination *out); /* not TERM_NONE: it has no name */
int side_parse(const char *name, int *dir);
/* violations_format()'s text back to bits, in any order ("" is 0). */
int violations_parse(const char *text, uint32_t *bits);

/* A record that outlives the emit callback: ws_record_strings_size() bytes
 * after it hold its strings. ws_record_copy() copies src into dst and its
 * strings into `strings` (that many bytes), pointing dst's at them. */
size_t ws_record_strings_size(const struct ws_record *r);
void ws_record_copy(struct ws_record *dst, const struct ws_record *src, char *strings);

#endif
