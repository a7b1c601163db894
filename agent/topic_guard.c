/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's own topics, kept out of reach of apps (see topic_guard.h). */
#include "topic_guard.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

bool agent_topic_within(const char *topic, const char *reserved)
{
    size_t n;

    if (!topic || !reserved || reserved[0] == '\0')
        return false;
    n = strlen(reserved);
    /* A reserved topic written with a trailing '/' still ends at a level. */
    while (n > 1 && reserved[n - 1] == '/')
        n--;
    return strncmp(topic, reserved, n) == 0 && (topic[n] == '\0' || topic[n] == '/');
}

int agent_topic_check_app(const struct agent_config *cfg, const char *full_topic, char *err,
                          size_t err_len)
{
    const struct {
        const char *what;
        const char *topic;
    } own[] = {
        {"the agent's status topic", cfg->telemetry.status_topic},
        {"the agent's heartbeat topic", cfg->telemetry.heartbeat_topic},
        {"the rotation request topic", cfg->rotation.request_topic},
        {"the rotation answer topic", cfg->rotation.accepted_topic},
        {"the rotation answer topic", cfg->rotation.rejected_topic},
    };

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        if (agent_topic_within(full_topic, own[i].topic)) {
            snprintf(err, err_len, "topic %s is reserved: it is %s%s (%s); apps cannot publish "
                                   "there",
                     full_topic, strcmp(full_topic, own[i].topic) == 0 ? "" : "below ",
                     own[i].what, own[i].topic);
            return -1;
        }
    }
    return 0;
}
