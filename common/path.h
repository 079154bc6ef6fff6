/*
 * common/path.h — the last component of a path ("dir/x.pcap" -> "x.pcap"),
 * as capture/ names a file's sensor and store/ keeps a file's name.
 */
#ifndef WSSTATS_PATH_H
#define WSSTATS_PATH_H

#include <string.h>

static inline const char *path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

#endif
