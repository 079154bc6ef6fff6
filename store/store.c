/*
 * store/store.c — SQLite schema, migrations and the batched record writer.
 *
 * WAL journal (readers never block the writer), synchronous=NORMAL (a crash
 * loses at most the last commit, never corrupts), one prepared INSERT bound
 * per record, up to BATCH_MAX records per transaction.
 *
 * Records are copied into a queue. A writer thread, once the database is
 * open the only user of the connection, commits the queue whenever a batch
 * is full, the TLS tally is half full (on TLS-heavy traffic most commits)
 * or its oldest record has waited MAX_WAIT_NS; the captures rows go
 * in the same transactions. Live, it also wakes once a second (TICK_NS) to
 * write the captures row and delete old records (--retention, a few
 * batches within RETENTION_BUDGET_NS). So SQLite's work — and its waits:
 * another process's write lock, a slow disk — runs beside the packet loop,
 * never inside it.
 *
 * A transaction that fails (a full disk, a database made read-only) is
 * rolled back and its records stay queued; the writer tries again once a
 * second, on a fresh connection when the error calls for one (read-only,
 * I/O, cannot open). Up to QUEUE_MAX records wait; beyond that, new records
 * are counted as lost — unless the database is healthy and only slower than
 * the capture, when store_add() waits for room instead (an offline run
 * never drops records for speed). The failure and the recovery are told
 * once each through the report callback.
 *
 * Reopening (SIGHUP) after a log-rotation style move: the WAL and its index
 * (-wal, -shm) keep the old name, so the file at the path must not be opened
 * while they are there — SQLite would take the moved database's WAL for the
 * new file's, and a reader of the moved file would later checkpoint the new
 * file's pages into it. So the moved file gets what is queued, its captures
 * row closed as "reopened", then a TRUNCATE checkpoint that waits for no
 * one: while a reader's transaction prevents it, records go on into the
 * moved file and the move is tried again each second. Once the WAL is
 * copied into the moved file and emptied, the connection is closed and the
 * old -wal and -shm, which SQLite leaves behind for a moved file, are
 * removed; only then is the path opened (if they cannot be removed, records
 * wait in memory and it is tried again each second).
 *
 * Locking: `lock` guards everything the caller and the writer share (the
 * queue, the TLS tally, the captures rows' figures, the failure state and
 * the requests). The connection, the statements and the captures rows' ids
 * are the writer's alone once it runs.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "schema.sql.h"
#include "tally.h"

#define BATCH_MAX 5000         /* the writer commits once this many records wait ... */
#define MAX_WAIT_NS 1000000000 /* ... or once the oldest has waited this long */
#define QUEUE_MAX 100000       /* records waiting or being written, at most */
#define TICK_NS 1000000000     /* live housekeeping, and retries of a failing database */
#define BUSY_TIMEOUT_MS 5000   /* the writer's wait for another process's lock */
#define CACHE_KIB 16384        /* page cache: the indexes' upper levels stay in memory */
#define PAGE_BYTES 8192        /* page size of a database this writer creates (see open_db_write) */
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
    struct capture_row row; /* the latest figures; row.status points to status */
    char status[STATUS_MAX];
    bool dirty;   /* under `lock`: changed since last written */
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

/* What one round of the writer does. */
struct round {
    bool sync;      /* the caller waits (store_commit, store_expire) */
    bool expire;    /* store_expire(): retention from the newest record */
    bool tick;      /* live housekeeping is due */
    bool attempt;   /* a failing or closed database is due another try */
    uint64_t asked; /* the request answered */
};

/* How a round ended. */
enum round_end { DONE, FAILED, HELD };

/* What a reopen step came to. */
enum reopen_step { OPENED, KEPT, WAITING, OPEN_FAILED };

/* Postponement messages, each told once per reopen. */
enum { SAID_BUSY = 1, SAID_STALE = 2, SAID_CHECKPOINT = 4 };

struct store {
    sqlite3 *db;
    sqlite3_stmt *insert, *begin, *commit, *rollback, *tls_upsert, *cap_insert, *cap_update;
    char *path, *wal_path, *shm_path;
    dev_t dev; /* the file the connection has open */
    ino_t ino;
    struct store_options opt;
    char err[ERR_MAX]; /* the caller's last error */

    pthread_mutex_t lock;
    pthread_cond_t wake; /* the writer: work, or stop */
    pthread_cond_t room; /* store_add(): a transaction ended */
    pthread_cond_t done; /* store_commit(): its request was answered */
    pthread_t writer;
    bool writer_running;

