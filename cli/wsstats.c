/*
 * cli/wsstats.c — the query CLI over a wsstatsd database (docs/design.md §5):
 * argument parsing, help, the window, and dispatch to the commands.
 *
 *   wsstats [OPTIONS] COMMAND [ARG] [OPTIONS] [--] ...
 *
 * Options may stand before or after the command; after "--" every word is
 * an operand. Only `explain` and `group-by` take an operand; `codes` and
 * `explain` read no database and take no window or filter. The database is
 * opened read-only and never created; one read transaction gives each
 * report a single snapshot while wsstatsd writes. Exit codes (docs/design.md §1):
 * 0 success, 1 a runtime error, 2 a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "../common/duration.h"
#include "../ship/ship.h"

#ifndef WSSTATS_VERSION
#define WSSTATS_VERSION "0.0.0"
#endif

#define DEFAULT_LIMIT_CONNECTIONS 50
#define DEFAULT_LIMIT_GROUPS 20
#define MAX_BUCKETS_SECONDS (366.0 * 86400)

static const struct command commands[] = {
    {"top-codes", "top-codes", "close codes by frequency, with their share",
     "Counts the connections per close code, most frequent first, with the code's\n"
     "name and its share. A connection's close code is the status code of the\n"
     "first close frame on the wire, from either side; 1006 when TCP ended (FIN or\n"
     "RST) without any close frame. Connections without a code are counted by\n"
     "outcome: still open when last seen, or handshake rejected.\n"
     "JSON/CSV fields: code, name, outcome, count, share.\n",
     cmd_top_codes, true, 0},
    {"connections", "connections [--limit N]", "the records, newest first",
     "Lists the connection records, newest first: when each ended, its client and\n"
     "server, close code, who closed first and the outcome. JSON and CSV carry every\n"
     "column of the record (see wsstatsd(8)).\n"
     "  --limit N     at most N records (default 50, for JSON and CSV too; 0 = all)\n",
     cmd_connections, true, OPT_LIMIT},
    {"timeline", "timeline [--bucket DURATION]", "connections per time bucket per code",
     "Counts connections per time bucket (by when they ended) per close code. The\n"
     "table shows every bucket of the window, the most frequent codes as columns\n"
     "(\"open\": unfinished, \"rej\": rejected) and a bar per bucket.\n"
     "JSON/CSV: one row per non-empty bucket and code: bucket (start, epoch\n"
     "seconds), bucket_seconds, code, outcome, count.\n"
     "  --bucket DURATION   bucket size: 10s, 1m, 15m, 1h, 1d ... (default: one\n"
     "                      giving about 40 buckets over the window)\n",
     cmd_timeline, true, OPT_BUCKET},
    {"group-by", "group-by KEY [--limit N]", "connections per group, with each group's top codes",
     "Counts connections per KEY, largest group first, with the group's three\n"
     "most frequent close codes and their shares within the group. KEY is one of:\n"
     "  host, path (without its query string), server (IP:PORT), client (IP),\n"
     "  subprotocol, user-agent, sensor\n"
     "JSON fields: the key (host, path, ..., user_agent), count, share, top_codes:\n"
     "[{\"code\":1006,\"count\":40}, ...] (code null and an outcome for connections\n"
     "without a code); CSV: top_codes as \"1006:40,1000:12,unfinished:3\".\n"
     "  --limit N     at most N groups (default 20, for JSON and CSV too; 0 = all)\n",
     cmd_group_by, true, OPT_LIMIT},
    {"durations", "durations", "lifetimes and idle time before close; idle-timeout clusters",
     "For connections that ended (clean, half_closed, abnormal): percentiles and a\n"
     "histogram of their lifetime (first packet to last) and of their idle time\n"
     "before close (last data frame, or the upgrade, to the first close frame; or\n"
     "last frame to the TCP teardown when no close frame was sent). Names a\n"
     "cluster when many connections were closed after one fixed idle time: the\n"
     "fingerprint of a proxy or load balancer idle timeout (nginx proxy_read_timeout).\n"
     "JSON/CSV fields: measure (lifetime, idle_before_close, idle_cluster,\n"
     "lifetime_cluster), count, share, min, p50, p90, p99, max (seconds), code\n"
     "(a cluster's most frequent close code).\n",
     cmd_durations, true, 0},
    {"summary", "summary", "totals: outcomes, initiators, violations, drops",
     "Totals of the window: connections (and mid-stream pickups), outcomes, who\n"
     "closed first, TCP terminations, violations, nDPI classifications, and the\n"
     "packets the overlapping captures lost (libpcap drop counts).\n"
     "JSON/CSV fields: section, key, count, share.\n",
     cmd_summary, true, 0},
    {"export", "export --format json|csv | --clickhouse URL", "every record, as JSON/CSV or to ClickHouse",
     "Writes every record of the database in id order: --format json (one object\n"
     "per line) or csv, every column, as `connections` writes them; or ships them\n"
     "to ClickHouse (contrib/clickhouse/schema.sql) through its HTTP interface:\n"
     "only those after the highest id ClickHouse holds for the sensor, so that a\n"
     "run can be repeated or resumed and never sends a record twice.\n"
     "  --clickhouse URL        http://HOST:8123/?database=wsstats\n"
     "  --clickhouse-auth FILE  user:password on its first line (not on the\n"
     "                          command line, where ps shows it)\n"
     "  --sensor-name NAME      this sensor's name in ClickHouse (default: the\n"
     "                          host name; letters, digits, . _ -)\n"
     "No window or filter: the whole database.\n",
     cmd_export, true, OPT_SHIP},
    {"codes", "codes", "the close-code registry",
     "The close codes of RFC 6455 §7.4 and the IANA registry, with their names and\n"
     "whether an endpoint may send them. Reads no database: no window or filter.\n"
     "JSON/CSV fields: code (a number; null for a range), lo, hi (the range, lo =\n"
     "hi for one code), name, on_the_wire (allowed or never), meaning.\n",
     cmd_codes, false, 0},
    {"explain", "explain CODE", "what a close code means",
     "What CODE (0 to 65535) means, who typically sends it, and whether it may\n"
     "appear on the wire. Reads no database: no window or filter.\n"
     "JSON/CSV fields: code, name, on_the_wire (allowed or never), meaning.\n",
     cmd_explain, false, 0},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char common_options[] =
    "Options:\n"
    "  --db PATH              database (default: $WSSTATS_DB or ./wsstats.db)\n"
    "  --clickhouse URL       the fleet's records in ClickHouse instead (default:\n"
    "                         $WSSTATS_CLICKHOUSE when --db is not given): every\n"
    "                         report; --sensor, the key sensor and the column\n"
    "                         sensor are the shipping sensor's --sensor-name\n"
    "  --clickhouse-auth FILE user:password for it, on the file's first line\n"
    "  --format FMT           table (default), json (one object per line) or csv\n"
    "  --since WHEN           connections that ended at or after WHEN\n"
    "  --until WHEN           connections that ended before WHEN\n"
    "  --server IP[:PORT]     server side ([IPv6]:PORT; :PORT for a port alone)\n"
    "  --client IP[:PORT]     client side\n"
    "  --host NAME            Host header, any case; without a port, any port\n"
    "  --path PATH            request path, with or without a query; /prefix* too\n"
    "  --code N[,N-M,none]    close codes (0-65535), ranges, or none\n"
    "  --outcome O[,O]        clean, half_closed, abnormal, unfinished, rejected\n"
    "  --sensor NAME          interface or capture file name (ClickHouse: the\n"
    "                         sensor's --sensor-name)\n"
    "  --wide                 tables cut no text and may be wider than 80 columns\n"
    "  --                     the words after it are not options\n"
    "  -h, --help             help (wsstats COMMAND --help: the command's)\n"
    "  -V, --version          the version\n"
    "\n"
    "WHEN is a duration back from the anchor (90s, 15m, 1h, 7d, 1h30m) or an ISO\n"
    "8601 time (2026-11-23T19:30:00Z; no zone means UTC). The anchor is now for a\n"
    "database written by a live capture, else the newest record's end.\n"
    "Exit status: 0 success, 1 runtime error, 2 usage error. See wsstats(1).\n";

static void usage(FILE *out)
{
    fprintf(out, "Usage: wsstats [OPTIONS] COMMAND [ARG] [OPTIONS]\n\n"
                 "Reports on the WebSocket connections recorded by wsstatsd.\n\nCommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n%s", common_options);
}

static const char registry_options[] =
    "Options:\n"
    "  --format FMT           table (default), json (one object per line) or csv\n"
    "  --db PATH              accepted, and ignored: this command reads no database\n"
    "  -h, --help             this help\n";

static void command_usage(const struct command *cmd, FILE *out)
{
    fprintf(out, "Usage: wsstats %s [OPTIONS]\n\n%s\n%s", cmd->synopsis, cmd->help,
            cmd->needs_db ? common_options : registry_options);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
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

struct typed {
    const char *format, *server, *client, *codes, *outcomes;
    const char *first_db_option; /* the first window or filter option given */
    bool wide;
};

