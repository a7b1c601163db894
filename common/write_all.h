/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a whole buffer to a file descriptor: write(2) and pwrite(2) may
 * write less than asked (a signal, a full disk) and the rest must follow.
 *
 * Owns: nothing; the descriptor stays the caller's.
 * Must never: report success for a short write, or loop forever on a
 * write that makes no progress.
 */
#ifndef TRUSTLINK_COMMON_WRITE_ALL_H
#define TRUSTLINK_COMMON_WRITE_ALL_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all len bytes at the current position (retrying on EINTR).
 * Returns 0, or -1 with errno set (EIO for a write of 0 bytes). */
int tl_write_all(int fd, const void *buf, size_t len);

/* The same at offset off, with pwrite (the file position is unchanged). */
int tl_pwrite_all(int fd, const void *buf, size_t len, off_t off);

#endif
