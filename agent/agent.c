/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lifecycle and connection state machine of trustlinkd (see agent.h).
 *
 *   IDENTITY_WAIT --(identity loads)--> CONNECTING
 *   WAITING --(next_attempt_ms)--> CONNECTING --(CONNACK 0)--> CONNECTED
 *   CONNECTING/CONNECTED --(failure: classed)--> WAITING | IDENTITY_WAIT | exit 78
 *   any --(SIGTERM)--> STOPPING --(offline published, disconnected)--> exit 0
 *
 * This file: the connection objects (identity, TLS context, client) and
 * the events libmosquitto's callbacks record; failures and timers are
 * agent_recovery.c's, SIGHUP agent_reload.c's.
 * Must never: free the MQTT client from inside a libmosquitto callback;
 * log a PIN.
 */
#include "agent_internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <openssl/rand.h>

#include "config_check.h"
#include "control.h"
#include "identity.h"
#include "log.h"
#include "mqtt.h"
#include "notify.h"
#include "publish.h"
#include "report.h"
#include "topic_guard.h"

const char *agent_state_name(enum agent_state state)
{
    switch (state) {
    case AGENT_STATE_IDENTITY_WAIT: return "identity-unavailable";
    case AGENT_STATE_WAITING: return "waiting";
    case AGENT_STATE_CONNECTING: return "connecting";
    case AGENT_STATE_CONNECTED: return "connected";
    case AGENT_STATE_STOPPING: return "stopping";
    }
    return "unknown";
}

void agent_trim_heap(void)
{
    /* Startup, a full handshake and a rotation leave freed memory spread
     * through the heap, and glibc only gives back its top. Once such work
     * is over, a long-lived daemon hands back every whole free page. */
    malloc_trim(0);
}

uint32_t agent_random_u32(void)
{
    uint32_t r = 0;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)agent_monotonic_ms() * 2654435761u;
    return r;
}

void agent_notify_status(struct agent *a)
{
    char text[256];
    const struct agent_broker_config *b = &a->config.broker;

    switch (a->state) {
    case AGENT_STATE_CONNECTED:
        snprintf(text, sizeof(text), "connected to %s:%u as %s", b->host, b->port, b->client_id);
        break;
    case AGENT_STATE_CONNECTING:
        snprintf(text, sizeof(text), "connecting to %s:%u", b->host, b->port);
        break;
    case AGENT_STATE_WAITING: {
        uint64_t now = agent_monotonic_ms();
        unsigned long in = a->next_attempt_ms > now ? (unsigned long)(a->next_attempt_ms - now) : 0;
        snprintf(text, sizeof(text), "retrying %s:%u in %.1f s (%s: %.120s)", b->host, b->port,
                 in / 1000.0, agent_failure_class_name(a->last_failure), a->last_error);
        break;
    }
    case AGENT_STATE_IDENTITY_WAIT:
        snprintf(text, sizeof(text), "identity unavailable: %.200s", a->last_error);
        break;
    case AGENT_STATE_STOPPING:
        snprintf(text, sizeof(text), "stopping");
        break;
    }
    if (strcmp(text, a->status_text) != 0) {
        char msg[300];

        snprintf(a->status_text, sizeof(a->status_text), "%s", text);
        snprintf(msg, sizeof(msg), "STATUS=%s", text);
        agent_notify(msg);
    }
}

/* The client is going away: libmosquitto would discard what it holds
 * unacknowledged, so the agent's copies go back to the head of its queue. */
static void requeue_inflight(struct agent *a)
{
    size_t n = agent_inflight_requeue(&a->inflight, &a->queue);

    if (n > 0) {
        a->counters.requeued += n;
        agent_notice("%zu unacknowledged message(s) back at the head of the queue; they are "
                     "sent again after the reconnect",
                     n);
    }
}

/* Frees the MQTT client only (the TLS context keeps its session). */
void agent_release_client(struct agent *a)
{
    if (!a->mqtt)
        return;
    requeue_inflight(a);
    agent_mqtt_free(a->mqtt);
    a->mqtt = NULL;
}

/* Teardown order matters: client, then context, then identity. */
void agent_drop_connection_objects(struct agent *a, bool drop_identity)
{
    if (drop_identity)
        agent_rotation_abandon(a, "the identity is being reloaded");
    agent_release_client(a);
    agent_tls_free(a->tls);
    a->tls = NULL;
    if (drop_identity) {
        agent_identity_free(a->identity);
        a->identity = NULL;
    }
}

