/*
 * store/store.c — SQLite schema, migrations and the batched record writer.
 *
 * WAL journal (readers never block the writer), synchronous=NORMAL (a crash
 * loses at most the last commit, never corrupts), one prepared INSERT bound
 * per record, BATCH_MAX records per transaction.
 *
 * Records are copied into a queue. A writer thread commits it whenever a
 * batch is full, so SQLite's work (a B-tree insert per index per record,
 * the WAL) runs beside the packet loop instead of inside it; the caller's
 * store_commit() writes the rest and waits. A transaction that fails (a
 * full disk, a database made read-only) is rolled back and its records
 * stay queued; while failing, the writer tries again once a second. Up to
 * QUEUE_MAX records wait; beyond that, new records are counted as lost —
 * unless the database is healthy and only slower than the capture, when
 * store_add() waits for room instead (an offline run never drops records
 * for speed). So a database problem costs no capture and, once fixed, no
 * records.
 *
 * Locking: `lock` guards the queue, the TLS tally and the failure state;
 * `db_lock` makes every use of the connection (the writer's transactions,
 * the caller's commits, captures rows, retention, reopen) one at a time.
 * Whoever holds db_lock may take `lock`, never the other way round.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "schema.sql.h"
#include "tally.h"

#define BATCH_MAX 5000         /* the writer commits once this many records wait ... */
#define MAX_WAIT_NS 1000000000 /* ... or once the oldest has waited this long */
#define QUEUE_MAX 100000       /* records waiting or being written, at most */
#define RETRY_NS 1000000000    /* a failing database is tried again this often */
#define BUSY_TIMEOUT_MS 5000
#define CACHE_KIB 16384 /* page cache: the indexes' upper levels stay in memory */

/* A record waiting to be written: one allocation with its strings. */
struct queued {
    int64_t capture_id; /* the captures row it belongs to, -1: none */
    struct ws_record r;
};

/* Records taken out of the queue by one transaction. */
struct batch {
    struct queued **recs;
    size_t n;
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *tls_upsert;
    sqlite3_stmt *insert;
    sqlite3_stmt *begin, *commit, *rollback;
    char *path;
    int64_t capture_id;
    char err[512]; /* the caller's last error */
    /* the batch writer */
    pthread_mutex_t lock, db_lock;
    pthread_cond_t wake; /* the writer: a batch is ready, or stop */
    pthread_cond_t room; /* store_add(): a transaction ended */
    pthread_t writer;
    bool writer_running, stopping;
    struct queued **queue; /* waiting, oldest first */
    size_t nqueue, capqueue;
    size_t inflight;          /* records inside a transaction right now */
    struct tally tls_wait;    /* TLS flows counted since the last batch ... */
    struct tally tls_batch;   /* ... and those inside the transaction */
    bool failing;             /* the last transaction failed */
    struct timespec due_at;   /* CLOCK_MONOTONIC: the oldest waiting must go, or the next retry */
    char writer_err[512];     /* and why (the writer's own buffer) */
    uint64_t lost, tls_lost;
};

static const char insert_sql[] =
    "INSERT INTO connections (sensor, client_ip, client_port, server_ip, server_port, vlan,"
    " started_at, upgraded_at, ended_at, host, path, origin, user_agent, subprotocol, extensions,"
    " http_status, handshake_seen, close_code, close_reason, close_initiator,"
    " client_close_code, client_close_reason, client_close_at,"
    " server_close_code, server_close_reason, server_close_at, outcome, termination,"
    " frames_client, frames_server, messages_client, messages_server, bytes_client, bytes_server,"
    " pings, pongs, last_frame_at, last_data_at, violations, ndpi_protocol, capture_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static void set_err(struct store *st, const char *what)
{
    snprintf(st->err, sizeof st->err, "%s: %s", what, st->db ? sqlite3_errmsg(st->db) : "out of memory");
}

/* The same, into a buffer of ERR_SIZE bytes (a transaction's own). */
#define ERR_SIZE sizeof(((struct store *)0)->err)
static void set_err_in(struct store *st, char *err, const char *what)
{
    snprintf(err, ERR_SIZE, "%s: %s", what, st->db ? sqlite3_errmsg(st->db) : "out of memory");
}