static void describe_filter(struct cli *c, const char *name, const char *value)
{
    if (!value)
        return;
    size_t used = strlen(c->filters_desc);
    snprintf(c->filters_desc + used, sizeof c->filters_desc - used, "%s%s %s", used ? ", " : "", name, value);
    c->filtered = true;
}

/* An operand: the command, then its argument. */
static int take_operand(struct cli *c, const char *a)
{
    if (!c->command)
        c->command = a;
    else if (!c->arg)
        c->arg = a;
    else
        return fail(2, "unexpected argument '%s' (see wsstats --help)", a);
    return 0;
}

/* The options with a value from --since on are a window or filter. */
#define FIRST_DB_OPTION 4
/* ... up to export's own, from --clickhouse-auth on. */
#define FIRST_SHIP_OPTION 13

/* Takes argv[*i] if it is an option; returns 1 if it was, 0 if not, or an
 * exit status + 2 (a usage error). */
static int take_option(int argc, char **argv, int *i, struct cli *c, struct typed *ty, bool *help)
{
    static const char *const valued[] = {"--db",   "--format", "--limit", "--bucket", "--since",
                                         "--until",  "--server", "--client", "--host", "--path",
                                         "--code", "--outcome", "--sensor", "--clickhouse-auth",
                                         "--clickhouse", "--sensor-name"};
    const char **slots[] = {&c->db_path,     &ty->format, &c->limit_text, &c->bucket_text, &c->since,
                            &c->until,       &ty->server, &ty->client,    &c->filter.host, &c->filter.path,
                            &ty->codes,      &ty->outcomes, &c->filter.sensor, &c->clickhouse_auth,
                            &c->clickhouse, &c->sensor_name};
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        *help = true;
        return 1;
    }
    if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
        printf("wsstats %s\n", WSSTATS_VERSION);
        exit(0);
    }
    if (strcmp(a, "--wide") == 0) {
        ty->wide = true;
        return 1;
    }
    for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
        int matched = take_value(argc, argv, i, valued[k], slots[k]);
        if (matched < 0)
            return 2 + fail(2, "option %s needs a value (see wsstats --help)", valued[k]);
        if (matched && k >= FIRST_DB_OPTION && k < FIRST_SHIP_OPTION && !ty->first_db_option)
            ty->first_db_option = valued[k];
        if (matched)
            return 1;
    }
    if (a[0] == '-' && a[1] != '\0')
        return 2 + fail(2, "unknown option '%s' (see wsstats --help)", a);
    return 0;
}