static void on_connack(void *ctx, int rc)
{
    struct agent *a = ctx;

    a->event_connack = true;
    a->event_connack_rc = rc;
}

static void on_disconnected(void *ctx, int rc)
{
    struct agent *a = ctx;

    a->event_disconnected = true;
    a->event_disconnect_rc = rc;
    a->event_disconnect_errno = rc == MOSQ_ERR_ERRNO || rc == MOSQ_ERR_CONN_LOST ? errno : 0;
}

void agent_drop_connection(struct agent *a)
{
    agent_drop_connection_objects(a, false);
}

void agent_reconnect_now(struct agent *a)
{
    a->state = AGENT_STATE_WAITING;
    a->next_attempt_ms = agent_monotonic_ms();
}

static void on_message(void *ctx, const char *topic, const void *payload, size_t len)
{
    agent_rotation_message(ctx, topic, payload, len);
}

static void on_subscribed(void *ctx, int mid, bool ok)
{
    agent_rotation_subscribed(ctx, mid, ok);
}

static void on_published(void *ctx, int mid)
{
    struct agent *a = ctx;

    /* QoS 0 ids are not in the ledger (their callback runs inside
     * mosquitto_publish): ignored there, no count skewed. */
    if (agent_outbox_acked(a, mid))
        a->event_acked = true;
    if (a->state == AGENT_STATE_STOPPING && mid == a->offline_mid)
        a->offline_sent = true;
}

struct agent_mqtt *agent_client_new(struct agent *a, const struct agent_config *cfg,
                                    struct agent_tls *tls, char *err, size_t err_len)
{
    struct agent_mqtt_params p = {
        .client_id = cfg->broker.client_id,
        .host = cfg->broker.host,
        .port = cfg->broker.port,
        .keepalive_s = cfg->broker.keepalive_s,
        .version = cfg->broker.mqtt_version,
        .will_topic = cfg->telemetry.status_topic,
        .ssl_ctx = agent_tls_ctx(tls),
        .proxy = &cfg->broker.proxy,
        .inflight_window = AGENT_INFLIGHT_WINDOW,
    };
    struct agent_mqtt_callbacks cb = {.connected = on_connack,
                                      .disconnected = on_disconnected,
                                      .published = on_published,
                                      .message = on_message,
                                      .subscribed = on_subscribed,
                                      .ctx = a};

    return agent_mqtt_new(&p, &cb, err, err_len);
}

int agent_ensure_client(struct agent *a, uint64_t now)
{
    char err[512];

    if (!a->identity) {
        int rc = agent_load_identity(a, now);
        if (rc != 0)
            return rc;
    }
    if (!a->tls) {
        a->tls = agent_tls_new(&a->config.broker, a->identity, &a->tls_counters, err, sizeof(err));
        if (!a->tls) {
            agent_err("TLS: %s", err);
            agent_set_error(a, AGENT_FAILURE_CONFIG, err);
            return AGENT_EXIT_CONFIG;
        }
    }
    if (!a->mqtt) {
        a->mqtt = agent_client_new(a, &a->config, a->tls, err, sizeof(err));
        if (!a->mqtt) {
            agent_err("MQTT: %s", err);
            agent_set_error(a, AGENT_FAILURE_CONFIG, err);
            return AGENT_EXIT_CONFIG;
        }
    }
    return 0;
}

void agent_attempt_connect(struct agent *a, uint64_t now)
{
    int saved_errno = 0;
    int rc = agent_ensure_client(a, now);

    if (rc == 1)
        return;  /* IDENTITY_WAIT, scheduled */
    if (rc != 0 && agent_reload_fall_back(a, now))
        return;
    if (rc != 0) {
        a->exit_requested = true;
        a->exit_status = rc;
        return;
    }
    agent_reload_commit(a);
    agent_info("connecting to %s:%u as %s", a->config.broker.host, a->config.broker.port,
               a->config.broker.client_id);
    a->state = AGENT_STATE_CONNECTING;
    a->connecting_since_ms = now;
    a->event_connack = a->event_disconnected = false;
    rc = agent_mqtt_connect(a->mqtt, &saved_errno);
    if (rc == MOSQ_ERR_SUCCESS && agent_mqtt_fd(a->mqtt) < 0) {
        /* On loopback the handshake can fail inside connect_async, which
         * then closes the socket and still returns success. */
        rc = MOSQ_ERR_TLS;
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        a->event_connack = a->event_disconnected = false;
        agent_handle_failure(a, rc, saved_errno, now);
    }
}

