/*
 * cli/wsstats.c — the query CLI over a wsstatsd database (DESIGN §5).
 *
 *   wsstats [OPTIONS] COMMAND [ARGS]
 *
 * Options may stand before or after the command. The database is opened
 * read-only and never created. Exit codes (DESIGN §1): 0 success, 1 a
 * runtime error, 2 a usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../dissect/codes.h"
#include "../store/query.h"
#include "../store/store.h"
#include "duration.h"
#include "output.h"

#ifndef WSSTATS_VERSION
#define WSSTATS_VERSION "0.0.0"
#endif

#define BAR_WIDTH 20

struct cli {
    const char *db_path;
    enum out_format format;
    const char *since, *until; /* as typed */
    long limit;
    const char *command;
    const char *arg; /* explain CODE */
    struct query_filter filter;
    char window[256]; /* what the table header says about the window */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: wsstats [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Reports on the WebSocket connections recorded by wsstatsd.\n"
            "\n"
            "Commands:\n"
            "  top-codes        close codes by frequency, with their share\n"
            "  connections      the records, newest first (see --limit)\n"
            "  codes            the close-code registry\n"
            "  explain CODE     what a close code means\n"
            "\n"
            "Options:\n"
            "  --db PATH            database (default: $WSSTATS_DB or ./wsstats.db)\n"
            "  --format FMT         table (default), json (one object per line) or csv\n"
            "  --since WHEN         connections that ended at or after WHEN\n"
            "  --until WHEN         connections that ended before WHEN\n"
            "  --limit N            connections: at most N records (default: 50; 0 = all)\n"
            "  -h, --help           this help\n"
            "  -V, --version        the version\n"
            "\n"
            "WHEN is a duration back from the anchor (90s, 15m, 1h, 7d) or an ISO 8601\n"
            "time (2026-11-23T19:30:00Z; no zone means UTC). The anchor is now for a\n"
            "database written by a live capture, else the newest record's end.\n"
            "Exit status: 0 success, 1 runtime error, 2 usage error. See wsstats(1).\n");
}

__attribute__((format(printf, 2, 3))) static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wsstats: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* Takes "--name VALUE" or "--name=VALUE"; returns 1 if argv[*i] was it,
 * 0 if not, -1 if the value is missing. */
static int take_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

static int parse_args(int argc, char **argv, struct cli *c)
{
    static const char *const valued[] = {"--db", "--format", "--since", "--until", "--limit"};
    const char *format = "table", *limit = NULL;
    const char **slots[] = {&c->db_path, &format, &c->since, &c->until, &limit};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("wsstats %s\n", WSSTATS_VERSION);
            exit(0);
        }
        int matched = 0;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !matched; k++) {
            matched = take_value(argc, argv, &i, valued[k], slots[k]);
            if (matched < 0)
                return fail(2, "option %s needs a value (see wsstats --help)", valued[k]);
        }
        if (matched)
            continue;
        if (a[0] == '-' && a[1] != '\0')
            return fail(2, "unknown option '%s' (see wsstats --help)", a);
        if (!c->command)
            c->command = a;
        else if (!c->arg)
            c->arg = a;
        else
            return fail(2, "unexpected argument '%s' (see wsstats --help)", a);
    }
    if (!c->command)
        return fail(2, "no command given (see wsstats --help)");
    if (!out_format_parse(format, &c->format))
        return fail(2, "--format: '%s' is not one of table, json, csv", format);
    c->limit = 50;
    if (limit) {
        char *end;
        errno = 0;
        c->limit = strtol(limit, &end, 10);
        if (errno || *end || end == limit || c->limit < 0)
            return fail(2, "--limit: '%s' is not a count (0 means all)", limit);
    }
    return 0;
}

/* A WHEN value: an ISO time, or a duration back from the anchor. */
static int resolve_when(const char *name, const char *when, double anchor, double *t)
{
    int64_t us;
    if (time_parse_iso(when, t))
        return 0;
    if (duration_parse(when, &us)) {
        *t = anchor - (double)us / 1e6;
        return 0;
    }
    return fail(2, "%s: '%s' is neither a duration (90s, 15m, 1h, 7d) nor an ISO 8601 time", name, when);
}

/* "2026-11-23 19:30:00 .. 19:45:10" (the date once when both share it). */
static void span_text(double from, double to, char *buf, size_t len)
{
    char a[32], b[32];
    time_format(from, a, sizeof a);
    time_format(to, b, sizeof b);
    snprintf(buf, len, "%s .. %s UTC", a, strncmp(a, b, 11) == 0 ? b + 11 : b);
}

