/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control handlers over struct agent (see handlers.h).
 * Must never: block.
 */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "report.h"

static int handle_status(void *ctx, struct json_object *out, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    agent_report_status(ctx, out);
    return 0;
}

static int handle_publish(void *ctx, const char *topic, const void *payload, size_t payload_len,
                          int qos, bool retain, char *err, size_t err_len)
{
    return agent_publish(ctx, topic, payload, payload_len, qos, retain, err, err_len);
}

static int handle_reconnect(void *ctx, char *err, size_t err_len)
{
    struct agent *a = ctx;

    if (a->state == AGENT_STATE_STOPPING) {
        snprintf(err, err_len, "the agent is stopping");
        return -1;
    }
    agent_request_reconnect(a);
    return 0;
}

static int handle_rotate(void *ctx, char *err, size_t err_len)
{
    struct agent *a = ctx;

    if (a->state == AGENT_STATE_STOPPING) {
        snprintf(err, err_len, "the agent is stopping");
        return -1;
    }
    return agent_rotation_start(a, "manual", err, err_len);
}

void agent_handlers_bind(struct agent_control_handlers *handlers, struct agent *a)
{
    memset(handlers, 0, sizeof(*handlers));
    handlers->status = handle_status;
    handlers->publish = handle_publish;
    handlers->reconnect = handle_reconnect;
    handlers->rotate = handle_rotate;
    handlers->ctx = a;
}