const char *store_error(const struct store *st)
{
    return st->err;
}

sqlite3 *store_db(struct store *st)
{
    return st->db;
}

static int exec(struct store *st, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "%s: %s", what, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int user_version(struct store *st, int *version)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK) {
        set_err(st, "reading the schema version");
        return -1;
    }
    int rc = sqlite3_step(s);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) {
        set_err(st, "reading the schema version");
        return -1;
    }
    return 0;
}

/* A database with tables but user_version 0 is somebody else's. */
static int is_empty_database(struct store *st, bool *empty)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM sqlite_master", -1, &s, NULL) != SQLITE_OK) {
        set_err(st, "reading the database");
        return -1;
    }
    int rc = sqlite3_step(s);
    *empty = rc == SQLITE_ROW && sqlite3_column_int(s, 0) == 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) {
        set_err(st, "reading the database");
        return -1;
    }
    return 0;
}

/* Checks the version; a writer also creates or migrates. */
static int check_schema(struct store *st, const char *path, bool writer)
{
    int version;
    bool empty;
    if (user_version(st, &version) < 0 || is_empty_database(st, &empty) < 0)
        return -1;
    if (version > STORE_SCHEMA_VERSION) {
        snprintf(st->err, sizeof st->err,
                 "%s: schema version %d is newer than this program supports (%d); upgrade wsstats",
                 path, version, STORE_SCHEMA_VERSION);
        return -1;
    }
    if (version == 0 && !empty) {
        snprintf(st->err, sizeof st->err, "%s: not a wsstats database (it has other tables)", path);
        return -1;
    }
    if (version == STORE_SCHEMA_VERSION || (!writer && version >= STORE_MIN_READ_VERSION))
        return 0;
    if (!writer) {
        snprintf(st->err, sizeof st->err, "%s: schema version %d is older than %d; run wsstatsd on it once to migrate",
                 path, version, STORE_SCHEMA_VERSION);
        return -1;
    }
    if (exec(st, "BEGIN IMMEDIATE", "migrating the schema") < 0)
        return -1;
    for (int v = version; v < MIGRATION_COUNT; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (exec(st, migrations[v], "migrating the schema") < 0 || exec(st, sql, "migrating the schema") < 0) {
            exec(st, "ROLLBACK", "rolling back");
            return -1;
        }
    }
    return exec(st, "COMMIT", "migrating the schema");
}

static struct store *store_new(void)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->capture_id = -1;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->db_lock, NULL);
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC); /* a wall-clock step moves no deadline */
    pthread_cond_init(&st->wake, &mono);
    pthread_condattr_destroy(&mono);
    pthread_cond_init(&st->room, NULL);
    return st;
}

static void close_db(struct store *st)
{
    sqlite3_finalize(st->tls_upsert);
    st->tls_upsert = NULL;
    sqlite3_finalize(st->insert);
    sqlite3_finalize(st->begin);
    sqlite3_finalize(st->commit);
    sqlite3_finalize(st->rollback);
    sqlite3_close(st->db);
    st->insert = st->begin = st->commit = st->rollback = NULL;
    st->db = NULL;
}

static void stop_writer(struct store *st);

static void store_free(struct store *st)
{
    stop_writer(st);
    close_db(st);
    for (size_t i = 0; i < st->nqueue; i++)
        free(st->queue[i]);
    free(st->queue);
    tally_free(&st->tls_wait);
    tally_free(&st->tls_batch);
    free(st->path);
    pthread_cond_destroy(&st->wake);
    pthread_cond_destroy(&st->room);
    pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->db_lock);
    free(st);
}

static struct store *fail_open(struct store *st, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", st->err);
    store_free(st);
    return NULL;
}

