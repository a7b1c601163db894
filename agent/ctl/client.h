/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlinkctl's side of the control socket protocol (see ../control.h).
 *
 * Owns: connecting to the agent's unix socket, sending one request line
 * and reading one reply line, all under one deadline.
 * Must never: wait past the deadline (a wedged agent makes trustlinkctl
 * fail, not hang), or accept a reply larger than CTL_MAX_REPLY.
 */
#ifndef TRUSTLINK_CTL_CLIENT_H
#define TRUSTLINK_CTL_CLIENT_H

#include <stddef.h>

struct json_object;

enum { CTL_MAX_REPLY = 1024 * 1024 };

struct ctl_reply {
    char *raw;                  /* the reply line without '\n' (malloc'ed) */
    struct json_object *obj;    /* parsed: a JSON object with boolean "ok" */
};

/* Sends request (one JSON object) to the agent at socket_path and reads
 * the reply. 0 with reply filled, or -1 with err saying why the agent
 * could not be reached or did not answer properly. */
int ctl_call(const char *socket_path, struct json_object *request, int timeout_ms,
             struct ctl_reply *reply, char *err, size_t err_len);
/* Reads one reply line (NUL-terminated, without '\n'; ownership passes
 * in, on failure too) from source (named in err). 0 with reply filled, or
 * -1 with reply empty and err saying why. */
int ctl_reply_parse(char *line, const char *source, struct ctl_reply *reply, char *err,
                    size_t err_len);
void ctl_reply_free(struct ctl_reply *reply);

#endif
