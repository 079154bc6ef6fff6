/*
 * fuzz/fuzz_pipeline.c — libFuzzer target for the whole pipeline: a capture
 * file's bytes through libpcap, capture/decode.c and dissect/ (flow table,
 * reassembly, wsconn, nDPI classification) to connection records.
 *
 * Input: the bytes of a pcap or pcapng file. They are opened from memory
 * (fmemopen + pcap_fopen_offline, as capture/source.c opens a file), read
 * to the end or the first error through source_next() (capture/source.c),
 * every TCP segment goes to the dissector as in daemon/wsstatsd.c, then
 * dissect_finish() writes what is still open.
 * Records go to a callback that reads and checks every field; so do the TLS
 * flow reports (dissector_on_tls), which come from the classifier thread.
 * One input in STORE_ONE_IN (by its length, so a replay does the same) also
 * hands them to a real store (store_open(":memory:", STORE_WRITE): an
 * SQLite database in memory, with its writer thread), as the daemon's
 * callbacks do, and ends in the daemon's teardown order (daemon/wsstatsd.c
 * teardown(): the dissector, whose leftover flows nDPI may still report as
 * TLS while they are released, before the store), so that a report into a
 * closed store is a use-after-free ASan sees; store_close() must succeed.
 * (A store costs about 3 ms an input, twice the dissection of a typical
 * one.)
 * After every segment the dissector's state and held bytes are within the
 * memcap, and once it is freed every charge has been taken back.
 * Everything is freed afterwards: LeakSanitizer is on.
 *
 * The flow table and memcap are small (FUZZ_MAX_FLOWS, FUZZ_MEMCAP), so that
 * limits, eviction and the memcap are reached by small inputs, and memory
 * stays bounded. nDPI's detection module is built once, in
 * LLVMFuzzerInitialize (it takes a good part of a second).
 *
 * Seeds (fuzz/mkseeds.py): the project's captures, whole when small, else
 * one file per TCP connection.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "../capture/decode.h"
#include "../capture/source.h"
#include "../engine/dissect.h"
#include "../store/store.h"
#include "fuzz.h"

#define FUZZ_MAX_FLOWS 16
#define FUZZ_MEMCAP (2u << 20)
#define FUZZ_DIR_CAP (64u << 10)
#define FUZZ_MAX_PACKETS 20000 /* a pcapng of tiny blocks could hold more */
#define STORE_ONE_IN 4

static struct classifier *classifier;

struct sink {
    uint64_t records, tls;
    struct store *store; /* NULL: checks only */
};

static void on_record(void *arg, const struct ws_record *r)
{
    struct sink *s = arg;
    s->records++;
    fuzz_check(r->sensor && strcmp(r->sensor, "fuzz") == 0);
    fuzz_check(r->termination != TERM_NONE);
    fuzz_check(r->started_at != TS_NONE);
    fuzz_touch_record(r);
    if (s->store)
        fuzz_check(store_add(s->store, r) == 0);
}

static void on_tls(void *arg, const struct tls_flow *t)
{
    struct sink *s = arg;
    s->tls++;
    fuzz_check(t->sensor && t->sni);
    fuzz_check(memchr(t->server_ip, 0, sizeof t->server_ip) != NULL);
    fuzz_touch_str(t->sni);
    fuzz_touch_str(t->server_ip);
    if (s->store)
        fuzz_check(store_tls_add(s->store, t) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_gcrypt();
    char err[256];
    classifier = classifier_new(err, sizeof err);
    if (!classifier) {
        fprintf(stderr, "fuzz_pipeline: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0; /* not even a magic number; fmemopen() wants size > 0 */
    FILE *fp = fmemopen((void *)(uintptr_t)data, size, "rb");
    if (!fp)
        return 0;
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!pcap) {
        fclose(fp); /* libpcap closes it only once it owns it */
        return 0;
    }
    int linktype = pcap_datalink(pcap);
    if (!decode_linktype_supported(linktype)) {
        pcap_close(pcap);
        return 0;
    }
    struct dissect_config cfg;
    dissect_config_defaults(&cfg);
    cfg.max_flows = FUZZ_MAX_FLOWS;
    cfg.memcap = FUZZ_MEMCAP;
    cfg.dir_cap = FUZZ_DIR_CAP;
    struct sink sink = {0};
    char err[256];
    struct store_open_error e;
    if (size % STORE_ONE_IN == 0 && !(sink.store = store_open(":memory:", STORE_WRITE, NULL, &e))) {
        fprintf(stderr, "fuzz_pipeline: %s\n", e.msg);
        abort();
    }
    struct dissector dis;
    if (dissector_init(&dis, &cfg, classifier, on_record, &sink) < 0) {
        pcap_close(pcap);
        if (sink.store)
            store_close(sink.store, err, sizeof err);
        return 0;
    }
    dissector_on_tls(&dis, on_tls, &sink);
    /* packets are read as the daemon reads them (capture/source.c) */
    struct capture_source src;
    memset(&src, 0, sizeof src);
    src.pcap = pcap;
    src.name = "fuzz";
    snprintf(src.sensor, sizeof src.sensor, "fuzz");
    src.linktype = linktype;
    struct decoder dec;
    decoder_init(&dec, linktype);
    for (int i = 0; i < FUZZ_MAX_PACKETS; i++) {
        struct packet pkt;
        struct tcp_segment seg;
        if (source_next(&src, &pkt, err, sizeof err) != SOURCE_PACKET)
            break; /* the end, or a damaged file: what was read stands */
        fuzz_check(pkt.linktype == linktype);
        if (decode_packet(&dec, &pkt, &seg) == DECODE_TCP) {
            dissect_segment(&dis, &seg, src.sensor);
            fuzz_check(dis.state_mem + dis.reasm.mem_used <= cfg.memcap);
        }
    }
    dissect_finish(&dis);
    fuzz_check(dis.lru_head[LIST_WEBSOCKET] == NULL);
    fuzz_check(sink.records == dis.stats.records);
    /* the daemon's teardown order: dissector (and its last TLS reports), then the store */
    dissector_free(&dis);
    fuzz_check(dis.state_mem == 0);
    if (sink.store && store_close(sink.store, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz invariant failed: store_close: %s\n", err);
        abort();
    }
    source_close(&src);
    return 0;
}
