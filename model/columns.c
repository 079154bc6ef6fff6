/*
 * model/columns.c — the record's column list as data (see columns.h).
 */
#include "columns.h"

#define COLUMN_ENTRY(column, kind, field) {#column, kind, offsetof(struct ws_record, field)},

const struct record_column record_columns[RECORD_NCOLUMNS] = {RECORD_COLUMNS(COLUMN_ENTRY)};