static int resolve_window(struct cli *c, sqlite3 *db)
{
    struct query_span span;
    if (query_span(db, &span) < 0)
        return fail(1, "%s: %s", c->db_path, sqlite3_errmsg(db));
    double now = (double)time(NULL);
    double anchor = span.live || span.count == 0 ? now : span.last;
    struct query_filter *f = &c->filter;
    if (c->since && resolve_when("--since", c->since, anchor, &f->since))
        return 2;
    if (c->until && resolve_when("--until", c->until, anchor, &f->until))
        return 2;
    f->has_since = c->since != NULL;
    f->has_until = c->until != NULL;
    char range[96];
    if (!f->has_since && !f->has_until) {
        if (span.count)
            span_text(span.first, span.last, range, sizeof range);
        snprintf(c->window, sizeof c->window, "all records%s%s", span.count ? ", ended " : "",
                 span.count ? range : "");
        return 0;
    }
    span_text(f->has_since ? f->since : span.first, f->has_until ? f->until : anchor, range, sizeof range);
    bool relative = (c->since && !time_parse_iso(c->since, &(double){0})) ||
                    (c->until && !time_parse_iso(c->until, &(double){0}));
    snprintf(c->window, sizeof c->window, "ended %s%s", range,
             !relative ? "" : span.live ? " (counted back from now)" : " (counted back from the newest record)");
    return 0;
}

/* ---- top-codes ---------------------------------------------------------- */

struct code_rows {
    struct code_count rows[512];
    char outcomes[512][16];
    int n;
    long long total;
};

static void collect_code(void *arg, const struct code_count *c)
{
    struct code_rows *cr = arg;
    cr->total += c->count;
    if (cr->n == 512)
        return;
    cr->rows[cr->n] = *c;
    snprintf(cr->outcomes[cr->n], sizeof cr->outcomes[0], "%s", c->outcome ? c->outcome : "");
    cr->rows[cr->n].outcome = cr->outcomes[cr->n];
    cr->n++;
}

static const char *no_code_name(const char *outcome)
{
    if (strcmp(outcome, "rejected") == 0)
        return "(handshake rejected)";
    if (strcmp(outcome, "unfinished") == 0)
        return "(still open when seen last)";
    return "(no close code)";
}

/* A bar of BAR_WIDTH cells for share 1.0, in eighths of a cell. */
static void bar(double share, char *buf, size_t len)
{
    static const char *const eighths[] = {"", "\u258f", "\u258e", "\u258d", "\u258c",
                                          "\u258b", "\u258a", "\u2589"};
    int units = (int)(share * BAR_WIDTH * 8 + 0.5);
    if (units == 0 && share > 0)
        units = 1; /* never draw a present code as nothing */
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < units / 8 && used + 4 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "\u2588");
    if (used + 4 < len)
        snprintf(buf + used, len - used, "%s", eighths[units % 8]);
}

static int cmd_top_codes(struct cli *c, sqlite3 *db)
{
    static const struct out_col cols[] = {
        {"code", "CODE", true, 0, false},    {"name", "NAME", false, 34, false},
        {"outcome", NULL, false, 0, false},  {"count", "COUNT", true, 0, false},
        {"share", "SHARE", true, 0, false},  {"bar", "", false, 0, true},
    };
    struct code_rows *cr = calloc(1, sizeof *cr);
    if (!cr)
        return fail(1, "out of memory");
    if (query_top_codes(db, &c->filter, collect_code, cr) < 0) {
        free(cr);
        return fail(1, "%s: %s", c->db_path, sqlite3_errmsg(db));
    }
    struct out_table t;
    out_init(&t, 6, cols);
    for (int i = 0; i < cr->n; i++) {
        const struct code_count *r = &cr->rows[i];
        double share = cr->total ? (double)r->count / (double)cr->total : 0;
        char pct[16], b[BAR_WIDTH * 3 + 8];
        snprintf(pct, sizeof pct, "%.1f%%", share * 100);
        bar(share, b, sizeof b);
        if (!out_add_row(&t))
            break;
        if (r->code >= 0) {
            out_int(&t, 0, r->code, NULL);
            out_text(&t, 1, close_code_name(r->code), NULL);
            out_null(&t, 2, NULL);
        } else {
            out_null(&t, 0, "-");
            out_text(&t, 1, no_code_name(r->outcome), NULL);
            out_text(&t, 2, r->outcome, NULL);
        }
        out_int(&t, 3, r->count, NULL);
        out_real(&t, 4, share, pct);
        out_null(&t, 5, b);
    }
    if (c->format == OUT_TABLE) {
        printf("%lld connection%s, %s\n\n", cr->total, cr->total == 1 ? "" : "s", c->window);
        if (cr->n == 0)
            printf("(no connections in this window)\n");
    }
    if (c->format != OUT_TABLE || cr->n > 0)
        out_print(&t, c->format, stdout);
    out_free(&t);
    free(cr);
    return 0;
}

