/*
 * model/columns.h — the connection record's columns, declared once.
 *
 * RECORD_COLUMNS(X) lists every column of table `connections` that a
 * record fills, in the table's order (docs/design.md, "The record"), as
 * X(column, kind, field): the column's name, how its value is held in
 * struct ws_record and turned into SQL (enum column_kind), and the field.
 * From this list come the copy of a record's strings (model/record.c), the
 * INSERT and its binds (store/), the reading of a row back into a record
 * (query/) and the JSON/CSV columns of `wsstats connections` (cli/). The
 * table itself is created by explicit migration steps (store/schema.sql.h),
 * which a unit test holds against this list. Two columns are the store's,
 * not the record's: `id` (first) and `capture_id` (last).
 *
 * A new column: a field in struct ws_record, a line here, a migration step.
 */
#ifndef WSSTATS_COLUMNS_H
#define WSSTATS_COLUMNS_H

#include <stddef.h>

#include "record.h"

/* How a field holds its value, and which value is SQL NULL. */
enum column_kind {
    COL_TEXT,        /* const char *: NULL or "" is NULL */
    COL_ADDR,        /* char[IPADDR_TEXT_MAX], an address's text ("" is NULL) */
    COL_PORT,        /* uint16_t, never NULL */
    COL_OPT_INT,     /* int: a negative value is NULL */
    COL_BOOL,        /* int: 0 or 1, never NULL */
    COL_TIME,        /* ts_us_t: TS_NONE is NULL; SQL holds epoch seconds (REAL) */
    COL_COUNT,       /* uint64_t, never NULL */
    COL_SIDE,        /* int DIR_CLIENT / DIR_SERVER: "client" / "server"; -1 is NULL */
    COL_OUTCOME,     /* enum outcome: its name */
    COL_TERMINATION, /* enum termination: its name */
    COL_VIOLATIONS,  /* uint32_t of V_* bits: sorted comma-separated names; 0 is NULL */
};

#define RECORD_COLUMNS(X)                                              \
    X(sensor, COL_TEXT, sensor)                                        \
    X(client_ip, COL_ADDR, client_ip)                                  \
    X(client_port, COL_PORT, client_port)                              \
    X(server_ip, COL_ADDR, server_ip)                                  \
    X(server_port, COL_PORT, server_port)                              \
    X(vlan, COL_OPT_INT, vlan)                                         \
    X(started_at, COL_TIME, started_at)                                \
    X(upgraded_at, COL_TIME, upgraded_at)                              \
    X(ended_at, COL_TIME, ended_at)                                    \
    X(host, COL_TEXT, host)                                            \
    X(path, COL_TEXT, path)                                            \
    X(origin, COL_TEXT, origin)                                        \
    X(user_agent, COL_TEXT, user_agent)                                \
    X(subprotocol, COL_TEXT, subprotocol)                              \
    X(extensions, COL_TEXT, extensions)                                \
    X(http_status, COL_OPT_INT, http_status)                           \
    X(handshake_seen, COL_BOOL, handshake_seen)                        \
    X(close_code, COL_OPT_INT, close_code)                             \
    X(close_reason, COL_TEXT, close_reason)                            \
    X(close_initiator, COL_SIDE, close_initiator)                      \
    X(client_close_code, COL_OPT_INT, close[DIR_CLIENT].code)          \
    X(client_close_reason, COL_TEXT, close[DIR_CLIENT].reason)         \
    X(client_close_at, COL_TIME, close[DIR_CLIENT].at)                 \
    X(server_close_code, COL_OPT_INT, close[DIR_SERVER].code)          \
    X(server_close_reason, COL_TEXT, close[DIR_SERVER].reason)         \
    X(server_close_at, COL_TIME, close[DIR_SERVER].at)                 \
    X(outcome, COL_OUTCOME, outcome)                                   \
    X(termination, COL_TERMINATION, termination)                       \
    X(frames_client, COL_COUNT, frames[DIR_CLIENT])                    \
    X(frames_server, COL_COUNT, frames[DIR_SERVER])                    \
    X(messages_client, COL_COUNT, messages[DIR_CLIENT])                \
    X(messages_server, COL_COUNT, messages[DIR_SERVER])                \
    X(bytes_client, COL_COUNT, bytes[DIR_CLIENT])                      \
    X(bytes_server, COL_COUNT, bytes[DIR_SERVER])                      \
    X(pings, COL_COUNT, pings)                                         \
    X(pongs, COL_COUNT, pongs)                                         \
    X(last_frame_at, COL_TIME, last_frame_at)                          \
    X(last_data_at, COL_TIME, last_data_at)                            \
    X(violations, COL_VIOLATIONS, violations)                          \
    X(ndpi_protocol, COL_TEXT, ndpi_protocol)

/* The list as data: name, kind and where the field is. */
struct record_column {
    const char *name;
    enum column_kind kind;
    size_t offset; /* in struct ws_record */
};

#define COLUMN_COUNT_ONE(column, kind, field) +1
enum { RECORD_NCOLUMNS = 0 RECORD_COLUMNS(COLUMN_COUNT_ONE) };

extern const struct record_column record_columns[RECORD_NCOLUMNS];

/* "sensor, client_ip, ..., ndpi_protocol": the column names joined, for SQL
 * text (a string literal, so that statements are built at compile time). */
#define COLUMN_NAME_COMMA(column, kind, field) #column ", "
#define COLUMN_PLACEHOLDER(column, kind, field) "?, "
#define RECORD_COLUMN_LIST RECORD_COLUMNS(COLUMN_NAME_COMMA)
#define RECORD_PLACEHOLDERS RECORD_COLUMNS(COLUMN_PLACEHOLDER)

/* A column's value as it is stored and shown: SQL's types. */
enum column_value_type { VALUE_NULL, VALUE_INT, VALUE_REAL, VALUE_TEXT };

struct column_value {
    enum column_value_type type;
    long long i;
    double d;
    const char *text; /* the record's string, a static name, or buf */
    char buf[256];    /* the violations' text */
};

/* Column k's value in record r, by the rule of its kind (the table in
 * store/record_sql.h): what the store binds and `wsstats connections`
 * writes. v->text may point into v, so v must outlive its use. */
void record_column_value(const struct ws_record *r, int k, struct column_value *v);

/* The field of column c in record r (for the generic binders and readers). */
static inline const void *record_field(const struct ws_record *r, const struct record_column *c)
{
    return (const char *)r + c->offset;
}

static inline void *record_field_mut(struct ws_record *r, const struct record_column *c)
{
    return (char *)r + c->offset;
}

#endif
