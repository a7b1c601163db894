/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON configuration parser of trustlinkd (schema in config.h and
 * docs/agent.md "Configuration").
 *
 * Owns: walking the json-c tree once, checking every key against the
 * schema, filling struct agent_config with copies (the json-c tree is
 * freed before returning).
 * Must never: accept an unknown key, a wrong type or an out-of-range
 * value silently; read the PIN file; log (errors go to the caller).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "config_reader.h"
#include "json_strict.h"
#include "net_options.h"
#include "csr.h"
#include "uri.h"

#define MAX_ID_LIST 64

static bool is_device_id(const char *s)
{
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    }
    return true;
}

static bool is_pkcs11_uri(const char *s)
{
    return strncmp(s, "pkcs11:", 7) == 0;
}

static bool is_absolute_path(const char *s)
{
    return s[0] == '/';
}

static bool is_cert_source(const char *s)
{
    return is_pkcs11_uri(s) || is_absolute_path(s);
}

/* A credential name as systemd accepts it: no slash, not "." or "..". */
static bool is_credential_name(const char *s)
{
    return strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static bool is_host(const char *s)
{
    for (; *s; s++) {
        if (*s <= ' ' || *s == '/' || *s == '@')
            return false;
    }
    return true;
}

/* MQTT topic text without wildcards; templates are checked after expansion. */
static bool is_topic_text(const char *s)
{
    return strchr(s, '+') == NULL && strchr(s, '#') == NULL && s[0] != '/' &&
           s[strlen(s) - 1] != '/';
}

static bool is_octal_mode(const char *s)
{
    char *end = NULL;
    unsigned long v;

    if (s[0] != '0' || strlen(s) != 4)
        return false;
    errno = 0;
    v = strtoul(s, &end, 8);
    return errno == 0 && *end == '\0' && v <= 0777;
}

void agent_default_pkcs11_module(char *buf, size_t len)
{
    const char *rel = AGENT_PKCS11_MODULE_PREFIX_RELPATH;
    char exe[PATH_MAX];
    ssize_t n;

    snprintf(buf, len, "%s", AGENT_DEFAULT_PKCS11_MODULE);
    if (rel[0] == '\0')
        return;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    /* PREFIX/sbin/trustlinkd or PREFIX/bin/trustlinkctl -> PREFIX */
    for (int level = 0; level < 2; level++) {
        char *slash = strrchr(exe, '/');
        if (!slash || slash == exe)
            return;
        *slash = '\0';
    }
    {
        char candidate[PATH_MAX];
        int w = snprintf(candidate, sizeof(candidate), "%s/%s", exe, rel);

        if (w > 0 && (size_t)w < sizeof(candidate) && (size_t)w < len &&
            access(candidate, F_OK) == 0)
            snprintf(buf, len, "%s", candidate);
    }
}

static int parse_identity(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    static const char *const keys[] = {"module", "key", "certificate", "chain_file",
                                       "pin_file", "pin_credential", NULL};
    struct json_object *sec = NULL;
    struct agent_identity_config *id = &cfg->identity;
    char default_module[PATH_MAX];
    char msg[256];

    agent_default_pkcs11_module(default_module, sizeof(default_module));
    if (cfg_get_section(r, root, "identity", true, &sec) != 0 ||
        cfg_check_keys(r, sec, "identity", keys) != 0)
        return -1;
    if (cfg_get_string(r, sec, "identity", "module", false, "an absolute path of a PKCS#11 module",
                       PATH_MAX, is_absolute_path, default_module, &id->module) != 0 ||
        cfg_get_string(r, sec, "identity", "key", true,
                       "a pkcs11: URI naming the private key (RFC 7512)", 4096, is_pkcs11_uri, NULL,
                       &id->key_uri) != 0 ||
        cfg_get_string(r, sec, "identity", "certificate", true,
                       "a pkcs11: URI or an absolute path of a PEM file", 4096, is_cert_source, NULL,
                       &id->certificate) != 0 ||
        cfg_get_string(r, sec, "identity", "chain_file", false,
                       "an absolute path of a PEM file of intermediate certificates", PATH_MAX,
                       is_absolute_path, NULL, &id->chain_file) != 0 ||
        cfg_get_string(r, sec, "identity", "pin_file", false, "an absolute path of a PIN file",
                       PATH_MAX, is_absolute_path, NULL, &id->pin_file) != 0 ||
        cfg_get_string(r, sec, "identity", "pin_credential", false,
                       "a systemd credential name (no '/')", 255, is_credential_name, NULL,
                       &id->pin_credential) != 0)
        return -1;
    if (id->pin_file && id->pin_credential)
        return cfg_fail(r, "identity", "expected at most one of \"pin_file\" and \"pin_credential\", "
                                   "got both");
    if (agent_uri_refuse_pin_value(id->key_uri, msg, sizeof(msg)) != 0)
        return cfg_fail(r, "identity.key", "%s", msg);
    if (is_pkcs11_uri(id->certificate) &&
        agent_uri_refuse_pin_value(id->certificate, msg, sizeof(msg)) != 0)
        return cfg_fail(r, "identity.certificate", "%s", msg);
    return 0;
}

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
                       is_absolute_path, NULL, &p->auth_file) != 0 ||
        cfg_get_string(r, sec, "broker", "proxy_auth_credential", false,
                       "a systemd credential name of 1-64 characters [A-Za-z0-9._-]", 64,
                       is_device_id, NULL, &p->auth_credential) != 0)
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

