/*
 * store/captures.c — the `captures` rows: one per source of the run, with
 * its figures (packets, bytes, drops, status) and `connections`, the
 * records written with it into the file it is in.
 *
 * The caller begins a row and updates its figures under the lock; each
 * transaction of the writer (batch.c) takes the rows that changed and
 * those of its records, and inserts or updates them with the records. A
 * row's id in the open file and the count written with it are the
 * writer's; after a reopen a row is written anew into the new file.
 */
#include "store_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/path.h"

const char captures_insert_sql[] =
    "INSERT INTO captures (sensor, source, kind, started_at, ended_at, first_packet_at,"
    " last_packet_at, packets, bytes, drops, if_drops, tcp_flows, connections, status, received, host, pid,"
    " file_name, file_size) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)";

const char captures_update_sql[] =
    "UPDATE captures SET sensor=?1, source=?2, kind=?3, started_at=?4, ended_at=?5,"
    " first_packet_at=?6, last_packet_at=?7, packets=?8, bytes=?9, drops=?10, if_drops=?11,"
    " tcp_flows=?12, connections=?13, status=?14, received=?15, host=?16, pid=?17, file_name=?18,"
    " file_size=?19 WHERE id=?20";

/* ---- the caller's side ------------------------------------------------------ */

/* Under lock: the figures, with the slot's own strings. */
static void slot_set(struct capture_slot *s, const struct capture_row *c)
{
    s->row = *c;
    s->row.sensor = s->sensor;
    s->row.source = s->source;
    snprintf(s->status, sizeof s->status, "%s", c->status ? c->status : "running");
    s->row.status = s->status;
    s->dirty = true;
}

int store_capture_begin(struct store *st, const struct capture_row *c)
{
    struct store_captures *cap = &st->cap;
    char *sensor = strdup(c->sensor ? c->sensor : ""), *source = strdup(c->source ? c->source : "");
    pthread_mutex_lock(&st->sync.lock);
    int idx = -1;
    if (sensor && source && cap->n < MAX_CAPTURES) {
        idx = cap->n;
        struct capture_slot *s = &cap->slots[idx];
        s->sensor = sensor;
        s->source = source;
        s->started_at = c->started_at;
        s->id = -1;
        slot_set(s, c);
        cap->n++; /* the writer looks at slots below n only */
        cap->fresh = true;
        pthread_cond_signal(&st->sync.wake);
    }
    pthread_mutex_unlock(&st->sync.lock);
    if (idx < 0) {
        free(sensor);
        free(source);
        snprintf(st->err, sizeof st->err, "no room for another captures row");
    }
    cap->current = idx;
    return idx;
}

void store_capture_update(struct store *st, int capture, const struct capture_row *c)
{
    if (capture < 0)
        return;
    pthread_mutex_lock(&st->sync.lock);
    if (capture < st->cap.n)
        slot_set(&st->cap.slots[capture], c);
    pthread_mutex_unlock(&st->sync.lock);
}

void slots_free(struct store *st)
{
    for (int i = 0; i < st->cap.n; i++) {
        free(st->cap.slots[i].sensor);
        free(st->cap.slots[i].source);
    }
}

/* ---- the writer's side ------------------------------------------------------ */

/* Under lock: the rows one transaction writes — the changed ones, those
 * of the batch's records (`records`: how many each), and with `closing`
 * every row in the open file, those still running marked so. */
int take_slots(struct store *st, struct slot_copy *out, const uint64_t *records, const char *closing, double now)
{
    int n = 0;
    for (int i = 0; i < st->cap.n; i++) {
        struct capture_slot *s = &st->cap.slots[i];
        if (!s->dirty && !records[i] && !(closing && s->id >= 0))
            continue;
        struct slot_copy *c = &out[n++];
        c->idx = i;
        c->old_id = s->id;
        c->records = records[i];
        c->row = s->row;
        memcpy(c->status, s->status, sizeof c->status);
        if (closing && strcmp(s->status, "running") == 0) {
            snprintf(c->status, sizeof c->status, "%s", closing);
            c->row.ended_at = now;
        }
        c->row.status = c->status;
        s->dirty = false;
    }
    st->cap.fresh = false;
    return n;
}

/* Under lock, after a failed transaction: the rows are written next time. */
void give_back_slots(struct store *st, const struct slot_copy *c, int n)
{
    for (int i = 0; i < n; i++)
        st->cap.slots[c[i].idx].dirty = true;
}

/* Under lock, after a moved file kept its rows closed as "reopened" in a
 * transaction that did not let go of it: "running" again, until the next try. */
void rewrite_open_slots(struct store *st)
{
    for (int i = 0; i < st->cap.n; i++)
        st->cap.slots[i].dirty |= st->cap.slots[i].id >= 0;
}