    /* ---- under `lock` ---- */
    bool stopping;
    struct queued **queue; /* waiting, oldest first */
    size_t nqueue, capqueue;
    size_t inflight;        /* records inside a transaction right now */
    struct tally tls_wait;  /* TLS flows counted since the last batch ... */
    struct tally tls_batch; /* ... and those inside the transaction */
    bool failing;           /* the database cannot be written (told once) */
    bool held;              /* a reopen waits for the moved file's -wal to go */
    struct timespec due_at; /* CLOCK_MONOTONIC: the oldest waiting record goes by then */
    uint64_t lost, tls_lost;
    uint64_t asked, answered; /* store_commit() / store_expire() requests */
    bool expire_asked;
    int answer;
    long long expired;
    char answer_err[ERR_MAX];
    bool reopen_asked;
    struct capture_slot slots[MAX_CAPTURES];
    int nslots;
    bool slots_new; /* a row not yet in the open file */

    /* ---- the caller's ---- */
    int current; /* the captures row new records belong to */

    /* ---- the writer's ---- */
    struct timespec tick_at, retry_at;
    bool reopen_pending; /* SIGHUP taken, not done */
    bool need_reconnect; /* the last failure calls for a fresh connection */
    bool stale_wal;      /* a moved file was closed: its -wal and -shm may still be at the path */
    struct stat stale[2]; /* which files those are (-wal, -shm; st_nlink 0: none) */
    unsigned said;       /* SAID_* told for this reopen */
    bool retention_failing;
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

static const char capture_insert_sql[] =
    "INSERT INTO captures (sensor, source, kind, started_at, ended_at, first_packet_at,"
    " last_packet_at, packets, bytes, drops, if_drops, tcp_flows, connections, status, received)"
    " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)";

static const char capture_update_sql[] =
    "UPDATE captures SET sensor=?1, source=?2, kind=?3, started_at=?4, ended_at=?5,"
    " first_packet_at=?6, last_packet_at=?7, packets=?8, bytes=?9, drops=?10, if_drops=?11,"
    " tcp_flows=?12, connections=?13, status=?14, received=?15 WHERE id=?16";

/* ---- errors ----------------------------------------------------------------- */

/* "what: SQLite's message", with the system's reason where SQLite's
 * message alone ("disk I/O error") would not tell it. SQLite keeps that
 * errno for some failures only (not for a failed write): `saved` is errno
 * as the failing call left it (0 before the call), the fallback. */
static void describe_errno(sqlite3 *db, char *err, const char *what, int saved)
{
    if (!db) {
        snprintf(err, ERR_MAX, "%s: out of memory", what);
        return;
    }
    int primary = sqlite3_extended_errcode(db) & 0xff, sys = sqlite3_system_errno(db);
    if (!sys)
        sys = saved;
    if (sys && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY))
        snprintf(err, ERR_MAX, "%s: %s (%s)", what, sqlite3_errmsg(db), strerror(sys));
    else
        snprintf(err, ERR_MAX, "%s: %s", what, sqlite3_errmsg(db));
}

static void describe(sqlite3 *db, char *err, const char *what)
{
    describe_errno(db, err, what, 0);
}

/* A failure that a fresh connection may get over (the file made writable
 * again, a file that could not be opened). A full disk or a lock need none. */
static bool reconnect_helps(int code)
{
    int primary = code & 0xff;
    return primary == SQLITE_READONLY || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
           primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

const char *store_error(const struct store *st)
{
    return st->err;
}

sqlite3 *store_db(struct store *st)
{
    return st->db;
}

static int exec(sqlite3 *db, const char *sql, char *err, const char *what)
{
    char *msg = NULL;
    errno = 0;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int saved = errno;
        if (msg && (sqlite3_extended_errcode(db) & 0xff) != SQLITE_IOERR)
            snprintf(err, ERR_MAX, "%s: %s", what, msg);
        else
            describe_errno(db, err, what, saved);
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The first column of a one-row query, as an integer. */
static int query_int(sqlite3 *db, const char *sql, long long *out, char *err, const char *what)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        describe(db, err, what);
        return -1;
    }
    int rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) {
        describe(db, err, what);
        return -1;
    }
    return 0;
}

/* Checks the version; a writer also creates or migrates. */
static int check_schema(sqlite3 *db, const char *path, bool writer, char *err)
{
    long long version, tables;
    if (query_int(db, "PRAGMA user_version", &version, err, "reading the schema version") < 0 ||
        query_int(db, "SELECT count(*) FROM sqlite_master", &tables, err, "reading the database") < 0)
        return -1;
    if (version > STORE_SCHEMA_VERSION) {
        snprintf(err, ERR_MAX, "%s: schema version %lld is newer than this program supports (%d); upgrade wsstats",
                 path, version, STORE_SCHEMA_VERSION);
        return -1;
    }
    if (version == 0 && tables) { /* tables but no version: somebody else's */
        snprintf(err, ERR_MAX, "%s: not a wsstats database (it has other tables)", path);
        return -1;
    }
    if (version == STORE_SCHEMA_VERSION || (!writer && version >= STORE_MIN_READ_VERSION))
        return 0;
    if (!writer) {
        snprintf(err, ERR_MAX, "%s: schema version %lld is older than %d; run wsstatsd on it once to migrate",
                 path, version, STORE_SCHEMA_VERSION);
        return -1;
    }
    if (exec(db, "BEGIN IMMEDIATE", err, "migrating the schema") < 0)
        return -1;
    for (int v = (int)version; v < MIGRATION_COUNT; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (exec(db, migrations[v], err, "migrating the schema") < 0 || exec(db, sql, err, "migrating the schema") < 0) {
            char ignored[ERR_MAX];
            exec(db, "ROLLBACK", ignored, "rolling back");
            return -1;
        }
    }
    return exec(db, "COMMIT", err, "migrating the schema");
}