static int parse_broker(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
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
    if (cfg_get_string(r, sec, "broker", "host", true, "a host name or IP address", 253, is_host,
                       NULL, &b->host) != 0 ||
        cfg_get_uint(r, sec, "broker", "port", 1, 65535, 8883, &port) != 0 ||
        cfg_get_string(r, sec, "broker", "ca_file", false, "an absolute path of a PEM CA file",
                       PATH_MAX, is_absolute_path, NULL, &b->ca_file) != 0 ||
        cfg_get_string(r, sec, "broker", "ca_dir", false,
                       "an absolute path of a hashed CA directory", PATH_MAX, is_absolute_path, NULL,
                       &b->ca_dir) != 0 ||
        cfg_get_choice(r, sec, "broker", "tls_min_version", tls_names, 0, &tls) != 0 ||
        cfg_get_choice(r, sec, "broker", "mqtt_version", mqtt_names, 0, &mqtt) != 0 ||
        cfg_get_uint(r, sec, "broker", "keepalive", 5, 65535, 60, &keepalive) != 0 ||
        cfg_get_string(r, sec, "broker", "client_id", false,
                       "an MQTT client id of 1-64 characters [A-Za-z0-9._-]", 64, is_device_id,
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

static int parse_reconnect(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
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

/* admin_uids / publish_gids ...: integers or user/group names. */
static int get_id_list(struct cfg_reader *r, struct json_object *sec, const char *key, bool groups,
                       unsigned **out, size_t *n_out)
{
    char where[CFG_PATH_MAX];
    char buf[64];
    bool present;
    struct json_object *val;
    const char *what = groups ? "an array of group names or gids" : "an array of user names or uids";
    unsigned *ids = NULL;
    size_t n;

    cfg_join(where, "control", key);
    *out = NULL;
    *n_out = 0;
    val = sec ? cfg_member(sec, key, &present) : (present = false, NULL);
    if (!present)
        return 0;
    if (!json_object_is_type(val, json_type_array))
        return cfg_fail(r, where, "expected %s, got %s", what, cfg_got(val, buf, sizeof(buf)));
    n = json_object_array_length(val);
    if (n > MAX_ID_LIST)
        return cfg_fail(r, where, "expected at most %d entries, got %zu", MAX_ID_LIST, n);
    if (n == 0)
        return 0;
    ids = calloc(n, sizeof(*ids));
    if (!ids)
        return cfg_fail(r, where, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct json_object *item = json_object_array_get_idx(val, i);
        char item_path[CFG_PATH_MAX + 32];

        snprintf(item_path, sizeof(item_path), "%s[%zu]", where, i);
        if (json_object_is_type(item, json_type_int)) {
            int64_t v = json_object_get_int64(item);

            if (v < 0 || v >= (int64_t)UINT32_MAX) {
                free(ids);
                return cfg_fail(r, item_path, "expected an id 0-%u, got %s", UINT32_MAX - 1,
                                cfg_got(item, buf, sizeof(buf)));
            }
            ids[i] = (unsigned)v;
        } else if (json_object_is_type(item, json_type_string)) {
            const char *name = json_object_get_string(item);

            if (groups) {
                struct group *gr = getgrnam(name);
                if (!gr) {
                    free(ids);
                    return cfg_fail(r, item_path, "expected an existing group, got \"%s\"", name);
                }
                ids[i] = gr->gr_gid;
            } else {
                struct passwd *pw = getpwnam(name);
                if (!pw) {
                    free(ids);
                    return cfg_fail(r, item_path, "expected an existing user, got \"%s\"", name);
                }
                ids[i] = pw->pw_uid;
            }
        } else {
            free(ids);
            return cfg_fail(r, item_path, "expected a %s name or number, got %s",
                            groups ? "group" : "user", cfg_got(item, buf, sizeof(buf)));
        }
    }
    *out = ids;
    *n_out = n;
    return 0;
}

static int parse_control(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    /* allowed_uids/allowed_gids: the names before the privilege split;
     * they keep their meaning (every command), i.e. admin_*. */
    static const char *const keys[] = {"path", "mode", "admin_uids", "admin_gids",
                                       "publish_uids", "publish_gids", "allowed_uids",
                                       "allowed_gids", NULL};
    struct json_object *sec = NULL;
    struct agent_control_section *c = &cfg->control;
    char *mode = NULL;
    unsigned *admin_uids = NULL, *admin_gids = NULL, *pub_uids = NULL, *pub_gids = NULL;
    const char *uid_key = "admin_uids", *gid_key = "admin_gids";
    int rc = -1;

    if (cfg_get_section(r, root, "control", false, &sec) != 0 ||
        (sec && cfg_check_keys(r, sec, "control", keys) != 0))
        return -1;
    if (sec && json_object_object_get_ex(sec, "allowed_uids", NULL)) {
        if (json_object_object_get_ex(sec, "admin_uids", NULL))
            return cfg_fail(r, "control.allowed_uids", "is the old name of admin_uids: give one");
        uid_key = "allowed_uids";
    }
    if (sec && json_object_object_get_ex(sec, "allowed_gids", NULL)) {
        if (json_object_object_get_ex(sec, "admin_gids", NULL))
            return cfg_fail(r, "control.allowed_gids", "is the old name of admin_gids: give one");
        gid_key = "allowed_gids";
    }
    if (cfg_get_string(r, sec, "control", "path", false, "an absolute path of the control socket",
                       107, is_absolute_path, "/run/trustlink/control.sock", &c->path) != 0 ||
        cfg_get_string(r, sec, "control", "mode", false, "an octal file mode such as \"0660\"", 4,
                       is_octal_mode, "0660", &mode) != 0 ||
        get_id_list(r, sec, uid_key, false, &admin_uids, &c->n_admin_uids) != 0 ||
        get_id_list(r, sec, gid_key, true, &admin_gids, &c->n_admin_gids) != 0 ||
        get_id_list(r, sec, "publish_uids", false, &pub_uids, &c->n_publish_uids) != 0 ||
        get_id_list(r, sec, "publish_gids", true, &pub_gids, &c->n_publish_gids) != 0)
        goto cleanup;
    c->mode = (mode_t)strtoul(mode, NULL, 8);
    c->admin_uids = (uid_t *)admin_uids;
    c->admin_gids = (gid_t *)admin_gids;
    c->publish_uids = (uid_t *)pub_uids;
    c->publish_gids = (gid_t *)pub_gids;
    admin_uids = admin_gids = pub_uids = pub_gids = NULL;
    rc = 0;
cleanup:
    free(mode);
    free(admin_uids);
    free(admin_gids);
    free(pub_uids);
    free(pub_gids);
    return rc;
}

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
static int get_topic(struct cfg_reader *r, struct json_object *obj, const char *path,
                     const char *key, const char *what, size_t max_len, const char *fallback,
                     const struct agent_config *cfg, char **out)
{
    char where[CFG_PATH_MAX];
    char *tmpl = NULL;

    if (cfg_get_string(r, obj, path, key, false, what, max_len, is_topic_text, fallback, &tmpl) != 0)
        return -1;
    *out = expand_template(tmpl, cfg);
    free(tmpl);
    if (*out == NULL) {
        cfg_join(where, path, key);
        return cfg_fail(r, where, "expected at most 511 bytes once expanded");
    }
    return 0;
}

static int parse_telemetry(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    static const char *const keys[] = {"heartbeat_interval", "topic_prefix", "status_topic",
                                       "heartbeat_topic", "queue_max_messages", "queue_max_bytes",
                                       NULL};
    struct json_object *sec = NULL;
    struct agent_telemetry_config *t = &cfg->telemetry;
    char *status = NULL, *heartbeat = NULL;
    unsigned long interval, max_messages, max_bytes;
    size_t len;
    int rc = -1;

    if (cfg_get_section(r, root, "telemetry", false, &sec) != 0 ||
        (sec && cfg_check_keys(r, sec, "telemetry", keys) != 0))
        return -1;
    if (cfg_get_uint(r, sec, "telemetry", "heartbeat_interval", 0, 86400, 60, &interval) != 0 ||
        get_topic(r, sec, "telemetry", "topic_prefix",
                  "a topic without wildcards or leading/trailing '/', may use {device_id} "
                  "and {client_id}", 200, "trustlink/{device_id}", cfg, &t->topic_prefix) != 0 ||
        get_topic(r, sec, "telemetry", "status_topic",
                  "a topic below topic_prefix without wildcards", 100, "status", cfg,
                  &status) != 0 ||
        get_topic(r, sec, "telemetry", "heartbeat_topic",
                  "a topic below topic_prefix without wildcards", 100, "heartbeat", cfg,
                  &heartbeat) != 0 ||
        cfg_get_uint(r, sec, "telemetry", "queue_max_messages", 1, 100000, 100, &max_messages) != 0 ||
        cfg_get_uint(r, sec, "telemetry", "queue_max_bytes", 1024, 64UL * 1024 * 1024, 256 * 1024,
                     &max_bytes) != 0)
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
    rc = 0;
cleanup:
    free(status);
    free(heartbeat);
    return rc;
}

#define ROTATION_TOPIC_WHAT \
    "a topic without wildcards or leading/trailing '/', may use {device_id} and {client_id}"
#define ROTATION_DEFAULT_STATE_DIR "/var/lib/trustlink"

/* The default journal directory: the first entry of $STATE_DIRECTORY
 * (systemd StateDirectory=; ':'-separated) when it is an absolute path. */
static void default_state_dir(char *out, size_t len)
{
    const char *env = getenv("STATE_DIRECTORY");
    size_t n;

    snprintf(out, len, "%s", ROTATION_DEFAULT_STATE_DIR);
    if (env == NULL || env[0] != '/')
        return;
    n = strcspn(env, ":");
    if (n < len)
        snprintf(out, len, "%.*s", (int)n, env);
}

/* rotation.subject must be a subject agent_csr_parse_subject accepts. */
static int check_subject(struct cfg_reader *r, struct json_object *sec, const char *what,
                         const char *subject)
{
    char detail[256];
    char buf[64];
    X509_NAME *name = NULL;
    int rc;

    ERR_set_mark();
    rc = agent_csr_parse_subject(subject, &name, detail, sizeof(detail));
    ERR_pop_to_mark();
    X509_NAME_free(name);
    if (rc != 0)
        return cfg_fail(r, "rotation.subject", "expected %s, got %s (%s)", what,
                        cfg_got(json_object_object_get(sec, "subject"), buf, sizeof(buf)), detail);
    return 0;
}

static int parse_rotation(struct cfg_reader *r, struct json_object *root, struct agent_config *cfg)
{
    static const char *const keys[] = {
        "enabled", "profile", "request_topic", "accepted_topic", "rejected_topic",
        "issuing_ca_file", "subject", "state_dir", "answer_timeout", "max_attempts", "retire",
        "auto_renew", "renew_floor_days", "check_interval", "jitter_cap", "min_interval",
        "retry_base", "retry_max", "probe_client_id", NULL};
    static const char *const profile_names[] = {"trustlink", "aws", NULL};
    static const char *const retire_names[] = {"destroy", "keep-previous", NULL};
    static const char *const default_request[] = {"trustlink/{device_id}/csr",
                                                  "$aws/certificates/create-from-csr/json"};
    static const char subject_what[] =
        "a subject such as \"/CN=device-001/O=Example\" or \"CN=device-001,O=Example\"";
    struct json_object *sec = NULL;
    struct agent_rotation_config *rot = &cfg->rotation;
    char accepted[600], rejected[600], state_dir[PATH_MAX], probe[80], buf[64];
    unsigned long attempts;
    double floor_days;
    int profile, retire;

    if (cfg_get_section(r, root, "rotation", false, &sec) != 0 ||
        (sec && cfg_check_keys(r, sec, "rotation", keys) != 0))
        return -1;
    if (cfg_get_bool(r, sec, "rotation", "enabled", sec != NULL, &rot->enabled) != 0 ||
        cfg_get_choice(r, sec, "rotation", "profile", profile_names, AGENT_ROTATION_TRUSTLINK,
                       &profile) != 0 ||
        get_topic(r, sec, "rotation", "request_topic", ROTATION_TOPIC_WHAT, 200,
                  default_request[profile], cfg, &rot->request_topic) != 0)
        return -1;
    /* The answer topics default below the expanded request topic (which
     * holds no template: device and client ids have no braces). */
    snprintf(accepted, sizeof(accepted), "%s/accepted", rot->request_topic);
    snprintf(rejected, sizeof(rejected), "%s/rejected", rot->request_topic);
    default_state_dir(state_dir, sizeof(state_dir));
    snprintf(probe, sizeof(probe), "%s-probe", cfg->broker.client_id);
    if (get_topic(r, sec, "rotation", "accepted_topic", ROTATION_TOPIC_WHAT, 200, accepted, cfg,
                  &rot->accepted_topic) != 0 ||
        get_topic(r, sec, "rotation", "rejected_topic", ROTATION_TOPIC_WHAT, 200, rejected, cfg,
                  &rot->rejected_topic) != 0 ||
        cfg_get_string(r, sec, "rotation", "issuing_ca_file", rot->enabled,
                       "a path of a PEM file of the issuing CA certificates", PATH_MAX, NULL, NULL,
                       &rot->issuing_ca_file) != 0 ||
        cfg_get_string(r, sec, "rotation", "subject", false, subject_what, 1024, NULL, NULL,
                       &rot->subject) != 0 ||
        (rot->subject && check_subject(r, sec, subject_what, rot->subject) != 0) ||
        cfg_get_string(r, sec, "rotation", "state_dir", false,
                       "an absolute path of the rotation journal directory", PATH_MAX,
                       is_absolute_path, state_dir, &rot->state_dir) != 0 ||
        cfg_get_seconds(r, sec, "rotation", "answer_timeout", 0.001, 3600, 60,
                        &rot->answer_timeout_ms) != 0 ||
        cfg_get_uint(r, sec, "rotation", "max_attempts", 1, 20, 3, &attempts) != 0 ||
        cfg_get_choice(r, sec, "rotation", "retire", retire_names, AGENT_RETIRE_DESTROY,
                       &retire) != 0 ||
        cfg_get_bool(r, sec, "rotation", "auto_renew", true, &rot->auto_renew) != 0 ||
        cfg_get_number(r, sec, "rotation", "renew_floor_days", "days", 0, 3650, 30,
                       &floor_days) != 0 ||
        cfg_get_seconds(r, sec, "rotation", "check_interval", 0.001, 86400, 3600,
                        &rot->check_interval_ms) != 0 ||
        cfg_get_whole_seconds(r, sec, "rotation", "jitter_cap", 0, 604800, 86400,
                              &rot->jitter_cap_s) != 0 ||
        cfg_get_whole_seconds(r, sec, "rotation", "min_interval", 0, 86400, 60,
                              &rot->min_interval_s) != 0 ||
        cfg_get_whole_seconds(r, sec, "rotation", "retry_base", 1, 86400, 60,
                              &rot->retry_base_s) != 0 ||
        cfg_get_whole_seconds(r, sec, "rotation", "retry_max", 1, 604800, 21600,
                              &rot->retry_max_s) != 0 ||
        cfg_get_string(r, sec, "rotation", "probe_client_id", false,
                       "an MQTT client id of 1-128 bytes", 128, NULL, probe,
                       &rot->probe_client_id) != 0)
        return -1;
    if (rot->retry_max_s < rot->retry_base_s)
        return cfg_fail(r, "rotation.retry_max",
                        "expected at least rotation.retry_base (%lld s), got %lld",
                        (long long)rot->retry_base_s, (long long)rot->retry_max_s);
    if (strcmp(rot->probe_client_id, cfg->broker.client_id) == 0)
        return cfg_fail(r, "rotation.probe_client_id",
                        "expected a client id other than broker.client_id, got %s",
                        cfg_got(json_object_object_get(sec, "probe_client_id"), buf, sizeof(buf)));
    if (strcmp(rot->accepted_topic, rot->request_topic) == 0 ||
        strcmp(rot->rejected_topic, rot->request_topic) == 0 ||
        strcmp(rot->accepted_topic, rot->rejected_topic) == 0)
        return cfg_fail(r, "rotation",
                        "expected distinct request_topic, accepted_topic and rejected_topic, "
                        "got \"%s\", \"%s\", \"%s\"", rot->request_topic, rot->accepted_topic,
                        rot->rejected_topic);
    rot->profile = (enum agent_rotation_profile)profile;
    rot->retire = (enum agent_rotation_retire)retire;
    rot->max_attempts = (unsigned)attempts;
    rot->renew_floor_s = cfg_round_non_negative(floor_days * 86400.0);
    return 0;
}

int agent_config_parse(const char *text, size_t len, struct agent_config *out,
                       char *err, size_t err_len)
{
    static const char *const keys[] = {"device_id", "log_level", "identity", "broker",
                                       "reconnect", "control", "telemetry", "rotation",
                                       NULL};
    static const char *const level_names[] = {"error", "warning", "notice", "info", "debug", NULL};
    struct cfg_reader r = {err, err_len};
    struct json_tokener *tok = NULL;
    struct json_object *root = NULL;
    struct agent_config cfg;
    int level;
    int rc = -1;

    memset(&cfg, 0, sizeof(cfg));
    if (len > 1024 * 1024) {
        cfg_fail(&r, "(file)", "expected at most 1 MiB of JSON, got %zu bytes", len);
        goto cleanup;
    }
    tok = json_tokener_new();
    if (!tok) {
        cfg_fail(&r, "(file)", "out of memory");
        goto cleanup;
    }
    root = json_tokener_parse_ex(tok, text, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) < len) {
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        bool trailing = root && jerr == json_tokener_success;
        size_t at = json_tokener_get_parse_end(tok);
        size_t line = 1;

        for (size_t i = 0; i < at && i < len; i++)
            line += text[i] == '\n';
        cfg_fail(&r, "(file)", "invalid JSON at line %zu: %s", line,
                 trailing ? "unexpected text after the top-level object"
                 : !root && jerr == json_tokener_success ? "incomplete document"
                                                       : json_tokener_error_desc(jerr));
        goto cleanup;
    }
    {
        char dup[256];

        if (tl_json_check_keys(text, len, dup, sizeof(dup)) != 0) {
            cfg_fail(&r, "(file)", "%s", dup);
            goto cleanup;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        char buf[64];
        cfg_fail(&r, "(top level)", "expected an object, got %s", cfg_got(root, buf, sizeof(buf)));
        goto cleanup;
    }
    if (cfg_check_keys(&r, root, "", keys) != 0 ||
        cfg_get_string(&r, root, "", "device_id", true,
                       "a device id of 1-64 characters [A-Za-z0-9._-]", 64, is_device_id, NULL,
                       &cfg.device_id) != 0 ||
        cfg_get_choice(&r, root, "", "log_level", level_names, 3, &level) != 0 ||
        parse_identity(&r, root, &cfg) != 0 || parse_broker(&r, root, &cfg) != 0 ||
        parse_reconnect(&r, root, &cfg) != 0 || parse_control(&r, root, &cfg) != 0 ||
        parse_telemetry(&r, root, &cfg) != 0 || parse_rotation(&r, root, &cfg) != 0)
        goto cleanup;
    cfg.log_level = (enum agent_log_level)(AGENT_LOG_ERR + level);
    *out = cfg;
    memset(&cfg, 0, sizeof(cfg));
    rc = 0;
cleanup:
    agent_config_free(&cfg);
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    return rc;
}

int agent_config_load(const char *path, struct agent_config *out, char *err, size_t err_len)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t cap = 0, used = 0;
    char inner[512];
    struct stat st;
    int fd = -1;
    int rc = -1;

    /* Non-blocking open and a regular file only: a FIFO (or a device)
     * given as the config would otherwise block the daemon forever. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        goto cleanup;
    }
    f = fdopen(fd, "r");
    if (!f) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    for (;;) {
        size_t n;

        if (used + 4096 + 1 > cap) {
            char *bigger;

            cap = cap ? cap * 2 : 8192;
            if (cap > 2 * 1024 * 1024) {
                snprintf(err, err_len, "%s: larger than 1 MiB: not a trustlinkd config", path);
                goto cleanup;
            }
            bigger = realloc(text, cap);
            if (!bigger) {
                snprintf(err, err_len, "%s: out of memory", path);
                goto cleanup;
            }
            text = bigger;
        }
        n = fread(text + used, 1, cap - used - 1, f);
        used += n;
        if (n == 0) {
            if (ferror(f)) {
                snprintf(err, err_len, "%s: read error: %s", path, strerror(errno));
                goto cleanup;
            }
            break;
        }
    }
    text[used] = '\0';
    if (agent_config_parse(text, used, out, inner, sizeof(inner)) != 0) {
        snprintf(err, err_len, "%s: %s", path, inner);
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (f)
        fclose(f);
    free(text);
    return rc;
}

void agent_config_free(struct agent_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->device_id);
    free(cfg->identity.module);
    free(cfg->identity.key_uri);
    free(cfg->identity.certificate);
    free(cfg->identity.chain_file);
    free(cfg->identity.pin_file);
    free(cfg->identity.pin_credential);
    free(cfg->broker.host);
    free(cfg->broker.ca_file);
    free(cfg->broker.ca_dir);
    free(cfg->broker.client_id);
    free(cfg->broker.alpn);
    free(cfg->broker.proxy.host);
    free(cfg->broker.proxy.auth_file);
    free(cfg->broker.proxy.auth_credential);
    free(cfg->control.path);
    free(cfg->control.admin_uids);
    free(cfg->control.admin_gids);
    free(cfg->control.publish_uids);
    free(cfg->control.publish_gids);
    free(cfg->telemetry.topic_prefix);
    free(cfg->telemetry.status_topic);
    free(cfg->telemetry.heartbeat_topic);
    free(cfg->rotation.request_topic);
    free(cfg->rotation.accepted_topic);
    free(cfg->rotation.rejected_topic);
    free(cfg->rotation.issuing_ca_file);
    free(cfg->rotation.subject);
    free(cfg->rotation.state_dir);
    free(cfg->rotation.probe_client_id);
    memset(cfg, 0, sizeof(*cfg));
}

static bool same_string(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool agent_config_connection_changed(const struct agent_config *a, const struct agent_config *b)
{
    const struct agent_identity_config *ia = &a->identity, *ib = &b->identity;
    const struct agent_broker_config *ba = &a->broker, *bb = &b->broker;

    return !same_string(ia->module, ib->module) || !same_string(ia->key_uri, ib->key_uri) ||
           !same_string(ia->certificate, ib->certificate) ||
           !same_string(ia->chain_file, ib->chain_file) ||
           !same_string(ia->pin_file, ib->pin_file) ||
           !same_string(ia->pin_credential, ib->pin_credential) ||
           !same_string(ba->host, bb->host) || ba->port != bb->port ||
           !same_string(ba->ca_file, bb->ca_file) || !same_string(ba->ca_dir, bb->ca_dir) ||
           ba->tls_min_version != bb->tls_min_version || ba->mqtt_version != bb->mqtt_version ||
           ba->keepalive_s != bb->keepalive_s || !same_string(ba->client_id, bb->client_id) ||
           ba->alpn_len != bb->alpn_len ||
           (ba->alpn_len > 0 && memcmp(ba->alpn, bb->alpn, ba->alpn_len) != 0) ||
           !same_string(ba->proxy.host, bb->proxy.host) || ba->proxy.port != bb->proxy.port ||
           !same_string(ba->proxy.auth_file, bb->proxy.auth_file) ||
           !same_string(ba->proxy.auth_credential, bb->proxy.auth_credential) ||
           !same_string(a->telemetry.status_topic, b->telemetry.status_topic);
}
