/*
 * store/store.c — the store's life: store_open() in either mode, the
 * former entry points as wrappers of it, store_close(), and what store.h
 * exports that belongs to no one module (the last error, the connection).
 *
 * The writer (wsstatsd) gets a connection (open.c) and the writer thread
 * (writer.c), which from then on is the connection's only user; the reader
 * (wsstats) gets a connection and no thread. A failure to open is a code
 * and one line (store.h); nothing of the store is left behind.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const code_names[] = {
    [STORE_OPENED] = "opened",
    [STORE_E_NOT_FOUND] = "not_found",
    [STORE_E_IS_DIRECTORY] = "is_directory",
    [STORE_E_PERMISSION] = "permission",
    [STORE_E_READ_ONLY] = "read_only",
    [STORE_E_NOT_SQLITE] = "not_sqlite",
    [STORE_E_FOREIGN] = "foreign",
    [STORE_E_TOO_NEW] = "too_new",
    [STORE_E_TOO_OLD] = "too_old",
    [STORE_E_NO_MEMORY] = "no_memory",
    [STORE_E_IO] = "io",
    [STORE_E_BAD_PATH] = "bad_path",
};

const char *store_open_code_name(enum store_open_code code)
{
    return (unsigned)code < sizeof code_names / sizeof code_names[0] ? code_names[code] : "unknown";
}

const char *store_error(const struct store *st)
{
    return st->err;
}

sqlite3 *store_db(struct store *st)
{
    return st->conn.db;
}

static char *joined(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

static struct store *store_new(void)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->cap.current = -1;
    if (gethostname(st->cap.host, sizeof st->cap.host - 1) != 0)
        st->cap.host[0] = '\0';
    st->cap.pid = (long)getpid();
    pthread_mutex_init(&st->sync.lock, NULL);
    pthread_condattr_t mono;
    pthread_condattr_init(&mono);
    pthread_condattr_setclock(&mono, CLOCK_MONOTONIC); /* a wall-clock step moves no deadline */
    pthread_cond_init(&st->sync.wake, &mono);
    pthread_condattr_destroy(&mono);
    pthread_cond_init(&st->sync.room, NULL);
    pthread_cond_init(&st->sync.done, NULL);
    return st;
}

static void store_free(struct store *st)
{
    writer_stop(st);
    conn_close(st);
    for (size_t i = 0; i < st->queue.n; i++)
        free(st->queue.recs[i]);
    free(st->queue.recs);
    slots_free(st);
    tally_free(&st->queue.tls_wait);
    tally_free(&st->queue.tls_batch);
    free(st->where.path);
    free(st->where.wal);
    free(st->where.shm);
    pthread_cond_destroy(&st->sync.wake);
    pthread_cond_destroy(&st->sync.room);
    pthread_cond_destroy(&st->sync.done);
    pthread_mutex_destroy(&st->sync.lock);
    free(st);
}

static struct store *fail_open(struct store *st, struct store_open_error *e, enum store_open_code code,
                               const char *msg)
{
    e->code = code;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    if (st)
        store_free(st);
    return NULL;
}

enum store_open_code store_check_write_path(const char *path, char *msg, size_t len)
{
    struct stat sb;
    if (!*path) {
        snprintf(msg, len, "the database path is empty: give a file name (-w FILE)");
        return STORE_E_BAD_PATH;
    }
    if (strcmp(path, ":memory:") == 0) {
        snprintf(msg, len, ":memory: is SQLite's in-memory database, gone when wsstatsd exits: give a file name");
        return STORE_E_BAD_PATH;
    }
    if (strncmp(path, "file:", 5) == 0) {
        snprintf(msg, len, "%s: SQLite URIs are not taken, only file names (for a file of that name: ./%s)", path,
                 path);
        return STORE_E_BAD_PATH;
    }
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode)) /* a new file, or an existing one */
        return STORE_OPENED;
    if (S_ISDIR(sb.st_mode)) {
        snprintf(msg, len, "%s: is a directory, not a database (give a file name in it)", path);
        return STORE_E_IS_DIRECTORY;
    }
    snprintf(msg, len, "%s: not a regular file (a device, FIFO or socket): the database must be a file", path);
    return STORE_E_BAD_PATH;
}

