/*
 * store/store_internal.h — what the store's files share: struct store, one
 * sub-struct per module with its owner said once, and the functions one
 * file calls in another. Not for use outside store/ (store.h is the API).
 *
 * Threads. The caller (wsstatsd's packet loop) opens, adds, commits and
 * closes; the writer thread (writer.c), once started, is the only user of
 * the connection; any thread may count a TLS flow (store_tls_add). The
 * caller's functions only copy into the store under `sync.lock`: the packet
 * loop never waits for SQLite.
 *
 * Locking: `sync.lock` guards everything the caller and the writer share
 * (the queue, the TLS tally, the captures rows' figures, the failure state
 * and the requests). The connection, the statements and the captures rows'
 * ids are the writer's alone once it runs. Each sub-struct below says which
 * of the three it is: "under lock", "the caller's", "the writer's".
 *
 * Files and who calls whom (no cycles): store.c -> open.c, writer.c,
 * queue.c, captures.c, tally.c; writer.c -> rotate.c, batch.c,
 * retention.c, queue.c; rotate.c -> batch.c, open.c, captures.c; batch.c
 * -> captures.c, record_sql.c, tally.c; open.c -> schema.c, captures.c
 * (its statements' text); queue.c -> tally.c; all but record_sql.c and
 * tally.c -> errors.c.
 */
#ifndef WSSTATS_STORE_INTERNAL_H
#define WSSTATS_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "store.h"
#include "tally.h"

#define BATCH_MAX 5000         /* the writer commits once this many records wait ... */
#define INSERT_ROWS 128         /* records per INSERT statement (the rest of a batch one by one) */
#define MAX_WAIT_NS 1000000000 /* ... or once the oldest has waited this long */
#define QUEUE_MAX 100000       /* records waiting or being written, at most */
#define OFFLINE_BACKLOG (2 * BATCH_MAX) /* from files: the packet loop waits beyond this many */
#define TICK_NS 1000000000     /* live housekeeping, and retries of a failing database */
#define BUSY_TIMEOUT_MS 5000   /* the writer's wait for another process's lock */
#define CACHE_KIB 16384        /* page cache: the indexes' upper levels stay in memory */
#define PAGE_BYTES 8192        /* page size of a database this writer creates (see open.c) */
#define RETENTION_BATCH 500    /* records deleted per transaction ... */
#define RETENTION_BUDGET_NS 250000000 /* ... and batches for at most this long per tick */
#define MAX_CAPTURES 64        /* captures rows per run (wsstatsd: one per source) */
#define STATUS_MAX 256
#define ERR_MAX 512

/* A record waiting to be written: one allocation with its strings. */
struct queued {
    int capture; /* the captures row it belongs to, -1: none */
    struct ws_record r;
};

/* Records taken out of the queue by one transaction. */
struct batch {
    struct queued **recs;
    size_t n;
};

/* One captures row. */
struct capture_slot {
    char *sensor, *source; /* copies, fixed for the run */
    double started_at;     /* fixed too: with source, tells the row in a file */
    struct capture_row row; /* under lock: the latest figures; row.status points to status */
    char status[STATUS_MAX];
    bool dirty;   /* under lock: changed since last written */
    int64_t id;   /* the writer's: its row in the open database, -1: none */
    uint64_t written; /* the writer's: records written with it into that file */
};

/* A captures row as one transaction writes it. */
struct slot_copy {
    int idx;
    int64_t old_id;   /* restored if the transaction fails */
    uint64_t records; /* of the batch, written with it */
    struct capture_row row;
    char status[STATUS_MAX];
};

/* Where the database is: fixed at open. */
struct store_paths {
    char *path, *wal, *shm;
};

/* The connection (open.c): the opener's until the writer starts, then the
 * writer's alone; the reader's connection is the caller's. */
struct store_conn {
    sqlite3 *db;
    sqlite3_stmt *insert, *insert_rows, *begin, *commit, *rollback, *tls_upsert, *cap_insert, *cap_update;
    dev_t dev; /* the file the connection has open */
    ino_t ino;
};

