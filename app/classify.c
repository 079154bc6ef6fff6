/*
 * app/classify.c — flow classification with nDPI (through its adapter,
 * dpi.h), and the thread that runs it (see classify.h).
 *
 * Which flows go to the thread: those that cannot be WebSocket (TLS, SSH,
 * databases...: most flows, and nDPI's dearest, a TLS ClientHello with its
 * JA3 strings). A flow that may be WebSocket (its first bytes are an HTTP
 * request or response, or the capture missed its SYN) is classified in
 * line, with a second nDPI instance of the packet loop's own, because its
 * record needs the name as soon as the connection ends and the mid-stream
 * pickup asks nDPI along the way: waiting for the thread there would put
 * its whole backlog on the packet loop's path.
 *
 * Threads: the packet loop sends messages (a packet, "finish", "release")
 * for a flow's cell through the ring; the classifier thread handles them
 * in order. A cell's result fields are written only by the thread, before
 * it publishes `done` or a higher `handled` count; the packet loop reads
 * them only after seeing one of those (sequentially consistent atomics).
 * A cell is freed by the packet loop when the thread is through with it
 * (done, every message handled), else by the thread on "release". Each
 * side builds and frees its own nDPI instance, the two at the same time
 * (tens of milliseconds each, at start and at the end of every run);
 * libgcrypt, which nDPI would otherwise initialise from both at once, is
 * set up before (dpi_init_once). TLS flows found on either thread wait in
 * `found`, under its own lock, for the packet loop to take them.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "classify.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bytes.h"
#include "../common/mem.h"
#include "../common/ring.h"
#include "dpi.h"

#define CLASSIFY_MAX_PACKETS 12 /* nDPI decides HTTP/TLS well within this */
#define RING_BYTES (8u << 20)   /* packets in flight to the thread */
#define WAIT_SPINS 200          /* checks before sleeping on an answer */

/* What classifying a flow costs, for the packet loop's memcap (engine/):
 * a fixed estimate, since nDPI's allocations are its own. While nDPI
 * examines the flow: its flow state (dpi_flow_size(), 688 bytes in 4.2)
 * and the buffer its TLS dissector reassembles handshake messages in
 * (2 KiB when allocated, at the first TLS-like record; ndpi_search_tls_tcp_memory
 * in nDPI's tls.c); afterwards the cell alone. Each block with malloc's own
 * header (common/mem.h). Measured with 100,000
 * one-packet TLS-like flows: about 2.7 KiB each besides the flow table. */
#define NDPI_TLS_BUFFER 2048
#define CELL_COST mem_block(sizeof(struct class_cell))
#define STATE_COST (mem_block(dpi_flow_size()) + mem_block(NDPI_TLS_BUFFER))
/* A flow the packet loop gives up leaves its charge with it, but a state
 * the thread holds is freed only when the thread reaches the "release":
 * behind a backlog in the ring (a flood outruns nDPI), tens of thousands
 * could wait there, outside every memcap. So the packet loop waits for the
 * thread once LIMBO_MAX releases are pending, until half of them are done:
 * at most about LIMBO_MAX * STATE_COST (2.8 MiB) besides the memcap. */
#define LIMBO_MAX 1024

struct class_cell {
    _Atomic uint32_t handled; /* messages the thread has handled */
    _Atomic bool done;        /* classified or given up: the result is final */
    uint32_t sent;            /* the packet loop's: messages sent */
    /* the thread's, while classifying */
    struct ndpi_flow_struct *state;
    uint8_t packets;
    bool tls_records; /* a packet's payload began as a TLS record does */
    /* the result */
    struct dpi_answer answer;
    bool tls_reported;
};

enum msg_type { MSG_PACKET, MSG_FINISH, MSG_RELEASE, MSG_SYNC, MSG_STOP };

struct msg {
    struct class_cell *cell;
    ts_us_t ts;
    uint8_t server_addr[16];
    uint16_t server_port;
    uint8_t type;
    bool tls_record; /* MSG_PACKET: its payload begins as a TLS record does */
    const char *sensor;
};

