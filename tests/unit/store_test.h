/*
 * tests/unit/store_test.h — what the store's unit tests (test_store*.c)
 * share: a scratch directory, SQL run on a database file from outside the
 * store, the fixtures of tests/data/, sample records, and running a check
 * as user nobody in a forked child (root reads and writes anything, so
 * permissions are tested as another user).
 *
 * Fixtures are found beside this file (__FILE__), so the tests run from
 * the repository's root, as the Makefile and tests/run.sh run them.
 */
#ifndef WSSTATS_STORE_TEST_H
#define WSSTATS_STORE_TEST_H

#include <errno.h>
#include <dirent.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

#include "../../model/columns.h"
#include "../../store/store.h"

#define PATH_LEN 512

/* ---- a scratch directory ----------------------------------------------------- */

struct scratch {
    char dir[PATH_LEN];
};

static inline void scratch_make(struct scratch *s)
{
    snprintf(s->dir, sizeof s->dir, "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    assert_int_equal(chmod(s->dir, 0755), 0); /* nobody may enter, not write */
}

/* A path in it. */
static inline const char *scratch_path(const struct scratch *s, const char *name, char *buf)
{
    snprintf(buf, PATH_LEN, "%s/%s", s->dir, name);
    return buf;
}

/* Removes path and, for a directory, everything in it. */
static inline void remove_tree(const char *path)
{
    struct stat sb;
    DIR *d = lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? opendir(path) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        char sub[PATH_LEN];
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
    }
    if (d)
        closedir(d);
    remove(path);
}

static inline void scratch_remove(struct scratch *s)
{
    remove_tree(s->dir);
}

static inline bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The whole file, malloc'ed (NULL if none); *len its size. */
static inline char *file_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap && !(buf = realloc(buf, cap = cap * 2 + 4096)))
            break;
        size_t n = fread(buf + *len, 1, cap - *len, f);
        if (n == 0)
            break;
        *len += n;
    }
    fclose(f);
    return buf;
}

/* ---- SQL from outside the store ----------------------------------------------- */

static inline void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The rows of a query, as text: columns joined by '|', rows by '\n'
 * (into buf, cap bytes). The connection is read-only: looking changes
 * nothing. */
static inline const char *sql_rows(const char *path, const char *sql, char *buf, size_t cap)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    size_t used = 0;
    buf[0] = '\0';
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    while (sqlite3_step(s) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(s); i++) {
            const char *v = (const char *)sqlite3_column_text(s, i);
            used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "|" : "", v ? v : "NULL");
            assert_true(used < cap);
        }
        used += (size_t)snprintf(buf + used, cap - used, "\n");
        assert_true(used < cap);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return buf;
}

static inline long long sql_int(const char *path, const char *sql)
{
    char buf[64];
    return atoll(sql_rows(path, sql, buf, sizeof buf));
}

/* tests/data/NAME (SQL text) run on a new database at path. */
static inline void load_fixture(const char *name, const char *path)
{
    char fixture[PATH_LEN];
    const char *slash = strrchr(__FILE__, '/');
    snprintf(fixture, sizeof fixture, "%.*s/../data/%s", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".", name);
    size_t len;
    char *sql = file_bytes(fixture, &len);
    if (!sql)
        fail_msg("cannot read %s: %s", fixture, strerror(errno));
    sql = realloc(sql, len + 1);
    assert_non_null(sql);
    sql[len] = '\0';
    sql_exec(path, sql);
    free(sql);
}

/* ---- the store ---------------------------------------------------------------- */

static inline struct store *open_or_fail(const char *path, enum store_mode mode, const struct store_options *o)
{
    struct store_open_error e;
    struct store *st = store_open(path, mode, o, &e);
    if (!st)
        fail_msg("store_open(%s): %s: %s", path, store_open_code_name(e.code), e.msg);
    return st;
}

/* A new scratch directory and a writer on `name` in it (its path in path). */
static inline struct store *fresh_writer(struct scratch *s, const char *name, char *path,
                                         const struct store_options *o)
{
    scratch_make(s);
    scratch_path(s, name, path);
    return open_or_fail(path, STORE_WRITE, o);
}

