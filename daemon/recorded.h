/*
 * daemon/recorded.h — capture files this database already holds a run of
 * (issue 22, row 10): refused, read again (--append-again) or left out
 * (--skip-recorded), before any is read.
 */
#ifndef WSSTATS_RECORDED_H
#define WSSTATS_RECORDED_H

#include <stdbool.h>

#include "../capture/source.h"
#include "../store/store.h"
#include "log.h"
#include "options.h"

/* Looks up each regular file of src[0..n) in the database (by base name,
 * size and first packet; standard input, FIFOs and empty files are not
 * known by anything) and among the files before it on the command line.
 * Sets skip[i] for a file to leave out. Returns 0, or -1 when the run is
 * refused: each such file was told in one line. */
int recorded_check(struct store *st, const char *db, const struct capture_source *src, int n,
                   enum recorded_files mode, const struct logger *log, bool *skip);

#endif