static void publish_status_online(struct agent *a)
{
    static const char online[] = "online";
    int mid = 0;
    int rc = agent_mqtt_publish(a->mqtt, a->config.telemetry.status_topic, online,
                                sizeof(online) - 1, 1, true, &mid);

    if (rc != MOSQ_ERR_SUCCESS)
        agent_warn("cannot publish the online status: %s", mosquitto_strerror(rc));
}

/* libmosquitto refuses this message itself (not the connection's state):
 * it would refuse it on every later attempt too. */
static bool publish_refused_for_good(int rc)
{
    return rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_MALFORMED_UTF8 ||
           rc == MOSQ_ERR_QOS_NOT_SUPPORTED || rc == MOSQ_ERR_OVERSIZE_PACKET ||
           rc == MOSQ_ERR_NOT_SUPPORTED;
}

/* Hands queued messages to the connection, oldest first, while the
 * in-flight window has room: the rest wait in the agent's bounded queue,
 * never in libmosquitto's unbounded one. */
static void flush_queue(struct agent *a)
{
    const struct agent_queue_item *item;

    while (a->mqtt && (item = agent_queue_peek(&a->queue)) != NULL) {
        struct agent_queue_item *sent;
        int mid = 0;
        int rc;

        if (item->qos > 0 && !agent_inflight_has_room(&a->inflight))
            return;
        rc = agent_mqtt_publish(a->mqtt, item->topic, item->payload, item->payload_len,
                                item->qos, item->retain, &mid);
        if (rc != MOSQ_ERR_SUCCESS && publish_refused_for_good(rc)) {
            /* Never a plug: counted, logged, dropped. */
            agent_err("queued message to %.200s dropped: the MQTT client refuses it (%s)",
                      item->topic, mosquitto_strerror(rc));
            a->counters.dropped++;
            agent_outbox_dropped(a, item->spool_seq);
            agent_queue_pop(&a->queue);
            continue;
        }
        if (rc != MOSQ_ERR_SUCCESS) {
            agent_info("queued message to %.200s stays queued: %s", item->topic,
                       mosquitto_strerror(rc));
            return;
        }
        a->counters.published++;
        sent = agent_queue_take(&a->queue);
        if (sent->qos > 0)
            agent_inflight_add(&a->inflight, sent, mid);
        else
            agent_queue_item_free(sent);
    }
}

void agent_publish_heartbeat(struct agent *a, uint64_t now)
{
    char *json = NULL;
    int mid = 0;

    agent_heartbeat_build(a, &json);
    if (json && agent_mqtt_publish(a->mqtt, a->config.telemetry.heartbeat_topic, json,
                                   strlen(json), 0, false, &mid) == MOSQ_ERR_SUCCESS)
        a->counters.heartbeats++;
    free(json);
    a->next_heartbeat_ms = now + (uint64_t)a->config.telemetry.heartbeat_interval_s * 1000u;
}