/* Opens (creating, migrating) the database at st->path for writing. */
static int open_db_write(struct store *st)
{
    const char *path = st->path;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "cannot open database %s: %s", path, sqlite3_errmsg(st->db));
        return -1;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    char what[600];
    snprintf(what, sizeof what, "cannot use database %s", path);
    char pragmas[160];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-%d",
             CACHE_KIB);
    if (exec(st, pragmas, what) < 0 ||
        check_schema(st, path, true) < 0)
        return -1;
    if (sqlite3_prepare_v2(st->db, insert_sql, -1, &st->insert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "BEGIN", -1, &st->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "COMMIT", -1, &st->commit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "ROLLBACK", -1, &st->rollback, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "INSERT INTO tls_flows (hour, sensor, server_ip, server_port, sni, connections)"
                           " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE"
                           " SET connections = connections + excluded.connections",
                           -1, &st->tls_upsert, NULL) != SQLITE_OK) {
        set_err(st, "preparing statements");
        return -1;
    }
    return 0;
}

static void *writer_main(void *arg);

struct store *store_open_write(const char *path, char *err, size_t errlen)
{
    struct store *st = store_new();
    if (!st || !(st->path = strdup(path)) || tally_init(&st->tls_wait) < 0 || tally_init(&st->tls_batch) < 0) {
        snprintf(st ? st->err : err, st ? sizeof st->err : errlen, "out of memory");
        return st ? fail_open(st, err, errlen) : NULL;
    }
    if (open_db_write(st) < 0)
        return fail_open(st, err, errlen);
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
        snprintf(st->err, sizeof st->err, "cannot start the database writer thread");
        return fail_open(st, err, errlen);
    }
    st->writer_running = true;
    return st;
}

int store_reopen(struct store *st)
{
    /* Copy the WAL into the database file first: after a logrotate-style
     * move the file is elsewhere, the WAL still at the old name, and
     * closing would leave the records in a WAL nobody reads. TRUNCATE
     * also empties that WAL, so the new file at the path cannot mistake
     * it for its own. */
    pthread_mutex_lock(&st->db_lock);
    if (st->db)
        sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    close_db(st);
    st->capture_id = -1;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->nqueue; i++)
        st->queue[i]->capture_id = -1; /* their captures row is in the old file */
    pthread_mutex_unlock(&st->lock);
    int rc = 0;
    if (open_db_write(st) < 0) {
        close_db(st);
        rc = -1;
    }
    pthread_mutex_unlock(&st->db_lock);
    return rc;
}

size_t store_queued(struct store *st)
{
    pthread_mutex_lock(&st->lock);
    size_t n = st->nqueue + st->inflight;
    pthread_mutex_unlock(&st->lock);
    return n;
}

uint64_t store_lost(struct store *st)
{
    pthread_mutex_lock(&st->lock);
    uint64_t n = st->lost;
    pthread_mutex_unlock(&st->lock);
    return n;
}

struct store *store_open_read(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, errlen, "no database at %s (create one with: wsstatsd -r CAPTURE -w %s)", path, path);
        return NULL;
    }
    struct store *st = store_new();
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* one thread per connection: no mutexes (a tenth of a large report) */
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "cannot open database %s: %s", path, sqlite3_errmsg(st->db));
        return fail_open(st, err, errlen);
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    if (check_schema(st, path, false) < 0) {
        if (strstr(st->err, "file is not a database"))
            snprintf(st->err, sizeof st->err, "%s: not an SQLite database", path);
        return fail_open(st, err, errlen);
    }
    return st;
}

static int step_done(struct store *st, sqlite3_stmt *s, char *err, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        set_err_in(st, err, what);
        return -1;
    }
    return 0;
}

static void bind_record(sqlite3_stmt *s, const struct ws_record *r, int64_t capture_id);

static int insert_tally(struct store *st, const struct tally *t, char *err)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct tally_entry *e = &t->entries[i];
        sqlite3_bind_double(st->tls_upsert, 1, e->hour);
        sqlite3_bind_text(st->tls_upsert, 2, e->sensor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st->tls_upsert, 3, e->server_ip, -1, SQLITE_STATIC);
        sqlite3_bind_int(st->tls_upsert, 4, e->server_port);
        sqlite3_bind_text(st->tls_upsert, 5, e->sni, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st->tls_upsert, 6, e->connections);
        if (step_done(st, st->tls_upsert, err, "counting TLS flows") < 0)
            return -1;
    }
    return 0;
}

