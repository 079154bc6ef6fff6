/*
 * remote/clickhouse.c — ClickHouse's HTTP interface through libcurl (see
 * clickhouse.h).
 */
#include "clickhouse.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    struct ch_answer *a = arg;
    size_t len = size * n;
    if (a->len + len + 1 > a->cap) {
        size_t cap = (a->len + len + 1) * 2;
        char *p = realloc(a->text, cap);
        if (!p)
            return 0; /* libcurl ends the transfer: CURLE_WRITE_ERROR */
        a->text = p;
        a->cap = cap;
    }
    memcpy(a->text + a->len, data, len);
    a->len += len;
    a->text[a->len] = '\0';
    return len;
}

/* The URL as messages show it: without a password in it. */
static void url_shown(const char *url, char *buf, size_t len)
{
    const char *scheme = strstr(url, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *colon = scheme && at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon && (!slash || at < slash))
        snprintf(buf, len, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(buf, len, "%s", url);
}

int ch_url_ok(const char *url)
{
    return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

int ch_open(struct ch *c, const struct ch_target *o, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    url_shown(o->url, c->shown, sizeof c->shown);
    if (!ch_url_ok(o->url)) {
        snprintf(err, errlen, "--clickhouse %s: not an http:// or https:// URL", c->shown);
        return -1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = curl_easy_init())) {
        snprintf(err, errlen, "--clickhouse %s: libcurl could not start", c->shown);
        return -1;
    }
    snprintf(c->url, sizeof c->url, "%s", o->url);
    c->timeout_s = o->timeout_s > 0 ? o->timeout_s : CH_TIMEOUT_S;
    if (o->user) {
        curl_easy_setopt(c->curl, CURLOPT_USERNAME, o->user);
        curl_easy_setopt(c->curl, CURLOPT_PASSWORD, o->password ? o->password : "");
    }
    return 0;
}

void ch_close(struct ch *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
    curl_global_cleanup();
}

/* The request's URL: the user's, with `query` (an INSERT's) and query_id. */
static char *request_url(struct ch *c, const char *insert, const char *query_id)
{
    char *q = insert ? curl_easy_escape(c->curl, insert, 0) : NULL;
    char *id = query_id ? curl_easy_escape(c->curl, query_id, 0) : NULL;
    size_t len = strlen(c->url) + (q ? strlen(q) : 0) + (id ? strlen(id) : 0) + 32;
    char *url = malloc(len);
    if (url) {
        char sep = strchr(c->url, '?') ? '&' : '?';
        int n = snprintf(url, len, "%s", c->url);
        if (q)
            n += snprintf(url + n, len - (size_t)n, "%cquery=%s", sep, q), sep = '&';
        if (id)
            snprintf(url + n, len - (size_t)n, "%cquery_id=%s", sep, id);
    }
    curl_free(q);
    curl_free(id);
    return url;
}

/* ClickHouse's error text: its first line ("Code: 516, e.displayText() = ..."). */
static void answer_error(const struct ch_answer *a, long status, char *buf, size_t len)
{
    const char *t = a->text ? a->text : "";
    size_t n = strcspn(t, "\n");
    snprintf(buf, len, "HTTP %ld%s%.*s", status, n ? ": " : "", (int)(n > 300 ? 300 : n), t);
}

/* One request: its answer to write_fn (libcurl's write callback) with
 * write_arg; `a` holds the text of an answer that is not a 200 (the error). */
static enum ch_result perform(struct ch *c, const char *insert, const char *query_id, const char *body, size_t len,
                              curl_write_callback write_fn, void *write_arg, const struct ch_answer *a, char *err,
                              size_t errlen)
{
    char *url = request_url(c, insert, query_id);
    if (!url) {
        snprintf(err, errlen, "out of memory");
        return CH_REFUSED;
    }
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_fn);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, write_arg);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* An INSERT goes on a connection of its own: on a reused one that dies
     * without an answer libcurl sends the request again by itself, and an
     * INSERT the server had already written would be written twice
     * (measured: tests/clickhouse, unknown-outcome-answer). The caller
     * decides what an unknown outcome means, never libcurl. */
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, insert ? 1L : 0L);
    CURLcode rc = curl_easy_perform(h);
    free(url);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY) {
        snprintf(err, errlen, "%s: %s", c->shown, curl_easy_strerror(rc));
        return CH_UNREACHABLE;
    }
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s (the request's outcome is unknown)", c->shown, curl_easy_strerror(rc));
        return CH_UNKNOWN;
    }
    if (status != 200) {
        char why[400];
        answer_error(a, status, why, sizeof why);
        snprintf(err, errlen, "%s: %s", c->shown, why);
        return CH_REFUSED;
    }
    return CH_OK;
}

enum ch_result ch_post(struct ch *c, const char *insert, const char *query_id, const char *body, size_t len,
                       struct ch_answer *a, char *err, size_t errlen)
{
    a->len = 0;
    if (a->text)
        a->text[0] = '\0';
    return perform(c, insert, query_id, body, len, collect, a, a, err, errlen);
}

/* An answer read as it arrives: whole lines to fn, the part of a line not
 * yet complete kept in `rest` (an answer that is not a 200 is kept whole,
 * for its error). */
struct stream {
    CURL *h;
    long status; /* 0: not known yet */
    ch_line_fn fn;
    void *arg;
    int stopped; /* what fn returned, when not 0 */
    struct ch_answer rest;
};

/* Hands over the complete lines at the start of s->rest and keeps the rest. */
static void deliver_lines(struct stream *s)
{
    char *line = s->rest.text, *end = s->rest.text + s->rest.len, *nl;
    while (!s->stopped && line < end && (nl = memchr(line, '\n', (size_t)(end - line)))) {
        *nl = '\0';
        s->stopped = s->fn(s->arg, line);
        line = nl + 1;
    }
    size_t left = s->stopped ? 0 : (size_t)(end - line);
    memmove(s->rest.text, line, left);
    s->rest.len = left;
    s->rest.text[left] = '\0';
}

static size_t stream_lines(char *data, size_t size, size_t n, void *arg)
{
    struct stream *s = arg;
    if (!s->status)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
    size_t len = collect(data, size, n, &s->rest);
    if (len == size * n && s->status == 200)
        deliver_lines(s);
    return s->stopped ? 0 : len; /* 0: libcurl ends the transfer */
}

enum ch_result ch_select(struct ch *c, const char *query, ch_line_fn fn, void *arg, int *stopped, char *err,
                         size_t errlen)
{
    struct stream s = {.h = c->curl, .fn = fn, .arg = arg};
    enum ch_result rc = perform(c, NULL, NULL, query, strlen(query), stream_lines, &s, &s.rest, err, errlen);
    if (s.stopped)
        rc = CH_OK; /* fn ended it, not the server */
    else if (rc == CH_OK && s.rest.len > 0)
        s.stopped = fn(arg, s.rest.text); /* a last line without its newline */
    free(s.rest.text);
    *stopped = s.stopped;
    return rc;
}

int ch_query_int(struct ch *c, const char *sql, long long *out, char *err, size_t errlen)
{
    struct ch_answer a = {0};
    int rc = -1;
    if (ch_post(c, NULL, NULL, sql, strlen(sql), &a, err, errlen) == CH_OK) {
        char *end;
        *out = strtoll(a.text ? a.text : "", &end, 10);
        if (a.text && end != a.text && (*end == '\n' || *end == '\0'))
            rc = 0;
        else
            snprintf(err, errlen, "%s: unexpected answer to \"%s\": %.80s", c->shown, sql, a.text ? a.text : "");
    }
    free(a.text);
    return rc;
}
