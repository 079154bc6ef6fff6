/*
 * store/store.h — the SQLite database: schema, migrations, batched writer.
 *
 * Writers (wsstatsd) open with store_open(..., STORE_WRITE, ...): the schema
 * is created or migrated, WAL is on, and the store's writer thread is from then on the
 * only user of the connection. It inserts records in batched transactions,
 * writes the `captures` rows, deletes old records (--retention), reopens
 * the file on request (SIGHUP) and, while the database cannot be written,
 * keeps the records in a bounded queue and tries again once a second. The
 * caller's functions only copy into the store under a mutex (store_commit
 * and store_close wait for the writer): the packet loop never waits for
 * SQLite. What happens to the database (a failure, the recovery, a reopen)
 * is told once, through the report callback, from the writer thread.
 *
 * Readers (wsstats) open with store_open(..., STORE_READ, ...): never
 * created, never migrated, read-only, no thread.
 *
 * The files: store.c (open and close), open.c (the connection, every mode),
 * schema.c, queue.c (the caller's side), writer.c (the thread and its
 * rounds), batch.c (one transaction), captures.c, retention.c, rotate.c,
 * record_sql.c (a record's columns as SQL values), errors.c, tally.c;
 * store_internal.h says who owns what.
 */
#ifndef WSSTATS_STORE_H
#define WSSTATS_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/record.h"
#include "../model/tls.h"

#define STORE_SCHEMA_VERSION 6
/* Readers take older schemas whose tables hold the same records (v1 lacks
 * indexes and tls_flows, v2 the captures' `received` column, v3 their
 * `host` and `pid`). */
#define STORE_MIN_READ_VERSION 1

struct store;

/* Per-source figures for the `captures` table. */
struct capture_row {
    const char *sensor;
    const char *source; /* path or interface */
    bool live;
    double started_at, ended_at;             /* wall clock of the run; ended_at 0: running */
    double first_packet_at, last_packet_at;  /* packet clock; <0: none */
    uint64_t packets, bytes, tcp_flows; /* the run's, so far */
    uint64_t connections; /* not the caller's: the store writes the records it
                           * wrote with this row into that file */
    uint64_t received, drops, if_drops; /* libpcap's counters (live only) */
    int64_t file_size;  /* a regular file's size (its base name is then kept too); -1 otherwise */
    const char *status; /* "running", "stopped", "complete", or an error message; the store
                         * writes "failed: ..." (store_abandon), "reopened" (a moved file), and
                         * "interrupted" (a running row whose process is gone, found at open) */
};

/* How bad a report is (the daemon maps these to syslog priorities). */
enum store_level { STORE_ERROR, STORE_WARNING, STORE_NOTICE };

/* Called on the writer thread, with no lock of the store held (and once
 * from store_open(), on the caller's thread, when it marks captures
 * interrupted); `msg` is one line without the database's name. */
typedef void (*store_report_fn)(void *arg, enum store_level level, const char *msg);

struct store_options {
    store_report_fn report; /* NULL: nothing is told */
    void *report_arg;
    bool live;              /* once a second: captures rows, retention, retries */
    double retention;       /* seconds; 0: keep every record */
    /* The meta key under which a shipper keeps the last id its central
     * store acknowledged (wsstatsd --clickhouse: "clickhouse_shipped:SENSOR";
     * NULL: none). Retention then keeps every record above it, unless the
     * database's file system is nearly full (store_figures()). Must outlive
     * the store. */
    const char *hold_key;
};

/* How the database is opened. */
enum store_mode {
    STORE_WRITE, /* wsstatsd: created or migrated, WAL, the writer thread */
    STORE_READ,  /* wsstats: never created or migrated, read-only, no thread;
                  * read as immutable when SQLite could not open it for
                  * reading because this user may not write its directory
                  * (no -shm) and no writer has it open (no -wal) */
};

/* Why an open failed: callers decide by this code, never by the message. */
enum store_open_code {
    STORE_OPENED = 0,
    STORE_E_NOT_FOUND,    /* no file at the path (reader), no directory for it (writer) */
    STORE_E_IS_DIRECTORY, /* the path names a directory */
    STORE_E_PERMISSION,   /* this user may not read the file, or not create what SQLite needs beside it */
    STORE_E_READ_ONLY,    /* the writer could open it for reading only */
    STORE_E_NOT_SQLITE,   /* not an SQLite database, or a damaged one */
    STORE_E_FOREIGN,      /* an SQLite database with other tables (left as it was) */
    STORE_E_TOO_NEW,      /* a schema newer than STORE_SCHEMA_VERSION */
    STORE_E_TOO_OLD,      /* for the reader: a schema it cannot read (run wsstatsd to migrate) */
    STORE_E_NO_MEMORY,
    STORE_E_IO,           /* any other failure of the file or of SQLite (the message says which) */
    STORE_E_BAD_PATH,     /* the writer's path names no file records would stay in ("", ":memory:",
                           * a "file:" URI, a device, FIFO or socket): refused before SQLite sees it */
};

/* A message names the path up to three times (the file, its -shm, its
 * directory). */
#define STORE_MSG_MAX (3 * 4096 + 512)

struct store_open_error {
    enum store_open_code code;
    char msg[STORE_MSG_MAX]; /* one line, naming the database where it matters */
};

/* Opens the database at path in the mode; returns NULL with e filled on
 * failure (e may be NULL). Options are the writer's (NULL: nothing is
 * told, no timer, no retention); the reader ignores them. A database that
 * the writer could open only for reading is refused. Each mode checks the
 * schema version once (store/schema.c). */