/* ---- connections --------------------------------------------------------- */

/* Table columns of `connections`; JSON/CSV carry every column of the record. */
static const struct {
    const char *column, *header;
    bool right;
    int max_width;
} conn_table[] = {
    {"ended_at", "ENDED (UTC)", false, 0},  {"client", "CLIENT", false, 21},
    {"server", "SERVER", false, 21},        {"close_code", "CODE", true, 0},
    {"close_initiator", "BY", false, 6},    {"outcome", "OUTCOME", false, 11},
};

static void endpoint_text(sqlite3_stmt *s, int ip_col, int port_col, char *buf, size_t len)
{
    const char *ip = (const char *)sqlite3_column_text(s, ip_col);
    int port = sqlite3_column_int(s, port_col);
    if (ip && strchr(ip, ':'))
        snprintf(buf, len, "[%s]:%d", ip, port);
    else
        snprintf(buf, len, "%s:%d", ip ? ip : "?", port);
}

static int column_index(sqlite3_stmt *s, const char *name)
{
    for (int i = 0; i < sqlite3_column_count(s); i++)
        if (strcmp(sqlite3_column_name(s, i), name) == 0)
            return i;
    return -1;
}

static void print_connections_table(sqlite3_stmt *s)
{
    enum { NC = sizeof conn_table / sizeof conn_table[0] };
    struct out_col cols[NC];
    for (int i = 0; i < NC; i++)
        cols[i] = (struct out_col){conn_table[i].column, conn_table[i].header, conn_table[i].right,
                                   conn_table[i].max_width, false};
    int ci = column_index(s, "client_ip"), cp = column_index(s, "client_port");
    int si = column_index(s, "server_ip"), sp = column_index(s, "server_port");
    int direct[NC];
    for (int i = 0; i < NC; i++)
        direct[i] = column_index(s, conn_table[i].column);
    struct out_table t;
    out_init(&t, NC, cols);
    while (sqlite3_step(s) == SQLITE_ROW && out_add_row(&t)) {
        char buf[128];
        time_format(sqlite3_column_double(s, direct[0]), buf, sizeof buf);
        out_text(&t, 0, buf + 5, NULL); /* MM-DD HH:MM:SS */
        endpoint_text(s, ci, cp, buf, sizeof buf);
        out_text(&t, 1, buf, NULL);
        endpoint_text(s, si, sp, buf, sizeof buf);
        out_text(&t, 2, buf, NULL);
        for (int i = 3; i < NC; i++)
            out_text(&t, i, (const char *)sqlite3_column_text(s, direct[i]), NULL);
    }
    if (t.nrows == 0)
        printf("(no connections in this window)\n");
    else
        out_print(&t, OUT_TABLE, stdout);
    out_free(&t);
}

/* JSON / CSV: every column, typed as stored. */
static void print_connections_data(sqlite3_stmt *s, enum out_format f)
{
    int n = sqlite3_column_count(s);
    struct out_col *cols = calloc((size_t)n, sizeof *cols);
    if (!cols)
        return;
    for (int i = 0; i < n; i++)
        cols[i] = (struct out_col){sqlite3_column_name(s, i), sqlite3_column_name(s, i), false, 0, false};
    struct out_table t;
    out_init(&t, n, cols);
    while (sqlite3_step(s) == SQLITE_ROW && out_add_row(&t)) {
        for (int i = 0; i < n; i++) {
            switch (sqlite3_column_type(s, i)) {
            case SQLITE_INTEGER: out_int(&t, i, sqlite3_column_int64(s, i), NULL); break;
            case SQLITE_FLOAT: out_real(&t, i, sqlite3_column_double(s, i), NULL); break;
            case SQLITE_NULL: out_null(&t, i, NULL); break;
            default: out_text(&t, i, (const char *)sqlite3_column_text(s, i), NULL); break;
            }
        }
    }
    out_print(&t, f, stdout);
    out_free(&t);
    free(cols);
}

