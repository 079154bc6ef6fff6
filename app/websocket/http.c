/*
 * app/websocket/http.c — zero-copy HTTP/1.x message-head parser (RFC 9112 §2-§5).
 *
 * Only what a WebSocket opening handshake (RFC 6455 §4) needs: request line,
 * status line and header fields. Bodies are not our business. The parser is
 * strict about structure (a head must look like HTTP) and lenient about what
 * real peers do (bare LF line ends, optional whitespace, obsolete folding is
 * rejected as RFC 9112 §5.2 allows).
 */
#include "http.h"

#include <string.h>
#include <strings.h>

static int is_tchar(uint8_t c)
{
    /* RFC 9110 §5.6.2 token characters */
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

size_t http_head_end(const uint8_t *buf, size_t len, size_t from)
{
    size_t i = from > 3 ? from - 3 : 0;
    for (; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* A cursor over one head; `end` is the length of the complete head. */
struct cur {
    const uint8_t *b;
    size_t pos, end;
};

/* Reads up to the end of the current line; sets *line (without CR LF). */
static int next_line(struct cur *c, struct http_str *line)
{
    size_t start = c->pos;
    while (c->pos < c->end && c->b[c->pos] != '\n')
        c->pos++;
    if (c->pos >= c->end)
        return 0;
    size_t stop = c->pos;
    if (stop > start && c->b[stop - 1] == '\r')
        stop--;
    c->pos++;
    line->p = (const char *)c->b + start;
    line->len = stop - start;
    return 1;
}

static struct http_str trim_ows(struct http_str s)
{
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t'))
        s.p++, s.len--;
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* "HTTP/1.x" -> minor version, or -1. */
static int parse_version(struct http_str v)
{
    if (v.len != 8 || memcmp(v.p, "HTTP/1.", 7) != 0 || v.p[7] < '0' || v.p[7] > '9')
        return -1;
    return v.p[7] - '0';
}

static int parse_headers(struct cur *c, struct http_head *h)
{
    size_t cap = h->num_headers, n = 0;
    h->dropped_headers = 0;
    struct http_str line;
    while (next_line(c, &line)) {
        if (line.len == 0) {
            h->num_headers = n;
            return 1;
        }
        if (line.p[0] == ' ' || line.p[0] == '\t')
            return 0; /* obs-fold */
        const char *colon = memchr(line.p, ':', line.len);
        if (!colon || colon == line.p)
            return 0;
        struct http_str name = {line.p, (size_t)(colon - line.p)};
        for (size_t i = 0; i < name.len; i++)
            if (!is_tchar((uint8_t)name.p[i]))
                return 0;
        struct http_str value = {colon + 1, line.len - name.len - 1};
        if (n < cap) {
            h->headers[n].name = name;
            h->headers[n].value = trim_ows(value);
            n++;
        } else {
            h->dropped_headers++;
        }
    }
    return 0;
}

/* Splits the first line into three space-separated parts; the third may
 * contain spaces (a reason phrase). */
static int split3(struct http_str line, struct http_str part[3])
{
    const char *sp1 = memchr(line.p, ' ', line.len);
    if (!sp1)
        return 0;
    part[0] = (struct http_str){line.p, (size_t)(sp1 - line.p)};
    const char *rest = sp1 + 1;
    size_t rest_len = line.len - part[0].len - 1;
    const char *sp2 = memchr(rest, ' ', rest_len);
    if (!sp2) {
        part[1] = (struct http_str){rest, rest_len};
        part[2] = (struct http_str){rest + rest_len, 0};
        return 2;
    }
    part[1] = (struct http_str){rest, (size_t)(sp2 - rest)};
    part[2] = (struct http_str){sp2 + 1, rest_len - part[1].len - 1};
    return 3;
}

static long head_bounds(const uint8_t *buf, size_t len, struct cur *c)
{
    size_t end = http_head_end(buf, len, 0);
    if (end == 0)
        return HTTP_INCOMPLETE;
    *c = (struct cur){buf, 0, end};
    return (long)end;
}

long http_parse_request(const uint8_t *buf, size_t len, struct http_head *h)
{
    struct cur c;
    long end = head_bounds(buf, len, &c);
    if (end < 0)
        return end;
    struct http_str line, part[3];
    if (!next_line(&c, &line) || split3(line, part) != 3 || part[0].len == 0 || part[1].len == 0)
        return HTTP_ERROR;
    for (size_t i = 0; i < part[0].len; i++)
        if (!is_tchar((uint8_t)part[0].p[i]))
            return HTTP_ERROR;
    h->method = part[0];
    h->target = part[1];
    h->minor_version = parse_version(part[2]);
    h->status = 0;
    if (h->minor_version < 0 || !parse_headers(&c, h))
        return HTTP_ERROR;
    return end;
}

long http_parse_response(const uint8_t *buf, size_t len, struct http_head *h)
{
    struct cur c;
    long end = head_bounds(buf, len, &c);
    if (end < 0)
        return end;
    struct http_str line, part[3];
    if (!next_line(&c, &line) || split3(line, part) < 2)
        return HTTP_ERROR;
    h->minor_version = parse_version(part[0]);
    if (h->minor_version < 0 || part[1].len != 3)
        return HTTP_ERROR;
    int status = 0;
    for (size_t i = 0; i < 3; i++) {
        if (part[1].p[i] < '0' || part[1].p[i] > '9')
            return HTTP_ERROR;
        status = status * 10 + (part[1].p[i] - '0');
    }
    h->status = status;
    h->method = h->target = (struct http_str){NULL, 0};
    if (!parse_headers(&c, h))
        return HTTP_ERROR;
    return end;
}

int http_str_ieq(struct http_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

int http_list_has_token(struct http_str s, const char *token)
{
    size_t i = 0;
    while (i < s.len) {
        size_t j = i;
        while (j < s.len && s.p[j] != ',')
            j++;
        struct http_str item = trim_ows((struct http_str){s.p + i, j - i});
        if (http_str_ieq(item, token))
            return 1;
        i = j + 1;
    }
    return 0;
}

const struct http_header *http_find(const struct http_head *h, const char *name)
{
    for (size_t i = 0; i < h->num_headers; i++)
        if (http_str_ieq(h->headers[i].name, name))
            return &h->headers[i];
    return NULL;
}