static struct store *open_writer(struct store *st, const struct store_options *o, struct store_open_error *e)
{
    const char *path = st->where.path;
    if (o)
        st->opt = *o;
    /* ":memory:" stays open to the library's own callers (the fuzzers);
     * wsstatsd refuses it as a usage error (daemon/options.c) */
    enum store_open_code refused =
        strcmp(path, ":memory:") == 0 ? STORE_OPENED : store_check_write_path(path, st->err, sizeof st->err);
    if (refused != STORE_OPENED)
        return fail_open(st, e, refused, st->err);
    if (!(st->where.wal = joined(path, "-wal")) || !(st->where.shm = joined(path, "-shm")) ||
        tally_init(&st->queue.tls_wait) < 0 || tally_init(&st->queue.tls_batch) < 0)
        return fail_open(st, e, STORE_E_NO_MEMORY, "out of memory");
    enum store_open_code code;
    if (conn_open_write(st, st->err, &code) < 0)
        return fail_open(st, e, code, st->err);
    if (writer_start(st) < 0)
        return fail_open(st, e, STORE_E_IO, "cannot start the database writer thread");
    return st;
}

/* Neither created nor written: the path must name a file. */
static struct store *open_reader(const char *path, struct store_open_error *e)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(e->msg, sizeof e->msg, "%s: is a directory, not a database (give the file wsstatsd -w wrote)",
                 path);
        e->code = STORE_E_IS_DIRECTORY;
        return NULL;
    }
    if (stat(path, &sb) != 0) {
        e->code = open_code_of_errno(errno);
        snprintf(e->msg, sizeof e->msg, "no database at %s (create one with: wsstatsd -r CAPTURE -w %s)", path, path);
        return NULL;
    }
    if (S_ISREG(sb.st_mode) && sb.st_size == 0) { /* SQLite would take it as an empty database */
        snprintf(e->msg, sizeof e->msg, "%s: an empty file, not a wsstats database (wsstatsd -w writes one)", path);
        e->code = STORE_E_FOREIGN;
        return NULL;
    }
    struct store *st = store_new();
    if (!st || !(st->where.path = strdup(path)))
        return fail_open(st, e, STORE_E_NO_MEMORY, "out of memory");
    if (conn_open_read(st, e) < 0) {
        store_free(st);
        return NULL;
    }
    return st;
}

struct store *store_open(const char *path, enum store_mode mode, const struct store_options *o,
                         struct store_open_error *e)
{
    struct store_open_error ignored;
    if (!e)
        e = &ignored;
    e->code = STORE_OPENED;
    e->msg[0] = '\0';
    if (mode == STORE_READ)
        return open_reader(path, e);
    struct store *st = store_new();
    if (!st || !(st->where.path = strdup(path)))
        return fail_open(st, e, STORE_E_NO_MEMORY, "out of memory");
    return open_writer(st, o, e);
}

/* ---- the former entry points -------------------------------------------------- */

static struct store *opened_or_said(struct store *st, const struct store_open_error *e, char *err, size_t errlen)
{
    if (!st)
        snprintf(err, errlen, "%s", e->msg);
    return st;
}

struct store *store_open_write_with(const char *path, const struct store_options *o, char *err, size_t errlen)
{
    struct store_open_error e;
    return opened_or_said(store_open(path, STORE_WRITE, o, &e), &e, err, errlen);
}

struct store *store_open_write(const char *path, char *err, size_t errlen)
{
    return store_open_write_with(path, NULL, err, errlen);
}

struct store *store_open_read(const char *path, char *err, size_t errlen)
{
    struct store_open_error e;
    return opened_or_said(store_open(path, STORE_READ, NULL, &e), &e, err, errlen);
}

int store_close(struct store *st, char *err, size_t errlen)
{
    int rc = store_commit(st);
    if (rc < 0)
        snprintf(err, errlen, "%s", st->err);
    store_free(st);
    return rc;
}