/* ---- the store's life ------------------------------------------------------- */

static struct store *store_new(void)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->current = -1;
    pthread_mutex_init(&st->lock, NULL);
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC); /* a wall-clock step moves no deadline */
    pthread_cond_init(&st->wake, &mono);
    pthread_condattr_destroy(&mono);
    pthread_cond_init(&st->room, NULL);
    pthread_cond_init(&st->done, NULL);
    return st;
}

static void close_db(struct store *st)
{
    sqlite3_stmt **stmts[] = {&st->insert, &st->begin, &st->commit, &st->rollback,
                              &st->tls_upsert, &st->cap_insert, &st->cap_update};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sqlite3_finalize(*stmts[i]);
        *stmts[i] = NULL;
    }
    sqlite3_close(st->db);
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
    for (int i = 0; i < st->nslots; i++) {
        free(st->slots[i].sensor);
        free(st->slots[i].source);
    }
    tally_free(&st->tls_wait);
    tally_free(&st->tls_batch);
    free(st->path);
    free(st->wal_path);
    free(st->shm_path);
    pthread_cond_destroy(&st->wake);
    pthread_cond_destroy(&st->room);
    pthread_cond_destroy(&st->done);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static struct store *fail_open(struct store *st, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", st->err);
    store_free(st);
    return NULL;
}

static int prepare_statements(struct store *st, char *err)
{
    struct {
        sqlite3_stmt **s;
        const char *sql;
    } stmts[] = {
        {&st->insert, insert_sql},
        {&st->begin, "BEGIN"},
        {&st->commit, "COMMIT"},
        {&st->rollback, "ROLLBACK"},
        {&st->cap_insert, capture_insert_sql},
        {&st->cap_update, capture_update_sql},
        {&st->tls_upsert, "INSERT INTO tls_flows (hour, sensor, server_ip, server_port, sni, connections)"
                          " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE"
                          " SET connections = connections + excluded.connections"},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        if (sqlite3_prepare_v2(st->db, stmts[i].sql, -1, stmts[i].s, NULL) != SQLITE_OK) {
            describe(st->db, err, "preparing statements");
            return -1;
        }
    }
    return 0;
}

/* Opens (creating, migrating) the database at st->path for writing, and
 * notes which file that is. On failure the caller closes. */