void agent_process_events(struct agent *a)
{
    uint64_t now = agent_monotonic_ms();

    if (a->event_acked) {
        a->event_acked = false;
        if (a->state == AGENT_STATE_CONNECTED && !a->publish_hold)
            flush_queue(a);
    }
    if (a->event_connack) {
        a->event_connack = false;
        if (a->event_connack_rc != 0) {
            /* libmosquitto follows a refusal with a disconnect event. */
            a->last_connack_rc = a->event_connack_rc;
        } else if (a->state == AGENT_STATE_CONNECTING) {
            a->state = AGENT_STATE_CONNECTED;
            a->connected_since_ms = now;
            a->counters.connects++;
            /* The broker was found down and is back: that outage is over. */
            if (a->broker_was_unreachable)
                agent_backoff_reset(&a->backoff);
            a->broker_was_unreachable = false;
            a->short_connection_lost = false;
            /* The token signed this handshake, or the session it resumed
             * was made after the last reload: the fault is over. */
            a->token_faulty = false;
            agent_backoff_reset(&a->token_backoff);
            agent_notice("connected to %s:%u as %s (TLS signatures so far: %llu, resumed "
                         "handshakes: %llu)",
                         a->config.broker.host, a->config.broker.port, a->config.broker.client_id,
                         (unsigned long long)a->tls_counters.signatures,
                         (unsigned long long)a->tls_counters.resumed_handshakes);
            publish_status_online(a);
            flush_queue(a);
            if (a->config.telemetry.heartbeat_interval_s)
                agent_publish_heartbeat(a, now);
            agent_trim_heap();
            agent_rotation_connected(a);
        }
    }
    if (a->event_disconnected) {
        int rc = a->event_disconnect_rc;
        bool was_connected = a->state == AGENT_STATE_CONNECTED;

        a->event_disconnected = false;
        if (a->state == AGENT_STATE_STOPPING) {
            a->exit_requested = true;
            return;
        }
        agent_rotation_disconnected(a);
        if (agent_rotation_switch_disconnected(a)) {
            if (was_connected)
                a->counters.disconnects++;
            agent_notify_status(a);
            return;
        }
        if (was_connected) {
            a->counters.disconnects++;
            if (now - a->connected_since_ms >= a->config.reconnect.stable_reset_ms)
                agent_backoff_reset(&a->backoff);
            else
                a->short_connection_lost = true;   /* a flap, unless the broker is down */
        }
        if (a->user_disconnect) {
            a->user_disconnect = false;
            agent_info("disconnected on request; reconnecting now");
            a->state = AGENT_STATE_WAITING;
            a->next_attempt_ms = now;
        } else {
            agent_handle_failure(a, rc, a->event_disconnect_errno, now);
        }
        /* Every reconnect uses a new client: the ledger, not libmosquitto,
         * decides what is sent again (and a failed connect's socket is
         * closed, not polled). */
        agent_release_client(a);
    }
    agent_notify_status(a);
}

void agent_mqtt_io_done(struct agent *a, int rc)
{
    int saved_errno = errno;

    if (rc != MOSQ_ERR_SUCCESS && !a->event_disconnected && a->mqtt &&
        agent_mqtt_fd(a->mqtt) < 0 &&
        (a->state == AGENT_STATE_CONNECTING || a->state == AGENT_STATE_CONNECTED ||
         a->state == AGENT_STATE_STOPPING)) {
        a->event_disconnected = true;
        a->event_disconnect_rc = rc;
        a->event_disconnect_errno = rc == MOSQ_ERR_ERRNO ? saved_errno : 0;
    }
    agent_process_events(a);
}

int agent_init(struct agent *a, const char *config_path)
{
    char err[1024];

    memset(a, 0, sizeof(*a));
    a->starting = true;
    a->offline_mid = -1;
    a->started_ms = agent_monotonic_ms();
    a->config_path = strdup(config_path);
    if (!a->config_path)
        return 1;
    if (agent_config_load(config_path, &a->config, err, sizeof(err)) != 0) {
        agent_err("config: %s", err);
        return AGENT_EXIT_CONFIG;
    }
    agent_log_set_level(a->config.log_level);
    agent_backoff_init(&a->backoff, a->config.reconnect.initial_ms, a->config.reconnect.maximum_ms,
                       a->config.reconnect.jitter);
    agent_backoff_init(&a->token_backoff, AGENT_TOKEN_RETRY_INITIAL_MS, AGENT_TOKEN_RETRY_MAX_MS,
                       false);
    agent_queue_init(&a->queue, a->config.telemetry.queue_max_messages,
                     a->config.telemetry.queue_max_bytes);
    agent_inflight_init(&a->inflight, AGENT_INFLIGHT_WINDOW);
    agent_outbox_open(a);
    agent_rotation_init(&a->rotation);
    if (a->config.rotation.enabled) {
        char label[ROTATION_LABEL_MAX + 1];

        if (agent_rotation_check_config(&a->config, label, sizeof(label), err, sizeof(err)) != 0) {
            agent_err("config: %s", err);
            return AGENT_EXIT_CONFIG;
        }
    }
    return 0;
}

int agent_start(struct agent *a)
{
    uint64_t now = agent_monotonic_ms();
    char err[1024];

    /* What --check-config checks beyond the file, before the token. */
    if (agent_config_check_system(&a->config, err, sizeof(err)) != 0) {
        agent_err("config: %s", err);
        a->starting = false;
        return AGENT_EXIT_CONFIG;
    }
    a->state = AGENT_STATE_WAITING;
    a->next_attempt_ms = now;
    agent_attempt_connect(a, now);
    a->starting = false;
    if (a->exit_requested)
        return a->exit_status;
    agent_notify_status(a);
    return 0;
}

