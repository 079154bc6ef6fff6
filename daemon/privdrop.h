/*
 * daemon/privdrop.h — giving up privileges after start-up (docs/design.md §8,
 * after OpenBSD ntpd). Started as root with -u USER: once the capture and
 * the database are open, the user's uid, primary gid and supplementary
 * groups, the database files handed to that user first so that it can
 * keep writing them (and reopen them on SIGHUP). Started as an
 * unprivileged user with CAP_NET_RAW: the capabilities, once the capture
 * is open.
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

/* For a daemon started unprivileged but with capabilities (systemd's
 * AmbientCapabilities=CAP_NET_RAW, or `setcap cap_net_raw+ep`): once the
 * capture is open, every capability is given up — effective, permitted,
 * inheritable and ambient — and no exec could bring any back
 * (PR_SET_NO_NEW_PRIVS). Capabilities belong to a thread: call it before
 * any thread is started. An effective uid 0 is left alone (-u is its way
 * down).
 * Returns 1 if some were held and dropped, 0 if none were, -1 with a
 * message in err. */
int privdrop_capabilities(char *err, size_t errlen);

#endif
