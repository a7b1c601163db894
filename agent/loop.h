/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one event loop of trustlinkd (see loop.c for the threading model).
 */
#ifndef TRUSTLINK_AGENT_LOOP_H
#define TRUSTLINK_AGENT_LOOP_H

#include "agent.h"

/* Blocks SIGTERM, SIGINT and SIGHUP for the process; call before any
 * thread exists. 0 or -1 (errno). */
int agent_loop_block_signals(void);
/* Runs until the agent asks to exit; returns the exit status. */
int agent_loop_run(struct agent *a);

#endif