/* One transaction: the batch's records and TLS counts, or nothing. */
static int write_batch(struct store *st, const struct batch *b, char *err)
{
    if (step_done(st, st->begin, err, "starting a transaction") < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        bind_record(st->insert, &b->recs[i]->r, b->recs[i]->capture_id);
        rc = step_done(st, st->insert, err, "inserting a record");
        sqlite3_clear_bindings(st->insert);
    }
    if (rc == 0)
        rc = insert_tally(st, &st->tls_batch, err);
    if (rc == 0)
        rc = step_done(st, st->commit, err, "committing records");
    if (rc < 0) {
        sqlite3_step(st->rollback);
        sqlite3_reset(st->rollback);
    }
    return rc;
}

/* Under `lock`: the queue and the TLS counts become the batch. */
static void take_batch(struct store *st, struct batch *b)
{
    b->recs = st->queue;
    b->n = st->nqueue;
    st->queue = NULL;
    st->nqueue = st->capqueue = 0;
    st->inflight = b->n;
    struct tally t = st->tls_batch; /* empty: swapped, not copied */
    st->tls_batch = st->tls_wait;
    st->tls_wait = t;
}

/* Under `lock`, after a failed transaction: the batch goes back in front of
 * what was queued meanwhile, its TLS counts into the waiting tally. */
static void return_batch(struct store *st, struct batch *b)
{
    if (st->nqueue) {
        struct queued **q = realloc(b->recs, (b->n + st->nqueue) * sizeof *q);
        if (!q) { /* keep the older records; the newer ones are lost */
            for (size_t i = 0; i < st->nqueue; i++)
                free(st->queue[i]);
            st->lost += st->nqueue;
        } else {
            memcpy(q + b->n, st->queue, st->nqueue * sizeof *q);
            b->recs = q;
            b->n += st->nqueue;
        }
        free(st->queue);
    }
    st->queue = b->recs;
    st->nqueue = st->capqueue = b->n;
    for (size_t i = 0; i < st->tls_batch.n; i++) {
        const struct tally_entry *e = &st->tls_batch.entries[i];
        if (tally_add(&st->tls_wait, e->hour, e->sensor, e->server_ip, e->server_port, e->sni, e->connections) < 0)
            st->tls_lost += (uint64_t)e->connections;
    }
}

/* Writes what is queued in one transaction. The caller holds db_lock (never
 * `lock`). On failure everything stays queued, and `err` says why. */
static int commit_queued(struct store *st, char *err)
{
    struct batch b;
    pthread_mutex_lock(&st->lock);
    take_batch(st, &b);
    pthread_mutex_unlock(&st->lock);
    int rc = b.n || st->tls_batch.n ? write_batch(st, &b, err) : 0;
    pthread_mutex_lock(&st->lock);
    if (rc == 0) {
        for (size_t i = 0; i < b.n; i++)
            free(b.recs[i]);
        free(b.recs);
    } else {
        return_batch(st, &b);
        if (err != st->writer_err)
            memcpy(st->writer_err, err, sizeof st->writer_err);
    }
    tally_clear(&st->tls_batch);
    st->failing = rc < 0;
    st->inflight = 0;
    pthread_cond_broadcast(&st->room);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int store_commit(struct store *st)
{
    pthread_mutex_lock(&st->db_lock);
    int rc;
    if (!st->db && open_db_write(st) < 0) { /* a reopen that failed: try again */
        close_db(st);
        rc = -1;
    } else {
        rc = commit_queued(st, st->err);
    }
    pthread_mutex_unlock(&st->db_lock);
    return rc;
}

/* ---- the writer thread ---------------------------------------------------- */

static struct timespec after_ns(long long ns)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long total = t.tv_nsec + ns;
    t.tv_sec += total / 1000000000;
    t.tv_nsec = total % 1000000000;
    return t;
}

static bool has_waiting(const struct store *st)
{
    return st->nqueue || st->tls_wait.n;
}

/* Under `lock`: a full batch of records (or a half-full TLS tally) waits,
 * and the database is not known to fail. */