struct store *store_open(const char *path, enum store_mode mode, const struct store_options *o,
                         struct store_open_error *e);

/* Whether the writer could keep records at path: STORE_OPENED, or
 * STORE_E_BAD_PATH / STORE_E_IS_DIRECTORY with the reason in msg (len
 * bytes). Looks only (stat), creates nothing; store_open(STORE_WRITE) asks
 * it first (but takes ":memory:", for tests and fuzzers), and wsstatsd
 * before anything else, as a usage error. */
enum store_open_code store_check_write_path(const char *path, char *msg, size_t len);

/* The code's name ("not_found", ...), for logs and tests. */
const char *store_open_code_name(enum store_open_code code);

/* The former entry points, as thin wrappers of store_open(): NULL with the
 * message in err on failure. */
struct store *store_open_write_with(const char *path, const struct store_options *o, char *err, size_t errlen);
struct store *store_open_write(const char *path, char *err, size_t errlen);
struct store *store_open_read(const char *path, char *err, size_t errlen);

/* Commits what is pending and closes. Returns 0, or -1 (message in err). */
int store_close(struct store *st, char *err, size_t errlen);

/* Queues a copy of the record (for the current captures row); the writer
 * commits each full batch, and any record within a second. Returns 0, or
 * -1 with store_error() set: the queue is full while the database cannot
 * be written (the record is lost, see store_lost()). While the database is
 * healthy and only slower, it waits for room instead. */
int store_add(struct store *st, const struct ws_record *r);

/* Writes every queued record, captures row and TLS count, and waits for
 * it. Returns 0, or -1 with store_error() set (they stay queued). */
int store_commit(struct store *st);

/* After store_commit() failed at the end of a run: the records still
 * queued are given up (counted in store_lost()), and the captures rows
 * they belonged to end as "failed: N records not written: REASON", written
 * alone if the database takes that much. Returns how many were given up;
 * store_error() keeps the reason. */
size_t store_abandon(struct store *st);

/* Asks the writer to close and open the database path again (SIGHUP,
 * after a log-rotation style move); returns at once. A moved file keeps
 * the records written to it, and its captures row is closed as
 * "reopened"; it is let go only once no reader holds it in a transaction
 * and its WAL is checkpointed (until then records go on into it), and the
 * new file is opened only once the old file's -wal is gone from the path. */
void store_reopen(struct store *st);

/* The writer's figures so far (for wsstatsd --metrics): records in
 * committed transactions, rounds that failed to write, the wall clock of
 * the last commit (0: none yet); and records queued, lost. */
struct store_figures {
    uint64_t committed, failures, queued, lost;
    double last_commit_at;
    /* records deleted by retention before they were shipped (hold_key),
     * because the file system had less than STORE_MIN_FREE_PERCENT free */
    uint64_t unshipped_dropped;
};
#define STORE_MIN_FREE_PERCENT 5
void store_figures(struct store *st, struct store_figures *out);

/* Records waiting to be written; records dropped because the queue was full. */
size_t store_queued(struct store *st);
uint64_t store_lost(struct store *st);

/* Starts a captures row: it is written with the next commit (and into a
 * new file after a reopen), and the records added from now on refer to
 * it. Returns its handle, or -1 (at most 64 per run). */
int store_capture_begin(struct store *st, const struct capture_row *c);
/* New figures for it, written with the next commit (live: within a second). */
void store_capture_update(struct store *st, int capture, const struct capture_row *c);

/* What identifies a capture file: its base name, its size and the time of
 * its first packet (seconds, as first_packet_at). */
struct file_identity {
    const char *name;
    int64_t size;
    double first_packet_at;
};

/* The earliest captures row of a run over that file, found by
 * store_find_recorded(). */
struct recorded_capture {
    int64_t id;
    double started_at;
    uint64_t connections;
    char status[256];
};

/* Whether the file was read into this database before: 1 with *out
 * filled, 0 if not, -1 with one line in err (errlen bytes). Rows of schema
 * versions before 5 have no size: their name and first packet decide.
 * Asked on a read-only connection of its own, so any time after
 * store_open(STORE_WRITE); the daemon asks before it reads the file. */
int store_find_recorded(struct store *st, const struct file_identity *id, struct recorded_capture *out, char *err,
                        size_t errlen);

/* Sets key to value in the meta table of the database at path (which must
 * exist and be writable), on a connection of its own. Returns 0, or -1
 * with one line in err. */
int store_meta_put(const char *path, const char *key, const char *value, char *err, size_t errlen);

/* Counts one TLS flow (model/tls.h) in its hour; written with the next
 * commit. Returns 0, or -1 if the tally is full while the database fails
 * (the flow is not counted; see store_tls_lost()). The one function any
 * thread may call (the classifier's reports TLS flows). */
int store_tls_add(struct store *st, const struct tls_flow *t);
uint64_t store_tls_lost(struct store *st);

/* --retention for a database built from files: deletes the records that
 * ended more than `retention` seconds before the newest one, and waits.
 * Returns how many, or -1. (Live, the writer deletes against the clock
 * once a second, a few batches at a time.) */
long long store_expire(struct store *st);

/* The last error, one line. */
const char *store_error(const struct store *st);

/* The connection, for query functions (query/db.c); readers only. */
sqlite3 *store_db(struct store *st);

#endif