/* Every option and operand; returns 0, or an exit status. */
static int scan_args(int argc, char **argv, struct cli *c, struct typed *ty, bool *help)
{
    bool operands_only = false;
    for (int i = 1; i < argc; i++) {
        if (!operands_only && strcmp(argv[i], "--") == 0) {
            operands_only = true;
            continue;
        }
        int taken = operands_only ? 0 : take_option(argc, argv, &i, c, ty, help);
        if (taken > 1)
            return taken - 2;
        if (taken == 0 && take_operand(c, argv[i]) != 0)
            return 2;
    }
    return 0;
}

/* Text filters must say something: an empty one would match nothing. */
static int check_not_empty(const char *option, const char *value, const char *what)
{
    if (value && !*value)
        return fail(2, "%s: empty value (expected %s)", option, what);
    return 0;
}

static int parse_filters(struct cli *c, const struct typed *ty)
{
    const char *err;
    c->filter.server_port = c->filter.client_port = -1;
    if (check_not_empty("--host", c->filter.host, "a host name, such as example.com") ||
        check_not_empty("--path", c->filter.path, "a request path, such as /chat or /api/*") ||
        check_not_empty("--sensor", c->filter.sensor, "an interface or capture file name"))
        return 2;
    if (ty->server && (err = filter_parse_server(ty->server, &c->filter, &c->filter_text)))
        return fail(2, "--server: '%s': %s", ty->server, err);
    if (ty->client && (err = filter_parse_client(ty->client, &c->filter, &c->filter_text)))
        return fail(2, "--client: '%s': %s", ty->client, err);
    if (ty->codes && (err = filter_parse_codes(ty->codes, &c->filter)))
        return fail(2, "--code: '%s': %s", ty->codes, err);
    if (ty->outcomes && (err = filter_parse_outcomes(ty->outcomes, &c->filter)))
        return fail(2, "--outcome: '%s': %s", ty->outcomes, err);
    describe_filter(c, "server", ty->server);
    describe_filter(c, "client", ty->client);
    describe_filter(c, "host", c->filter.host);
    describe_filter(c, "path", c->filter.path);
    describe_filter(c, "code", ty->codes);
    describe_filter(c, "outcome", ty->outcomes);
    describe_filter(c, "sensor", c->filter.sensor);
    return 0;
}

