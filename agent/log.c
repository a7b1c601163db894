/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to stderr with syslog priority prefixes (see log.h).
 * Must never: allocate, or block on anything but the write to stderr.
 */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int current_level = AGENT_LOG_INFO;

static const struct {
    const char *name;
    enum agent_log_level level;
} level_names[] = {
    {"error", AGENT_LOG_ERR},   {"warning", AGENT_LOG_WARNING}, {"notice", AGENT_LOG_NOTICE},
    {"info", AGENT_LOG_INFO},   {"debug", AGENT_LOG_DEBUG},
};

void agent_log_set_level(enum agent_log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum agent_log_level agent_log_get_level(void)
{
    return (enum agent_log_level)atomic_load(&current_level);
}

int agent_log_level_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i].name) == 0)
            return (int)level_names[i].level;
    }
    return -1;
}

const char *agent_log_level_name(enum agent_log_level level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (level_names[i].level == level)
            return level_names[i].name;
    }
    return "info";
}

void agent_vlog(enum agent_log_level level, const char *fmt, va_list ap)
{
    char line[1024];
    int n;

    if ((int)level > atomic_load(&current_level))
        return;
    n = snprintf(line, sizeof(line), "<%d>", (int)level);
    if (n < 0)
        return;
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    /* One fputs per line keeps lines whole when several writers share stderr. */
    fprintf(stderr, "%s\n", line);
}

void agent_log(enum agent_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    agent_vlog(level, fmt, ap);
    va_end(ap);
}
