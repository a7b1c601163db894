/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmosquitto client driven by the agent's loop (see mqtt.h).
 * Must never: touch the SSL_CTX beyond handing it over.
 */
#include "mqtt.h"

#include "config.h"
#include "net_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mosquitto.h>

#include "log.h"

struct agent_mqtt {
    struct mosquitto *mosq;
    struct agent_mqtt_callbacks callbacks;
    char *host;
    unsigned port;
    unsigned keepalive_s;
    int connect_errno;          /* errno the connect call left (see agent_mqtt_connect_errno) */
    char last_log[256];
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct agent_mqtt *m = obj;

    (void)mosq;
    if (m->callbacks.connected)
        m->callbacks.connected(m->callbacks.ctx, rc);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct agent_mqtt *m = obj;

    (void)mosq;
    if (m->callbacks.disconnected)
        m->callbacks.disconnected(m->callbacks.ctx, rc);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct agent_mqtt *m = obj;

    (void)mosq;
    if (m->callbacks.published)
        m->callbacks.published(m->callbacks.ctx, mid);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    struct agent_mqtt *m = obj;

    (void)mosq;
    if (m->callbacks.message && msg->topic && msg->payloadlen >= 0)
        m->callbacks.message(m->callbacks.ctx, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
                         const int *granted_qos)
{
    struct agent_mqtt *m = obj;
    bool ok = qos_count > 0;

    (void)mosq;
    for (int i = 0; i < qos_count; i++) {
        if (granted_qos[i] > 2)   /* 0x80: refused */
            ok = false;
    }
    if (m->callbacks.subscribed)
        m->callbacks.subscribed(m->callbacks.ctx, mid, ok);
}

static void on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
    struct agent_mqtt *m = obj;

    (void)mosq;
    if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING)) {
        snprintf(m->last_log, sizeof(m->last_log), "%s", text);
        agent_info("mqtt: %s", text);
    } else {
        agent_debug("mqtt: %s", text);
    }
}

/* broker.proxy: libmosquitto connects to the SOCKS5 proxy, asks it for
 * the broker by the configured name (resolved by the proxy), and runs TLS
 * through it. The credentials are read at each client's creation, so a
 * changed file takes effect on the next connection, and wiped after. */
static int set_proxy(struct agent_mqtt *m, const struct agent_proxy_config *proxy, char *err,
                     size_t err_len)
{
    struct agent_proxy_auth auth;
    int rc;

    if (agent_proxy_auth_read(proxy, &auth, err, err_len) != 0)
        return -1;
    rc = mosquitto_socks5_set(m->mosq, proxy->host, (int)proxy->port,
                              auth.present ? auth.user : NULL,
                              auth.present ? auth.password : NULL);
    agent_proxy_auth_clear(&auth);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, err_len, "cannot use the SOCKS5 proxy %s:%u: %s", proxy->host, proxy->port,
                 mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

struct agent_mqtt *agent_mqtt_new(const struct agent_mqtt_params *p,
                                  const struct agent_mqtt_callbacks *callbacks, char *err,
                                  size_t err_len)
{
    static const char offline[] = "offline";
    struct agent_mqtt *m = NULL;
    struct agent_mqtt *result = NULL;
    int rc;

    m = calloc(1, sizeof(*m));
    if (!m || !(m->host = strdup(p->host))) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    m->callbacks = *callbacks;
    m->port = p->port;
    m->keepalive_s = p->keepalive_s;
    m->mosq = mosquitto_new(p->client_id, true, m);
    if (!m->mosq) {
        snprintf(err, err_len, "cannot create the MQTT client: %s", strerror(errno));
        goto cleanup;
    }
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    mosquitto_message_callback_set(m->mosq, on_message);
    mosquitto_subscribe_callback_set(m->mosq, on_subscribe);
    mosquitto_log_callback_set(m->mosq, on_log);
    rc = mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                              p->version == AGENT_MQTT_5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    /* WITH_DEFAULTS must be 0 before the ctx is set: otherwise libmosquitto
     * rewrites our verification (integration-facts.md 2). */
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_int_option(m->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_void_option(m->mosq, MOSQ_OPT_SSL_CTX, p->ssl_ctx);
    if (rc == MOSQ_ERR_SUCCESS && p->proxy != NULL && p->proxy->host != NULL &&
        set_proxy(m, p->proxy, err, err_len) != 0)
        goto cleanup;
    /* The agent's window plus room for its own status and rotation
     * messages: libmosquitto never has to hold a message of the agent's
     * queue in its own unbounded backlog. */
    if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, (int)p->inflight_window + 4);
    if (rc == MOSQ_ERR_SUCCESS && p->will_topic)
        rc = mosquitto_will_set(m->mosq, p->will_topic, (int)strlen(offline), offline, 1, true);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, err_len, "cannot configure the MQTT client: %s", mosquitto_strerror(rc));
        goto cleanup;
    }
    result = m;
    m = NULL;
