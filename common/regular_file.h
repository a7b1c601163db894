/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening a file that must be a regular file: configuration, the token
 * store, state files.
 *
 * A FIFO (or a device) put where such a file is expected would make a
 * plain open() or read() wait forever, hanging the agent or every program
 * that loads the PKCS#11 module. The open is non-blocking, and the file
 * is checked with fstat on the descriptor itself (no race with a rename).
 *
 * Owns: the open flags and the "not a regular file" message.
 * Must never: block on open, or follow a symbolic link where the caller
 * asked for O_NOFOLLOW.
 */
#ifndef TRUSTLINK_COMMON_REGULAR_FILE_H
#define TRUSTLINK_COMMON_REGULAR_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Opens path with flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY (mode when
 * O_CREAT is given) and checks that it is a regular file; O_NONBLOCK is
 * then cleared again (it means nothing for regular files, but the caller
 * should not inherit it). Returns the fd, or -1 with errno kept and err =
 * "<what> <path>: <reason>". errno is EINVAL for "not a regular file". */
int tl_open_regular(const char *path, int flags, mode_t mode, const char *what, char *err,
                    size_t err_len);

#endif
