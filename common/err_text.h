/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filling a caller's error buffer: the one formatter behind the
 * "char *err, size_t err_len" convention of the agent's checks.
 *
 * Owns: nothing; it writes only into the buffer it is given.
 * Must never: write past len, or anywhere when err is NULL or len is 0.
 */
#ifndef TRUSTLINK_COMMON_ERR_TEXT_H
#define TRUSTLINK_COMMON_ERR_TEXT_H

#include <stddef.h>

/* vsnprintf into err (cut to len bytes, always terminated); does nothing
 * when err is NULL or len is 0. */
void tl_set_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
