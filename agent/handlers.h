/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's side of the control socket: struct agent_control_handlers
 * bound to a struct agent.
 *
 * Owns: translating control requests into agent calls.
 * Must never: block or wait on the chip (status is built from agent
 * state; publish queues while offline; reconnect only sets a flag the
 * loop acts on).
 */
#ifndef TRUSTLINK_AGENT_HANDLERS_H
#define TRUSTLINK_AGENT_HANDLERS_H

#include "agent.h"
#include "control.h"

void agent_handlers_bind(struct agent_control_handlers *handlers, struct agent *a);

#endif
