/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the configuration parser's files share (config.c: top level,
 * identity, control; config_broker.c: broker and reconnect;
 * config_telemetry.c: telemetry, topics and the delivery queue;
 * config_rotation.c: rotation and the state directory).
 *
 * Owns: the value checks every section uses and the section parsers'
 * signatures. Each parser fills its part of struct agent_config and on
 * failure writes "<json.path>: expected ..., got ..." through the reader.
 * Must never: be included outside the configuration parser.
 */
#ifndef TRUSTLINK_AGENT_CONFIG_INTERNAL_H
#define TRUSTLINK_AGENT_CONFIG_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "config_reader.h"

static inline bool cfg_is_device_id(const char *s)
{
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    }
    return true;
}

static inline bool cfg_is_pkcs11_uri(const char *s)
{
    return strncmp(s, "pkcs11:", 7) == 0;
}

static inline bool cfg_is_absolute_path(const char *s)
{
    return s[0] == '/';
}

static inline bool cfg_is_cert_source(const char *s)
{
    return cfg_is_pkcs11_uri(s) || cfg_is_absolute_path(s);
}

/* A credential name as systemd accepts it: no slash, not "." or "..". */
static inline bool cfg_is_credential_name(const char *s)
{
    return strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static inline bool cfg_is_host(const char *s)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s == '/' || *s == '@')
            return false;
    }
    return true;
}

/* MQTT topic text without wildcards; templates are checked after expansion. */
static inline bool cfg_is_topic_text(const char *s)
{
    return strchr(s, '+') == NULL && strchr(s, '#') == NULL && s[0] != '/' &&
           s[strlen(s) - 1] != '/';
}

static inline bool cfg_is_octal_mode(const char *s)
{
    char *end = NULL;
    unsigned long v;

    if (s[0] != '0' || strlen(s) != 4)
        return false;
    errno = 0;
    v = strtoul(s, &end, 8);
    return errno == 0 && *end == '\0' && v <= 0777;
}

/* A topic (no wildcards, no leading/trailing '/') with {device_id} and
 * {client_id} expanded; fallback (a template too) when absent. */
int cfg_get_topic(struct cfg_reader *r, struct json_object *obj, const char *path,
                  const char *key, const char *what, size_t max_len, const char *fallback,
                  const struct agent_config *cfg, char **out);

int agent_config_parse_broker(struct cfg_reader *r, struct json_object *root,
                              struct agent_config *cfg);
int agent_config_parse_reconnect(struct cfg_reader *r, struct json_object *root,
                                 struct agent_config *cfg);
int agent_config_parse_telemetry(struct cfg_reader *r, struct json_object *root,
                                 struct agent_config *cfg);
/* Also fills cfg->state_dir (the top-level key, read after rotation). */
int agent_config_parse_rotation(struct cfg_reader *r, struct json_object *root,
                                struct agent_config *cfg);

#endif