static int open_db_write(struct store *st, char *err)
{
    const char *path = st->path;
    /* NOMUTEX: one thread at a time uses the connection (see Locking above),
     * so SQLite's own per-call locking is pure cost. */
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        char what[600];
        snprintf(what, sizeof what, "cannot open database %s", path);
        describe(st->db, err, what);
        return -1;
    }
    /* SQLite falls back to reading a file it may not write, silently:
     * every commit would fail. */
    if (sqlite3_db_readonly(st->db, "main") == 1) {
        snprintf(err, ERR_MAX,
                 "cannot write database %s: this process may only read it (check the owner and mode of the file)",
                 path);
        return -1;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    char what[600];
    snprintf(what, sizeof what, "cannot use database %s", path);
    /* ignore_check_constraints: the schema's CHECKs guard the database
     * against other writers; this one binds outcome and initiator from
     * fixed tables (model/record.c). SQLite evaluates `outcome IN (five
     * values)` by building a temporary index on every INSERT: a third of
     * the cost of writing a record.
     * page_size: applies only to a database created here (it must come
     * before journal_mode, which writes the first page); an existing one
     * keeps its own. 8 KiB instead of SQLite's 4 takes a sixth off each
     * record's B-tree inserts (the table and 12 indexes: fewer levels and
     * splits); the query times of bench/queries.sh stay as they were but
     * one, and 16 KiB pages slowed more of them. */
    char pragmas[240];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA page_size=%d; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
             " PRAGMA ignore_check_constraints=ON; PRAGMA cache_size=-%d",
             PAGE_BYTES, CACHE_KIB);
    if (exec(st->db, pragmas, err, what) < 0 || check_schema(st->db, path, true, err) < 0 ||
        prepare_statements(st, err) < 0)
        return -1;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        st->dev = sb.st_dev;
        st->ino = sb.st_ino;
    } else if (*path && strcmp(path, ":memory:") != 0) { /* moved or deleted this very moment */
        snprintf(err, ERR_MAX, "cannot open database %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void *writer_main(void *arg);

static char *joined(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

struct store *store_open_write(const char *path, char *err, size_t errlen)
{
    return store_open_write_with(path, NULL, err, errlen);
}

struct store *store_open_write_with(const char *path, const struct store_options *o, char *err, size_t errlen)
{
    struct store *st = store_new();
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o)
        st->opt = *o;
    if (!(st->path = strdup(path)) || !(st->wal_path = joined(path, "-wal")) ||
        !(st->shm_path = joined(path, "-shm")) || tally_init(&st->tls_wait) < 0 || tally_init(&st->tls_batch) < 0) {
        snprintf(st->err, sizeof st->err, "out of memory");
        return fail_open(st, err, errlen);
    }
    if (open_db_write(st, st->err) < 0)
        return fail_open(st, err, errlen);
    if (pthread_create(&st->writer, NULL, writer_main, st) != 0) {
        snprintf(st->err, sizeof st->err, "cannot start the database writer thread");
        return fail_open(st, err, errlen);
    }
    st->writer_running = true;
    return st;
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
    if (check_schema(st->db, path, false, st->err) < 0) {
        if (strstr(st->err, "file is not a database"))
            snprintf(st->err, sizeof st->err, "%s: not an SQLite database", path);
        return fail_open(st, err, errlen);
    }
    return st;
}

/* ---- the caller's side: requests ------------------------------------------- */

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

/* Asks the writer for a round and waits for its answer. */
static int ask_and_wait(struct store *st, bool expire)
{
    if (!st->writer_running)
        return 0;
    pthread_mutex_lock(&st->lock);
    uint64_t ticket = ++st->asked;
    st->expire_asked |= expire;
    pthread_cond_signal(&st->wake);
    while (st->answered < ticket)
        pthread_cond_wait(&st->done, &st->lock);
    int rc = st->answer;
    if (rc < 0)
        memcpy(st->err, st->answer_err, sizeof st->err);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int store_commit(struct store *st)
{
    return ask_and_wait(st, false);
}

long long store_expire(struct store *st)
{
    if (ask_and_wait(st, true) < 0)
        return -1;
    pthread_mutex_lock(&st->lock);
    long long n = st->expired;
    if (n < 0)
        memcpy(st->err, st->answer_err, sizeof st->err);
    pthread_mutex_unlock(&st->lock);
    return n;
}

void store_reopen(struct store *st)
{
    pthread_mutex_lock(&st->lock);
    st->reopen_asked = true;
    pthread_cond_signal(&st->wake);
    pthread_mutex_unlock(&st->lock);
}

int store_close(struct store *st, char *err, size_t errlen)
{
    int rc = store_commit(st);
    if (rc < 0)
        snprintf(err, errlen, "%s", st->err);
    store_free(st);
    return rc;
}

/* ---- captures rows -------------------------------------------------------------- */

/* Under `lock`: the figures, with the slot's own strings. */
static void slot_set(struct capture_slot *s, const struct capture_row *c)
{
    s->row = *c;
    s->row.sensor = s->sensor;
    s->row.source = s->source;
    snprintf(s->status, sizeof s->status, "%s", c->status ? c->status : "running");
    s->row.status = s->status;
    s->dirty = true;
}

int store_capture_begin(struct store *st, const struct capture_row *c)
{
    char *sensor = strdup(c->sensor ? c->sensor : ""), *source = strdup(c->source ? c->source : "");
    pthread_mutex_lock(&st->lock);
    int idx = -1;
    if (sensor && source && st->nslots < MAX_CAPTURES) {
        idx = st->nslots;
        struct capture_slot *s = &st->slots[idx];
        s->sensor = sensor;
        s->source = source;
        s->started_at = c->started_at;
        s->id = -1;
        slot_set(s, c);
        st->nslots++; /* the writer looks at slots below nslots only */
        st->slots_new = true;
        pthread_cond_signal(&st->wake);
    }
    pthread_mutex_unlock(&st->lock);
    if (idx < 0) {
        free(sensor);
        free(source);
        snprintf(st->err, sizeof st->err, "no room for another captures row");
    }
    st->current = idx;
    return idx;
}

void store_capture_update(struct store *st, int capture, const struct capture_row *c)
{
    if (capture < 0)
        return;
    pthread_mutex_lock(&st->lock);
    if (capture < st->nslots)
        slot_set(&st->slots[capture], c);
    pthread_mutex_unlock(&st->lock);
}

/* Under `lock`: the rows one transaction writes — the changed ones, those
 * of the batch's records (`records`: how many each), and with `closing`
 * every row in the open file, those still running marked so. */
static int take_slots(struct store *st, struct slot_copy *out, const uint64_t *records, const char *closing,
                      double now)
{
    int n = 0;
    for (int i = 0; i < st->nslots; i++) {
        struct capture_slot *s = &st->slots[i];
        if (!s->dirty && !records[i] && !(closing && s->id >= 0))
            continue;
        struct slot_copy *c = &out[n++];
        c->idx = i;
        c->old_id = s->id;
        c->records = records[i];
        c->row = s->row;
        memcpy(c->status, s->status, sizeof c->status);
        if (closing && strcmp(s->status, "running") == 0) {
            snprintf(c->status, sizeof c->status, "%s", closing);
            c->row.ended_at = now;
        }
        c->row.status = c->status;
        s->dirty = false;
    }
    st->slots_new = false;
    return n;
}

/* Under `lock`, after a failed transaction: the rows are written next time. */
static void give_back_slots(struct store *st, const struct slot_copy *c, int n)
{
    for (int i = 0; i < n; i++)
        st->slots[c[i].idx].dirty = true;
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
    if (c->live)
        sqlite3_bind_int64(s, i++, (int64_t)c->received);
    else
        sqlite3_bind_null(s, i++);
}

static int step_done(struct store *st, sqlite3_stmt *s, char *err, const char *what)
{
    errno = 0;
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE)
        describe_errno(st->db, err, what, errno);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Inside a transaction: inserts or updates each row. Its `connections` are
 * the records written with it into this file, this batch's included. */
static int write_slots(struct store *st, struct slot_copy *c, int n, char *err)
{
    for (int i = 0; i < n; i++) {
        struct capture_slot *s = &st->slots[c[i].idx];
        sqlite3_stmt *stmt = s->id < 0 ? st->cap_insert : st->cap_update;
        c[i].row.connections = (s->id < 0 ? 0 : s->written) + c[i].records;
        bind_capture(stmt, &c[i].row);
        if (s->id >= 0)
            sqlite3_bind_int64(stmt, 16, s->id);
        if (step_done(st, stmt, err, "recording the capture") < 0)
            return -1;
        if (s->id < 0)
            s->id = sqlite3_last_insert_rowid(st->db);
    }
    return 0;
}

/* After the transaction committed: what its rows now hold. */
static void count_written(struct store *st, const struct slot_copy *c, int n)
{
    for (int i = 0; i < n; i++)
        st->slots[c[i].idx].written = c[i].row.connections;
}

/* After a (re)open: a row id is kept only if this file holds that row (the
 * same file opened again); otherwise the row is written anew. */
static void check_slots(struct store *st)
{
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(st->db, "SELECT 1 FROM captures WHERE id = ?1 AND started_at = ?2 AND source = ?3", -1, &s,
                       NULL);
    pthread_mutex_lock(&st->lock);
    int n = st->nslots;
    pthread_mutex_unlock(&st->lock);
    for (int i = 0; i < n; i++) {
        struct capture_slot *slot = &st->slots[i];
        if (slot->id < 0)
            continue;
        bool there = false;
        if (s) {
            sqlite3_bind_int64(s, 1, slot->id);
            sqlite3_bind_double(s, 2, slot->started_at);
            sqlite3_bind_text(s, 3, slot->source, -1, SQLITE_STATIC);
            there = sqlite3_step(s) == SQLITE_ROW;
            sqlite3_reset(s);
        }
        if (!there) {
            slot->id = -1;
            pthread_mutex_lock(&st->lock);
            slot->dirty = true;
            st->slots_new = true;
            pthread_mutex_unlock(&st->lock);
        }
    }
    sqlite3_finalize(s);
}

/* ---- transactions ------------------------------------------------------------ */

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

/* One transaction: the captures rows, the batch's records and TLS counts,
 * or nothing. *code: SQLite's error code on failure. */
static int write_batch(struct store *st, const struct batch *b, struct slot_copy *rows, int nrows, char *err,
                       int *code)
{
    if (step_done(st, st->begin, err, "starting a transaction") < 0) {
        *code = sqlite3_extended_errcode(st->db);
        return -1;
    }
    int rc = write_slots(st, rows, nrows, err);
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        const struct queued *q = b->recs[i];
        bind_record(st->insert, &q->r, q->capture >= 0 ? st->slots[q->capture].id : -1);
        rc = step_done(st, st->insert, err, "inserting a record");
    }
    if (rc == 0)
        rc = insert_tally(st, &st->tls_batch, err);
    if (rc == 0)
        rc = step_done(st, st->commit, err, "committing records");
    if (rc == 0)
        count_written(st, rows, nrows);
    if (rc < 0) {
        *code = sqlite3_extended_errcode(st->db);
        sqlite3_step(st->rollback);
        sqlite3_reset(st->rollback);
        for (int i = 0; i < nrows; i++) /* the rows inserted are gone again */
            st->slots[rows[i].idx].id = rows[i].old_id;
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

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes what is queued, and the captures rows that changed, in one
 * transaction (the writer's). With `closing`, the rows in this file are
 * closed with that status. On failure everything stays queued, `err` says
 * why, and a fresh connection is asked for if it may help. */
static int commit_queued(struct store *st, char *err, const char *closing)
{
    struct batch b;
    struct slot_copy rows[MAX_CAPTURES];
    uint64_t records[MAX_CAPTURES] = {0};
    pthread_mutex_lock(&st->lock);
    take_batch(st, &b);
    for (size_t i = 0; i < b.n; i++)
        if (b.recs[i]->capture >= 0)
            records[b.recs[i]->capture]++;
    int nrows = take_slots(st, rows, records, closing, wall_clock());
    pthread_mutex_unlock(&st->lock);
    int code = SQLITE_OK;
    int rc = b.n || st->tls_batch.n || nrows ? write_batch(st, &b, rows, nrows, err, &code) : 0;
    pthread_mutex_lock(&st->lock);
    if (rc == 0) {
        for (size_t i = 0; i < b.n; i++)
            free(b.recs[i]);
        free(b.recs);
    } else {
        return_batch(st, &b);
        give_back_slots(st, rows, nrows);
    }
    tally_clear(&st->tls_batch);
    st->inflight = 0;
    pthread_cond_broadcast(&st->room);
    pthread_mutex_unlock(&st->lock);
    if (rc < 0 && reconnect_helps(code))
        st->need_reconnect = true;
    return rc;
}

/* ---- retention ------------------------------------------------------------------ */

/* Deletes at most `batch` records that ended before `before`, oldest first.
 * Returns how many, or -1. */
static int delete_older(struct store *st, double before, int batch, char *err)
{
    static const char sql[] = "DELETE FROM connections WHERE id IN"
                              " (SELECT id FROM connections WHERE ended_at < ?1 ORDER BY ended_at LIMIT ?2)";
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        describe(st->db, err, "deleting old records");
        return -1;
    }
    sqlite3_bind_double(s, 1, before);
    sqlite3_bind_int(s, 2, batch);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        describe(st->db, err, "deleting old records");
        return -1;
    }
    return sqlite3_changes(st->db);
}

static struct timespec after_ns(long long ns)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long total = t.tv_nsec + ns;
    t.tv_sec += total / 1000000000;
    t.tv_nsec = total % 1000000000;
    return t;
}

static bool reached(const struct timespec *now, const struct timespec *t)
{
    return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

static void report(struct store *st, enum store_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Deletes records that ended before `before`, batch after batch, until none
 * is left or `budget_ns` (0: none) is spent. Returns how many, or -1. */
static long long expire_before(struct store *st, double before, long long budget_ns, char *err)
{
    struct timespec end = after_ns(budget_ns), now;
    long long total = 0;
    for (;;) {
        int n = delete_older(st, before, RETENTION_BATCH, err);
        if (n < 0)
            return -1;
        total += n;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (n < RETENTION_BATCH || (budget_ns && reached(&now, &end)))
            return total;
    }
}

/* Live: against the clock, within the tick's budget; told once if it fails. */
static void retention_tick(struct store *st)
{
    char err[ERR_MAX];
    if (st->opt.retention <= 0 || !st->db)
        return;
    if (expire_before(st, wall_clock() - st->opt.retention, RETENTION_BUDGET_NS, err) < 0) {
        if (!st->retention_failing)
            report(st, STORE_WARNING, "%s (retried every second)", err);
        st->retention_failing = true;
    } else {
        st->retention_failing = false;
    }
}

/* From files: against the newest record (DESIGN §5), all at once. */
static long long retention_from_newest(struct store *st, char *err)
{
    if (st->opt.retention <= 0)
        return 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT max(ended_at) FROM connections", -1, &s, NULL) != SQLITE_OK) {
        describe(st->db, err, "deleting old records");
        return -1;
    }
    int rc = sqlite3_step(s);
    bool any = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL;
    double newest = any ? sqlite3_column_double(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) {
        describe(st->db, err, "deleting old records");
        return -1;
    }
    return any ? expire_before(st, newest - st->opt.retention, 0, err) : 0;
}

/* ---- reopening ----------------------------------------------------------------- */

static void report(struct store *st, enum store_level level, const char *fmt, ...)
{
    if (!st->opt.report)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    st->opt.report(st->opt.report_arg, level, msg);
}

/* Tells a postponement once per reopen. */
static void say_once(struct store *st, unsigned what, const char *msg)
{
    if (st->said & what)
        return;
    st->said |= what;
    report(st, STORE_WARNING, "%s", msg);
}

/* Does the path still name the file the connection has open? */
static bool path_is_open_file(const struct store *st)
{
    struct stat sb;
    if (stat(st->path, &sb) != 0)
        return errno != ENOENT;
    return sb.st_dev == st->dev && sb.st_ino == st->ino;
}

/* The file was moved away: it gets what is queued and its captures rows
 * closed, then its WAL is checkpointed into it and emptied, waiting for no
 * one. Returns false (the file stays open, records go on into it) while a
 * reader's transaction or an error prevents that. */
static bool let_go_of_moved(struct store *st)
{
    char err[ERR_MAX];
    commit_queued(st, err, "reopened"); /* if it fails, they go to the new file */
    int nlog = -1, nckpt = -1;
    sqlite3_busy_timeout(st->db, 0);
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &nlog, &nckpt);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK && nlog == nckpt)
        return true;
    pthread_mutex_lock(&st->lock);
    for (int i = 0; i < st->nslots; i++) /* "running" again, until the next try */
        st->slots[i].dirty |= st->slots[i].id >= 0;
    pthread_mutex_unlock(&st->lock);
    char msg[ERR_MAX + 128];
    if (rc == SQLITE_BUSY || rc == SQLITE_OK) {
        snprintf(msg, sizeof msg,
                 "reopening: the file was moved, and a reader is inside a transaction on it: new records go on "
                 "into the moved file until it ends (tried every second)");
        say_once(st, SAID_BUSY, msg);
    } else {
        snprintf(msg, sizeof msg,
                 "reopening: the file was moved, and its WAL cannot be copied into it (%s): new records go on "
                 "into the moved file (tried every second)",
                 sqlite3_errmsg(st->db));
        say_once(st, SAID_CHECKPOINT, msg);
    }
    return false;
}

/* Before closing a moved file: which -wal and -shm it has at the path. */
static void note_stale(struct store *st)
{
    const char *paths[2] = {st->wal_path, st->shm_path};
    for (int i = 0; i < 2; i++)
        if (lstat(paths[i], &st->stale[i]) != 0)
            st->stale[i].st_nlink = 0;
    st->stale_wal = true;
}

/* After closing it: SQLite leaves the -wal and -shm of a moved database in
 * place (it cannot tell whose they are). Its WAL is checkpointed and empty:
 * they are removed — a reader that still has them open keeps reading the
 * moved file through them, and once it sees the file moved it neither
 * checkpoints nor deletes by name. Returns 0, or the errno of a removal
 * that failed (the file is still there). */
static int remove_stale(struct store *st)
{
    const char *paths[2] = {st->wal_path, st->shm_path};
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        if (st->stale[i].st_nlink == 0 || lstat(paths[i], &sb) != 0 || sb.st_dev != st->stale[i].st_dev ||
            sb.st_ino != st->stale[i].st_ino)
            continue; /* gone, or not that file any more */
        if (unlink(paths[i]) != 0 && errno != ENOENT)
            failed = errno;
    }
    st->stale_wal = failed != 0;
    return failed;
}

