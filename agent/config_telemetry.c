/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "telemetry" section of the configuration (see config_internal.h):
 * topics, heartbeat, and the bounds and durability of the delivery queue
 * (docs/delivery.md).
 * Must never: accept an unknown key or an out-of-range value silently.
 */
#include "config_internal.h"

#include <stdio.h>
/* Replaces {device_id} and {client_id} in tmpl. NULL on overflow. */
static char *expand_template(const char *tmpl, const struct agent_config *cfg)
{
    char out[512];
    size_t used = 0;

    while (*tmpl) {
        const char *value = NULL;
        size_t skip = 1;

        if (strncmp(tmpl, "{device_id}", 11) == 0) {
            value = cfg->device_id;
            skip = 11;
        } else if (strncmp(tmpl, "{client_id}", 11) == 0) {
            value = cfg->broker.client_id;
            skip = 11;
        }
        if (value) {
            size_t len = strlen(value);
            if (used + len >= sizeof(out))
                return NULL;
            memcpy(out + used, value, len);
            used += len;
        } else {
            if (used + 1 >= sizeof(out))
                return NULL;
            out[used++] = *tmpl;
        }
        tmpl += skip;
    }
    out[used] = '\0';
    return strdup(out);
}

/* A topic (no wildcards, no leading/trailing '/') with its templates
 * expanded; fallback (a template too) when absent. */
int cfg_get_topic(struct cfg_reader *r, struct json_object *obj, const char *path,
                     const char *key, const char *what, size_t max_len, const char *fallback,
                     const struct agent_config *cfg, char **out)
{
    char where[CFG_PATH_MAX];
    char *tmpl = NULL;

    if (cfg_get_string(r, obj, path, key, false, what, max_len, cfg_is_topic_text, fallback, &tmpl) != 0)
        return -1;
    *out = expand_template(tmpl, cfg);
    free(tmpl);
    if (*out == NULL) {
        cfg_join(where, path, key);
        return cfg_fail(r, where, "expected at most 511 bytes once expanded");
    }
    return 0;
}

int agent_config_parse_telemetry(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    static const char *const keys[] = {"heartbeat_interval", "topic_prefix", "status_topic",
                                       "heartbeat_topic", "queue_max_messages", "queue_max_bytes",
                                       "queue_durability", "queue_batch_ms", NULL};
    static const char *const durability_names[] = {"fsync", "batch", "memory", NULL};
    struct json_object *sec = NULL;
    struct agent_telemetry_config *t = &cfg->telemetry;
    char *status = NULL, *heartbeat = NULL;
    unsigned long interval, max_messages, max_bytes, batch_ms;
    int durability;
    size_t len;
    int rc = -1;

    if (cfg_get_section(r, root, "telemetry", false, &sec) != 0 ||
        (sec && cfg_check_keys(r, sec, "telemetry", keys) != 0))
        return -1;
    if (cfg_get_uint(r, sec, "telemetry", "heartbeat_interval", 0, 86400, 60, &interval) != 0 ||
        cfg_get_topic(r, sec, "telemetry", "topic_prefix",
                  "a topic without wildcards or leading/trailing '/', may use {device_id} "
                  "and {client_id}", 200, "trustlink/{device_id}", cfg, &t->topic_prefix) != 0 ||
        cfg_get_topic(r, sec, "telemetry", "status_topic",
                  "a topic below topic_prefix without wildcards", 100, "status", cfg,
                  &status) != 0 ||
        cfg_get_topic(r, sec, "telemetry", "heartbeat_topic",
                  "a topic below topic_prefix without wildcards", 100, "heartbeat", cfg,
                  &heartbeat) != 0 ||
        cfg_get_uint(r, sec, "telemetry", "queue_max_messages", 1, 100000, 100, &max_messages) != 0 ||
        cfg_get_uint(r, sec, "telemetry", "queue_max_bytes", 1024, 64UL * 1024 * 1024, 256 * 1024,
                     &max_bytes) != 0 ||
        cfg_get_choice(r, sec, "telemetry", "queue_durability", durability_names,
                       AGENT_DURABILITY_FSYNC, &durability) != 0 ||
        cfg_get_uint(r, sec, "telemetry", "queue_batch_ms", 1, 60000, 200, &batch_ms) != 0)
        goto cleanup;
    len = strlen(t->topic_prefix) + 2;
    t->status_topic = malloc(len + strlen(status));
    t->heartbeat_topic = malloc(len + strlen(heartbeat));
    if (!t->status_topic || !t->heartbeat_topic) {
        cfg_fail(r, "telemetry", "out of memory");
        goto cleanup;
    }
    sprintf(t->status_topic, "%s/%s", t->topic_prefix, status);
    sprintf(t->heartbeat_topic, "%s/%s", t->topic_prefix, heartbeat);
    t->heartbeat_interval_s = (unsigned)interval;
    t->queue_max_messages = max_messages;
    t->queue_max_bytes = max_bytes;
    t->queue_durability = (enum agent_queue_durability)durability;
    t->queue_batch_ms = (unsigned)batch_ms;
    rc = 0;
cleanup:
    free(status);
    free(heartbeat);
    return rc;
}
