/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "broker" and "reconnect" sections of the configuration (see
 * config_internal.h): where and how the agent connects.
 * Must never: accept an unknown key or an out-of-range value silently.
 */
#include "config_internal.h"

#include <limits.h>
#include <stdio.h>

#include "net_options.h"

/* broker.alpn: an array of protocol names, kept in ALPN wire format. */
static int parse_alpn(struct cfg_reader *r, struct json_object *sec, struct agent_broker_config *b)
{
    const char *names[AGENT_ALPN_MAX_NAMES];
    char buf[64];
    char inner[160];
    bool present;
    struct json_object *val = cfg_member(sec, "alpn", &present);
    size_t n;

    if (!present)
        return 0;
    if (!json_object_is_type(val, json_type_array))
        return cfg_fail(r, "broker.alpn", "expected an array of ALPN protocol names such as "
                        "[\"x-amzn-mqtt-ca\"], got %s", cfg_got(val, buf, sizeof(buf)));
    n = json_object_array_length(val);
    if (n == 0 || n > AGENT_ALPN_MAX_NAMES)
        return cfg_fail(r, "broker.alpn", "expected 1-%d protocol names, got %zu",
                        AGENT_ALPN_MAX_NAMES, n);
    for (size_t i = 0; i < n; i++) {
        struct json_object *item = json_object_array_get_idx(val, i);
        if (!json_object_is_type(item, json_type_string) ||
            strlen(json_object_get_string(item)) != (size_t)json_object_get_string_len(item) ||
            !agent_alpn_name_ok(json_object_get_string(item)))
            return cfg_fail(r, "broker.alpn", "entry %zu: expected a protocol name of 1-255 "
                            "printable ASCII characters without spaces, got %s", i,
                            cfg_got(item, buf, sizeof(buf)));
        names[i] = json_object_get_string(item);
    }
    if (agent_alpn_encode(names, n, &b->alpn, &b->alpn_len, inner, sizeof(inner)) != 0)
        return cfg_fail(r, "broker.alpn", "%s", inner);
    return 0;
}

/* broker.proxy and its credentials. */
static int parse_proxy(struct cfg_reader *r, struct json_object *sec, struct agent_broker_config *b)
{
    char inner[200];
    char *url = NULL;
    struct agent_proxy_config *p = &b->proxy;
    int rc = -1;

    if (cfg_get_string(r, sec, "broker", "proxy", false, "a proxy URL socks5://HOST:PORT", 300,
                       NULL, NULL, &url) != 0 ||
        cfg_get_string(r, sec, "broker", "proxy_auth_file", false,
                       "an absolute path of the proxy credentials file", PATH_MAX,
                       cfg_is_absolute_path, NULL, &p->auth_file) != 0 ||
        cfg_get_string(r, sec, "broker", "proxy_auth_credential", false,
                       "a systemd credential name of 1-64 characters [A-Za-z0-9._-]", 64,
                       cfg_is_device_id, NULL, &p->auth_credential) != 0)
        goto cleanup;
    if (p->auth_file && p->auth_credential) {
        cfg_fail(r, "broker", "expected at most one of \"proxy_auth_file\" and "
                 "\"proxy_auth_credential\", got both");
        goto cleanup;
    }
    if (url == NULL) {
        if (p->auth_file || p->auth_credential) {
            cfg_fail(r, "broker", "proxy credentials are set but \"proxy\" is not");
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }
    if (agent_proxy_parse(url, &p->host, &p->port, inner, sizeof(inner)) != 0) {
        cfg_fail(r, "broker.proxy", "%s", inner);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(url);
    return rc;
}

int agent_config_parse_broker(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    static const char *const keys[] = {"host", "port", "ca_file", "ca_dir", "tls_min_version",
                                       "mqtt_version", "keepalive", "client_id", "alpn",
                                       "proxy", "proxy_auth_file", "proxy_auth_credential",
                                       NULL};
    static const char *const tls_names[] = {"1.2", "1.3", NULL};
    static const char *const mqtt_names[] = {"3.1.1", "5", NULL};
    struct json_object *sec = NULL;
    struct agent_broker_config *b = &cfg->broker;
    unsigned long port, keepalive;
    int tls, mqtt;

    if (cfg_get_section(r, root, "broker", true, &sec) != 0 ||
        cfg_check_keys(r, sec, "broker", keys) != 0)
        return -1;
    if (cfg_get_string(r, sec, "broker", "host", true, "a host name or IP address", 253, cfg_is_host,
                       NULL, &b->host) != 0 ||
        cfg_get_uint(r, sec, "broker", "port", 1, 65535, 8883, &port) != 0 ||
        cfg_get_string(r, sec, "broker", "ca_file", false, "an absolute path of a PEM CA file",
                       PATH_MAX, cfg_is_absolute_path, NULL, &b->ca_file) != 0 ||
        cfg_get_string(r, sec, "broker", "ca_dir", false,
                       "an absolute path of a hashed CA directory", PATH_MAX, cfg_is_absolute_path, NULL,
                       &b->ca_dir) != 0 ||
        cfg_get_choice(r, sec, "broker", "tls_min_version", tls_names, 0, &tls) != 0 ||
        cfg_get_choice(r, sec, "broker", "mqtt_version", mqtt_names, 0, &mqtt) != 0 ||
        cfg_get_uint(r, sec, "broker", "keepalive", 5, 65535, 60, &keepalive) != 0 ||
        cfg_get_string(r, sec, "broker", "client_id", false,
                       "an MQTT client id of 1-64 characters [A-Za-z0-9._-]", 64, cfg_is_device_id,
                       cfg->device_id, &b->client_id) != 0 ||
        parse_alpn(r, sec, b) != 0 || parse_proxy(r, sec, b) != 0)
        return -1;
    if (!b->ca_file && !b->ca_dir)
        return cfg_fail(r, "broker", "expected \"ca_file\" or \"ca_dir\" (the broker is always "
                                 "verified), got neither");
    b->port = (unsigned)port;
    b->keepalive_s = (unsigned)keepalive;
    b->tls_min_version = (enum agent_tls_version)tls;
    b->mqtt_version = (enum agent_mqtt_version)mqtt;
    return 0;
}

int agent_config_parse_reconnect(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    static const char *const keys[] = {"initial", "maximum", "jitter", "stable_reset", NULL};
    static const char *const jitter_names[] = {"none", "full", NULL};
    struct json_object *sec = NULL;
    struct agent_reconnect_config *rc = &cfg->reconnect;
    int jitter;

    if (cfg_get_section(r, root, "reconnect", false, &sec) != 0 ||
        (sec && cfg_check_keys(r, sec, "reconnect", keys) != 0))
        return -1;
    if (cfg_get_seconds(r, sec, "reconnect", "initial", 0.01, 3600, 1, &rc->initial_ms) != 0 ||
        cfg_get_seconds(r, sec, "reconnect", "maximum", 0.01, 86400, 120, &rc->maximum_ms) != 0 ||
        cfg_get_choice(r, sec, "reconnect", "jitter", jitter_names, 1, &jitter) != 0 ||
        cfg_get_seconds(r, sec, "reconnect", "stable_reset", 0, 86400, 30, &rc->stable_reset_ms) != 0)
        return -1;
    if (rc->maximum_ms < rc->initial_ms)
        return cfg_fail(r, "reconnect.maximum", "expected at least reconnect.initial (%g s), got %g",
                        rc->initial_ms / 1000.0, rc->maximum_ms / 1000.0);
    rc->jitter = jitter == 1;
    return 0;
}