struct classifier {
    struct ndpi_detection_module_struct *ndpi;        /* the thread's */
    struct ndpi_detection_module_struct *ndpi_inline; /* the packet loop's */
    struct ring ring;
    pthread_t thread;
    bool running;
    pthread_mutex_t tls_lock;        /* guards `found` */
    struct class_tls_batch found;    /* TLS flows not yet taken */
    _Atomic size_t tls_waiting;      /* found.n, for a check without the lock */
    _Atomic uint64_t syncs; /* SYNC messages handled */
    uint64_t syncs_sent;    /* the packet loop's */
    _Atomic int waiting;    /* the packet loop sleeps on an answer ... */
    struct class_cell *_Atomic awaited; /* ... about this cell (NULL: a sync) */
    pthread_mutex_t lock;
    pthread_cond_t answered;
    _Atomic uint32_t limbo;        /* releases sent and not yet handled (LIMBO_MAX) */
    struct class_cell limbo_mark;  /* `awaited` while the packet loop waits on them */
    int thread_ndpi;               /* under `lock`: 0 while the thread builds its nDPI, 1 built, -1 failed */
    uint64_t tls_lost;             /* under `tls_lock`: TLS flows lost for want of memory */
};

/* ---- nDPI, on the classifier thread ---------------------------------------- */

static bool is_tls(const struct class_cell *c)
{
    return dpi_is_tls(c->answer);
}

/* Keeps a TLS flow for the packet loop to take. Out of memory, it is lost
 * (and counted). */
static void note_tls(struct classifier *cl, const struct class_tls *t)
{
    pthread_mutex_lock(&cl->tls_lock);
    struct class_tls_batch *b = &cl->found;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct class_tls *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            cl->tls_lost++;
            pthread_mutex_unlock(&cl->tls_lock);
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *t;
    atomic_store_explicit(&cl->tls_waiting, b->n, memory_order_relaxed);
    pthread_mutex_unlock(&cl->tls_lock);
}

/* A TLS flow is noted once, with the server name from nDPI's state. */
static void report_tls(struct classifier *cl, struct class_cell *c, const struct msg *m)
{
    if (c->tls_reported || !is_tls(c) || !c->state)
        return;
    c->tls_reported = true;
    struct class_tls t = {.server_port = m->server_port, .sensor = m->sensor, .ts = m->ts};
    memcpy(t.server_addr, m->server_addr, sizeof t.server_addr);
    dpi_server_name(c->state, t.sni, CLASS_SNI_MAX);
    note_tls(cl, &t);
}

static bool is_known(const struct class_cell *c)
{
    return dpi_is_known(c->answer);
}

/* The flow's last word from nDPI: given up if undecided. nDPI then guesses
 * by port (TLS on 443); a guess counts as a TLS flow only if a payload
 * began as a TLS record does (begins_as_tls_record). */
static void finish_cell(struct classifier *cl, struct ndpi_detection_module_struct *ndpi, struct class_cell *c,
                        const struct msg *m)
{
    if (atomic_load_explicit(&c->done, memory_order_relaxed))
        return;
    if (c->state && !is_known(c)) {
        bool guessed = false;
        c->answer = dpi_give_up(ndpi, c->state, &guessed);
        if (!guessed || c->tls_records)
            report_tls(cl, c, m);
    }
    if (c->state) {
        dpi_flow_free(c->state);
        c->state = NULL;
    }
    atomic_store(&c->done, true);
}

static void examine_packet(struct classifier *cl, struct ndpi_detection_module_struct *ndpi, struct class_cell *c,
                           const struct msg *m, const uint8_t *l3, size_t len)
{
    if (atomic_load_explicit(&c->done, memory_order_relaxed))
        return;
    if (!c->state) {
        c->state = dpi_flow_new();
        if (!c->state) {
            atomic_store(&c->done, true);
            return;
        }
    }
    c->tls_records |= m->tls_record;
    c->answer = dpi_packet(ndpi, c->state, l3, len, (uint64_t)(m->ts / 1000));
    report_tls(cl, c, m);
    c->packets++;
    /* Classified is enough: nDPI's extra dissection (a TLS certificate, an
     * HTTP response) refines metadata nobody here reads. */
    if (is_known(c) || c->packets >= CLASSIFY_MAX_PACKETS)
        finish_cell(cl, ndpi, c, m);
}

