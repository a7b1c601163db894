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

/* syslog(3) priorities, as the agent writes them (agent/log.c): journald
 * and systemd read the "<N>" prefix of a stderr line as its priority. */
int p11_log_priority(enum p11_log_level level)
{
    switch (level) {
    case P11_LOG_ERROR: return 3;   /* LOG_ERR */
    case P11_LOG_WARNING: return 4; /* LOG_WARNING */
    case P11_LOG_INFO: return 6;    /* LOG_INFO */
    case P11_LOG_DEBUG: return 7;   /* LOG_DEBUG */
    }
    return 3;
}

void p11_log(enum p11_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;

    if ((int)level > atomic_load(&log_level) || (int)level < 0 || (int)level > P11_LOG_DEBUG)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps lines whole when threads share stderr. */
    fprintf(stderr, "<%d>trustlink-pkcs11: %s: %s\n", p11_log_priority(level), names[level], line);
}
