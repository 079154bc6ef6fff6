/*
 * app/dpi.h — the one adapter to nDPI: every call into libndpi goes
 * through here, and nothing else includes nDPI's headers.
 *
 * nDPI's API changes between releases (Debian 12 has 4.2; 4.6-4.10 changed
 * packet processing, give-up and initialisation; 4.12 and 5.0 more): what
 * differs is switched in dpi.c only. The rest of the project sees an
 * answer as two protocol ids and asks this file what they mean.
 */
#ifndef WSSTATS_DPI_H
#define WSSTATS_DPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ndpi_detection_module_struct; /* an nDPI instance (one per thread) */
struct ndpi_flow_struct;             /* nDPI's state for one flow */

/* nDPI's answer for a flow: its master and application protocol ids. */
struct dpi_answer {
    uint16_t master, app;
};

/* libgcrypt set up for nDPI (its QUIC dissector decrypts), once, before
 * two instances are built at the same time; a no-op if the program has. */
void dpi_init_once(void);

/* An instance running the dissectors the project reads (dpi.c); NULL if
 * nDPI cannot be initialised. */
struct ndpi_detection_module_struct *dpi_new(void);
void dpi_free(struct ndpi_detection_module_struct *n);

/* A flow's state (NULL if out of memory), and its size as the memcap
 * counts it. */
struct ndpi_flow_struct *dpi_flow_new(void);
void dpi_flow_free(struct ndpi_flow_struct *f);
size_t dpi_flow_size(void);

/* One packet from its IP header on (len captured bytes; ts_ms its time). */
struct dpi_answer dpi_packet(struct ndpi_detection_module_struct *n, struct ndpi_flow_struct *f, const uint8_t *l3,
                             size_t len, uint64_t ts_ms);
/* Gives the flow up: nDPI's last answer, *guessed if it is a guess (by port). */
struct dpi_answer dpi_give_up(struct ndpi_detection_module_struct *n, struct ndpi_flow_struct *f, bool *guessed);

/* What an answer says. */
bool dpi_is_known(struct dpi_answer a);
bool dpi_is_tls(struct dpi_answer a);
bool dpi_is_websocket(struct dpi_answer a);
/* nDPI's name for it ("HTTP", "TLS.Google", "Unknown") in buf. */
const char *dpi_name(struct ndpi_detection_module_struct *n, struct dpi_answer a, char *buf, size_t len);

/* The server name a TLS ClientHello asked for, as nDPI kept it, into out
 * (at most max bytes and a NUL). */
void dpi_server_name(const struct ndpi_flow_struct *f, char *out, size_t max);

#endif
