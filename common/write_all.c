/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a whole buffer (see write_all.h).
 */
#include "write_all.h"

#include <errno.h>
#include <unistd.h>

/* off < 0: write at the current position; else pwrite from off on. */
static int write_from(int fd, const unsigned char *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO; /* no progress and no error: do not spin */
            return -1;
        }
        p += n;
        len -= (size_t)n;
        if (off >= 0)
            off += n;
    }
    return 0;
}

int tl_write_all(int fd, const void *buf, size_t len)
{
    return write_from(fd, buf, len, -1);
}

int tl_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    if (off < 0) {
        errno = EINVAL;
        return -1;
    }
    return write_from(fd, buf, len, off);
}
