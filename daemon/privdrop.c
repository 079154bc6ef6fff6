/*
 * daemon/privdrop.c — giving up privileges once start-up is done (see
 * privdrop.h): root for an unprivileged user (-u), or the capabilities an
 * unprivileged start was given.
 *
 * Order matters for -u: supplementary groups and the gid while still root,
 * the uid last; then prove that root cannot be regained.
 */
#define _GNU_SOURCE
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int chown_files(const char *const *files, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    for (; files && *files; files++) {
        if (chown(*files, uid, gid) < 0 && errno != ENOENT) {
            snprintf(err, errlen, "-u: cannot hand %s to the user: %s", *files, strerror(errno));
            return -1;
        }
    }
    return 0;
}

int privdrop_check(const char *user, char *err, size_t errlen)
{
    errno = 0;
    if (getpwnam(user))
        return 0;
    snprintf(err, errlen, "-u: no user '%s'%s%s", user, errno ? ": " : "", errno ? strerror(errno) : "");
    return -1;
}

int privdrop(const char *user, const char *const *files, char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "-u: no user '%s'%s%s", user, errno ? ": " : "", errno ? strerror(errno) : "");
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (geteuid() != 0) {
        if (geteuid() == uid)
            return 0; /* already that user */
        snprintf(err, errlen, "-u %s: only root can change user (running as uid %u)", user, (unsigned)geteuid());
        return -1;
    }
    if (chown_files(files, uid, gid, err, errlen) < 0)
        return -1;
    if (initgroups(pw->pw_name, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        snprintf(err, errlen, "-u %s: cannot change to uid %u gid %u: %s", user, (unsigned)uid, (unsigned)gid,
                 strerror(errno));
        return -1;
    }
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "-u %s: root could be regained after the change; refusing to run", user);
        return -1;
    }
    return 0;
}

int privdrop_capabilities(char *err, size_t errlen)
{
    if (geteuid() == 0)
        return 0;
    /* glibc has no wrapper for capget/capset (libcap is not worth it for this) */
    struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &head, data) != 0) {
        snprintf(err, errlen, "cannot read the capabilities: %s", strerror(errno));
        return -1;
    }
    bool held = false;
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        held |= (data[i].permitted | data[i].effective | data[i].inheritable) != 0;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) { /* EINVAL: < 4.3 */
        snprintf(err, errlen, "cannot drop the ambient capabilities: %s", strerror(errno));
        return -1;
    }
    memset(data, 0, sizeof data);
    if (held && syscall(SYS_capset, &head, data) != 0) {
        snprintf(err, errlen, "cannot drop the capabilities: %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
        return -1;
    }
    return held;
}
