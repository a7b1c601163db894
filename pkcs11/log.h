/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provider log lines on stderr: "<N>trustlink-pkcs11: <level>: ...", N the
 * syslog priority of the level (3 error, 4 warning, 6 info, 7 debug), the
 * prefix the agent's lines carry too (agent/log.c).
 * Owns: the level (an atomic, set from the configuration at C_Initialize).
 * Must never: be passed a PIN or key material.
 */
#ifndef TRUSTLINK_P11_LOG_H
#define TRUSTLINK_P11_LOG_H

#include "config.h"

void p11_log_set_level(enum p11_log_level level);
int p11_log_priority(enum p11_log_level level);
void p11_log(enum p11_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
