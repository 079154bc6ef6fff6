/*
 * cli/cli.h — what the wsstats commands share: the parsed command line,
 * the resolved window, and small presentation helpers.
 *
 * Each command is a function of struct cli and the open database (NULL for
 * the commands that need none); it prints to stdout and returns the exit
 * status (docs/design.md §1: 0 success, 1 runtime error, 2 usage error).
 */
#ifndef WSSTATS_CLI_H
#define WSSTATS_CLI_H


#include <stdbool.h>
#include <stddef.h>

#include "../query/query.h"
#include "filters.h"
#include "render/render.h"

struct cli {
    const char *db_path;
    enum out_format format;
    bool wide;      /* --wide: tables cut nothing */
    const char *since, *until; /* as typed */
    const char *limit_text, *bucket_text;
    long limit;     /* connections, group-by; set by the command's default when not given */
    double bucket;  /* timeline: seconds; 0 = choose */
    const char *command;
    const char *arg; /* explain CODE, group-by KEY */
    struct query_filter filter;
    struct filter_text filter_text;
    bool filtered;     /* a filter other than the window was given */
    bool live;         /* the database was written by a live capture */
    double window_lo, window_hi; /* the window's bounds as used (records' span when open) */
    bool has_records;
    long long records; /* in the database, window or not */
    char window[256];  /* what the table header says about the window */
    char filters_desc[512]; /* "server 10.0.0.2:443, code 1006" as typed; "" if none */
    const char *clickhouse, *clickhouse_auth, *sensor_name; /* export's; or a report's back-end */
    const char *clickhouse_env; /* $WSSTATS_CLICKHOUSE */
    bool db_given;      /* --db was on the command line */
    bool on_clickhouse; /* the report runs on ClickHouse (--clickhouse) */
};

struct command {
    const char *name;
    const char *synopsis; /* "timeline [--bucket DURATION]" */
    const char *summary;  /* one line for the command list */
    const char *help;     /* the rest of `wsstats COMMAND --help` */
    int (*run)(struct cli *c, struct query_db *db); /* db NULL: the command reads none */
    bool needs_db;
    unsigned options; /* OPT_LIMIT | OPT_BUCKET: the command-specific options it takes */
};

#define OPT_LIMIT 1u
#define OPT_BUCKET 2u
#define OPT_SHIP 4u /* --clickhouse, --clickhouse-auth, --sensor-name */

/* Prints "wsstats: MESSAGE" on stderr and returns code. */
__attribute__((format(printf, 2, 3))) int fail(int code, const char *fmt, ...);
/* A database error, naming the database. */
int fail_db(const struct cli *c, struct query_db *db);

/* Prints text wrapped at 78 columns, continuation lines indented by two;
 * a word longer than a line (a long --path) is broken where the line ends. */
void print_wrapped(const char *text);

/* Starts a command's output in the format and width asked for. */
void start_output(const struct cli *c, struct out_table *t);
/* out_finish(), and an exit status: 1 (with the message) if rows were lost. */
int finish_output(struct out_table *t);
/* After a table cut by --limit: "(50 of 1234 shown; --limit 0 for all)". */
void print_limit_note(long shown, long long all, const char *what);

/* The first table line and a blank one:
 * "N connections[WHICH], WINDOW[; FILTERS][EXTRA]". */
void print_heading(const struct cli *c, long long count, const char *which, const char *extra);

/* A bar of `width` cells for share 1.0, drawn in eighths of a cell. */
void draw_bar(double share, int width, char *buf, size_t len);

/* "1006" or "-": the code column; and the name shown beside it. */
void code_label(int code, char *buf, size_t len);
const char *code_title(int code, const char *outcome);
/* A short column header for a code: "1006", "open", "rej". */
void code_short(int code, const char *outcome, char *buf, size_t len);

/* Seconds as people read them: "350ms", "3.02s", "42.1s", "119.9s",
 * "12m 3s", "15m", "2h 5m". */
void seconds_text(double s, char *buf, size_t len);
/* A range of seconds in one unit, chosen by its upper end: "58.7s..60.2s". */
void seconds_range_text(double lo, double hi, char *buf, size_t len);
/* A whole number of seconds in the largest units that are exact: "5m",
 * "90s", "1h30m", "1d". */
void exact_duration_text(double s, char *buf, size_t len);

/* "12.5%" */
void percent_text(double share, char *buf, size_t len);

int cmd_top_codes(struct cli *c, struct query_db *db);
int cmd_connections(struct cli *c, struct query_db *db);
int cmd_export(struct cli *c, struct query_db *db);
/* JSON / CSV of the rows: every column the table has (cmd_connections.c). */
int print_connections_data(struct cli *c, struct query_db *db, struct query_rows *rows);
int cmd_timeline(struct cli *c, struct query_db *db);
int cmd_group_by(struct cli *c, struct query_db *db);
int cmd_durations(struct cli *c, struct query_db *db);
int cmd_summary(struct cli *c, struct query_db *db);
int cmd_codes(struct cli *c, struct query_db *db);
int cmd_explain(struct cli *c, struct query_db *db);

#endif
