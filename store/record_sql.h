/*
 * store/record_sql.h — a connection record as SQL values, both ways: the
 * store binds a record to its INSERT, query/ reads a row of `connections`
 * back into a struct ws_record. Both walk record_columns[]
 * (model/columns.h) with one rule per enum column_kind, in record_sql.c:
 *
 *   COL_TEXT        text; NULL or "" is NULL (read: NULL pointer)
 *   COL_ADDR        text; "" is NULL (read: "")
 *   COL_PORT        integer
 *   COL_OPT_INT     integer; a negative value is NULL (read: -1)
 *   COL_BOOL        integer 0 or 1
 *   COL_TIME        REAL epoch seconds, (double)us / 1e6; TS_NONE is NULL.
 *                   Read back exactly: the microseconds whose (double)us /
 *                   1e6 is the stored value (one for every time within
 *                   2^33 s of 1970, until the year 2242: a double's step
 *                   there is under a microsecond)
 *   COL_COUNT       integer
 *   COL_SIDE        "client" / "server"; -1 is NULL
 *   COL_OUTCOME     outcome_name()
 *   COL_TERMINATION termination_name(); TERM_NONE is NULL
 *   COL_VIOLATIONS  violations_format(): sorted, comma-separated; 0 is NULL
 *
 * Reading inverts binding: a record bound and read back is the record, but
 * for empty strings, which come back as NULL.
 */
#ifndef WSSTATS_RECORD_SQL_H
#define WSSTATS_RECORD_SQL_H

#include <sqlite3.h>
#include <stddef.h>

#include "../model/columns.h"
#include "../model/record.h"

/* The store's INSERT: the record's columns (parameters 1 to
 * RECORD_NCOLUMNS), then capture_id. */
#define RECORD_SQL_INSERT \
    "INSERT INTO connections (" RECORD_COLUMN_LIST "capture_id) VALUES (" RECORD_PLACEHOLDERS "?)"

/* The same INSERT for `rows` records at once (parameters row by row, each
 * row's RECORD_NCOLUMNS + 1 after the last), as sqlite3_malloc'd text
 * (sqlite3_free it), or NULL. One statement opens its cursors on the table
 * and its twelve indexes once for all its rows, where a one-row INSERT opens
 * them for every record: the writer's 128-row INSERT takes a third off the
 * time of writing a record (bench/README.md). */
char *record_sql_insert_rows(int rows);

/* A query reads a record with the columns in this order, from any column
 * on: "SELECT " RECORD_COLUMN_LIST "id FROM connections ..." has them at
 * 0 .. RECORD_NCOLUMNS - 1 and the id after them. */

/* Binds r's columns to parameters first .. first + RECORD_NCOLUMNS - 1.
 * Text is bound SQLITE_STATIC (r's strings must outlive the statement's
 * step), the violations' text SQLITE_TRANSIENT. */
void record_sql_bind(sqlite3_stmt *s, int first, const struct ws_record *r);

/* The bytes record_sql_read() needs in `strings` for the current row's
 * text columns (from column first_col). */
size_t record_sql_strings_size(sqlite3_stmt *s, int first_col);

/* Reads the current row's columns first_col .. first_col +
 * RECORD_NCOLUMNS - 1 (after sqlite3_step() returned SQLITE_ROW) into r.
 * Its text columns are copied into `strings` (cap bytes; see
 * record_sql_strings_size()), or, with strings NULL, point into the
 * statement's row: valid until the next sqlite3_step(), sqlite3_reset() or
 * sqlite3_finalize() of s (the borrowed strings of a callback). Returns 0,
 * or -1 if the strings do not fit or a value is not one record_sql_bind()
 * writes (an unknown name, an address too long, a time out of range): r is
 * then incomplete. */
int record_sql_read(sqlite3_stmt *s, int first_col, struct ws_record *r, char *strings, size_t cap);

/* record_sql_read() for a row whose columns are anywhere: col_of[k] is
 * the statement's column of record_columns[k], or -1 when the table has
 * none (a schema older than the record: the field gets its "none" value).
 * On failure *bad (if not NULL) is the record column at fault. */
int record_sql_read_mapped(sqlite3_stmt *s, const int *col_of, struct ws_record *r, char *strings, size_t cap,
                           int *bad);

/* The same for a row as text (ClickHouse's TabSeparated answer): fields[i]
 * is column i's text, NULL for NULL; the record's strings point into
 * fields. Numbers must be whole; times are read as record_sql_read() reads
 * REALs. */
int record_sql_read_text(const char *const *fields, int nfields, const int *col_of, struct ws_record *r, int *bad);

/* A time as stored (epoch seconds) back to microseconds: the us whose
 * (double)us / 1e6 is `seconds` (for a value no binding wrote, the
 * nearest). Returns 0, or -1 if out of range or NaN. */
int record_sql_time(double seconds, ts_us_t *us);

#endif