/* Closes the connection (if any) and opens the path again, safely after a
 * move (see the top of the file). */
static enum reopen_step reconnect(struct store *st, char *err)
{
    if (st->db) {
        bool moved = !path_is_open_file(st);
        if (moved && !let_go_of_moved(st))
            return KEPT;
        if (moved)
            note_stale(st);
        close_db(st);
    }
    int why = st->stale_wal ? remove_stale(st) : 0;
    if (why) {
        snprintf(err, ERR_MAX,
                 "reopening: %s-wal of the moved database cannot be removed (%s): new records wait in memory "
                 "until it is gone (tried every second)",
                 st->path, strerror(why));
        say_once(st, SAID_STALE, err);
        return WAITING;
    }
    if (open_db_write(st, err) < 0) {
        close_db(st);
        return OPEN_FAILED;
    }
    check_slots(st);
    st->need_reconnect = false;
    if (st->reopen_pending) {
        st->reopen_pending = false;
        report(st, STORE_NOTICE, "reopened");
    }
    return OPENED;
}

/* ---- the writer thread ------------------------------------------------------- */

static bool has_waiting(const struct store *st)
{
    return st->nqueue || st->tls_wait.n;
}

/* Under `lock`: records cannot go to the database for now. */
static bool stuck(const struct store *st)
{
    return st->failing || st->held;
}