/* Where the threads meet. `writer` and `running` are the caller's (set
 * when it starts and stops the thread); `stopping` is under lock. */
struct store_sync {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the writer: work, or stop */
    pthread_cond_t room; /* store_add(): a transaction ended */
    pthread_cond_t done; /* store_commit(): its request was answered */
    pthread_t writer;
    bool running;
    bool stopping;
};

/* Records and TLS counts on their way (queue.c, batch.c): under lock. */
struct store_queue {
    struct queued **recs; /* waiting, oldest first */
    size_t n, cap;
    size_t inflight;        /* records inside a transaction right now */
    struct tally tls_wait;  /* TLS flows counted since the last batch ... */
    struct tally tls_batch; /* ... and those inside the transaction */
    struct timespec due_at; /* CLOCK_MONOTONIC: the oldest waiting record goes by then */
    uint64_t lost, tls_lost;
};

/* Whether the database takes records (set by the writer's rounds): under lock. */
struct store_health {
    bool failing; /* the database cannot be written (told once) */
    bool held;    /* a reopen waits for the moved file's -wal to go */
    uint64_t committed;    /* records in committed transactions (batch.c) */
    uint64_t failures;     /* rounds that failed to write (writer.c) */
    double last_commit_at; /* wall clock of the last committed transaction; 0: none yet */
    uint64_t unshipped_dropped; /* retention.c: records deleted before they were shipped */
};

/* The caller's requests to the writer and their answers: under lock. */
struct store_requests {
    uint64_t asked, answered; /* store_commit() / store_expire() requests */
    bool expire_asked;
    int answer;
    long long expired;
    char answer_err[ERR_MAX];
    bool reopen_asked;
};

/* The captures rows (captures.c). `n` and `fresh` under lock, each slot's
 * fields as marked there; `current` the caller's. */
struct store_captures {
    struct capture_slot slots[MAX_CAPTURES];
    int n;
    bool fresh;  /* a row not yet in the open file */
    int current; /* the captures row new records belong to */
    char host[256]; /* this machine's name and ... */
    long pid;       /* ... this process: written with each row (fixed for the run) */
};

/* The writer thread's timers and its reconnection (writer.c): the writer's. */
struct store_writer {
    struct timespec tick_at, retry_at;
    bool need_reconnect; /* the last failure calls for a fresh connection */
};

/* Reopening after a move (rotate.c): the writer's. */
struct store_rotation {
    bool pending;          /* SIGHUP taken, not done */
    bool stale_wal;        /* a moved file was closed: its -wal and -shm may still be at the path */
    struct stat stale[2];  /* which files those are (-wal, -shm; st_nlink 0: none) */
    unsigned said;         /* SAID_* told for this reopen */
};

/* Postponement messages, each told once per reopen. */
enum { SAID_BUSY = 1, SAID_STALE = 2, SAID_CHECKPOINT = 4 };

struct store {
    struct store_paths where;
    struct store_options opt; /* fixed at open */
    struct store_conn conn;
    struct store_sync sync;
    struct store_queue queue;
    struct store_health health;
    struct store_requests req;
    struct store_captures cap;
    struct store_writer wr;
    struct store_rotation rot;
    bool retention_failing; /* retention.c, the writer's: told once */
    double unshipped_told_at; /* retention.c, the writer's: when unshipped deletions were last told */
    uint64_t unshipped_untold; /* ... and how many since */
    char err[ERR_MAX];      /* the caller's last error */
};

/* ---- clocks (CLOCK_MONOTONIC deadlines, the wall clock) ---- */

static inline struct timespec after_ns(long long ns)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long total = t.tv_nsec + ns;
    t.tv_sec += total / 1000000000;
    t.tv_nsec = total % 1000000000;
    return t;
}