/* One message; false for "stop". */
static bool handle(struct classifier *cl, const struct msg *m, const uint8_t *body, size_t blen)
{
    switch (m->type) {
    case MSG_STOP: return false;
    case MSG_SYNC: atomic_fetch_add(&cl->syncs, 1); break;
    case MSG_RELEASE: /* the packet loop has forgotten the cell */
        finish_cell(cl, cl->ndpi, m->cell, m);
        free(m->cell);
        atomic_fetch_sub(&cl->limbo, 1);
        return true;
    case MSG_PACKET: examine_packet(cl, cl->ndpi, m->cell, m, body, blen); break;
    default: finish_cell(cl, cl->ndpi, m->cell, m); break;
    }
    if (m->cell)
        atomic_fetch_add(&m->cell->handled, 1); /* the last touch of the cell */
    return true;
}

static void wake_waiter(struct classifier *cl)
{
    pthread_mutex_lock(&cl->lock);
    pthread_cond_broadcast(&cl->answered);
    pthread_mutex_unlock(&cl->lock);
}

/* Wakes the packet loop if it waits on this message's answer. */
static void tell_waiter(struct classifier *cl, const struct msg *m)
{
    if (atomic_load(&cl->waiting) && atomic_load(&cl->awaited) == m->cell)
        wake_waiter(cl);
}

static bool limbo_low(struct classifier *cl, const void *unused)
{
    (void)unused;
    return atomic_load(&cl->limbo) <= LIMBO_MAX / 2;
}

/* After a release: wakes the packet loop if it waits for few enough. */
static void tell_limbo_waiter(struct classifier *cl)
{
    if (atomic_load(&cl->waiting) && atomic_load(&cl->awaited) == &cl->limbo_mark && limbo_low(cl, NULL))
        wake_waiter(cl);
}

/* The thread builds its own nDPI instance while the packet loop builds its
 * (each costs tens of milliseconds, all before the first packet), and says
 * how it went. */
static bool build_thread_ndpi(struct classifier *cl)
{
    struct ndpi_detection_module_struct *n = dpi_new();
    pthread_mutex_lock(&cl->lock);
    cl->ndpi = n;
    cl->thread_ndpi = n ? 1 : -1;
    pthread_cond_broadcast(&cl->answered);
    pthread_mutex_unlock(&cl->lock);
    return n != NULL;
}

static void *classifier_main(void *arg)
{
    struct classifier *cl = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals stay with the main thread */
    pthread_setname_np(pthread_self(), "wsstats-ndpi"); /* as top -H and perf show it */
    if (!build_thread_ndpi(cl))
        return NULL;
    for (;;) {
        size_t len;
        const uint8_t *rec = ring_pop(&cl->ring, &len);
        struct msg m;
        memcpy(&m, rec, sizeof m);
        bool more = handle(cl, &m, rec + sizeof m, len - sizeof m);
        ring_release(&cl->ring);
        if (!more)
            break;
        if (m.type != MSG_RELEASE)
            tell_waiter(cl, &m);
        else
            tell_limbo_waiter(cl); /* (m.cell is freed: never compared) */
    }
    /* while the packet loop frees its own instance */
    dpi_free(cl->ndpi);
    cl->ndpi = NULL;
    return NULL;
}

/* ---- set-up ------------------------------------------------------------------ */

/* Waits for the thread's answer: is its nDPI instance built? */
static bool thread_ndpi_built(struct classifier *cl)
{
    pthread_mutex_lock(&cl->lock);
    while (cl->thread_ndpi == 0)
        pthread_cond_wait(&cl->answered, &cl->lock);
    bool built = cl->thread_ndpi > 0;
    pthread_mutex_unlock(&cl->lock);
    return built;
}

struct classifier *classifier_new(char *err, size_t errlen)
{
    struct classifier *cl = calloc(1, sizeof *cl);
    if (!cl || ring_init(&cl->ring, RING_BYTES) < 0) {
        snprintf(err, errlen, "out of memory");
        free(cl);
        return NULL;
    }
    pthread_mutex_init(&cl->lock, NULL);
    pthread_mutex_init(&cl->tls_lock, NULL);
    pthread_cond_init(&cl->answered, NULL);
    dpi_init_once();
    if (pthread_create(&cl->thread, NULL, classifier_main, cl) != 0) {
        snprintf(err, errlen, "cannot start the classifier thread");
        classifier_free(cl);
        return NULL;
    }
    cl->running = true;
    cl->ndpi_inline = dpi_new(); /* while the thread builds its own */
    if (!thread_ndpi_built(cl)) {
        pthread_join(cl->thread, NULL); /* it has returned */
        cl->running = false;
    }
    if (!cl->running || !cl->ndpi_inline) {
        snprintf(err, errlen, "nDPI initialisation failed");
        classifier_free(cl);
        return NULL;
    }
    return cl;
}

