/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the parts of the agent's state machine share: agent.c (connection
 * objects and events), agent_recovery.c (failures, retries and timers)
 * and agent_reload.c (SIGHUP). Nothing else may include this header but
 * the unit tests that drive the state machine itself.
 *
 * Owns: nothing; declarations only.
 * Must never: be included by another part of the agent.
 */
#ifndef TRUSTLINK_AGENT_AGENT_INTERNAL_H
#define TRUSTLINK_AGENT_AGENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"

struct agent_mqtt;

/* Records the failure shown by status (class, message, time). */
void agent_set_error(struct agent *a, enum agent_failure_class cls, const char *msg);
/* Sends STATUS= to systemd when the text changed. */
void agent_notify_status(struct agent *a);
/* Frees the MQTT client only; its unacknowledged messages go back to the
 * head of the queue. */
void agent_release_client(struct agent *a);
/* Client, then TLS context, then (drop_identity) the identity. */
void agent_drop_connection_objects(struct agent *a, bool drop_identity);
/* A new, unconnected MQTT client for cfg over the TLS context tls, its
 * callbacks bound to a. NULL with err. */
struct agent_mqtt *agent_client_new(struct agent *a, const struct agent_config *cfg,
                                    struct agent_tls *tls, char *err, size_t err_len);
/* Identity, TLS context and client, whichever is missing. 0; 1 when the
 * identity is not available yet (IDENTITY_WAIT, retry scheduled); an exit
 * status otherwise. */
int agent_ensure_client(struct agent *a, uint64_t now);
/* Starts a connection attempt now (building what is missing). */
void agent_attempt_connect(struct agent *a, uint64_t now);

/* Publishes the heartbeat now and schedules the next one. */
void agent_publish_heartbeat(struct agent *a, uint64_t now);

/* agent_recovery.c */
/* Loads the identity of a->config (0, 1 = retry scheduled, exit status). */
int agent_load_identity(struct agent *a, uint64_t now);
/* Classes a failed or lost connection, logs it and schedules what comes
 * next (backoff, or an identity reload for a token fault). */
void agent_handle_failure(struct agent *a, int mosq_rc, int saved_errno, uint64_t now);

/* agent_reload.c */
/* The connection objects of a reloaded configuration are built: the
 * previous configuration is no longer needed. */
void agent_reload_commit(struct agent *a);
/* The reloaded configuration failed to build its connection objects (a
 * config-class failure): back to the previous one, the failure recorded
 * as the reload's. False when there is no previous configuration. */
bool agent_reload_fall_back(struct agent *a, uint64_t now);

#endif