static bool batch_due(const struct store *st)
{
    return (st->nqueue >= BATCH_MAX || st->tls_wait.n >= TALLY_MAX / 2) && !st->failing;
}

/* Under `lock`, before adding to an empty queue: it must go within
 * MAX_WAIT_NS (a slow trickle from `-r -` or a quiet link is written too). */
static void note_first_waiting(struct store *st)
{
    if (!has_waiting(st) && !st->failing) {
        st->due_at = after_ns(MAX_WAIT_NS);
        pthread_cond_signal(&st->wake); /* the writer sets its timer */
    }
}

/* Commits each full batch, and whatever waited MAX_WAIT_NS; while the
 * database fails, tries again once a second. Signals stay with the main
 * thread. */
static void *writer_main(void *arg)
{
    struct store *st = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&st->lock);
    while (!st->stopping) {
        if (!batch_due(st)) {
            int rc = has_waiting(st) ? pthread_cond_timedwait(&st->wake, &st->lock, &st->due_at)
                                     : pthread_cond_wait(&st->wake, &st->lock);
            if (rc != ETIMEDOUT || !has_waiting(st))
                continue;
        }
        if (st->stopping)
            break;
        pthread_mutex_unlock(&st->lock);
        pthread_mutex_lock(&st->db_lock);
        if (st->db) /* after a failed reopen, only store_commit() opens again */
            commit_queued(st, st->writer_err);
        pthread_mutex_unlock(&st->db_lock);
        pthread_mutex_lock(&st->lock);
        if (st->failing)
            st->due_at = after_ns(RETRY_NS);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

static void stop_writer(struct store *st)
{
    if (!st->writer_running)
        return;
    pthread_mutex_lock(&st->lock);
    st->stopping = true;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
    pthread_join(st->writer, NULL);
    st->writer_running = false;
}

int store_tls_add(struct store *st, const struct tls_flow *t)
{
    double hour = (double)(t->ts / 3600000000LL) * 3600.0;
    const char *sensor = t->sensor ? t->sensor : "";
    pthread_mutex_lock(&st->lock);
    note_first_waiting(st);
    int rc = tally_add(&st->tls_wait, hour, sensor, t->server_ip, t->server_port, t->sni, 1);
    while (rc < 0 && !st->failing && st->writer_running) { /* full: a healthy writer makes room */
        pthread_cond_signal(&st->wake);
        pthread_cond_wait(&st->room, &st->lock);
        rc = tally_add(&st->tls_wait, hour, sensor, t->server_ip, t->server_port, t->sni, 1);
    }
    if (rc < 0)
        st->tls_lost++; /* no message: any thread may count, st->err is the caller's */
    else if (batch_due(st))
        pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

uint64_t store_tls_lost(struct store *st)
{
    pthread_mutex_lock(&st->lock);
    uint64_t n = st->tls_lost;
    pthread_mutex_unlock(&st->lock);
    return n;
}

/* ---- binding helpers: NULL for the record's "none" values ---------------- */

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void bind_int(sqlite3_stmt *s, int i, int64_t v, bool present)
{
    if (present)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static void bind_time(sqlite3_stmt *s, int i, ts_us_t t)
{
    if (t == TS_NONE)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_double(s, i, (double)t / 1e6);
}

static const char *side_name(int dir)
{
    return dir == DIR_CLIENT ? "client" : dir == DIR_SERVER ? "server" : NULL;
}

static void bind_record(sqlite3_stmt *s, const struct ws_record *r, int64_t capture_id)
{
    char violations[256];
    int i = 1;
    violations_format(r->violations, violations, sizeof violations);
    bind_text(s, i++, r->sensor);
    bind_text(s, i++, r->client_ip);
    sqlite3_bind_int(s, i++, r->client_port);
    bind_text(s, i++, r->server_ip);
    sqlite3_bind_int(s, i++, r->server_port);
    bind_int(s, i++, r->vlan, r->vlan >= 0);
    bind_time(s, i++, r->started_at);
    bind_time(s, i++, r->upgraded_at);
    bind_time(s, i++, r->ended_at);
    bind_text(s, i++, r->host);
    bind_text(s, i++, r->path);
    bind_text(s, i++, r->origin);
    bind_text(s, i++, r->user_agent);
    bind_text(s, i++, r->subprotocol);
    bind_text(s, i++, r->extensions);
    bind_int(s, i++, r->http_status, r->http_status >= 0);
    sqlite3_bind_int(s, i++, r->handshake_seen ? 1 : 0);
    bind_int(s, i++, r->close_code, r->close_code >= 0);
    bind_text(s, i++, r->close_reason);
    bind_text(s, i++, side_name(r->close_initiator));
    for (int d = 0; d < 2; d++) {
        bind_int(s, i++, r->close[d].code, r->close[d].code >= 0);
        bind_text(s, i++, r->close[d].reason);
        bind_time(s, i++, r->close[d].at);
    }
    bind_text(s, i++, outcome_name(r->outcome));
    bind_text(s, i++, termination_name(r->termination));
    for (int d = 0; d < 2; d++)
        sqlite3_bind_int64(s, i++, (int64_t)r->frames[d]);
    for (int d = 0; d < 2; d++)
        sqlite3_bind_int64(s, i++, (int64_t)r->messages[d]);
    for (int d = 0; d < 2; d++)
        sqlite3_bind_int64(s, i++, (int64_t)r->bytes[d]);
    sqlite3_bind_int64(s, i++, (int64_t)r->pings);
    sqlite3_bind_int64(s, i++, (int64_t)r->pongs);
    bind_time(s, i++, r->last_frame_at);
    bind_time(s, i++, r->last_data_at);
    if (violations[0]) /* a local buffer: SQLite must copy it */
        sqlite3_bind_text(s, i++, violations, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i++);
    bind_text(s, i++, r->ndpi_protocol);
    bind_int(s, i++, capture_id, capture_id >= 0);
}

/* The record's strings, copied behind it into one allocation. */
static struct queued *record_copy(const struct ws_record *r, int64_t capture_id)
{
    struct queued *q = malloc(sizeof *q + ws_record_strings_size(r));
    if (!q)
        return NULL;
    q->capture_id = capture_id;
    ws_record_copy(&q->r, r, (char *)(q + 1));
    return q;
}

/* Under `lock`: room for one more record; waits for the writer while the
 * database is healthy. */
static bool wait_for_room(struct store *st)
{
    while (st->nqueue + st->inflight >= QUEUE_MAX && !st->failing && st->writer_running) {
        pthread_cond_signal(&st->wake);
        pthread_cond_wait(&st->room, &st->lock);
    }
    return st->nqueue + st->inflight < QUEUE_MAX;
}

static int append(struct store *st, struct queued *c)
{
    if (st->nqueue == st->capqueue) {
        size_t cap = st->capqueue ? st->capqueue * 2 : BATCH_MAX;
        struct queued **q = realloc(st->queue, cap * sizeof *q);
        if (!q)
            return -1;
        st->queue = q;
        st->capqueue = cap;
    }
    st->queue[st->nqueue++] = c;
    return 0;
}

int store_add(struct store *st, const struct ws_record *r)
{
    struct queued *c = record_copy(r, st->capture_id);
    pthread_mutex_lock(&st->lock);
    note_first_waiting(st);
    int rc = 0;
    if (!c || !wait_for_room(st) || append(st, c) < 0) {
        st->lost++;
        if (c && st->nqueue + st->inflight >= QUEUE_MAX)
            snprintf(st->err, sizeof st->err, "%zu records wait for the database: dropping new ones",
                     st->nqueue + st->inflight);
        else
            snprintf(st->err, sizeof st->err, "out of memory for a record");
        free(c);
        rc = -1;
    } else if (st->failing) { /* queued; the last transaction failed */
        memcpy(st->err, st->writer_err, sizeof st->err);
        rc = -1;
    } else if (batch_due(st)) {
        pthread_cond_signal(&st->wake);
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static void bind_capture(sqlite3_stmt *s, const struct capture_row *c)
{
    int i = 1;
    sqlite3_bind_text(s, i++, c->sensor, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, i++, c->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, i++, c->live ? "live" : "file", -1, SQLITE_STATIC);
    sqlite3_bind_double(s, i++, c->started_at);
    if (c->ended_at > 0)
        sqlite3_bind_double(s, i++, c->ended_at);
    else
        sqlite3_bind_null(s, i++);
    if (c->first_packet_at >= 0) {
        sqlite3_bind_double(s, i++, c->first_packet_at);
        sqlite3_bind_double(s, i++, c->last_packet_at);
    } else {
        sqlite3_bind_null(s, i++);
        sqlite3_bind_null(s, i++);
    }
    sqlite3_bind_int64(s, i++, (int64_t)c->packets);
    sqlite3_bind_int64(s, i++, (int64_t)c->bytes);
    sqlite3_bind_int64(s, i++, (int64_t)c->drops);
    sqlite3_bind_int64(s, i++, (int64_t)c->if_drops);
    sqlite3_bind_int64(s, i++, (int64_t)c->tcp_flows);
    sqlite3_bind_int64(s, i++, (int64_t)c->connections);
    sqlite3_bind_text(s, i++, c->status ? c->status : "running", -1, SQLITE_STATIC);
}

static int run_capture_stmt(struct store *st, const char *sql, const struct capture_row *c, int64_t id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        set_err(st, "recording the capture");
        return -1;
    }
    bind_capture(s, c);
    if (id >= 0)
        sqlite3_bind_int64(s, 15, id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        set_err(st, "recording the capture");
        return -1;
    }
    return 0;
}

int64_t store_capture_begin(struct store *st, const struct capture_row *c)
{
    static const char sql[] =
        "INSERT INTO captures (sensor, source, kind, started_at, ended_at, first_packet_at,"
        " last_packet_at, packets, bytes, drops, if_drops, tcp_flows, connections, status)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    pthread_mutex_lock(&st->db_lock);
    st->capture_id = -1;
    if (!st->db)
        snprintf(st->err, sizeof st->err, "the database is not open");
    else if (run_capture_stmt(st, sql, c, -1) == 0)
        st->capture_id = sqlite3_last_insert_rowid(st->db);
    pthread_mutex_unlock(&st->db_lock);
    return st->capture_id;
}

int store_capture_update(struct store *st, int64_t id, const struct capture_row *c)
{
    static const char sql[] =
        "UPDATE captures SET sensor=?1, source=?2, kind=?3, started_at=?4, ended_at=?5,"
        " first_packet_at=?6, last_packet_at=?7, packets=?8, bytes=?9, drops=?10, if_drops=?11,"
        " tcp_flows=?12, connections=?13, status=?14 WHERE id=?15";
    pthread_mutex_lock(&st->db_lock);
    int rc = -1;
    if (!st->db || id < 0)
        snprintf(st->err, sizeof st->err, "no captures row to update");
    else
        rc = run_capture_stmt(st, sql, c, id);
    pthread_mutex_unlock(&st->db_lock);
    return rc;
}

int store_close(struct store *st, char *err, size_t errlen)
{
    stop_writer(st);
    int rc = store_commit(st);
    if (rc < 0)
        snprintf(err, errlen, "%s", st->err);
    store_free(st);
    return rc;
}

static int delete_older(struct store *st, double before, int batch)
{
    static const char sql[] = "DELETE FROM connections WHERE id IN"
                              " (SELECT id FROM connections WHERE ended_at < ?1 ORDER BY ended_at LIMIT ?2)";
    if (!st->db) {
        snprintf(st->err, sizeof st->err, "the database is not open");
        return -1;
    }
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        set_err(st, "deleting old records");
        return -1;
    }
    sqlite3_bind_double(s, 1, before);
    sqlite3_bind_int(s, 2, batch);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        set_err(st, "deleting old records");
        return -1;
    }
    return sqlite3_changes(st->db);
}

int store_delete_older(struct store *st, double before, int batch)
{
    pthread_mutex_lock(&st->db_lock);
    int rc = delete_older(st, before, batch);
    pthread_mutex_unlock(&st->db_lock);
    return rc;
}