static inline bool reached(const struct timespec *now, const struct timespec *t)
{
    return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

static inline double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- errors.c: SQLite's failures as one line, and the report callback ---- */

void describe_errno(sqlite3 *db, char *err, const char *what, int saved);
void describe(sqlite3 *db, char *err, const char *what);
bool reconnect_helps(int code);
int exec(sqlite3 *db, const char *sql, char *err, const char *what);
int query_int(sqlite3 *db, const char *sql, long long *out, char *err, const char *what);
int step_done(sqlite3 *db, sqlite3_stmt *s, char *err, const char *what);
void report(struct store *st, enum store_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* What an SQLite failure (and errno) amounts to for the opener. */
enum store_open_code open_code_of(sqlite3 *db, int saved_errno);
enum store_open_code open_code_of_errno(int e);

/* ---- schema.c ---- */

/* Checks the version; a writer also creates or migrates, and a migration
 * is committed only once `verify` (NULL: none) has accepted the tables it
 * made (else it is rolled back: the file untouched, STORE_E_FOREIGN).
 * Returns STORE_OPENED, or a code with the message in err (ERR_MAX). */
typedef int (*schema_verify_fn)(void *arg, char *err);
enum store_open_code schema_check(sqlite3 *db, const char *path, bool writer, char *err, schema_verify_fn verify,
                                  void *arg);
/* The writer's look before it sets the journal mode: STORE_E_TOO_NEW or
 * STORE_E_FOREIGN (message in err) for a database it must leave as it is;
 * STORE_OPENED otherwise, also when the version cannot be read (the open
 * then fails where it did, with its message). */
enum store_open_code schema_guard(sqlite3 *db, const char *path, char *err);
/* The immutable reader's check: 0 if this program reads the database,
 * else a code with *version as read (-1: unreadable). */
enum store_open_code schema_check_readable(sqlite3 *db, long long *version);

/* ---- open.c: the connection ---- */

/* Opens (creating, migrating) the database at st->where.path for writing,
 * and notes which file that is. On failure the caller closes. Returns 0,
 * or -1 with err (ERR_MAX) and *code. */
int conn_open_write(struct store *st, char *err, enum store_open_code *code);
/* The reader's connection: read-only, or immutable (see store.h). */
int conn_open_read(struct store *st, struct store_open_error *e);
void conn_close(struct store *st);

/* ---- writer.c ---- */

int writer_start(struct store *st);
void writer_stop(struct store *st);

/* ---- queue.c: predicates the caller's side and the writer share (under lock) ---- */

bool has_waiting(const struct store *st);
bool stuck(const struct store *st);
bool batch_due(const struct store *st);

/* ---- batch.c ---- */

/* Writes what is queued, and the captures rows that changed, in one
 * transaction (the writer's). With `closing`, the rows in this file are
 * closed with that status. On failure everything stays queued, `err` says
 * why, and a fresh connection is asked for if it may help. */
int commit_queued(struct store *st, char *err, const char *closing);

/* ---- captures.c ---- */

extern const char captures_insert_sql[], captures_update_sql[];
/* At the writer's open: this host's `running` rows whose process is gone
 * become `interrupted`. Returns how many (-1: failed, err set). */
int mark_interrupted(struct store *st, char *err);
int take_slots(struct store *st, struct slot_copy *out, const uint64_t *records, const char *closing, double now);
void give_back_slots(struct store *st, const struct slot_copy *c, int n);
int write_slots(struct store *st, struct slot_copy *c, int n, char *err);
void count_written(struct store *st, const struct slot_copy *c, int n);
void check_slots(struct store *st);
void rewrite_open_slots(struct store *st);
void slots_free(struct store *st);

/* ---- retention.c ---- */

void retention_tick(struct store *st);
long long retention_from_newest(struct store *st, char *err);

/* ---- rotate.c ---- */

/* What a reopen step came to. */
enum reopen_step { OPENED, KEPT, WAITING, OPEN_FAILED };
enum reopen_step reconnect(struct store *st, char *err);

#endif