/* Under `lock`: a full batch of records (or a half-full TLS tally) waits,
 * and the database takes them. */
static bool batch_due(const struct store *st)
{
    return (st->nqueue >= BATCH_MAX || st->tls_wait.n >= TALLY_MAX / 2) && !stuck(st);
}

/* Under `lock`, before adding to an empty queue: it must go within
 * MAX_WAIT_NS (a slow trickle from `-r -` or a quiet link is written too). */
static void note_first_waiting(struct store *st)
{
    if (!has_waiting(st) && !stuck(st)) {
        st->due_at = after_ns(MAX_WAIT_NS);
        pthread_cond_signal(&st->wake); /* the writer sets its timer */
    }
}

/* Under `lock`: the database is to be (re)opened at the next attempt. */
static bool needs_opening(const struct store *st)
{
    return !st->db || st->reopen_pending || st->need_reconnect || st->stale_wal;
}

/* Under `lock`: what is due now; false if nothing. */
static bool round_due(struct store *st, struct round *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    memset(r, 0, sizeof *r);
    if (st->reopen_asked) {
        st->reopen_asked = false;
        st->reopen_pending = true;
        st->said = 0;
        st->retry_at = now; /* at once */
    }
    r->asked = st->asked;
    r->sync = st->asked > st->answered;
    r->expire = r->sync && st->expire_asked;
    r->tick = st->opt.live && reached(&now, &st->tick_at);
    r->attempt = (stuck(st) || needs_opening(st)) && (reached(&now, &st->retry_at) || r->sync);
    bool records = !stuck(st) && (batch_due(st) || st->slots_new || (has_waiting(st) && reached(&now, &st->due_at)));
    return r->sync || r->tick || r->attempt || records;
}

