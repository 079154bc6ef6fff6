/*
 * fuzz/fuzz_pipeline.c — libFuzzer target for the whole pipeline: a capture
 * file's bytes through libpcap, capture/decode.c and engine/ (flow table,
 * reassembly, the WebSocket parser, nDPI classification) to connection
 * records.
 *
 * Input: the bytes of a pcap or pcapng file. They are opened from memory
 * (fmemopen + pcap_fopen_offline, as capture/source.c opens a file), read
 * to the end or the first error through source_next() (capture/source.c),
 * every packet goes to the engine as in daemon/wsstatsd.c, then
 * engine_finish() writes what is still open.
 * Records go to an output that reads and checks every field; so do the TLS
 * flows nDPI finds. One input in STORE_ONE_IN (by its length, so a replay
 * does the same) also hands them to a real store (store_open(":memory:", STORE_WRITE):
 * an SQLite database in memory, with its writer thread), as the daemon's output
 * does, and ends in the daemon's teardown order (daemon/wsstatsd.c
 * teardown(): the engine, whose leftover flows nDPI may still find TLS in
 * while they are released, before the store), so that a TLS count into a
 * closed store is a use-after-free ASan sees; store_close() must succeed.
 * (A store costs about 3 ms an input, twice the dissection of a typical
 * one.) After every segment the engine's state and held bytes are within
 * the memcap, and once its flows are freed every charge has been taken back.
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
#include "../engine/engine.h"
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
    struct flow_config cfg;
    flow_config_defaults(&cfg);
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
    struct engine_output out = {.record = on_record, .tls = on_tls, .arg = &sink};
    struct engine *eng = engine_new(&cfg, classifier, &out);
    if (!eng) {
        pcap_close(pcap);
        if (sink.store)
            store_close(sink.store, err, sizeof err);
        return 0;
    }
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
        if (source_next(&src, &pkt, err, sizeof err) != SOURCE_PACKET)
            break; /* the end, or a damaged file: what was read stands */
        fuzz_check(pkt.linktype == linktype);
        engine_packet(eng, &dec, &pkt, src.sensor);
        const struct flow_table *t = engine_flows(eng);
        fuzz_check(flow_table_state_bytes(t) + flow_table_held_bytes(t) <= cfg.memcap);
    }
    engine_finish(eng);
    fuzz_check(!flow_table_any_followed(engine_flows(eng)));
    fuzz_check(sink.records == engine_stats(eng)->records);
    fuzz_check(sink.tls == engine_stats(eng)->tls);
    /* the daemon's teardown order: the engine's flows (and the last TLS
     * flows nDPI finds as they go), the engine, then the store */
    engine_release_flows(eng);
    fuzz_check(flow_table_state_bytes(engine_flows(eng)) == 0); /* every charge taken back */
    engine_free(eng);
    if (sink.store && store_close(sink.store, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz invariant failed: store_close: %s\n", err);
        abort();
    }
    source_close(&src);
    return 0;
}
