/*
 * fuzz/fuzz.h — what the libFuzzer targets share (issue 8).
 *
 * Five targets, each a file of its own (see fuzz/fuzz.mk for how they are
 * built and run):
 *   fuzz_decode.c    capture/decode.c: one link-layer frame -> TCP segment
 *   fuzz_http.c      app/websocket/http.c and the handshake half of wsconn.c
 *   fuzz_ws.c        app/websocket/frame.c and the frame half of wsconn.c
 *   fuzz_pipeline.c  a whole capture file through libpcap, the decoder and
 *                    the engine (reassembly, the WebSocket parser, nDPI) to records,
 *                    one input in four into a real store (store/), ended
 *                    in the daemon's teardown order
 *   fuzz_dbopen.c    a database file's bytes through the store's open path
 *                    (reader, every report query; writer: a file refused
 *                    keeps every byte, one accepted takes a record)
 *
 * Inputs are plain bytes; the targets that need a few control values take
 * them from the front of the input through the `fuzz_in` reader below, so a
 * mutation of those bytes changes how the rest is cut up. An invariant that
 * fails calls fuzz_fail(), which aborts: libFuzzer keeps the input as a
 * crash like any sanitizer report.
 */
#ifndef WSSTATS_FUZZ_H
#define WSSTATS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../model/record.h"
#include "../app/websocket/session.h"

/* libFuzzer's entry points (declared here for -Wmissing-prototypes). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed invariant: says which, then aborts (a "crash" to libFuzzer). */
#define fuzz_check(cond)                                                                        \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                            \
        }                                                                                       \
    } while (0)

/* Control values taken from the front of the input. Reading past the end
 * gives zeros, so every input is valid. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
    uint16_t lo = fuzz_u8(in);
    return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
    uint32_t lo = fuzz_u16(in);
    return lo | (uint32_t)fuzz_u16(in) << 16;
}

/* A small deterministic generator (xorshift32) for chunk sizes: seeded from
 * input bytes, so a crash replays exactly. */
static inline uint32_t fuzz_rand(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Copies bytes into a buffer of exactly that size, so that ASan sees a read
 * one past the end (the input itself may have bytes after the part used). */
uint8_t *fuzz_dup(const uint8_t *p, size_t n);

/* libgcrypt set up as the daemon does (Sec-WebSocket-Accept is SHA-1). */
void fuzz_init_gcrypt(void);

/* Reads a string to its NUL (NULL is fine). */
void fuzz_touch_str(const char *s);

/* Reads every field of a record the way store/ would (strings to their NUL)
 * and checks what docs/design.md §2 promises of them. */
void fuzz_touch_record(const struct ws_record *r);

/* The heap blocks of a connection as wsconn_mem() should count them (each
 * with 16 bytes of malloc header), close reasons aside (they may hold NUL
 * bytes); fuzz_check_wsconn_mem() checks wsconn_mem() against them and
 * against a fixed bound: whatever the input, one connection holds at most
 * two heads (one briefly doubled when an oversized head is cut), six
 * header strings, two close payloads and two reasons. */
#define FUZZ_CLOSE_REASON_MAX 4094 /* close payload bytes kept (wsconn.c) less the code */
#define FUZZ_WSCONN_MEM_MAX                                                                     \
    (sizeof(struct wsconn) + 16 + 2 * (2 * WSCONN_HEAD_MAX + 16) + 6 * (1024 + 1 + 16) +       \
     2 * (FUZZ_CLOSE_REASON_MAX + 2 + 16) + 2 * (FUZZ_CLOSE_REASON_MAX + 1 + 16))
size_t fuzz_wsconn_blocks(const struct wsconn *c);
void fuzz_check_wsconn_mem(const struct wsconn *c);

/* Feeds two byte streams (client, server) to a connection, interleaved in
 * chunks whose sizes come from *rng, each chunk in a buffer of its own.
 * With `gaps`, some chunk boundaries become holes (wsconn_gap) instead.
 * Then finishes the connection and fills, touches and checks its record. */
void fuzz_drive_wsconn(struct wsconn *c, const uint8_t *cli, size_t clen, const uint8_t *srv, size_t slen,
                       uint32_t *rng, bool gaps);

#endif
