/*
 * fuzz/fuzz_dbopen.c — libFuzzer target for the database-open path
 * (issue 22): whatever file is at the path, store_open() in either mode
 * (store/store.c, open.c, schema.c) and the read side's queries (query/)
 * neither crash nor change a file the writer refuses.
 *
 * Input: the bytes of a database file. SQLite needs a real file (its
 * journal and -wal sit beside it), so they are written to in.db in a
 * private directory made once in LLVMFuzzerInitialize and removed at exit
 * (or before a failed invariant's abort; what a sanitizer's report leaves,
 * the next run removes):
 * under $TMPDIR if set, else /dev/shm if there is one (a tmpfs: SQLite's
 * fsyncs cost nothing there, twice the executions a second of /tmp on a
 * disk), else /tmp. Before each input the files an earlier one left
 * (in.db, in.db-wal, -shm, -journal) are removed. Then:
 *   1. the reader, as wsstats: query_open() (store_open(STORE_READ)), and
 *      if it opens, every report's query (query/query.h) over everything
 *      and over a filtered window, each row read back; the file must
 *      still hold the input's bytes afterwards;
 *   2. the writer, as wsstatsd: store_open(STORE_WRITE), no report
 *      callback. A refused file must keep every byte of the input, and no
 *      -wal or -journal with content may be left beside it (SQLite would
 *      apply it at the next open). A file it takes gets one run's worth of
 *      writes (a captures row, a record, a TLS flow) and store_commit();
 *      store_close() must succeed unless that commit failed (a file the
 *      schema check finds whole can still be damaged where the records
 *      go: the writer then gives them up, as the daemon's teardown does);
 *      afterwards the reader must take the file, at the current version.
 *
 * Seeds (fuzz/mkseeds.py): small databases (512-byte pages) of every
 * schema version built from store/schema.sql.h's steps, with records; our
 * table names with other columns, somebody else's tables, versions too new
 * and negative, an empty file, random bytes and truncated copies.
 * SQLite itself is the system's library, not instrumented: coverage is
 * that of store/ and query/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../query/query.h"
#include "../store/store.h"
#include "fuzz.h"

#define ROWS_READ 64 /* records read back per query_connections() */

/* Where the inputs are written: set once, in LLVMFuzzerInitialize. */
static struct {
    char dir[PATH_MAX];
    char db[PATH_MAX];
} scratch;

#define SCRATCH_PREFIX "wsstats-fuzz-dbopen." /* then the pid, a dot and mkdtemp's letters */
static const char *const side_suffixes[] = {"-wal", "-shm", "-journal"};

/* A failure of the harness itself (not of the code under test). */
__attribute__((noreturn)) static void harness_failed(const char *what, const char *path)
{
    fprintf(stderr, "fuzz_dbopen: %s %s: %s\n", what, path, strerror(errno));
    abort();
}

static void side_path(const char *db, const char *suffix, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", db, suffix);
}

static void remove_if_there(const char *path)
{
    if (unlink(path) < 0 && errno != ENOENT)
        harness_failed("cannot remove", path);
}

/* A database and what SQLite may have left beside it. */
static void remove_db_files(const char *db)
{
    remove_if_there(db);
    for (size_t i = 0; i < sizeof side_suffixes / sizeof side_suffixes[0]; i++) {
        char p[PATH_MAX + 16];
        side_path(db, side_suffixes[i], p, sizeof p);
        remove_if_there(p);
    }
}

static void remove_leftovers(void)
{
    remove_db_files(scratch.db);
}

static void remove_scratch(void)
{
    remove_leftovers();
    rmdir(scratch.dir);
}

/* The directories that fuzz_dbopen processes now gone left in parent (a
 * sanitizer's report ends the process without atexit()): their files and
 * themselves. Anything else in them keeps them. */