/* What the command line may hold besides the options every command takes:
 * an operand for explain and group-by only; a window or filter only for
 * the commands that read the database. */
static int check_command_fits(const struct cli *c, const struct command *cmd, const struct typed *ty)
{
    bool takes_arg = strcmp(cmd->name, "explain") == 0 || strcmp(cmd->name, "group-by") == 0;
    if (c->arg && !takes_arg)
        return fail(2, "unexpected argument '%s': %s takes none (see wsstats %s --help)", c->arg, cmd->name,
                    cmd->name);
    if (!cmd->needs_db && ty->first_db_option)
        return fail(2, "%s: not an option of %s, which reads no database (see wsstats %s --help)",
                    ty->first_db_option, cmd->name, cmd->name);
    if (!*c->db_path)
        return fail(2, "--db: empty path (expected a database file)");
    return 0;
}

/* --clickhouse URL (or $WSSTATS_CLICKHOUSE without --db): export's
 * destination, or the back-end of a report that runs there. */
static int choose_clickhouse(struct cli *c, const struct command *cmd)
{
    bool exporting = cmd->options & OPT_SHIP, report = cmd->needs_db && !exporting;
    if (report && !c->clickhouse && !c->db_given && c->clickhouse_env && *c->clickhouse_env)
        c->clickhouse = c->clickhouse_env;
    const char *ship = c->clickhouse ? "--clickhouse" : c->clickhouse_auth ? "--clickhouse-auth"
                     : c->sensor_name ? "--sensor-name" : NULL;
    if (!ship || exporting)
        return 0;
    if (!report || c->sensor_name)
        return fail(2, "%s: not an option of %s (export takes it)", ship, cmd->name);
    if (!c->clickhouse)
        return fail(2, "--clickhouse-auth: needs --clickhouse URL");
    if (c->db_given)
        return fail(2, "--db and --clickhouse: a report reads one or the other");
    if (!ship_url_ok(c->clickhouse))
        return fail(2, "--clickhouse: not an http:// or https:// URL");
    c->on_clickhouse = true;
    return 0;
}