void agent_destroy(struct agent *a)
{
    agent_rotation_free(&a->rotation);
    agent_drop_connection_objects(a, true);
    agent_reload_commit(a);
    agent_inflight_clear(&a->inflight);
    agent_queue_clear(&a->queue);
    agent_outbox_close(a);
    agent_config_free(&a->config);
    free(a->config_path);
    a->config_path = NULL;
}

void agent_request_reconnect(struct agent *a)
{
    a->reconnect_requested = true;
}

void agent_shutdown(struct agent *a)
{
    static const char offline[] = "offline";
    uint64_t now = agent_monotonic_ms();

    if (a->state == AGENT_STATE_STOPPING)
        return;
    agent_notice("stopping: publishing offline status and disconnecting");
    if (a->state == AGENT_STATE_CONNECTED && a->mqtt &&
        agent_mqtt_publish(a->mqtt, a->config.telemetry.status_topic, offline,
                           sizeof(offline) - 1, 1, true, &a->offline_mid) == MOSQ_ERR_SUCCESS) {
        a->state = AGENT_STATE_STOPPING;
        a->offline_sent = false;
        a->shutdown_deadline_ms = now + AGENT_SHUTDOWN_GRACE_MS;
        agent_notify_status(a);
        return;
    }
    a->state = AGENT_STATE_STOPPING;
    a->exit_requested = true;
}

static bool topic_is_valid(const char *topic)
{
    size_t len = strlen(topic);

    if (len == 0 || len > 256 || topic[0] == '/' || topic[len - 1] == '/')
        return false;
    for (const char *p = topic; *p; p++) {
        if (*p == '+' || *p == '#' || (unsigned char)*p < 0x20)
            return false;
    }
    return strstr(topic, "//") == NULL;
}

int agent_publish(struct agent *a, const char *topic, const void *payload, size_t len, int qos,
                  bool retain, char *err, size_t err_len)
{
    char full[600];

    if (!topic_is_valid(topic)) {
        snprintf(err, err_len, "topic must be 1-256 bytes below %s/ without wildcards (+, #), "
                               "empty levels or a leading/trailing '/'",
                 a->config.telemetry.topic_prefix);
        a->counters.rejected++;
        return -1;
    }
    if (qos < 0 || qos > 2) {
        snprintf(err, err_len, "qos must be 0, 1 or 2");
        a->counters.rejected++;
        return -1;
    }
    if ((size_t)snprintf(full, sizeof(full), "%s/%s", a->config.telemetry.topic_prefix, topic) >=
            sizeof(full) ||
        mosquitto_validate_utf8(full, (int)strlen(full)) != MOSQ_ERR_SUCCESS ||
        mosquitto_pub_topic_check(full) != MOSQ_ERR_SUCCESS) {
        /* Refused here, not queued: libmosquitto would refuse it on every
         * attempt (MQTT 3.1.1/5: UTF-8 without U+0000, no wildcards). */
        snprintf(err, err_len, "topic must be valid UTF-8 without control characters or "
                               "wildcards, at most 256 bytes below %s/",
                 a->config.telemetry.topic_prefix);
        a->counters.rejected++;
        return -1;
    }
    if (len > AGENT_PUBLISH_MAX_PAYLOAD) {
        snprintf(err, err_len, "payload too large (%zu bytes, at most %u)", len,
                 AGENT_PUBLISH_MAX_PAYLOAD);
        a->counters.rejected++;
        return -1;
    }
    if (agent_topic_check_app(&a->config, full, err, err_len) != 0) {
        a->counters.rejected++;
        return -1;
    }
    if (a->state == AGENT_STATE_STOPPING) {
        snprintf(err, err_len, "the agent is stopping: message not accepted");
        a->counters.rejected++;
        return -1;
    }
    if (agent_outbox_accept(a, full, payload, len, qos, retain, err, err_len) != 0) {
        a->counters.rejected++;
        return -1;
    }
    a->counters.queued++;
    /* Through the queue even when connected: it is what bounds messages
     * beyond the in-flight window while a dead link is not yet detected. */
    if (a->state == AGENT_STATE_CONNECTED && !a->publish_hold)
        flush_queue(a);
    return 0;
}