static void remove_stale_scratch(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d)
        return;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (strncmp(ent->d_name, SCRATCH_PREFIX, strlen(SCRATCH_PREFIX)) != 0)
            continue;
        long pid = strtol(ent->d_name + strlen(SCRATCH_PREFIX), NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char dir[PATH_MAX], db[PATH_MAX + 8];
        snprintf(dir, sizeof dir, "%s/%s", parent, ent->d_name);
        snprintf(db, sizeof db, "%s/in.db", dir);
        remove_db_files(db);
        rmdir(dir);
    }
    closedir(d);
}

/* As fuzz_check(), with the why: says what failed, in one line of text
 * (SQLite's messages quote the file's names, which may be any bytes: those
 * outside printable ASCII as \xNN), then aborts (libFuzzer keeps the
 * input). The directory goes first: libFuzzer's crash handler exits
 * without atexit(). */
__attribute__((format(printf, 1, 2), noreturn)) static void invariant_failed(const char *fmt, ...)
{
    char line[STORE_MSG_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fputs("fuzz invariant failed: ", stderr);
    for (const unsigned char *p = (const unsigned char *)line; *p; p++)
        if (*p >= 0x20 && *p < 0x7f)
            fputc(*p, stderr);
        else
            fprintf(stderr, "\\x%02x", *p);
    fputc('\n', stderr);
    remove_scratch();
    abort();
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(scratch.db, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        harness_failed("cannot create", scratch.db);
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno != EINTR)
            harness_failed("cannot write", scratch.db);
        done += n > 0 ? (size_t)n : 0;
    }
    if (close(fd) < 0)
        harness_failed("cannot write", scratch.db);
}

/* Whether the database file holds exactly these bytes. */
static bool file_holds(const uint8_t *data, size_t size)
{
    FILE *f = fopen(scratch.db, "rb");
    if (!f)
        return false;
    uint8_t buf[4096];
    size_t off = 0, n;
    bool same = true;
    while (same && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        same = off + n <= size && memcmp(buf, data + off, n) == 0;
        off += n;
    }
    same = same && !ferror(f) && off == size;
    fclose(f);
    return same;
}

