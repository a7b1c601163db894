/* SPDX-License-Identifier: Apache-2.0 */
/* Provider logging (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int log_level = P11_LOG_WARNING;

void p11_log_set_level(enum p11_log_level level)
{
    atomic_store(&log_level, (int)level);
}

void p11_log(enum p11_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;

    if ((int)level > atomic_load(&log_level))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "trustlink-pkcs11: %s: %s\n", names[level], line);
}
