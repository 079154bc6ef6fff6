/*
 * model/record.c — names of the record's enumerated columns (docs/design.md §2, §4),
 * and copies of a record that outlive the emit callback.
 */
#include "record.h"

#include "columns.h"

#include <string.h>

static const char *const violation_names[V_COUNT] = {
    "bad_accept", "bad_continuation", "close_too_short", "control_frame_too_long",
    "data_after_close", "fragmented_control_frame", "gap", "invalid_close_code",
    "invalid_utf8_reason", "masked_server_frame", "non_minimal_length",
    "reserved_opcode", "rsv_without_extension", "truncated", "unmasked_client_frame",
};

const char *outcome_name(enum outcome o)
{
    static const char *const names[] = {"clean", "half_closed", "abnormal", "unfinished", "rejected"};
    return names[o];
}

const char *termination_name(enum termination t)
{
    static const char *const names[] = {NULL, "fin_client", "fin_server", "rst_client",
                                        "rst_server", "idle_timeout", "evicted", "capture_end"};
    return names[t];
}

void violations_format(uint32_t bits, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < V_COUNT; i++) {
        if (!(bits & (1u << i)))
            continue;
        size_t n = strlen(violation_names[i]) + (used ? 1 : 0);
        if (used + n + 1 > len)
            return;
        if (used)
            buf[used++] = ',';
        memcpy(buf + used, violation_names[i], strlen(violation_names[i]) + 1);
        used += strlen(violation_names[i]);
    }
}

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