/* The size of the file beside the database with this suffix; -1: none. */
static long long side_size(const char *suffix)
{
    char p[PATH_MAX + 16];
    side_path(scratch.db, suffix, p, sizeof p);
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* ---- the reader -------------------------------------------------------------- */

/* The callbacks read what the queries hand out: strings to their NUL (so
 * that ASan sees a read past one); the numbers are the file's, whatever
 * they are. */
static void on_code(void *arg, const struct code_count *c)
{
    (void)arg;
    fuzz_touch_str(c->outcome);
}

static void on_bucket(void *arg, double start, const struct code_count *c)
{
    (void)start;
    on_code(arg, c);
}

static void on_group(void *arg, const struct group_row *g, long long all)
{
    (void)all;
    fuzz_touch_str(g->key);
    on_code(arg, &g->code);
}

static void on_duration(void *arg, const struct duration_row *d)
{
    (void)arg;
    (void)d;
}

static void on_tally(void *arg, const char *value, long long count)
{
    (void)arg;
    (void)count;
    fuzz_touch_str(value);
}

static void on_tls(void *arg, const struct tls_count *t)
{
    (void)arg;
    fuzz_touch_str(t->server_ip);
    fuzz_touch_str(t->sni);
}

/* A record read back: its strings, and its addresses within their
 * buffers (store/record_sql.c copies them in). */
static void touch_row(const struct query_row *row)
{
    const struct ws_record *r = &row->rec;
    const char *strs[] = {r->sensor,      r->host,       r->path,           r->origin,          r->user_agent,
                          r->subprotocol, r->extensions, r->close_reason,   r->close[0].reason, r->close[1].reason,
                          r->ndpi_protocol};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        fuzz_touch_str(strs[i]);
    fuzz_check(memchr(r->client_ip, 0, sizeof r->client_ip) != NULL);
    fuzz_check(memchr(r->server_ip, 0, sizeof r->server_ip) != NULL);
}

static void read_rows(struct query_db *q, const struct query_filter *f, bool by_time)
{
    struct query_rows *rows;
    if (query_connections(q, f, ROWS_READ, by_time, &rows) < 0)
        return;
    const struct query_column *layout;
    int n = query_rows_layout(rows, &layout);
    for (int i = 0; i < n; i++)
        fuzz_touch_str(layout[i].name);
    struct query_row row;
    while (query_rows_next(rows, &row) == 1)
        touch_row(&row);
    query_rows_close(rows);
}

/* Every report of wsstats over one filter; failures (a table unlike
 * ours) are the query's to tell, not a finding. */
static void run_reports(struct query_db *q, const struct query_filter *f)
{
    long long n;
    query_count(q, f, &n);
    query_top_codes(q, f, on_code, NULL);
    query_timeline(q, f, 3600, on_bucket, NULL);
    read_rows(q, f, false);
    read_rows(q, f, true);
    for (int k = 0; k <= KEY_SENSOR; k++) {
        long long groups;
        query_group_by(q, f, (enum query_key)k, 5, on_group, NULL, &groups);
    }
    query_durations(q, f, on_duration, NULL);
    struct summary_counts sc;
    query_summary(q, f, &sc, on_tally, NULL, on_tally, NULL);
    query_tls(q, f, on_tls, NULL);
    struct capture_totals ct;
    query_captures(q, f, &ct);
}

static void read_database(void)
{
    char err[QUERY_OPEN_ERROR_MAX];
    struct query_db *q = query_open(scratch.db, err, sizeof err);
    if (!q)
        return;
    /* everything, then a window with every kind of filter (docs/design.md §5) */
    const struct query_filter all = {.server_port = -1, .client_port = -1};
    const struct query_filter some = {
        .has_since = true,
        .since = 1700000000,
        .has_until = true,
        .until = 1800000000,
        .server_ip = "10.0.0.2",
        .server_port = 80,
        .client_port = -1,
        .host = "ws.example.test",
        .path = "/chat*",
        .sensor = "fuzz",
        .codes = {{1000, 1001}, {-1, -1}, {4000, 4999}},
        .ncodes = 3,
        .outcomes = 1u << OUTCOME_CLEAN | 1u << OUTCOME_UNFINISHED,
    };
    if (query_begin(q) == 0) {
        struct query_span span;
        query_span(q, &span);
        run_reports(q, &all);
        run_reports(q, &some);
        query_end(q);
    }
    query_close(q);
}

/* ---- the writer -------------------------------------------------------------- */

static void refused_file_unchanged(const uint8_t *data, size_t size, const struct store_open_error *e)
{
    if (!file_holds(data, size))
        invariant_failed("the writer refused the file (%s: %s) but changed it", store_open_code_name(e->code),
                         e->msg);
    long long wal = side_size("-wal"), journal = side_size("-journal");
    if (wal > 0 || journal > 0)
        invariant_failed("the writer refused the file (%s: %s) but left a %s of %lld bytes beside it",
                         store_open_code_name(e->code), e->msg, wal > 0 ? "-wal" : "-journal", wal > 0 ? wal : journal);
}

static void fill_record(struct ws_record *r)
{
    memset(r, 0, sizeof *r);
    r->sensor = "fuzz";
    strcpy(r->client_ip, "10.0.0.1");
    strcpy(r->server_ip, "10.0.0.2");
    r->client_port = 50000;
    r->server_port = 80;
    r->vlan = -1;
    r->started_at = 1700000000000000LL;
    r->upgraded_at = r->started_at + 1000;
    r->ended_at = r->started_at + 2000000;
    r->last_frame_at = r->last_data_at = r->ended_at;
    r->host = "ws.example.test";
    r->path = "/chat";
    r->http_status = 101;
    r->handshake_seen = 1;
    r->close_code = 1000;
    r->close_reason = "bye";
    r->close_initiator = DIR_CLIENT;
    r->close[0] = (struct close_info){.code = 1000, .reason = "bye", .at = r->ended_at};
    r->close[1] = (struct close_info){.code = 1000, .at = r->ended_at};
    r->outcome = OUTCOME_CLEAN;
    r->termination = TERM_FIN_CLIENT;
    r->frames[0] = r->frames[1] = r->messages[0] = r->messages[1] = 1;
    r->bytes[0] = r->bytes[1] = 5;
}

/* What one `wsstatsd -r` run writes: a captures row, a record, a TLS flow,
 * the row's end. Returns whether the commit succeeded. */
static bool write_one_run(struct store *st)
{
    struct capture_row row = {
        .sensor = "fuzz",
        .source = "fuzz.pcap",
        .started_at = 1700000000.0,
        .first_packet_at = -1,
        .last_packet_at = -1,
        .status = "running",
    };
    int cap = store_capture_begin(st, &row);
    fuzz_check(cap >= 0);
    struct ws_record r;
    fill_record(&r);
    fuzz_check(store_add(st, &r) == 0);
    struct tls_flow t = {.sensor = "fuzz", .server_ip = "10.0.0.3", .server_port = 443, .sni = "", .ts = r.ended_at};
    fuzz_check(store_tls_add(st, &t) == 0);
    row.ended_at = 1700000001.0;
    row.status = "complete";
    store_capture_update(st, cap, &row);
    return store_commit(st) == 0;
}

/* The writer has taken the file and closed it: the reader takes it too. */
static void reader_takes_it(void)
{
    struct store_open_error e;
    struct store *st = store_open(scratch.db, STORE_READ, NULL, &e);
    if (!st)
        invariant_failed("the writer took the file but the reader refuses it (%s: %s)", store_open_code_name(e.code),
                         e.msg);
    sqlite3_stmt *s = NULL;
    long long version = -1;
    if (sqlite3_prepare_v2(store_db(st), "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (version != STORE_SCHEMA_VERSION)
        invariant_failed("the writer took the file and left it at schema version %lld, not %d", version,
                         STORE_SCHEMA_VERSION);
    char err[600];
    fuzz_check(store_close(st, err, sizeof err) == 0);
}

static void write_database(const uint8_t *data, size_t size)
{
    const struct store_options o = {.report = NULL};
    struct store_open_error e;
    struct store *st = store_open(scratch.db, STORE_WRITE, &o, &e);
    if (!st) {
        fuzz_check(e.code != STORE_OPENED && e.msg[0]);
        refused_file_unchanged(data, size, &e);
        return;
    }
    bool committed = write_one_run(st);
    if (!committed)
        store_abandon(st); /* the daemon's teardown (daemon/wsstatsd.c) */
    char err[1024];
    if (store_close(st, err, sizeof err) < 0 && committed)
        invariant_failed("store_close: %s", err);
    if (committed)
        reader_takes_it();
}

/* ---- libFuzzer ----------------------------------------------------------------- */

/* Where the private directory goes (see the header). */
static const char *scratch_parent(void)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp && *tmp)
        return tmp;
    struct stat sb;
    if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK | X_OK) == 0)
        return "/dev/shm";
    return "/tmp";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *parent = scratch_parent();
    remove_stale_scratch(parent);
    snprintf(scratch.dir, sizeof scratch.dir, "%s/" SCRATCH_PREFIX "%ld.XXXXXX", parent, (long)getpid());
    if (!mkdtemp(scratch.dir))
        harness_failed("cannot create a directory like", scratch.dir);
    snprintf(scratch.db, sizeof scratch.db, "%s/in.db", scratch.dir);
    atexit(remove_scratch);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    remove_leftovers();
    write_input(data, size);
    read_database();
    if (!file_holds(data, size))
        invariant_failed("the reader changed the file");
    write_database(data, size);
    return 0;
}
