/*
 * fuzz/fuzz_common.c — helpers linked into several fuzz targets: exact-size
 * copies, the record checks, and the two-stream driver for wsconn.c.
 */
#include "fuzz.h"

#include <gcrypt.h>

#include <string.h>

uint8_t *fuzz_dup(const uint8_t *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        abort();
    if (n)
        memcpy(b, p, n);
    return b;
}

static volatile size_t fuzz_sink; /* keeps the reads below from being optimised away */

void fuzz_touch_str(const char *s)
{
    if (s)
        fuzz_sink += strlen(s);
}

void fuzz_touch_record(const struct ws_record *r)
{
    fuzz_touch_str(r->sensor);
    fuzz_check(memchr(r->client_ip, 0, sizeof r->client_ip) != NULL);
    fuzz_check(memchr(r->server_ip, 0, sizeof r->server_ip) != NULL);
    fuzz_touch_str(r->client_ip);
    fuzz_touch_str(r->server_ip);
    fuzz_touch_str(r->host);
    fuzz_touch_str(r->path);
    fuzz_touch_str(r->origin);
    fuzz_touch_str(r->user_agent);
    fuzz_touch_str(r->subprotocol);
    fuzz_touch_str(r->extensions);
    fuzz_touch_str(r->close_reason);
    fuzz_touch_str(r->ndpi_protocol);
    fuzz_check(r->vlan >= -1 && r->vlan <= 0xfff);
    fuzz_check(r->outcome >= OUTCOME_CLEAN && r->outcome <= OUTCOME_REJECTED);
    fuzz_check(r->termination >= TERM_NONE && r->termination <= TERM_LAST);
    fuzz_sink += strlen(outcome_name(r->outcome));
    if (r->termination != TERM_NONE)
        fuzz_sink += strlen(termination_name(r->termination));
    fuzz_check(r->close_initiator >= -1 && r->close_initiator <= 1);
    fuzz_check(r->close_code >= -1 && r->close_code <= 0xffff);
    for (int d = 0; d < 2; d++) {
        fuzz_check(r->close[d].code >= -1 && r->close[d].code <= 0xffff);
        fuzz_touch_str(r->close[d].reason);
        fuzz_check(r->messages[d] <= r->frames[d]);
    }
    fuzz_check(r->pings + r->pongs <= r->frames[0] + r->frames[1]);
    /* docs/design.md §3: the first close frame decides; a rejected handshake has none */
    if (r->close_initiator >= 0)
        fuzz_check(r->close[r->close_initiator].at != TS_NONE);
    if (r->outcome == OUTCOME_REJECTED)
        fuzz_check(r->close_code == -1);
    if (r->outcome == OUTCOME_CLEAN)
        fuzz_check(r->close[0].at != TS_NONE && r->close[1].at != TS_NONE);
    if (r->outcome == OUTCOME_UNFINISHED)
        fuzz_check(r->close_code == -1 && r->close_initiator == -1);
    fuzz_check((r->violations >> V_COUNT) == 0);
    char v[512];
    violations_format(r->violations, v, sizeof v);
    fuzz_sink += strlen(v);
}

size_t fuzz_wsconn_blocks(const struct wsconn *c)
{
    size_t n = sizeof *c + 16;
    const char *strs[] = {c->host, c->path, c->origin, c->user_agent, c->subprotocol, c->extensions};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strs[i])
            n += strlen(strs[i]) + 1 + 16;
    for (int d = 0; d < 2; d++) {
        if (c->head[d].p)
            n += c->head[d].cap + 16;
        if (c->side[d].close_buf)
            n += c->side[d].close_cap + 16;
    }
    return n;
}

void fuzz_check_wsconn_mem(const struct wsconn *c)
{
    /* a reason may hold NUL bytes: it is counted from wsconn_mem's side */
    size_t reasons = 0;
    for (int d = 0; d < 2; d++)
        if (c->side[d].close_reason)
            reasons += strlen(c->side[d].close_reason) + 1 + 16;
    size_t mem = wsconn_mem(c), blocks = fuzz_wsconn_blocks(c);
    fuzz_check(mem >= blocks + reasons);
    fuzz_check(mem <= blocks + 2 * (FUZZ_CLOSE_REASON_MAX + 1 + 16));
    fuzz_check(mem <= FUZZ_WSCONN_MEM_MAX);
}

void fuzz_drive_wsconn(struct wsconn *c, const uint8_t *cli, size_t clen, const uint8_t *srv, size_t slen,
                       uint32_t *rng, bool gaps)
{
    const uint8_t *src[2] = {cli, srv};
    size_t len[2] = {clen, slen}, pos[2] = {0, 0};
    uint32_t seq[2] = {1000, 50000};
    ts_us_t ts = 1700000000000000LL;
    bool torn_down = false;
    while (pos[0] < len[0] || pos[1] < len[1]) {
        uint32_t r = fuzz_rand(rng);
        int dir = pos[0] < len[0] && (pos[1] >= len[1] || (r & 1)) ? DIR_CLIENT : DIR_SERVER;
        size_t left = len[dir] - pos[dir];
        /* mostly small chunks, sometimes everything that is left */
        size_t n = (r >> 1 & 7) == 0 ? left : 1 + (r >> 4) % 64;
        if (n > left)
            n = left;
        if (gaps && (r >> 12 & 15) == 0) {
            /* these bytes never reach the connection: lost, or cut by a snaplen */
            wsconn_gap(c, dir, n, (r >> 16 & 1) != 0);
        } else {
            uint8_t *chunk = fuzz_dup(src[dir] + pos[dir], n);
            wsconn_position(c, dir, seq[dir], seq[1 - dir], (r >> 17 & 3) != 0);
            wsconn_data(c, dir, chunk, n, ts);
            free(chunk);
        }
        fuzz_check_wsconn_mem(c);
        seq[dir] += (uint32_t)n;
        pos[dir] += n;
        ts += r >> 20;
        if (c->state == WSC_NOT_WEBSOCKET)
            break; /* the engine stops feeding such a connection */
    }
    torn_down = (*rng & 1) != 0;
    wsconn_finish(c, ts);
    fuzz_check_wsconn_mem(c);
    struct ws_record rec;
    memset(&rec, 0, sizeof rec);
    rec.sensor = "fuzz";
    strcpy(rec.client_ip, "10.0.0.1");
    strcpy(rec.server_ip, "10.0.0.2");
    rec.client_port = 50000;
    rec.server_port = 80;
    rec.vlan = -1;
    rec.started_at = 1700000000000000LL;
    rec.ended_at = ts;
    rec.termination = torn_down ? TERM_FIN_CLIENT : TERM_CAPTURE_END;
    wsconn_fill_record(c, torn_down, &rec);
    fuzz_touch_record(&rec);
}

void fuzz_init_gcrypt(void)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}