static void bind_capture(sqlite3_stmt *s, const struct capture_row *c, const struct store_captures *cap)
{
    int i = 1;
    sqlite3_bind_text(s, i++, c->sensor, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, i++, c->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, i++, c->live ? "live" : "file", -1, SQLITE_STATIC);
    sqlite3_bind_double(s, i++, c->started_at);
    if (c->ended_at > 0)
        sqlite3_bind_double(s, i++, c->ended_at);
    else
        sqlite3_bind_null(s, i++);
    if (c->first_packet_at >= 0) {
        sqlite3_bind_double(s, i++, c->first_packet_at);
        sqlite3_bind_double(s, i++, c->last_packet_at);
    } else {
        sqlite3_bind_null(s, i++);
        sqlite3_bind_null(s, i++);
    }
    sqlite3_bind_int64(s, i++, (int64_t)c->packets);
    sqlite3_bind_int64(s, i++, (int64_t)c->bytes);
    sqlite3_bind_int64(s, i++, (int64_t)c->drops);
    sqlite3_bind_int64(s, i++, (int64_t)c->if_drops);
    sqlite3_bind_int64(s, i++, (int64_t)c->tcp_flows);
    sqlite3_bind_int64(s, i++, (int64_t)c->connections);
    sqlite3_bind_text(s, i++, c->status ? c->status : "running", -1, SQLITE_STATIC);
    if (c->live)
        sqlite3_bind_int64(s, i++, (int64_t)c->received);
    else
        sqlite3_bind_null(s, i++);
    sqlite3_bind_text(s, i++, cap->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, i++, cap->pid);
    if (c->file_size >= 0) {
        sqlite3_bind_text(s, i++, path_base(c->source), -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, i++, c->file_size);
    } else {
        sqlite3_bind_null(s, i++);
        sqlite3_bind_null(s, i++);
    }
}

/* Inside a transaction: inserts or updates each row. Its `connections` are
 * the records written with it into this file, this batch's included. */
int write_slots(struct store *st, struct slot_copy *c, int n, char *err)
{
    for (int i = 0; i < n; i++) {
        struct capture_slot *s = &st->cap.slots[c[i].idx];
        sqlite3_stmt *stmt = s->id < 0 ? st->conn.cap_insert : st->conn.cap_update;
        c[i].row.connections = (s->id < 0 ? 0 : s->written) + c[i].records;
        bind_capture(stmt, &c[i].row, &st->cap);
        if (s->id >= 0)
            sqlite3_bind_int64(stmt, 20, s->id);
        if (step_done(st->conn.db, stmt, err, "recording the capture") < 0)
            return -1;
        if (s->id < 0)
            s->id = sqlite3_last_insert_rowid(st->conn.db);
    }
    return 0;
}

/* After the transaction committed: what its rows now hold. */
void count_written(struct store *st, const struct slot_copy *c, int n)
{
    for (int i = 0; i < n; i++)
        st->cap.slots[c[i].idx].written = c[i].row.connections;
}

/* After a (re)open: a row id is kept only if this file holds that row (the
 * same file opened again); otherwise the row is written anew. */
void check_slots(struct store *st)
{
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(st->conn.db, "SELECT 1 FROM captures WHERE id = ?1 AND started_at = ?2 AND source = ?3", -1,
                       &s, NULL);
    pthread_mutex_lock(&st->sync.lock);
    int n = st->cap.n;
    pthread_mutex_unlock(&st->sync.lock);
    for (int i = 0; i < n; i++) {
        struct capture_slot *slot = &st->cap.slots[i];
        if (slot->id < 0)
            continue;
        bool there = false;
        if (s) {
            sqlite3_bind_int64(s, 1, slot->id);
            sqlite3_bind_double(s, 2, slot->started_at);
            sqlite3_bind_text(s, 3, slot->source, -1, SQLITE_STATIC);
            there = sqlite3_step(s) == SQLITE_ROW;
            sqlite3_reset(s);
        }
        if (!there) {
            slot->id = -1;
            pthread_mutex_lock(&st->sync.lock);
            slot->dirty = true;
            st->cap.fresh = true;
            pthread_mutex_unlock(&st->sync.lock);
        }
    }
    sqlite3_finalize(s);
}

/* ---- rows left running by a process that is gone ------------------------------ */

/* Whether process pid on this host is a wsstatsd still (its comm). A pid
 * reused by another program counts as gone. */
static bool wsstatsd_alive(long pid)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
        return false;
    char path[64], comm[32] = "";
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true; /* no /proc to tell: alive, as kill() says */
    bool ours = fgets(comm, sizeof comm, f) && strncmp(comm, "wsstatsd", 8) == 0;
    fclose(f);
    return ours;
}

int mark_interrupted(struct store *st, char *err)
{
    sqlite3 *db = st->conn.db;
    sqlite3_stmt *find = NULL, *mark = NULL;
    int64_t gone[64];
    int n = 0, found = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, pid FROM captures WHERE status = 'running' AND host = ?1", -1, &find,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE captures SET status = 'interrupted' WHERE id = ?1 AND status = 'running'", -1,
                           &mark, NULL) != SQLITE_OK) {
        describe(db, err, "looking for interrupted captures");
        n = -1;
    }
    sqlite3_bind_text(find, 1, st->cap.host, -1, SQLITE_STATIC);
    while (n == 0 && found < 64 && sqlite3_step(find) == SQLITE_ROW) /* the rest at the next open */
        if (!wsstatsd_alive((long)sqlite3_column_int64(find, 1)))
            gone[found++] = sqlite3_column_int64(find, 0);
    sqlite3_finalize(find);
    for (int i = 0; i < found && n >= 0; i++) {
        sqlite3_bind_int64(mark, 1, gone[i]);
        n = step_done(db, mark, err, "marking an interrupted capture") < 0 ? -1 : n + 1;
    }
    sqlite3_finalize(mark);
    return n;
}
