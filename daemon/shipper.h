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

/* Starts the thread (every signal blocked) over the database at db_path,
 * which the store has created by now. NULL with one line in err. */
struct shipper *shipper_start(const struct ship_options *o, const char *db_path, const struct logger *log,
                              struct metrics *m, char *err, size_t errlen);
/* Stops the thread after a last round (the store is closed by then, so
 * that round ships every record); returns 0, or -1 when records were left
 * unshipped (told in one line). */
int shipper_stop(struct shipper *s);

#endif
