/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging of trustlinkd: one line per message on stderr, prefixed with the
 * syslog priority ("<3>" ...) so journald files it at the right level.
 *
 * Owns: the current log level (an atomic, set from the loop thread on
 * start and on reload, read from any thread libraries call us on).
 * Must never: print a PIN, a pin-value or key material; callers redact
 * (agent_uri_redact) before formatting a URI.
 */
#ifndef TRUSTLINK_AGENT_LOG_H
#define TRUSTLINK_AGENT_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Values are the syslog priorities of the same name. */
enum agent_log_level {
    AGENT_LOG_ERR = 3,
    AGENT_LOG_WARNING = 4,
    AGENT_LOG_NOTICE = 5,
    AGENT_LOG_INFO = 6,
    AGENT_LOG_DEBUG = 7,
};

void agent_log_set_level(enum agent_log_level level);
enum agent_log_level agent_log_get_level(void);
/* "error", "warning", "notice", "info", "debug"; -1 if unknown. */
int agent_log_level_from_name(const char *name);
const char *agent_log_level_name(enum agent_log_level level);

void agent_log(enum agent_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Copies in to out with every control byte (0x00-0x1f, 0x7f) written as
 * \xNN; always NUL-terminates, truncates at a whole character. Returns
 * the length written. Every log line goes through it. */
size_t agent_escape_controls(const char *in, char *out, size_t out_len);

void agent_vlog(enum agent_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define agent_err(...) agent_log(AGENT_LOG_ERR, __VA_ARGS__)
#define agent_warn(...) agent_log(AGENT_LOG_WARNING, __VA_ARGS__)
#define agent_notice(...) agent_log(AGENT_LOG_NOTICE, __VA_ARGS__)
#define agent_info(...) agent_log(AGENT_LOG_INFO, __VA_ARGS__)
#define agent_debug(...) agent_log(AGENT_LOG_DEBUG, __VA_ARGS__)

#endif
