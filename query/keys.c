/*
 * query/keys.c — the keys connections are grouped and tallied by, as SQL
 * (their columns and the value shown), and the outcomes' names as rows
 * hold them.
 */
#include <string.h>

#include "../model/record.h"
#include "query_internal.h"

/* Each key: its command-line name, the columns it groups by (k1, k2; k2
 * NULL for one-column keys; plain columns, so that the covering indexes of
 * schema v2 give the groups in order), and how they make the value shown. */
static const struct query_key_sql keys[KEY_COUNT_] = {
    /* RFC 9110 §4.2.3 (on ClickHouse the spellings of a host are grouped by
     * the count map, which folds their case) */
    [KEY_HOST] = {"host", "host COLLATE NOCASE", "NULL", "k1", "host", NULL},
    /* a path's query string is not part of its group ('?' is char(63) here:
     * a '?' in these fragments would be taken for a placeholder) */
    [KEY_PATH] = {"path", "path", "NULL",
                  "CASE WHEN instr(k1, char(63)) THEN substr(k1, 1, instr(k1, char(63)) - 1) ELSE k1 END", NULL,
                  "if(position(k1, '\\x3F') > 0, substring(k1, 1, position(k1, '\\x3F') - 1), k1)"},
    [KEY_SERVER] = {"server", "server_ip", "server_port",
                    "CASE WHEN instr(k1, ':') THEN '[' || k1 || ']' ELSE k1 END || ':' || k2", NULL,
                    "concat(if(position(k1, ':') > 0, concat('[', k1, ']'), k1), ':', toString(k2))"},
    [KEY_CLIENT] = {"client", "client_ip", "NULL", "k1", NULL, NULL},
    [KEY_SUBPROTOCOL] = {"subprotocol", "subprotocol", "NULL", "k1", NULL, NULL},
    [KEY_USER_AGENT] = {"user-agent", "user_agent", "NULL", "k1", NULL, NULL},
    [KEY_SENSOR] = {"sensor", "sensor", "NULL", "k1", NULL, NULL},
    [KEY_VIOLATIONS] = {"violations", "violations", "NULL", "k1", NULL, NULL},
    [KEY_NDPI] = {"ndpi", "ndpi_protocol", "NULL", "k1", NULL, NULL},
};

bool query_key_one_column(enum query_key k)
{
    return strcmp(keys[k].k2, "NULL") == 0;
}

/* Whether the index of key k (its columns, then close_code, outcome,
 * ended_at) holds every column f tests. If not, the grouping must not
 * draw SQLite to that index: walking it in order would cost a row lookup
 * per connection to test the filter. */
bool query_filter_covered(const struct query_filter *f, enum query_key k)
{
    return !((f->server_ip || f->server_port >= 0) && k != KEY_SERVER) && !(f->client_ip && k != KEY_CLIENT) &&
           f->client_port < 0 && !(f->host && k != KEY_HOST) && !(f->path && k != KEY_PATH) &&
           !(f->sensor && k != KEY_SENSOR);
}

const char *query_key_name(enum query_key k)
{
    return k < KEY_COUNT_ ? keys[k].name : "?";
}

bool query_key_parse(const char *name, enum query_key *k)
{
    for (int i = 0; i < KEY_COUNT_; i++) {
        if (strcmp(name, keys[i].name) == 0) {
            *k = (enum query_key)i;
            return true;
        }
    }
    return false;
}


const struct query_key_sql *query_key_sql(enum query_key k)
{
    return &keys[k];
}

int query_outcome_index(const unsigned char *text)
{
    for (int o = OUTCOME_CLEAN; text && o <= OUTCOME_REJECTED; o++)
        if (strcmp((const char *)text, outcome_name((enum outcome)o)) == 0)
            return o;
    return -1;
}

const char *query_key_k1(const struct query_key_sql *k, enum query_dialect d)
{
    return d == DIALECT_CLICKHOUSE && k->ch_k1 ? k->ch_k1 : k->k1;
}

const char *query_key_shown(const struct query_key_sql *k, enum query_dialect d)
{
    return d == DIALECT_CLICKHOUSE && k->ch_shown ? k->ch_shown : k->shown;
}
