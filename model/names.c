/*
 * model/names.c — names of the record's enumerated columns (docs/design.md
 * §2, §4: outcomes, terminations, sides, violations) and their inverses,
 * declared in record.h. The text forms are the contract between the
 * daemon's database and every reader.
 */
#include "record.h"

#include <string.h>

static const char *const violation_names[V_COUNT] = {
    "bad_accept", "bad_continuation", "close_too_short", "control_frame_too_long",
    "data_after_close", "fragmented_control_frame", "gap", "invalid_close_code",
    "invalid_utf8_reason", "masked_server_frame", "non_minimal_length",
    "reserved_opcode", "rsv_without_extension", "truncated", "unmasked_client_frame",
};

static const char *const outcome_names[] = {"clean", "half_closed", "abnormal", "unfinished", "rejected"};

static const char *const termination_names[] = {NULL, "fin_client", "fin_server", "rst_client",
                                                "rst_server", "idle_timeout", "evicted", "capture_end",
                                                "interface_down"};

static const char *const side_names[] = {"client", "server"}; /* by DIR_* */

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *outcome_name(enum outcome o)
{
    return outcome_names[o];
}

const char *termination_name(enum termination t)
{
    return termination_names[t];
}

const char *side_name(int dir)
{
    return dir == DIR_CLIENT || dir == DIR_SERVER ? side_names[dir] : NULL;
}

/* The index of name in names[0..n), or -1; `len` bytes of it (-1: all). */
static int name_index(const char *const *names, int n, const char *name, int len)
{
    for (int i = 0; name && i < n; i++) {
        if (!names[i])
            continue;
        if (len < 0 ? strcmp(names[i], name) == 0
                    : strncmp(names[i], name, (size_t)len) == 0 && names[i][len] == '\0')
            return i;
    }
    return -1;
}

int outcome_parse(const char *name, enum outcome *out)
{
    int i = name_index(outcome_names, COUNT_OF(outcome_names), name, -1);
    if (i < 0)
        return -1;
    *out = (enum outcome)i;
    return 0;
}

int termination_parse(const char *name, enum termination *out)
{
    int i = name_index(termination_names, COUNT_OF(termination_names), name, -1);
    if (i < 0)
        return -1;
    *out = (enum termination)i;
    return 0;
}

int side_parse(const char *name, int *dir)
{
    int i = name_index(side_names, COUNT_OF(side_names), name, -1);
    if (i < 0)
        return -1;
    *dir = i;
    return 0;
}

int violations_parse(const char *text, uint32_t *bits)
{
    uint32_t found = 0;
    for (const char *p = text; *p;) {
        const char *comma = strchr(p, ',');
        int len = comma ? (int)(comma - p) : (int)strlen(p);
        int i = name_index(violation_names, V_COUNT, p, len);
        if (i < 0)
            return -1;
        found |= 1u << i;
        p += len + (comma ? 1 : 0);
        if (comma && !*p)
            return -1; /* a trailing comma */
    }
    *bits = found;
    return 0;
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
