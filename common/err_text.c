/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filling a caller's error buffer (see err_text.h).
 */
#include "err_text.h"

#include <stdarg.h>
#include <stdio.h>

void tl_set_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (!err || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}
