/*
 * daemon/shipper.h — wsstatsd --clickhouse: a thread that ships the
 * daemon's committed records to ClickHouse (ship/, exactly once) while it
 * captures, with back-off when ClickHouse fails, and a last round at exit.
 */
#ifndef WSSTATS_SHIPPER_H
#define WSSTATS_SHIPPER_H

#include "../ship/ship.h"
#include "log.h"
#include "metrics.h"

struct shipper;

/* What --clickhouse needs, read while the daemon still has its privileges
 * (a credentials file only root may read): the options, with the
 * strings they point to. */
struct ship_setup {
    struct ship_options o;
    char user[256], password[256], sensor[256];
    char cursor_key[300]; /* ship_cursor_key(): the store's retention keeps what is above it */
};

/* Fills `s` for the URL, the auth file (NULL: none) and the sensor name
 * (NULL: the host name). Returns 0, or -1 with one line in err. */
int shipper_prepare(struct ship_setup *s, const char *url, const char *auth_file, const char *sensor_name, char *err,
                    size_t errlen);

/* Starts the thread (every signal blocked) over the database at db_path,
 * which the store has created by now. NULL with one line in err. */
struct shipper *shipper_start(const struct ship_options *o, const char *db_path, const struct logger *log,
                              struct metrics *m, char *err, size_t errlen);
/* Stops the thread after a last round (the store is closed by then, so
 * that round ships every record); returns 0, or -1 when records were left
 * unshipped (told in one line). */
int shipper_stop(struct shipper *s);

#endif