static inline void close_or_fail(struct store *st)
{
    char err[512];
    if (store_close(st, err, sizeof err) < 0)
        fail_msg("store_close: %s", err);
}

/* Record i of a run: every kind with a value (times in microseconds from
 * `t0`); `strings` keeps its texts. */
static inline void sample_record(struct ws_record *r, int i, ts_us_t t0)
{
    static const char *const paths[] = {"/chat", "/feed", "/a?b=1"};
    memset(r, 0, sizeof *r);
    r->sensor = "eth0";
    snprintf(r->client_ip, sizeof r->client_ip, "10.0.%d.%d", i / 250, i % 250 + 1);
    snprintf(r->server_ip, sizeof r->server_ip, "%s", i % 2 ? "2001:db8::2" : "10.0.0.2");
    r->client_port = (uint16_t)(40000 + i);
    r->server_port = 443;
    r->vlan = i % 2 ? 7 : -1;
    r->started_at = t0 + i * 1000000LL + 123;
    r->upgraded_at = r->started_at + 4567;
    r->ended_at = r->started_at + 10000000;
    r->host = "example.test";
    r->path = paths[i % 3];
    r->origin = "https://example.test";
    r->user_agent = "ua/1.0";
    r->subprotocol = i % 2 ? "chat" : NULL;
    r->extensions = NULL;
    r->http_status = 101;
    r->handshake_seen = 1;
    r->close_code = 1000 + i % 5;
    r->close_reason = "bye";
    r->close_initiator = DIR_CLIENT;
    r->close[DIR_CLIENT] = (struct close_info){r->close_code, "bye", r->ended_at - 20000};
    r->close[DIR_SERVER] = (struct close_info){r->close_code, NULL, r->ended_at - 10000};
    r->outcome = OUTCOME_CLEAN;
    r->termination = TERM_FIN_CLIENT;
    r->frames[0] = 3;
    r->frames[1] = 4;
    r->messages[0] = 2;
    r->messages[1] = 3;
    r->bytes[0] = 100u * (unsigned)i;
    r->bytes[1] = 200;
    r->pings = 1;
    r->pongs = 1;
    r->last_frame_at = r->ended_at - 10000;
    r->last_data_at = r->ended_at - 30000;
    r->violations = i % 4 == 3 ? V_GAP | V_TRUNCATED : 0;
    r->ndpi_protocol = "WebSocket";
}

/* ---- as another user ---------------------------------------------------------- */

/* What a check run as nobody sends back. */
struct child_result {
    int ran;          /* the child became nobody and ran the check */
    int ok;           /* the check's verdict */
    int code;         /* e.g. an enum store_open_code */
    long long count;  /* e.g. records read */
    char msg[1024];
};

typedef void (*child_fn)(const void *arg, struct child_result *out);

/* Runs fn(arg) in a forked child as user nobody; false if that cannot be
 * done here (not root, no such user, no setuid). */
static inline bool run_as_nobody(child_fn fn, const void *arg, struct child_result *out)
{
    const struct passwd *pw = getuid() == 0 ? getpwnam("nobody") : NULL;
    int fds[2];
    if (!pw || pipe(fds) != 0)
        return false;
    memset(out, 0, sizeof *out);
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        struct child_result r;
        memset(&r, 0, sizeof r);
        close(fds[0]);
        if (setgid(gid) == 0 && setuid(uid) == 0 && getuid() == uid) {
            r.ran = 1;
            fn(arg, &r);
        }
        ssize_t n = write(fds[1], &r, sizeof r);
        _exit(n == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], out, sizeof *out);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return n == (ssize_t)sizeof *out && out->ran;
}

/* Whether run_as_nobody() works here (tells a skip from a failure). */
static inline void probe_child(const void *arg, struct child_result *out)
{
    (void)arg;
    out->ok = 1;
}

static inline bool can_run_as_nobody(void)
{
    struct child_result r;
    return run_as_nobody(probe_child, NULL, &r);
}

#endif
