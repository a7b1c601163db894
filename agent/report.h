/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent tells about itself: the control socket's status reply
 * and the heartbeat JSON published over MQTT.
 *
 * Owns: the field names and layout of both documents (documented in
 * agent/README.md) and the certificate summary (subject, issuer, serial,
 * dates, SHA-256 fingerprint).
 * Must never: call into the token or the network: everything comes from
 * struct agent (status is answered from state, never waiting on the chip);
 * print a pin-value (the identity URI is stored redacted).
 */
#ifndef TRUSTLINK_AGENT_REPORT_H
#define TRUSTLINK_AGENT_REPORT_H

#include "agent.h"

struct json_object;

/* Adds the status fields to out. */
void agent_report_status(const struct agent *a, struct json_object *out);
/* The heartbeat document as a newly allocated string (NULL on OOM). */
void agent_heartbeat_build(const struct agent *a, char **json_out);

#endif
