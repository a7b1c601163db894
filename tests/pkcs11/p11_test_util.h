/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the provider's unit tests: temp directories, files. */
#ifndef TRUSTLINK_P11_TEST_UTIL_H
#define TRUSTLINK_P11_TEST_UTIL_H

#include <stddef.h>

/* mkdtemp under $TMPDIR (or /tmp); the returned string is malloc'ed. */
char *p11t_mkdtemp(void);
/* rm -r of a directory tree this test created; frees dir. */
void p11t_rmtree(char *dir);
/* Writes text to dir/name; returns the malloc'ed path. */
char *p11t_write_file(const char *dir, const char *name, const char *text);
/* Reads a whole file (malloc'ed, NUL-terminated) or NULL. */
char *p11t_read_file(const char *path);

#endif
