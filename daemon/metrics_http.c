/*
 * daemon/metrics_http.c — GET /metrics over HTTP, served by libmicrohttpd
 * (no HTTP of ours) from its own thread.
 *
 * The socket is opened first (metrics_listen), while wsstatsd still holds
 * its privileges, so that an address below 1024 or a failure to bind is
 * found at start-up, in one line naming the address. libmicrohttpd's
 * thread starts later (metrics_serve), after the capabilities and the
 * user are given up: capabilities are each thread's own, and a thread
 * made before the drop would keep them. It starts with every signal
 * blocked, so that signals stay with the packet loop.
 */
#include "metrics.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECTIONS_MAX 16
#define CONNECTION_TIMEOUT_S 10
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_server {
    struct MHD_Daemon *mhd;
    struct metrics *metrics;
    struct store *store;
    int fd;
};

/* "host:port", "[v6]:port" or ":port" into host (NULL: every address) and port. */
static int split_address(const char *addr, char *host, size_t hostlen, const char **port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1])
        return -1;
    *port = colon + 1;
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    } else if (memchr(h, ':', n)) {
        return -1; /* an IPv6 address needs its brackets */
    }
    if (n >= hostlen)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

static int bind_first(const struct addrinfo *list, int *saved)
{
    for (const struct addrinfo *a = list; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            *saved = errno;
            continue;
        }
        int on = 1, off = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        if (a->ai_family == AF_INET6) /* "[::]" / ":port" takes IPv4 too */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0)
            return fd;
        *saved = errno;
        close(fd);
    }
    return -1;
}

int metrics_listen(const char *addr, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    if (split_address(addr, host, sizeof host, &port) < 0) {
        snprintf(err, errlen, "--metrics %s: not ADDRESS:PORT (127.0.0.1:9477, [::1]:9477, :9477)", addr);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *list = NULL;
    if (!host[0])
        hints.ai_family = AF_INET6; /* every address, both families, where IPv6 exists */
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &list);
    if (rc != 0 && !host[0]) {
        hints.ai_family = AF_INET;
        rc = getaddrinfo(NULL, port, &hints, &list);
    }
    if (rc != 0) {
        snprintf(err, errlen, "--metrics %s: %s", addr, gai_strerror(rc));
        return -1;
    }
    int saved = 0, fd = bind_first(list, &saved);
    if (fd < 0 && !host[0]) { /* no IPv6 here: every IPv4 address */
        freeaddrinfo(list);
        hints.ai_family = AF_INET;
        if (getaddrinfo(NULL, port, &hints, &list) != 0)
            list = NULL;
        fd = list ? bind_first(list, &saved) : -1;
    }
    if (list)
        freeaddrinfo(list);
    if (fd < 0)
        snprintf(err, errlen, "--metrics %s: cannot listen: %s", addr, strerror(saved));
    return fd;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    struct metrics_server *s = cls;
    if (!*state) { /* the headers: answer once the request is whole */
        *state = s;
        return MHD_YES;
    }
    if (*upload_size) { /* a body is not read */
        *upload_size = 0;
        return MHD_YES;
    }
    static char not_allowed[] = "only GET and HEAD\n", not_found[] = "not found: the metrics are at /metrics\n";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", not_allowed, strlen(not_allowed),
                     MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", not_found, strlen(not_found), MHD_RESPMEM_PERSISTENT);
    size_t len = 0;
    char *body = metrics_render(s->metrics, s->store, &len);
    if (!body)
        return MHD_NO; /* out of memory: the connection is closed */
    return reply(c, MHD_HTTP_OK, CONTENT_TYPE, body, len, MHD_RESPMEM_MUST_FREE);
}

struct metrics_server *metrics_serve(struct metrics *m, struct store *st, int fd, char *err, size_t errlen)
{
    struct metrics_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "--metrics: out of memory");
        close(fd);
        return NULL;
    }
    *s = (struct metrics_server){.metrics = m, .store = st, .fd = fd};
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, s, MHD_OPTION_LISTEN_SOCKET,
                              (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!s->mhd) {
        snprintf(err, errlen, "--metrics: libmicrohttpd could not start its thread");
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

void metrics_stop(struct metrics_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->mhd); /* joins its thread; the socket is ours */
    close(s->fd);
    free(s);
}
