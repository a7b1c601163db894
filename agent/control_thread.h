/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket on its own thread, so that `status` is answered while
 * the loop thread is inside a chip operation (a TLS signature, a key
 * generation) or waiting for the bus lock.
 *
 *   control thread: polls the control socket (agent/control.c), a stop
 *     eventfd and the group commit's eventfd. `status` is answered from the
 *     last snapshot the loop thread published (plus status_age_ms).
 *     publish, reconnect and rotate change agent state, so they are handed
 *     to the loop thread through a one-slot mailbox and the control thread
 *     waits for the result (accepted or refused; the loop never waits for
 *     the disk). In fsync mode an accepted durable publish's reply is then
 *     held until the commit thread reports its record on disk; the control
 *     thread serves the other clients meanwhile, so one sync covers the
 *     publishes of every client that arrived while it ran.
 *   loop thread: publishes a status snapshot before every poll, polls the
 *     mailbox's eventfd and runs the command with the agent's handlers
 *     (agent/handlers.c).
 *
 * Owns: the thread, the agent_control instance, the snapshot text and the
 * mailbox (one mutex guards both).
 * Must never: touch struct agent (only the loop thread does); let a
 * status request wait on anything but the snapshot mutex. A status request
 * that arrives while the same control thread waits for a privileged
 * command's result waits with it: privileged commands are rare, and the
 * result (queued, refused, rotation started) needs the loop.
 */
#ifndef TRUSTLINK_AGENT_CONTROL_THREAD_H
#define TRUSTLINK_AGENT_CONTROL_THREAD_H

#include <stddef.h>

#include "control.h"

struct agent_control_thread;

/* Opens the socket (config as for agent_control_open) and starts the
 * thread. loop_handlers run on the loop thread; their status handler
 * builds the snapshot. NULL with err set. */
struct agent_control_thread *agent_control_thread_start(const struct agent_control_config *config,
                                                        const struct agent_control_handlers *loop_handlers,
                                                        char *err, size_t err_len);
/* Stops and joins the thread, closes the socket. */
void agent_control_thread_stop(struct agent_control_thread *t);

/* Loop side: rebuilds the status snapshot with the loop's status handler
 * (before every poll, and after every command so its reply and the next
 * status agree). */
void agent_control_thread_refresh(struct agent_control_thread *t);
/* Loop side: the fd to poll for POLLIN (a command waits). */
int agent_control_thread_fd(const struct agent_control_thread *t);
/* Loop side: runs the waiting command, if any, and wakes the control thread. */
void agent_control_thread_run_pending(struct agent_control_thread *t);

struct agent_commit;
/* Before the loop serves requests: a publish the loop accepted with a
 * record to wait for (agent_commit_set_request) is answered only once
 * agent_commit_check says it is durable (fsync mode). commit must outlive
 * the thread. */
void agent_control_thread_set_commit(struct agent_control_thread *t, struct agent_commit *commit);

#endif
