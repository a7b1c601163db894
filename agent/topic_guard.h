/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which topics a local application may publish on through the control
 * socket: anything below telemetry.topic_prefix except the agent's own
 * topics (status and its last will, heartbeat, the rotation request and
 * answer topics) and everything below them. Topics are compared level by
 * level ("status" reserves "status/x" but not "statusx").
 *
 * Owns: nothing (pure functions over the loaded config).
 * Must never: let an app speak for the agent (a CSR on the CA request
 * topic would be certified for this device; a retained status or a
 * heartbeat would lie about it).
 */
#ifndef TRUSTLINK_AGENT_TOPIC_GUARD_H
#define TRUSTLINK_AGENT_TOPIC_GUARD_H

#include <stdbool.h>
#include <stddef.h>

struct agent_config;

/* True when topic equals reserved or lies below it (whole levels). */
bool agent_topic_within(const char *topic, const char *reserved);

/* 0 when an app may publish on the full (expanded) topic, or -1 with err
 * naming the agent topic it would reach. */
int agent_topic_check_app(const struct agent_config *cfg, const char *full_topic, char *err,
                          size_t err_len);

#endif
