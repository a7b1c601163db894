/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration of trustlinkd: one JSON file parsed into a plain struct.
 *
 * Owns: the schema (every key, its type, range and default), the error
 * messages that name the JSON path and what was expected, and the
 * comparison that tells a reload whether the connection must be redone.
 * Must never: read the PIN (only where it comes from), touch the token,
 * the network or global state. Nothing else in the agent reads JSON
 * configuration. The schema is documented field by field in
 * README.md ("Configuration") and by config/trustlink.example.json.
 */
#ifndef TRUSTLINK_AGENT_CONFIG_H
#define TRUSTLINK_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define AGENT_CONFIG_DEFAULT_PATH "/etc/trustlink/trustlink.json"
/* The build defines both (agent/CMakeLists.txt): the module's configure-time
 * absolute path, and its path relative to the install prefix ("" if none). */
#ifndef AGENT_DEFAULT_PKCS11_MODULE
#define AGENT_DEFAULT_PKCS11_MODULE "/usr/lib/x86_64-linux-gnu/pkcs11/libtrustlink-pkcs11.so"
#endif
#ifndef AGENT_PKCS11_MODULE_PREFIX_RELPATH
#define AGENT_PKCS11_MODULE_PREFIX_RELPATH ""
#endif

enum agent_tls_version { AGENT_TLS_1_2 = 0, AGENT_TLS_1_3 = 1 };
enum agent_mqtt_version { AGENT_MQTT_3_1_1 = 0, AGENT_MQTT_5 = 1 };
enum agent_rotation_profile { AGENT_ROTATION_TRUSTLINK = 0, AGENT_ROTATION_AWS = 1 };
enum agent_rotation_retire { AGENT_RETIRE_DESTROY = 0, AGENT_RETIRE_KEEP_PREVIOUS = 1 };

struct agent_identity_config {
    char *module;          /* PKCS#11 module path */
    char *key_uri;         /* pkcs11: URI of the private key */
    char *certificate;     /* pkcs11: URI or PEM file path */
    char *chain_file;      /* optional PEM intermediates, NULL if none */
    char *pin_file;        /* at most one of pin_file / pin_credential */
    char *pin_credential;  /* systemd credential name ($CREDENTIALS_DIRECTORY) */
};

/* broker.proxy: a SOCKS5 proxy between the agent and the broker. */
struct agent_proxy_config {
    char *host;            /* NULL: no proxy */
    unsigned port;
    char *auth_file;       /* at most one of auth_file / auth_credential: */
    char *auth_credential; /* user on line 1, password on line 2 */
};

struct agent_broker_config {
    char *host;
    unsigned port;
    char *ca_file;         /* at least one of ca_file / ca_dir */
    char *ca_dir;
    enum agent_tls_version tls_min_version;
    enum agent_mqtt_version mqtt_version;
    unsigned keepalive_s;
    char *client_id;       /* defaults to device_id */
    unsigned char *alpn;   /* broker.alpn in ALPN wire format, NULL if none */
    size_t alpn_len;
    struct agent_proxy_config proxy;
};

struct agent_reconnect_config {
    unsigned initial_ms;
    unsigned maximum_ms;
    bool jitter;           /* "full" jitter (true) or "none" */
    unsigned stable_reset_ms;
};

struct agent_control_section {
    char *path;
    mode_t mode;
    /* rotate, reconnect and publish (besides root and the agent's uid). */
    uid_t *admin_uids;
    size_t n_admin_uids;
    gid_t *admin_gids;
    size_t n_admin_gids;
    /* publish only. */
    uid_t *publish_uids;
    size_t n_publish_uids;
    gid_t *publish_gids;
    size_t n_publish_gids;
};

/* How the delivery queue keeps accepted QoS 1/2 messages (docs/delivery.md). */
enum agent_queue_durability {
    AGENT_DURABILITY_FSYNC,   /* "ok" only once the message is on disk (group commit) */
    AGENT_DURABILITY_BATCH,   /* on disk within queue_batch_ms of the "ok" */
    AGENT_DURABILITY_MEMORY,  /* in memory only: lost with the process */
};

struct agent_telemetry_config {
    unsigned heartbeat_interval_s;  /* 0: no heartbeat */
    char *topic_prefix;             /* expanded: no template left */
    char *status_topic;             /* full topic, expanded */
    char *heartbeat_topic;          /* full topic, expanded */
    size_t queue_max_messages;
    size_t queue_max_bytes;
    enum agent_queue_durability queue_durability;
    unsigned queue_batch_ms;        /* batch mode: the sync interval */
};

/* Key rotation. Always filled: an absent section gives enabled=false and
 * every default, so all strings but issuing_ca_file and subject are
 * non-NULL. None of it affects agent_config_connection_changed. */
struct agent_rotation_config {
    bool enabled;                 /* section present and "enabled" not false */
    enum agent_rotation_profile profile;
    char *request_topic;          /* expanded: no {device_id} left */
    char *accepted_topic;
    char *rejected_topic;
    char *issuing_ca_file;        /* required when enabled */
    char *subject;                /* NULL: use the current certificate's subject */
    char *state_dir;              /* journal directory */
    unsigned answer_timeout_ms;
    unsigned max_attempts;        /* CSR publications per rotation */
    enum agent_rotation_retire retire;
    bool auto_renew;
    int64_t renew_floor_s;
    unsigned check_interval_ms;
    int64_t jitter_cap_s;
    int64_t min_interval_s;
    int64_t retry_base_s;
    int64_t retry_max_s;
    char *probe_client_id;
    /* profile "aws": RegisterThing activation after create-from-csr
     * (rotation.aws). activation false: no RegisterThing (a CA that
     * issues active certificates); then template may be NULL. */
    bool aws_activation;
    char *aws_template;           /* provisioning template name */
    size_t aws_param_count;
    char **aws_param_names;
    char **aws_param_values;      /* may hold {device_id} and {serial} */
};

struct agent_config {
    char *device_id;
    /* The agent's state directory: the delivery queue's file and, unless
     * rotation.state_dir says otherwise, the rotation journal. */
    char *state_dir;
    enum agent_log_level log_level;
    struct agent_identity_config identity;
    struct agent_broker_config broker;
    struct agent_reconnect_config reconnect;
    struct agent_control_section control;
    struct agent_telemetry_config telemetry;
    struct agent_rotation_config rotation;
};

/* Parses JSON text. 0 on success; -1 with err filled ("path: expected
 * ..., got ..."). out is untouched on failure. */
int agent_config_parse(const char *text, size_t len, struct agent_config *out,
                       char *err, size_t err_len);
/* Reads and parses a file; errors are prefixed with the path. */
/* identity.module's default: PREFIX/<module dir>/libtrustlink-pkcs11.so
 * where PREFIX is the parent of the running executable's directory, if
 * that file exists; else AGENT_DEFAULT_PKCS11_MODULE. */
void agent_default_pkcs11_module(char *buf, size_t len);
int agent_config_load(const char *path, struct agent_config *out, char *err, size_t err_len);
void agent_config_free(struct agent_config *cfg);

/* True when a reload from a to b must rebuild the identity and the
 * connection (identity, broker, client id or the status topic changed). */
bool agent_config_connection_changed(const struct agent_config *a, const struct agent_config *b);

#endif
