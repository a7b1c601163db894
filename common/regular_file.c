/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening a file that must be a regular file (see regular_file.h).
 */
#include "regular_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "of another kind";
}

int tl_open_regular(const char *path, int flags, mode_t mode, const char *what, char *err,
                    size_t err_len)
{
    struct stat st;
    int fd;
    int fl;

    fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0) {
        int e = errno;

        snprintf(err, err_len, "%s %s: %s%s", what, path, strerror(e),
                 e == ELOOP && (flags & O_NOFOLLOW) ? " (a symbolic link is refused)" : "");
        errno = e;
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;

        snprintf(err, err_len, "%s %s: %s", what, path, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s %s is %s: refusing it (it must be a regular file)", what,
                 path, file_kind(st.st_mode));
        close(fd);
        errno = EINVAL;
        return -1;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}
