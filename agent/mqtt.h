/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MQTT client: a thin wrapper over one libmosquitto client driven by
 * the agent's event loop (no libmosquitto thread).
 *
 * Owns: the struct mosquitto (created per connection settings and per
 * SSL_CTX: a new SSL_CTX means a new client, because libmosquitto leaks
 * an overwritten SSL_CTX; integration-facts.md 2), its last will, and the
 * last error line libmosquitto logged.
 * Must never: call mosquitto_tls_set/tls_opts_set/tls_insecure_set (they
 * would break our SSL_CTX), start libmosquitto's thread, or block (the
 * connect is asynchronous; only a host name lookup may block).
 */
#ifndef TRUSTLINK_AGENT_MQTT_H
#define TRUSTLINK_AGENT_MQTT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"

struct agent_mqtt_callbacks {
    /* CONNACK received; rc 0 = accepted. */
    void (*connected)(void *ctx, int rc);
    /* Connection closed; rc 0 = after our disconnect. */
    void (*disconnected)(void *ctx, int rc);
    /* A QoS 0 message was written (inside agent_mqtt_publish, before it
     * returns: integration-facts.md 7) or a QoS 1/2 one acknowledged. */
    void (*published)(void *ctx, int mid);
    /* Optional: a message arrived on a subscribed topic (payload is only
     * valid during the call). */
    void (*message)(void *ctx, const char *topic, const void *payload, size_t len);
    /* Optional: SUBACK for the subscribe with this mid (granted_ok false
     * when the broker refused the filter). */
    void (*subscribed)(void *ctx, int mid, bool granted_ok);
    void *ctx;
};

struct agent_proxy_config;

struct agent_mqtt_params {
    const char *client_id;
    const char *host;
    unsigned port;
    unsigned keepalive_s;
    enum agent_mqtt_version version;
    const char *will_topic;     /* retained "offline", QoS 1; NULL: no will */
    SSL_CTX *ssl_ctx;           /* the client takes its own reference */
    const struct agent_proxy_config *proxy; /* NULL or no host: direct */
    unsigned inflight_window;   /* the agent's in-flight window (agent/inflight.h) */
};

struct agent_mqtt;

struct agent_mqtt *agent_mqtt_new(const struct agent_mqtt_params *params,
                                  const struct agent_mqtt_callbacks *callbacks, char *err,
                                  size_t err_len);
void agent_mqtt_free(struct agent_mqtt *m);

/* Starts an asynchronous connect. MOSQ_ERR_* (0 = started); on failure
 * *saved_errno holds errno. */
int agent_mqtt_connect(struct agent_mqtt *m, int *saved_errno);
/* The socket to poll, or -1. */
int agent_mqtt_fd(const struct agent_mqtt *m);
/* The socket's pending error (SO_ERROR, cleared by reading it), 0 if
 * none: how an asynchronous connect failure shows, because libmosquitto
 * 2.0.11 keeps such a socket and reports success (integration-facts.md 7). */
/* True when the socket holds unread bytes (say a TLS alert sent before
 * the peer closed): they must be read before the socket's error is taken. */
bool agent_mqtt_has_pending_data(const struct agent_mqtt *m);
int agent_mqtt_socket_error(const struct agent_mqtt *m);
/* On loopback the refusal arrives while mosquitto_connect_async still
 * runs: its first TLS write fails (consuming SO_ERROR) and it still
 * returns success. The errno that call left, 0 if none or "in progress". */
int agent_mqtt_connect_errno(const struct agent_mqtt *m);
bool agent_mqtt_want_write(const struct agent_mqtt *m);
/* Each returns a MOSQ_ERR_*; on error libmosquitto has already called
 * disconnected(). */
int agent_mqtt_read(struct agent_mqtt *m);
int agent_mqtt_write(struct agent_mqtt *m);
int agent_mqtt_misc(struct agent_mqtt *m);
int agent_mqtt_publish(struct agent_mqtt *m, const char *topic, const void *payload, size_t len,
                       int qos, bool retain, int *mid);
int agent_mqtt_subscribe(struct agent_mqtt *m, const char *filter, int qos, int *mid);
int agent_mqtt_disconnect(struct agent_mqtt *m);
/* The last error-level line libmosquitto logged ("" if none). */
const char *agent_mqtt_last_log(const struct agent_mqtt *m);

#endif
