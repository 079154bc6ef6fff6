/*
 * store/store.c — SQLite schema, migrations and the batched record writer.
 *
 * WAL journal (readers never block the writer), synchronous=NORMAL (a crash
 * loses at most the last commit, never corrupts), one prepared INSERT bound
 * per record, BATCH_MAX records per transaction.
 *
 * Records are copied into a queue and written when a batch is full or the
 * caller commits. A transaction that fails (a full disk, a database made
 * read-only) is rolled back and its records stay queued for the next
 * commit, up to QUEUE_MAX records; beyond that new records are counted as
 * lost. So a database problem costs no capture and, once fixed, no records.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.sql.h"

#define BATCH_MAX 1000
#define QUEUE_MAX 100000
#define TLS_TALLY_MAX 4096 /* distinct (hour, sensor, server, SNI) between commits */
#define BUSY_TIMEOUT_MS 5000

/* A record waiting to be written: one allocation with its strings. */
struct queued {
    int64_t capture_id; /* the captures row it belongs to, -1: none */
    struct ws_record r;
};

/* TLS flows counted since the last commit. */
struct tls_tally {
    double hour;
    char sensor[128], server_ip[46], sni[256];
    uint16_t server_port;
    long long connections;
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *tls_upsert;
    struct tls_tally *tls;
    size_t ntls;
    uint64_t tls_lost;
    sqlite3_stmt *insert;
    sqlite3_stmt *begin, *commit, *rollback;
    char *path;
    struct queued **queue;
    size_t nqueue, capqueue;
    uint64_t lost;
    int64_t capture_id;
    char err[512];
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
    if (st)
        st->capture_id = -1;
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

static void store_free(struct store *st)
{
    close_db(st);
    for (size_t i = 0; i < st->nqueue; i++)
        free(st->queue[i]);
    free(st->queue);
    free(st->tls);
    free(st->path);
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
    if (exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", what) < 0 ||
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

struct store *store_open_write(const char *path, char *err, size_t errlen)
{
    struct store *st = store_new();
    if (!st || !(st->path = strdup(path))) {
        snprintf(err, errlen, "out of memory");
        free(st);
        return NULL;
    }
    if (open_db_write(st) < 0)
        return fail_open(st, err, errlen);
    return st;
}

int store_reopen(struct store *st)
{
    /* Copy the WAL into the database file first: after a logrotate-style
     * move the file is elsewhere, the WAL still at the old name, and
     * closing would leave the records in a WAL nobody reads. TRUNCATE
     * also empties that WAL, so the new file at the path cannot mistake
     * it for its own. */
    if (st->db)
        sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    close_db(st);
    st->capture_id = -1;
    for (size_t i = 0; i < st->nqueue; i++)
        st->queue[i]->capture_id = -1; /* their captures row is in the old file */
    if (open_db_write(st) < 0) {
        close_db(st);
        return -1;
    }
    return 0;
}

size_t store_queued(const struct store *st)
{
    return st->nqueue;
}

uint64_t store_lost(const struct store *st)
{
    return st->lost;
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

static int step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        set_err(st, what);
        return -1;
    }
    return 0;
}

static void bind_record(sqlite3_stmt *s, const struct ws_record *r, int64_t capture_id);

/* Writes the whole queue in one transaction; on failure nothing of it is
 * written and it stays queued. */
int store_commit(struct store *st)
{
    if (!st->db && open_db_write(st) < 0) { /* a reopen that failed: try again */
        close_db(st);
        return -1;
    }
    if (st->nqueue == 0 && st->ntls == 0)
        return 0;
    if (step_done(st, st->begin, "starting a transaction") < 0)
        return -1;
    for (size_t i = 0; i < st->nqueue; i++) {
        bind_record(st->insert, &st->queue[i]->r, st->queue[i]->capture_id);
        int rc = step_done(st, st->insert, "inserting a record");
        sqlite3_clear_bindings(st->insert);
        if (rc < 0) {
            sqlite3_step(st->rollback);
            sqlite3_reset(st->rollback);
            return -1;
        }
    }
    for (size_t i = 0; i < st->ntls; i++) {
        const struct tls_tally *t = &st->tls[i];
        sqlite3_bind_double(st->tls_upsert, 1, t->hour);
        sqlite3_bind_text(st->tls_upsert, 2, t->sensor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st->tls_upsert, 3, t->server_ip, -1, SQLITE_STATIC);
        sqlite3_bind_int(st->tls_upsert, 4, t->server_port);
        sqlite3_bind_text(st->tls_upsert, 5, t->sni, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st->tls_upsert, 6, t->connections);
        if (step_done(st, st->tls_upsert, "counting TLS flows") < 0) {
            sqlite3_step(st->rollback);
            sqlite3_reset(st->rollback);
            return -1;
        }
    }
    if (step_done(st, st->commit, "committing records") < 0) {
        sqlite3_step(st->rollback);
        sqlite3_reset(st->rollback);
        return -1;
    }
    for (size_t i = 0; i < st->nqueue; i++)
        free(st->queue[i]);
    st->nqueue = 0;
    st->ntls = 0;
    return 0;
}

int store_tls_add(struct store *st, const struct tls_flow *t)
{
    double hour = (double)(t->ts / 3600000000LL) * 3600.0;
    const char *sensor = t->sensor ? t->sensor : "";
    for (size_t i = 0; i < st->ntls; i++) {
        struct tls_tally *e = &st->tls[i];
        if (e->hour == hour && e->server_port == t->server_port && strcmp(e->server_ip, t->server_ip) == 0 &&
            strcmp(e->sni, t->sni) == 0 && strcmp(e->sensor, sensor) == 0) {
            e->connections++;
            return 0;
        }
    }
    if (!st->tls && !(st->tls = calloc(TLS_TALLY_MAX, sizeof *st->tls)))
        return -1;
    if (st->ntls == TLS_TALLY_MAX && store_commit(st) < 0) {
        st->tls_lost++;
        return -1;
    }
    struct tls_tally *e = &st->tls[st->ntls++];
    e->hour = hour;
    snprintf(e->sensor, sizeof e->sensor, "%s", sensor);
    snprintf(e->server_ip, sizeof e->server_ip, "%s", t->server_ip);
    snprintf(e->sni, sizeof e->sni, "%s", t->sni);
    e->server_port = t->server_port;
    e->connections = 1;
    return 0;
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

/* The record's strings, each copied behind it into one allocation. */
static struct queued *record_copy(const struct ws_record *r, int64_t capture_id)
{
    const char *const *strs[] = {&r->sensor, &r->host, &r->path, &r->origin, &r->user_agent, &r->subprotocol,
                                 &r->extensions, &r->close_reason, &r->close[0].reason, &r->close[1].reason,
                                 &r->ndpi_protocol};
    enum { NS = sizeof strs / sizeof strs[0] };
    size_t need = sizeof(struct queued);
    for (int i = 0; i < NS; i++)
        need += *strs[i] ? strlen(*strs[i]) + 1 : 0;
    struct queued *q = malloc(need);
    if (!q)
        return NULL;
    q->capture_id = capture_id;
    struct ws_record *c = &q->r;
    *c = *r;
    const char **dst[] = {&c->sensor, &c->host, &c->path, &c->origin, &c->user_agent, &c->subprotocol,
                          &c->extensions, &c->close_reason, &c->close[0].reason, &c->close[1].reason,
                          &c->ndpi_protocol};
    char *at = (char *)(q + 1);
    for (int i = 0; i < NS; i++) {
        if (!*strs[i])
            continue;
        size_t n = strlen(*strs[i]) + 1;
        memcpy(at, *strs[i], n);
        *dst[i] = at;
        at += n;
    }
    return q;
}

int store_add(struct store *st, const struct ws_record *r)
{
    if (st->nqueue == QUEUE_MAX) {
        st->lost++;
        snprintf(st->err, sizeof st->err, "%zu records wait for the database: dropping new ones", st->nqueue);
        return -1;
    }
    if (st->nqueue == st->capqueue) {
        size_t cap = st->capqueue ? st->capqueue * 2 : BATCH_MAX;
        struct queued **q = realloc(st->queue, cap * sizeof *q);
        if (!q) {
            st->lost++;
            snprintf(st->err, sizeof st->err, "out of memory for the record queue");
            return -1;
        }
        st->queue = q;
        st->capqueue = cap;
    }
    struct queued *c = record_copy(r, st->capture_id);
    if (!c) {
        st->lost++;
        snprintf(st->err, sizeof st->err, "out of memory for a record");
        return -1;
    }
    st->queue[st->nqueue++] = c;
    if (st->nqueue % BATCH_MAX == 0)
        return store_commit(st);
    return 0;
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
    st->capture_id = -1;
    if (!st->db || run_capture_stmt(st, sql, c, -1) < 0)
        return -1;
    st->capture_id = sqlite3_last_insert_rowid(st->db);
    return st->capture_id;
}

int store_capture_update(struct store *st, int64_t id, const struct capture_row *c)
{
    static const char sql[] =
        "UPDATE captures SET sensor=?1, source=?2, kind=?3, started_at=?4, ended_at=?5,"
        " first_packet_at=?6, last_packet_at=?7, packets=?8, bytes=?9, drops=?10, if_drops=?11,"
        " tcp_flows=?12, connections=?13, status=?14 WHERE id=?15";
    if (!st->db || id < 0) {
        snprintf(st->err, sizeof st->err, "no captures row to update");
        return -1;
    }
    return run_capture_stmt(st, sql, c, id);
}

int store_close(struct store *st, char *err, size_t errlen)
{
    int rc = store_commit(st);
    if (rc < 0)
        snprintf(err, errlen, "%s", st->err);
    store_free(st);
    return rc;
}

int store_delete_older(struct store *st, double before, int batch)
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
