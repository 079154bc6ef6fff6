/*
 * daemon/privdrop.h — giving up root after the capture and the database
 * are open (DESIGN §6, after OpenBSD ntpd): the user's uid, primary gid and
 * supplementary groups, and the database files handed to that user so that
 * it can keep writing them (and reopen them on SIGHUP).
 */
#ifndef WSSTATS_PRIVDROP_H
#define WSSTATS_PRIVDROP_H

#include <stddef.h>

/* Checks that `user` exists (before anything is created for it). Returns
 * 0, or -1 with a one-line message in err. */
int privdrop_check(const char *user, char *err, size_t errlen);

/* Becomes `user`; the files in `files` (NULL-terminated; missing ones are
 * skipped) are chowned to it first. Returns 0, or -1 with a one-line
 * message in err. */
int privdrop(const char *user, const char *const *files, char *err, size_t errlen);

#endif