static int parse_command_options(struct cli *c, const struct command *cmd)
{
    if (c->limit_text && !(cmd->options & OPT_LIMIT))
        return fail(2, "--limit: not an option of %s (connections and group-by take it)", cmd->name);
    if (c->bucket_text && !(cmd->options & OPT_BUCKET))
        return fail(2, "--bucket: not an option of %s (timeline takes it)", cmd->name);
    int rc = choose_clickhouse(c, cmd);
    if (rc)
        return rc;
    c->limit = strcmp(cmd->name, "group-by") == 0 ? DEFAULT_LIMIT_GROUPS : DEFAULT_LIMIT_CONNECTIONS;
    if (c->limit_text) {
        char *end;
        errno = 0;
        c->limit = strtol(c->limit_text, &end, 10);
        if (errno || *end || end == c->limit_text || c->limit < 0)
            return fail(2, "--limit: '%s' is not a count (0 means all)", c->limit_text);
    }
    if (c->bucket_text) {
        int64_t us;
        if (!duration_parse(c->bucket_text, &us) || us < 1000000 || (double)us / 1e6 > MAX_BUCKETS_SECONDS)
            return fail(2, "--bucket: '%s' is not a duration from 1s to 366d (10s, 1m, 1h, 1d)", c->bucket_text);
        if (us % 1000000 != 0)
            return fail(2, "--bucket: '%s' is not a whole number of seconds", c->bucket_text);
        c->bucket = (double)us / 1e6;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct cli *c, const struct command **cmd)
{
    struct typed ty = {.format = "table"};
    bool help = false;
    const char *default_db = c->db_path;
    int rc = scan_args(argc, argv, c, &ty, &help);
    if (rc)
        return rc;
    c->db_given = c->db_path != default_db;
    if (!c->command) {
        if (help) {
            usage(stdout);
            exit(0);
        }
        return fail(2, "no command given (see wsstats --help)");
    }
    if (strcmp(c->command, "help") == 0) {
        const struct command *which = c->arg ? find_command(c->arg) : NULL;
        if (c->arg && !which)
            return fail(2, "help: unknown command '%s' (see wsstats --help)", c->arg);
        which ? command_usage(which, stdout) : usage(stdout);
        exit(0);
    }
    *cmd = find_command(c->command);
    if (!*cmd)
        return fail(2, "unknown command '%s' (see wsstats --help)", c->command);
    if (help) {
        command_usage(*cmd, stdout);
        exit(0);
    }
    if (!out_format_parse(ty.format, &c->format))
        return fail(2, "--format: '%s' is not one of table, json, csv", ty.format);
    c->wide = ty.wide;
    rc = check_command_fits(c, *cmd, &ty);
    if (rc == 0)
        rc = parse_command_options(c, *cmd);
    return rc ? rc : parse_filters(c, &ty);
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

static int resolve_window(struct cli *c, struct query_db *db)
{
    struct query_span span;
    if (query_span(db, &span) < 0)
        return fail_db(c, db);
    double now = (double)time(NULL);
    double anchor = span.live || span.count == 0 ? now : span.last;
    struct query_filter *f = &c->filter;
    if (c->since && resolve_when("--since", c->since, anchor, &f->since))
        return 2;
    if (c->until && resolve_when("--until", c->until, anchor, &f->until))
        return 2;
    f->has_since = c->since != NULL;
    f->has_until = c->until != NULL;
    if (f->has_since && f->has_until && f->until <= f->since)
        return fail(2, "--until: the window ends (%s) before it starts (%s)", c->until, c->since);
    c->live = span.live;
    c->has_records = span.count > 0;
    c->records = span.count;
    c->window_lo = f->has_since ? f->since : span.first;
    c->window_hi = f->has_until ? f->until : f->has_since ? (anchor > span.last ? anchor : span.last) : span.last;
    char range[96] = "";
    if (!f->has_since && !f->has_until) {
        if (span.count)
            span_text(span.first, span.last, range, sizeof range);
        snprintf(c->window, sizeof c->window, "all records%s%s", span.count ? ", ended " : "", range);
        return 0;
    }
    span_text(c->window_lo, f->has_until ? f->until : anchor, range, sizeof range);
    double ignored;
    bool relative = (c->since && !time_parse_iso(c->since, &ignored)) || (c->until && !time_parse_iso(c->until, &ignored));
    snprintf(c->window, sizeof c->window, "ended %s%s", range,
             !relative ? "" : span.live ? " (counted back from now)" : " (counted back from the newest record)");
    return 0;
}

static int run_report(struct cli *c, const struct command *cmd, struct query_db *db)
{
    if (query_begin(db) < 0)
        return fail_db(c, db);
    int rc = resolve_window(c, db);
    if (rc == 0)
        rc = cmd->run(c, db);
    query_end(db);
    return rc;
}

/* The store's read mode: read-only, never created, immutable when this
 * user may not write the database's directory and no writer has it open;
 * any failure is one line, and exit status 1. */
static int run_db_command(struct cli *c, const struct command *cmd)
{
    char err[QUERY_OPEN_ERROR_MAX], user[256], password[256];
    struct query_db *db;
    if (c->on_clickhouse) {
        bool auth = c->clickhouse_auth != NULL;
        if (auth && ship_read_auth(c->clickhouse_auth, user, sizeof user, password, sizeof password, err,
                                   sizeof err) < 0)
            return fail(2, "%s", err);
        db = query_open_clickhouse(c->clickhouse, auth ? user : NULL, auth ? password : NULL, err, sizeof err);
    } else {
        db = query_open(c->db_path, err, sizeof err);
    }
    if (!db)
        return fail(1, "%s", err);
    int rc = run_report(c, cmd, db);
    query_close(db);
    return rc;
}

int main(int argc, char **argv)
{
    struct cli c;
    memset(&c, 0, sizeof c);
    const char *env = getenv("WSSTATS_DB");
    c.db_path = env && *env ? env : "wsstats.db";
    c.clickhouse_env = getenv("WSSTATS_CLICKHOUSE");
    const struct command *cmd = NULL;
    int rc = parse_args(argc, argv, &c, &cmd);
    if (rc)
        return rc;
    rc = cmd->needs_db ? run_db_command(&c, cmd) : cmd->run(&c, NULL);
    if (fflush(stdout) != 0)
        return fail(1, "writing output: %s", strerror(errno));
    return rc;
}
