/*
 * query/summary.c — the totals of `summary`: outcomes, initiators,
 * terminations, and the connections per violation set and per nDPI
 * protocol. The whole database is read from three covering indexes; a
 * window or filter reads the matching records once. On ClickHouse the
 * same groups are counted there (GROUP BY) and added up by the same code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/countmap.h"
#include "../model/record.h"
#include "query_internal.h"

/* Counts per value of a key, largest first, from its index (a window or
 * filters would cost a row lookup per connection). */
static int tally_from_index(sqlite3 *db, enum query_key k, tally_fn fn, void *arg)
{
    static const struct query_filter none = {.server_port = -1, .client_port = -1};
    const struct query_key_sql *ks = query_key_sql(k);
    char head[1024];
    snprintf(head, sizeof head,
             "SELECT %s AS k, sum(n) AS n FROM (SELECT %s AS k1, %s AS k2, count(*) AS n FROM connections",
             ks->shown, ks->k1, ks->k2);
    sqlite3_stmt *s;
    /* records without violations are most: the partial index skips them */
    if (query_prepare_cond(db, head, &none, k == KEY_VIOLATIONS ? "violations IS NOT NULL" : NULL,
                     query_key_one_column(k) ? " GROUP BY 1) GROUP BY k ORDER BY n DESC, k"
                                   : " GROUP BY 1, 2) GROUP BY k ORDER BY n DESC, k",
                     &s) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Adds a group of connections (outcome, initiator, termination,
 * handshake_seen) to the totals. */
static void summary_add(struct summary_counts *out, const char *outcome, const char *initiator,
                        const char *termination, bool handshake_seen, long long n)
{
    out->total += n;
    out->handshake_seen += handshake_seen ? n : 0;
    int o = query_outcome_index((const unsigned char *)outcome);
    if (o >= 0)
        out->outcomes[o] += n;
    for (int t = TERM_FIN_CLIENT; t <= TERM_LAST; t++)
        if (termination && strcmp(termination, termination_name((enum termination)t)) == 0)
            out->terminations[t] += n;
    if (initiator && strcmp(initiator, "client") == 0)
        out->by_client += n;
    else if (initiator && strcmp(initiator, "server") == 0)
        out->by_server += n;
}

/* The totals from the covering index of (outcome, close_initiator,
 * termination, handshake_seen): the whole database, nothing filtered. */
static int totals_from_index(sqlite3 *db, struct summary_counts *out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db,
                           "SELECT outcome, close_initiator, termination, handshake_seen, count(*) FROM connections"
                           " GROUP BY 1, 2, 3, 4",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        summary_add(out, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
                    (const char *)sqlite3_column_text(s, 2), sqlite3_column_int(s, 3) != 0,
                    sqlite3_column_int64(s, 4));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Largest first; NULL first among equals, then by name (as SQL sorts). */
static int by_count_then_name(const void *a, const void *b)
{
    const struct countmap_entry *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    if (!x->key || !y->key)
        return !x->key ? (y->key ? -1 : 0) : 1;
    return strcmp(x->key, y->key);
}

/* Hands the counts to fn, largest first, and frees them. */
static void name_emit(struct countmap *m, tally_fn fn, void *arg, bool call)
{
    countmap_sort(m, by_count_then_name);
    for (size_t i = 0; call && i < m->n; i++)
        fn(arg, m->e[i].key, m->e[i].n);
    countmap_free(m);
}

/* The totals and the two tallies being counted: one group of connections
 * at a time, from either back-end. */
struct summary_pass {
    struct summary_counts *out;
    struct countmap vm, nm; /* connections per text value (NULL a value of its own) */
};

enum { SUM_OUTCOME, SUM_INITIATOR, SUM_TERMINATION, SUM_HANDSHAKE, SUM_VIOLATIONS, SUM_NDPI, SUM_FIELDS };

/* n connections alike in the six columns f (as text; NULL for NULL). */
static int pass_add(struct summary_pass *p, const char *const *f, long long n)
{
    summary_add(p->out, f[SUM_OUTCOME], f[SUM_INITIATOR], f[SUM_TERMINATION],
                f[SUM_HANDSHAKE] && strcmp(f[SUM_HANDSHAKE], "0") != 0, n);
    if ((f[SUM_VIOLATIONS] && countmap_add_str(&p->vm, f[SUM_VIOLATIONS], n) < 0) ||
        countmap_add_str(&p->nm, f[SUM_NDPI], n) < 0)
        return -1;
    return 0;
}

/* Filtered or windowed: one pass over the matching records (each needs a
 * row lookup or the scan of the table; three passes cost three times). */
static int summary_one_pass(sqlite3 *db, const struct query_filter *f, struct summary_pass *p)
{
    sqlite3_stmt *s;
    if (query_prepare(db,
                      "SELECT outcome, close_initiator, termination, handshake_seen, violations, ndpi_protocol"
                      " FROM connections",
                      f, "", &s) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *fields[SUM_FIELDS];
        for (int i = 0; i < SUM_FIELDS; i++)
            fields[i] = (const char *)sqlite3_column_text(s, i);
        if (pass_add(p, fields, 1) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int ch_summary_row(void *arg, int n, const char *const *f)
{
    return n < SUM_FIELDS + 1 ? -1 : pass_add(arg, f, query_field_int(f[SUM_FIELDS], 0));
}

/* The same groups counted by ClickHouse. */
static int ch_summary(struct query_db *q, const struct query_filter *f, struct summary_pass *p)
{
    char where[4096], sql[4600];
    if (query_where_clickhouse(q, f, NULL, where, sizeof where) < 0)
        return -1;
    snprintf(sql, sizeof sql,
             "SELECT outcome, close_initiator, termination, handshake_seen, violations, ndpi_protocol, count()"
             " FROM connections%s GROUP BY outcome, close_initiator, termination, handshake_seen, violations,"
             " ndpi_protocol",
             where);
    return query_ch_select(q, sql, ch_summary_row, p);
}

/* A filter, a window or ClickHouse: the totals and tallies in one pass. */
static int summary_counted(struct query_db *q, const struct query_filter *f, struct summary_counts *out,
                           tally_fn violations, void *varg, tally_fn ndpi, void *narg)
{
    struct summary_pass p = {.out = out};
    int vm_made = countmap_init(&p.vm, NULL), nm_made = countmap_init(&p.nm, NULL);
    int rc = vm_made < 0 || nm_made < 0 ? -1 : q->ch ? ch_summary(q, f, &p) : summary_one_pass(q->db, f, &p);
    if (vm_made == 0)
        name_emit(&p.vm, violations, varg, rc == 0);
    if (nm_made == 0)
        name_emit(&p.nm, ndpi, narg, rc == 0);
    return rc;
}

static bool filter_empty(const struct query_filter *f)
{
    return !f->has_since && !f->has_until && !f->server_ip && f->server_port < 0 && !f->client_ip &&
           f->client_port < 0 && !f->host && !f->path && !f->sensor && !f->ncodes && !f->outcomes;
}

int query_summary(struct query_db *q, const struct query_filter *f, struct summary_counts *out, tally_fn violations,
                  void *varg, tally_fn ndpi, void *narg)
{
    sqlite3 *db = q->db;
    memset(out, 0, sizeof *out);
    if (q->ch || !filter_empty(f))
        return summary_counted(q, f, out, violations, varg, ndpi, narg);
    /* everything: three covering indexes beat one scan of the table */
    if (totals_from_index(db, out) < 0 || tally_from_index(db, KEY_VIOLATIONS, violations, varg) < 0)
        return -1;
    return tally_from_index(db, KEY_NDPI, ndpi, narg);
}
