/*
 * model/record.c — copies of a record that outlive the emit callback: the
 * record and its strings (its COL_TEXT columns, model/columns.h) in one
 * block.
 */
#include "record.h"

#include "columns.h"

#include <string.h>

/* A record's strings are its COL_TEXT columns (model/columns.h). */
static const char **string_field(struct ws_record *r, const struct record_column *c)
{
    return (const char **)record_field_mut(r, c);
}

size_t ws_record_strings_size(const struct ws_record *r)
{
    size_t need = 0;
    for (int i = 0; i < RECORD_NCOLUMNS; i++) {
        if (record_columns[i].kind != COL_TEXT)
            continue;
        const char *s = *(const char *const *)record_field(r, &record_columns[i]);
        need += s ? strlen(s) + 1 : 0;
    }
    return need;
}

void ws_record_copy(struct ws_record *dst, const struct ws_record *src, char *strings)
{
    *dst = *src;
    for (int i = 0; i < RECORD_NCOLUMNS; i++) {
        if (record_columns[i].kind != COL_TEXT)
            continue;
        const char **to = string_field(dst, &record_columns[i]);
        if (!*to)
            continue;
        size_t n = strlen(*to) + 1;
        memcpy(strings, *to, n);
        *to = strings;
        strings += n;
    }
}