bool classifier_tls_waiting(struct classifier *cl)
{
    return atomic_load_explicit(&cl->tls_waiting, memory_order_relaxed) != 0;
}

void classifier_take_tls(struct classifier *cl, struct class_tls_batch *b)
{
    pthread_mutex_lock(&cl->tls_lock);
    struct class_tls_batch emptied = *b;
    emptied.n = 0;
    *b = cl->found;
    cl->found = emptied;
    atomic_store_explicit(&cl->tls_waiting, 0, memory_order_relaxed);
    pthread_mutex_unlock(&cl->tls_lock);
}

uint64_t classifier_tls_lost(struct classifier *cl)
{
    pthread_mutex_lock(&cl->tls_lock);
    uint64_t n = cl->tls_lost;
    pthread_mutex_unlock(&cl->tls_lock);
    return n;
}

void classifier_batch_free(struct class_tls_batch *b)
{
    free(b->v);
    memset(b, 0, sizeof *b);
}

void classifier_free(struct classifier *cl)
{
    if (!cl)
        return;
    if (cl->running) { /* the thread frees its instance as this one goes */
        struct msg stop = {.type = MSG_STOP};
        ring_push(&cl->ring, &stop, sizeof stop, NULL, 0);
        ring_flush(&cl->ring);
    }
    dpi_free(cl->ndpi_inline);
    if (cl->running)
        pthread_join(cl->thread, NULL);
    ring_free(&cl->ring);
    classifier_batch_free(&cl->found);
    pthread_cond_destroy(&cl->answered);
    pthread_mutex_destroy(&cl->tls_lock);
    pthread_mutex_destroy(&cl->lock);
    free(cl);
}

/* ---- the packet loop's side ---------------------------------------------------- */

/* A message about cell `c` (NULL: none); one that is not a packet is
 * dated by the flow's newest packet. */
static struct msg new_msg(struct class_cell *c, enum msg_type type, ts_us_t ts, const struct class_flow_info *where)
{
    struct msg m = {.cell = c, .ts = ts, .type = (uint8_t)type};
    if (where && type != MSG_PACKET)
        m.ts = where->last_seen;
    if (where) {
        memcpy(m.server_addr, where->server_addr, sizeof m.server_addr);
        m.server_port = where->server_port;
        m.sensor = where->sensor;
    }
    return m;
}

static void send_msg(struct classifier *cl, const struct msg *m, const uint8_t *body, size_t blen)
{
    if (m->cell && m->type != MSG_RELEASE)
        m->cell->sent++;
    ring_push(&cl->ring, m, sizeof *m, body, blen);
}

/* Until ready(cl, arg) holds: the thread is woken and its answer about
 * `cell` (NULL: a sync) awaited. */
static void wait_for(struct classifier *cl, bool (*ready)(struct classifier *, const void *), const void *arg,
                     struct class_cell *cell)
{
    ring_flush(&cl->ring);
    for (int i = 0; i < WAIT_SPINS; i++)
        if (ready(cl, arg))
            return;
    pthread_mutex_lock(&cl->lock);
    atomic_store(&cl->awaited, cell);
    atomic_store(&cl->waiting, 1);
    while (!ready(cl, arg))
        pthread_cond_wait(&cl->answered, &cl->lock);
    atomic_store(&cl->waiting, 0);
    pthread_mutex_unlock(&cl->lock);
}

static bool all_handled(struct classifier *cl, const void *cell)
{
    (void)cl;
    const struct class_cell *c = cell;
    return atomic_load(&c->handled) == c->sent;
}

static bool synced(struct classifier *cl, const void *unused)
{
    (void)unused;
    return atomic_load(&cl->syncs) == cl->syncs_sent;
}

bool classifier_wants(struct flow_class *fc)
{
    if (fc->finish_sent || fc->sent >= CLASSIFY_MAX_PACKETS)
        return false;
    if (fc->cell && atomic_load(&fc->cell->done)) {
        fc->finish_sent = true; /* answered: later packets stop at the flag, not the shared cell */
        return false;
    }
    return true;
}

/* Whether a TCP payload begins as a TLS record does (RFC 8446 §5.1, RFC
 * 5246 §6.2.1): a content type of change_cipher_spec, alert, handshake or
 * application_data (20-23), then a legacy version 3.x. Lets nDPI's guess
 * by port count a flow as TLS when the capture missed its handshake
 * (picked up mid-stream), but not another protocol on port 443. */
