/*
 * store/store.h — the SQLite database: schema, migrations, batched writer.
 *
 * Writers (wsstatsd) open with store_open_write(): the schema is created or
 * migrated, WAL is on, and a writer thread inserts records through one
 * prepared statement inside batched transactions; records wait in a
 * bounded queue while the database cannot be written. Every function is
 * for one caller thread; the writer thread is the store's own. Readers (wsstats) open with
 * store_open_read(): never created, never migrated, read-only.
 */
#ifndef WSSTATS_STORE_H
#define WSSTATS_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dissect/dissect.h"
#include "../dissect/record.h"

#define STORE_SCHEMA_VERSION 2
/* Readers take older schemas whose tables are the same (v1 lacks indexes only). */
#define STORE_MIN_READ_VERSION 1

struct store;

/* Per-source figures for the `captures` table. */
struct capture_row {
    const char *sensor;
    const char *source; /* path or interface */
    bool live;
    double started_at, ended_at;             /* wall clock of the run */
    double first_packet_at, last_packet_at;  /* packet clock; <0: none */
    uint64_t packets, bytes, drops, if_drops, tcp_flows, connections;
    const char *status; /* "running", "complete", or an error message */
};

/* Both return NULL with a one-line message in err on failure. */
struct store *store_open_write(const char *path, char *err, size_t errlen);
struct store *store_open_read(const char *path, char *err, size_t errlen);

/* Commits what is pending and closes. Returns 0, or -1 (message in err). */
int store_close(struct store *st, char *err, size_t errlen);

/* Queues a copy of the record; a writer thread commits each full batch.
 * Returns 0, or -1 with store_error() set: the last commit failed (the
 * record stays queued) or the queue is full while the database fails (the
 * record is lost, see store_lost()). While the database is healthy and
 * only slower, it waits for room instead. */
int store_add(struct store *st, const struct ws_record *r);

/* Writes every queued record in one transaction and waits for it.
 * Returns 0, or -1 (they stay queued; call again later). */
int store_commit(struct store *st);

/* Closes and opens the database path again (after a log-rotation style
 * move). Queued records go to the new file. Returns 0, or -1: the next
 * store_commit() tries again. */
int store_reopen(struct store *st);

/* Records waiting to be written; records dropped because the queue was full. */
size_t store_queued(struct store *st);
uint64_t store_lost(struct store *st);

/* Inserts a captures row (returns its id, or -1) / updates it. */
int64_t store_capture_begin(struct store *st, const struct capture_row *c);
int store_capture_update(struct store *st, int64_t id, const struct capture_row *c);

/* Counts one TLS flow (dissect.h) in its hour; written with the next
 * commit. Returns 0, or -1 if the tally is full while the database fails
 * (the flow is not counted; see store_tls_lost()). The one function any
 * thread may call (the classifier's reports TLS flows). */
int store_tls_add(struct store *st, const struct tls_flow *t);
uint64_t store_tls_lost(struct store *st);

/* Deletes at most `batch` records that ended before `before` (epoch
 * seconds), oldest first. Returns how many, or -1. */
int store_delete_older(struct store *st, double before, int batch);

/* The last error, one line. */
const char *store_error(const struct store *st);

/* The connection, for query functions (store/query.c). */
sqlite3 *store_db(struct store *st);

#endif
