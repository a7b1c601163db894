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

size_t agent_escape_controls(const char *in, char *out, size_t out_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t used = 0;

    if (out_len == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            if (used + 4 >= out_len)
                break;
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = hex[*p >> 4];
            out[used++] = hex[*p & 0xf];
        } else {
            if (used + 1 >= out_len)
                break;
            out[used++] = (char)*p;
        }
    }
    out[used] = '\0';
    return used;
}

void agent_vlog(enum agent_log_level level, const char *fmt, va_list ap)
{
    char message[1024];
    char line[1024 * 2];
    int n;

    if ((int)level > atomic_load(&current_level))
        return;
    n = snprintf(line, sizeof(line), "<%d>", (int)level);
    if (n < 0)
        return;
    vsnprintf(message, sizeof(message), fmt, ap);
    /* Messages carry text from the network, the socket and the token: a
     * newline would start a forged "<0>..." line, an ESC would drive the
     * terminal. One line per message, control bytes as \xNN. */
    agent_escape_controls(message, line + n, sizeof(line) - (size_t)n);
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
