/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket requests: one line of the protocol (control.h) as a JSON
 * request, run against the agent's handlers.
 *
 * Owns: the envelope (one JSON object per line, a scalar "id" echoed), the
 * command names and their fields, and which commands need privilege.
 * Must never: do I/O (control.c owns the sockets and the buffers) or
 * decide privilege itself (the caller checks the peer's credentials).
 */
#ifndef TRUSTLINK_AGENT_CONTROL_REQUEST_H
#define TRUSTLINK_AGENT_CONTROL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "control.h"

/* Nesting a request may have; deeper is refused as malformed. */
#define CONTROL_REQUEST_JSON_DEPTH 16

/* Who sent the request, as the caller established it (SO_PEERCRED). */
struct control_peer {
    bool may_publish;  /* publish */
    bool may_admin;    /* reconnect, rotate (and publish) */
    long uid;   /* -1 when unknown */
    long gid;
};

/* Only spaces, tabs and carriage returns (a blank line is ignored). */
bool control_request_is_blank(const char *s, size_t len);

/* Parses one line into a request object and its "id" (borrowed from the
 * request; NULL when absent). 0 with *req owned by the caller; -1 with a
 * reply-worthy message in err; -2 out of memory. */
int control_request_parse(const char *line, size_t len, struct json_object **req,
                          struct json_object **id, char *err, size_t err_len);

/* Runs one request: fills reply (the caller made it with ok:true and the
 * id) and returns 0, or returns -1 with err set. */
int control_request_run(const struct agent_control_handlers *handlers,
                        const struct control_peer *peer, struct json_object *req,
                        struct json_object *reply, char *err, size_t err_len);

#endif
