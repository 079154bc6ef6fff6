/*
 * app/websocket/http.h — zero-copy, allocation-free HTTP/1.x message-head parser.
 *
 * In the manner of picohttpparser: the caller hands in the bytes it has; the
 * parser returns the length of the complete head (request or status line plus
 * headers plus the blank line), HTTP_INCOMPLETE when more bytes are needed,
 * or HTTP_ERROR. Header names and values point into the caller's buffer.
 */
#ifndef WSSTATS_HTTP_H
#define WSSTATS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_ERROR (-1)
#define HTTP_INCOMPLETE (-2)

struct http_str {
    const char *p;
    size_t len;
};

struct http_header {
    struct http_str name, value;
};

struct http_head {
    struct http_str method; /* request only */
    struct http_str target; /* request only */
    int status;             /* response only */
    int minor_version;
    struct http_header *headers; /* caller's array */
    size_t num_headers;          /* in: capacity; out: count */
    size_t dropped_headers;      /* headers past the capacity, skipped */
};

/* Where the head ends: the offset just past "\r\n\r\n" (or "\n\n"), or 0.
 * `from` lets a caller that appends data resume the search near the end. */
size_t http_head_end(const uint8_t *buf, size_t len, size_t from);

/* Parse a complete request head / response head. Returns the head length,
 * HTTP_INCOMPLETE or HTTP_ERROR. */
long http_parse_request(const uint8_t *buf, size_t len, struct http_head *h);
long http_parse_response(const uint8_t *buf, size_t len, struct http_head *h);

/* Case-insensitive comparisons for header names and tokens (RFC 9110 §5.1). */
int http_str_ieq(struct http_str s, const char *lit);

/* True if the comma-separated list `s` holds `token` (RFC 9110 §5.6.1). */
int http_list_has_token(struct http_str s, const char *token);

/* The first header called `name`, or NULL. */
const struct http_header *http_find(const struct http_head *h, const char *name);

#endif