/* Under `lock`: sleeps until work may be due. */
static void wait_for_work(struct store *st)
{
    const struct timespec *deadline = NULL;
    const struct timespec *candidates[3] = {
        has_waiting(st) && !stuck(st) ? &st->due_at : NULL,
        st->opt.live ? &st->tick_at : NULL,
        stuck(st) || needs_opening(st) ? &st->retry_at : NULL,
    };
    for (int i = 0; i < 3; i++)
        if (candidates[i] && (!deadline || reached(deadline, candidates[i])))
            deadline = candidates[i];
    if (deadline) {
        struct timespec d = *deadline;
        pthread_cond_timedwait(&st->wake, &st->lock, &d);
    } else {
        pthread_cond_wait(&st->wake, &st->lock);
    }
}

/* Without `lock`: (re)opens if due, commits, deletes old records; the
 * outcome, and err when it failed. */
static enum round_end run_round(struct store *st, const struct round *r, char *err, long long *expired)
{
    if (needs_opening(st) && r->attempt) {
        switch (reconnect(st, err)) {
        case OPEN_FAILED: return FAILED;
        case WAITING: return HELD;
        case KEPT: /* the moved file takes the records meanwhile */
        case OPENED: break;
        }
    }
    if (!st->db) { /* between two tries: as the last one ended */
        snprintf(err, ERR_MAX, "the database %s is not open", st->path);
        return st->stale_wal ? HELD : FAILED;
    }
    if (commit_queued(st, err, NULL) < 0) /* a round is due only when something is */
        return FAILED;
    if (r->expire)
        *expired = retention_from_newest(st, err);
    if (r->tick)
        retention_tick(st);
    return DONE;
}