static int cmd_connections(struct cli *c, sqlite3 *db)
{
    sqlite3_stmt *s;
    if (query_connections(db, &c->filter, c->limit, &s) < 0)
        return fail(1, "%s: %s", c->db_path, sqlite3_errmsg(db));
    if (c->format == OUT_TABLE) {
        printf("%s, newest first%s\n\n", c->window, c->limit ? "" : " (all)");
        print_connections_table(s);
    } else {
        print_connections_data(s, c->format);
    }
    sqlite3_finalize(s);
    return 0;
}

/* ---- codes, explain ------------------------------------------------------ */

static void code_range_text(const struct close_code_info *e, char *buf, size_t len)
{
    if (e->lo == e->hi)
        snprintf(buf, len, "%d", e->lo);
    else
        snprintf(buf, len, "%d-%d", e->lo, e->hi);
}

static int cmd_codes(struct cli *c)
{
    static const struct out_col cols[] = {
        {"code", "CODE", false, 0, false}, {"name", "NAME", false, 0, false},
        {"on_the_wire", "ON THE WIRE", false, 0, false}, {"meaning", NULL, false, 0, false},
    };
    int n;
    const struct close_code_info *tab = close_code_table(&n);
    struct out_table t;
    out_init(&t, 4, cols);
    for (int i = 0; i < n && out_add_row(&t); i++) {
        char range[32];
        code_range_text(&tab[i], range, sizeof range);
        out_text(&t, 0, range, NULL);
        out_text(&t, 1, tab[i].name, NULL);
        out_text(&t, 2, tab[i].may_be_sent ? "allowed" : "never", NULL);
        out_text(&t, 3, tab[i].meaning, NULL);
    }
    out_print(&t, c->format, stdout);
    out_free(&t);
    return 0;
}

static int cmd_explain(struct cli *c)
{
    if (!c->arg)
        return fail(2, "explain: which code? (e.g. wsstats explain 1006)");
    char *end;
    errno = 0;
    long code = strtol(c->arg, &end, 10);
    if (errno || *end || end == c->arg || code < 0 || code > 65535)
        return fail(2, "explain: '%s' is not a close code (0 to 65535)", c->arg);
    const struct close_code_info *e = close_code_lookup((int)code);
    const char *name = e ? e->name : "Invalid";
    const char *meaning = e ? e->meaning : "Outside every range RFC 6455 defines (5000 and above): never valid.";
    bool allowed = e && e->may_be_sent;
    if (c->format == OUT_JSON) {
        printf("{\"code\":%ld,\"name\":", code);
        json_string(stdout, name);
        printf(",\"on_the_wire\":\"%s\",\"meaning\":", allowed ? "allowed" : "never");
        json_string(stdout, meaning);
        printf("}\n");
    } else {
        printf("%ld  %s\n%s\n%s\n", code, name, meaning,
               allowed ? "An endpoint may send this code in a close frame."
                       : "An endpoint must never send this code in a close frame (RFC 6455 §7.4).");
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static int run_db_command(struct cli *c, int (*cmd)(struct cli *, sqlite3 *))
{
    char err[600];
    struct store *st = store_open_read(c->db_path, err, sizeof err);
    if (!st)
        return fail(1, "%s", err);
    int rc = resolve_window(c, store_db(st));
    if (rc == 0)
        rc = cmd(c, store_db(st));
    store_close(st, err, sizeof err);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof c);
    const char *env = getenv("WSSTATS_DB");
    c.db_path = env && *env ? env : "wsstats.db";
    int rc = parse_args(argc, argv, &c);
    if (rc)
        return rc;
    if (strcmp(c.command, "top-codes") == 0)
        rc = run_db_command(&c, cmd_top_codes);
    else if (strcmp(c.command, "connections") == 0)
        rc = run_db_command(&c, cmd_connections);
    else if (strcmp(c.command, "codes") == 0)
        rc = cmd_codes(&c);
    else if (strcmp(c.command, "explain") == 0)
        rc = cmd_explain(&c);
    else
        return fail(2, "unknown command '%s' (see wsstats --help)", c.command);
    if (fflush(stdout) != 0)
        return fail(1, "writing output: %s", strerror(errno));
    return rc;
}