cleanup:
    agent_mqtt_free(m);
    return result;
}

void agent_mqtt_free(struct agent_mqtt *m)
{
    if (!m)
        return;
    if (m->mosq)
        mosquitto_destroy(m->mosq);
    free(m->host);
    free(m);
}

int agent_mqtt_connect(struct agent_mqtt *m, int *saved_errno)
{
    int rc;

    errno = 0;
    m->last_log[0] = '\0';
    rc = mosquitto_connect_async(m->mosq, m->host, (int)m->port, (int)m->keepalive_s);
    *saved_errno = errno;
    m->connect_errno = errno == EINPROGRESS || errno == EAGAIN ? 0 : errno;
    return rc;
}

int agent_mqtt_fd(const struct agent_mqtt *m)
{
    return mosquitto_socket(m->mosq);
}

int agent_mqtt_socket_error(const struct agent_mqtt *m)
{
    int fd = mosquitto_socket(m->mosq);
    int err = 0;
    socklen_t len = sizeof(err);

    if (fd < 0)
        return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        return errno;
    return err;
}

bool agent_mqtt_has_pending_data(const struct agent_mqtt *m)
{
    int fd = mosquitto_socket(m->mosq);
    unsigned char byte;

    /* MSG_PEEK leaves both the byte and a pending socket error in place:
     * data queued before a reset (a TLS alert) is read before the error. */
    return fd >= 0 && recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

int agent_mqtt_connect_errno(const struct agent_mqtt *m)
{
    return m->connect_errno;
}

bool agent_mqtt_want_write(const struct agent_mqtt *m)
{
    return mosquitto_want_write(m->mosq);
}

int agent_mqtt_read(struct agent_mqtt *m)
{
    return mosquitto_loop_read(m->mosq, 1);
}

int agent_mqtt_write(struct agent_mqtt *m)
{
    return mosquitto_loop_write(m->mosq, 1);
}

int agent_mqtt_misc(struct agent_mqtt *m)
{
    return mosquitto_loop_misc(m->mosq);
}

int agent_mqtt_publish(struct agent_mqtt *m, const char *topic, const void *payload, size_t len,
                       int qos, bool retain, int *mid)
{
    int rc;

    if (len > 256 * 1024 * 1024)
        return MOSQ_ERR_PAYLOAD_SIZE;
    rc = mosquitto_publish(m->mosq, mid, topic, (int)len, payload, qos, retain);
    return rc;
}

int agent_mqtt_subscribe(struct agent_mqtt *m, const char *filter, int qos, int *mid)
{
    return mosquitto_subscribe(m->mosq, mid, filter, qos);
}

int agent_mqtt_disconnect(struct agent_mqtt *m)
{
    return mosquitto_disconnect(m->mosq);
}

const char *agent_mqtt_last_log(const struct agent_mqtt *m)
{
    return m->last_log;
}