static bool begins_as_tls_record(const uint8_t *p, uint32_t len)
{
    uint8_t type, major;
    return bytes_u8(p, len, 0, &type) && bytes_u8(p, len, 1, &major) && type >= 20 && type <= 23 && major == 3;
}

void classifier_packet(struct classifier *cl, struct flow_class *fc, const struct class_packet *p,
                       const struct class_flow_info *where, bool in_line)
{
    if (!p->l3 || p->l3_len == 0 || !classifier_wants(fc))
        return;
    if (!fc->cell) {
        if (!(fc->cell = calloc(1, sizeof *fc->cell))) {
            fc->finish_sent = true; /* no memory: unclassified */
            return;
        }
        fc->in_line = in_line; /* decided by the first packet, for good */
    }
    fc->sent++;
    struct msg m = new_msg(fc->cell, MSG_PACKET, p->ts, where);
    m.tls_record = begins_as_tls_record(p->payload, p->payload_len);
    if (fc->in_line) {
        examine_packet(cl, cl->ndpi_inline, fc->cell, &m, p->l3, p->l3_len);
        if (atomic_load_explicit(&fc->cell->done, memory_order_relaxed))
            fc->finish_sent = true; /* decided here and now: nDPI's state is freed */
        return;
    }
    size_t room = ring_max_record(&cl->ring) - sizeof m;
    send_msg(cl, &m, p->l3, p->l3_len < room ? p->l3_len : room);
}

void classifier_finish(struct classifier *cl, struct flow_class *fc, const struct class_flow_info *where)
{
    if (!fc->cell || fc->finish_sent)
        return;
    fc->finish_sent = true;
    if (atomic_load(&fc->cell->done))
        return; /* decided: the result is final */
    struct msg m = new_msg(fc->cell, MSG_FINISH, 0, where);
    if (fc->in_line) {
        finish_cell(cl, cl->ndpi_inline, fc->cell, &m);
        return;
    }
    send_msg(cl, &m, NULL, 0);
    wait_for(cl, all_handled, fc->cell, fc->cell);
}

const char *classifier_name(struct classifier *cl, const struct flow_class *fc, char *buf, size_t len)
{
    const struct class_cell *c = fc->cell;
    if (!c || !atomic_load(&c->done))
        return NULL; /* nDPI never saw a byte of it */
    return dpi_name(cl->ndpi_inline, c->answer, buf, len); /* the packet loop's own instance */
}

bool classifier_says_websocket(struct classifier *cl, struct flow_class *fc)
{
    struct class_cell *c = fc->cell;
    if (!c)
        return false;
    if (!fc->in_line)
        wait_for(cl, all_handled, c, c);
    return dpi_is_websocket(c->answer);
}

void classifier_release(struct classifier *cl, struct flow_class *fc, const struct class_flow_info *where)
{
    struct class_cell *c = fc->cell;
    if (!c)
        return;
    if (fc->in_line) {
        classifier_finish(cl, fc, where); /* a TLS guess at the end is reported; nDPI's state freed */
        free(c);
    } else if (atomic_load(&c->done) && all_handled(cl, c)) {
        free(c); /* the thread is through with it */
    } else {
        atomic_fetch_add(&cl->limbo, 1);
        struct msg m = new_msg(c, MSG_RELEASE, 0, where);
        send_msg(cl, &m, NULL, 0);
        if (atomic_load(&cl->limbo) > LIMBO_MAX)
            wait_for(cl, limbo_low, NULL, &cl->limbo_mark);
    }
    memset(fc, 0, sizeof *fc);
}

size_t classifier_flow_cost(const struct flow_class *fc)
{
    if (!fc->cell)
        return 0;
    /* after its last packet the thread frees nDPI's state by itself */
    bool state_gone = fc->finish_sent || fc->sent >= CLASSIFY_MAX_PACKETS;
    return state_gone ? CELL_COST : CELL_COST + STATE_COST;
}

void classifier_flush(struct classifier *cl)
{
    ring_flush(&cl->ring);
}

void classifier_sync(struct classifier *cl)
{
    cl->syncs_sent++;
    struct msg m = new_msg(NULL, MSG_SYNC, 0, NULL);
    send_msg(cl, &m, NULL, 0);
    wait_for(cl, synced, NULL, NULL);
}