/* Settles the round: the failure state (told once each way), the answer to
 * a waiting caller, the next times. */
static void settle(struct store *st, const struct round *r, enum round_end out, const char *err, long long expired)
{
    char msg[ERR_MAX + 128] = "";
    enum store_level level = STORE_ERROR;
    pthread_mutex_lock(&st->lock);
    bool was_failing = st->failing;
    st->held = out == HELD;
    if (out == FAILED) {
        st->failing = true;
        if (!was_failing)
            snprintf(msg, sizeof msg, "%s; %zu records kept in memory, retrying every second", err,
                     st->nqueue + st->inflight);
    } else if (out == DONE && was_failing) {
        st->failing = false;
        level = STORE_NOTICE;
        snprintf(msg, sizeof msg, "writable again; the records kept in memory are written");
    }
    if (r->attempt || out != DONE)
        st->retry_at = after_ns(TICK_NS);
    if (r->tick)
        st->tick_at = after_ns(TICK_NS);
    if (r->sync) {
        st->answered = r->asked;
        /* held with nothing to write: nothing is missing */
        bool empty = !has_waiting(st) && !st->inflight;
        st->answer = out == DONE || (out == HELD && empty) ? 0 : -1;
        if (out != DONE || expired < 0)
            snprintf(st->answer_err, sizeof st->answer_err, "%s", err);
        if (r->expire) {
            st->expire_asked = false;
            st->expired = expired;
        }
        pthread_cond_broadcast(&st->done);
    }
    pthread_cond_broadcast(&st->room);
    pthread_mutex_unlock(&st->lock);
    if (msg[0])
        report(st, level, "%s", msg);
}

/* The writer: rounds of work as they fall due. Signals stay with the main
 * thread. */
static void *writer_main(void *arg)
{
    struct store *st = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&st->lock);
    st->tick_at = st->retry_at = after_ns(TICK_NS);
    for (;;) {
        struct round r;
        if (!round_due(st, &r)) {
            if (st->stopping)
                break;
            wait_for_work(st);
            continue;
        }
        pthread_mutex_unlock(&st->lock);
        char err[ERR_MAX] = "";
        long long expired = 0;
        enum round_end out = run_round(st, &r, err, &expired);
        settle(st, &r, out, err, expired);
        pthread_mutex_lock(&st->lock);
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
    while (rc < 0 && !stuck(st) && st->writer_running) { /* full: a healthy writer makes room */
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
static struct queued *record_copy(const struct ws_record *r, int capture)
{
    struct queued *q = malloc(sizeof *q + ws_record_strings_size(r));
    if (!q)
        return NULL;
    q->capture = capture;
    ws_record_copy(&q->r, r, (char *)(q + 1));
    return q;
}

/* Under `lock`: room for one more record; waits for the writer while the
 * database is healthy. */
static bool wait_for_room(struct store *st)
{
    while (st->nqueue + st->inflight >= QUEUE_MAX && !stuck(st) && st->writer_running) {
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
    struct queued *c = record_copy(r, st->current);
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
    } else if (batch_due(st)) {
        pthread_cond_signal(&st->wake);
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}
