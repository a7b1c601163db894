/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Human-readable rendering of the agent's status reply for
 * `trustlinkctl status`.
 *
 * Owns: labels, ordering and value formatting (durations, nested
 * objects). Known fields (see ../control.h) come first with friendly
 * labels; any other field the agent adds is printed too, so a newer agent
 * never has information hidden by an older trustlinkctl.
 * Must never: fail on an unexpected shape; print "ok" or "id".
 */
#ifndef TRUSTLINK_CTL_STATUS_FORMAT_H
#define TRUSTLINK_CTL_STATUS_FORMAT_H

#include <stdio.h>

struct json_object;

void ctl_print_status(FILE *out, struct json_object *reply);

#endif
