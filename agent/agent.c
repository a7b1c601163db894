/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lifecycle and connection state machine of trustlinkd (see agent.h).
 *
 *   IDENTITY_WAIT --(identity loads)--> CONNECTING
 *   WAITING --(next_attempt_ms)--> CONNECTING --(CONNACK 0)--> CONNECTED
 *   CONNECTING/CONNECTED --(failure: classed)--> WAITING | IDENTITY_WAIT | exit 78
 *   any --(SIGTERM)--> STOPPING --(offline published, disconnected)--> exit 0
 *
 * Must never: free the MQTT client from inside a libmosquitto callback;
 * reload the token module more than once per 30 s; log a PIN.
 */
#include "agent.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <openssl/rand.h>

#include "control.h"
#include "identity.h"
#include "log.h"
#include "mqtt.h"
#include "notify.h"
#include "report.h"
#include "topic_guard.h"

uint64_t agent_monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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

static void set_error(struct agent *a, enum agent_failure_class cls, const char *msg)
{
    a->last_failure = cls;
    snprintf(a->last_error, sizeof(a->last_error), "%s", msg);
    a->last_error_time = time(NULL);
}

static void notify_status(struct agent *a)
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
static void release_client(struct agent *a)
{
    if (!a->mqtt)
        return;
    requeue_inflight(a);
    agent_mqtt_free(a->mqtt);
    a->mqtt = NULL;
}

/* Teardown order matters: client, then context, then identity. */
static void drop_connection_objects(struct agent *a, bool drop_identity)
{
    if (drop_identity)
        agent_rotation_abandon(a, "the identity is being reloaded");
    release_client(a);
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
    drop_connection_objects(a, false);
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
    if (agent_inflight_ack(&a->inflight, mid))
        a->event_acked = true;
    if (a->state == AGENT_STATE_STOPPING && mid == a->offline_mid)
        a->offline_sent = true;
}

/* 0 ok; 1 retry later (IDENTITY_WAIT); exit status otherwise. */
static int load_identity(struct agent *a, uint64_t now)
{
    char err[1024];
    enum agent_identity_status st;

    a->last_identity_load_ms = now;
    st = agent_identity_open(&a->config.identity, &a->identity, err, sizeof(err));
    /* A rotation interrupted by a crash or a token fault is finished
     * before the URI is resolved: mid-commit, the label may name two keys
     * or none. */
    if (st == AGENT_IDENTITY_OK)
        st = agent_rotation_recover(a, a->identity, err, sizeof(err));
    if (st == AGENT_IDENTITY_OK)
        st = agent_identity_resolve(a->identity, &a->config.identity, err, sizeof(err));
    if (st != AGENT_IDENTITY_OK) {
        agent_identity_free(a->identity);
        a->identity = NULL;
    }
    if (st == AGENT_IDENTITY_OK) {
        agent_rotation_use_saved_chain(a);
        agent_cert_info_fill(&a->cert, agent_identity_certificate(a->identity));
        agent_rotation_cert_changed(a);
        agent_notice("identity: key %s on token \"%s\" (%s), certificate %s, expires %s",
                     agent_identity_key_name(a->identity),
                     agent_identity_token_label(a->identity), agent_identity_uri(a->identity),
                     a->cert.subject, a->cert.not_after);
        a->identity_ever_loaded = true;
        return 0;
    }
    /* A module that loaded before and now fails its C_Initialize (its
     * device gone: tpm2-pkcs11 without a reachable TPM) may come back. */
    if (agent_identity_status_retryable(st) ||
        (st == AGENT_IDENTITY_MODULE && a->identity_ever_loaded)) {
        agent_err("identity (%s): %s; retrying in %u s", agent_identity_status_name(st), err,
                  AGENT_TOKEN_REINIT_INTERVAL_MS / 1000);
        set_error(a, AGENT_FAILURE_TOKEN, err);
        a->state = AGENT_STATE_IDENTITY_WAIT;
        a->next_attempt_ms = now + AGENT_TOKEN_REINIT_INTERVAL_MS;
        return 1;
    }
    agent_err("identity (%s): %s", agent_identity_status_name(st), err);
    set_error(a, AGENT_FAILURE_CONFIG, err);
    return AGENT_EXIT_CONFIG;
}

static void schedule_retry(struct agent *a, enum agent_failure_class cls, uint64_t now)
{
    unsigned delay = agent_backoff_next(&a->backoff, agent_failure_penalty(cls), agent_random_u32());

    a->state = AGENT_STATE_WAITING;
    a->next_attempt_ms = now + delay;
    agent_info("next connection attempt in %.2f s", delay / 1000.0);
}

static void handle_failure(struct agent *a, int mosq_rc, int saved_errno, uint64_t now)
{
    struct agent_tls_failure tls_failure;
    struct agent_failure_input in;
    char broker[300];
    char msg[512];
    enum agent_failure_class cls;
    X509 *cert = a->identity ? agent_identity_certificate(a->identity) : NULL;

    memset(&in, 0, sizeof(in));
    memset(&tls_failure, 0, sizeof(tls_failure));
    tls_failure.verify_error = 0;
    tls_failure.alert = -1;
    if (a->tls)
        agent_tls_take_failure(a->tls, &tls_failure);
    snprintf(broker, sizeof(broker), "%s:%u", a->config.broker.host, a->config.broker.port);
    in.mosq_rc = mosq_rc;
    in.connack_rc = a->last_connack_rc;
    in.saved_errno = saved_errno;
    in.tls = &tls_failure;
    in.own_cert_not_yet_valid = cert && X509_cmp_current_time(X509_get0_notBefore(cert)) > 0;
    in.handshaking = a->state == AGENT_STATE_CONNECTING;
    in.broker = broker;
    a->last_connack_rc = 0;
    cls = agent_failure_classify(&in, msg, sizeof(msg));
    if (a->mqtt && agent_mqtt_last_log(a->mqtt)[0] && cls == AGENT_FAILURE_NETWORK &&
        mosq_rc != MOSQ_ERR_ERRNO)
        agent_debug("libmosquitto said: %s", agent_mqtt_last_log(a->mqtt));
    a->counters.connect_failures++;
    set_error(a, cls, msg);
    agent_log(cls == AGENT_FAILURE_NETWORK ? AGENT_LOG_WARNING : AGENT_LOG_ERR, "%s (%s)", msg,
              agent_failure_class_name(cls));

    if (cls == AGENT_FAILURE_TOKEN) {
        /* A wedged token recovers only by a full reload (facts 1). */
        drop_connection_objects(a, true);
        a->state = AGENT_STATE_IDENTITY_WAIT;
        a->next_attempt_ms = a->last_identity_load_ms + AGENT_TOKEN_REINIT_INTERVAL_MS;
        if (a->next_attempt_ms < now)
            a->next_attempt_ms = now;
        a->counters.token_reinits++;
        return;
    }
    schedule_retry(a, cls, now);
}

static int ensure_client(struct agent *a, uint64_t now)
{
    char err[512];

    if (!a->identity) {
        int rc = load_identity(a, now);
        if (rc != 0)
            return rc;
    }
    if (!a->tls) {
        a->tls = agent_tls_new(&a->config.broker, a->identity, &a->tls_counters, err, sizeof(err));
        if (!a->tls) {
            agent_err("TLS: %s", err);
            set_error(a, AGENT_FAILURE_CONFIG, err);
            return AGENT_EXIT_CONFIG;
        }
    }
    if (!a->mqtt) {
        struct agent_mqtt_params p = {
            .client_id = a->config.broker.client_id,
            .host = a->config.broker.host,
            .port = a->config.broker.port,
            .keepalive_s = a->config.broker.keepalive_s,
            .version = a->config.broker.mqtt_version,
            .will_topic = a->config.telemetry.status_topic,
            .ssl_ctx = agent_tls_ctx(a->tls),
            .proxy = &a->config.broker.proxy,
            .inflight_window = AGENT_INFLIGHT_WINDOW,
        };
        struct agent_mqtt_callbacks cb = {.connected = on_connack,
                                          .disconnected = on_disconnected,
                                          .published = on_published,
                                          .message = on_message,
                                          .subscribed = on_subscribed,
                                          .ctx = a};

        a->mqtt = agent_mqtt_new(&p, &cb, err, sizeof(err));
        if (!a->mqtt) {
            agent_err("MQTT: %s", err);
            set_error(a, AGENT_FAILURE_CONFIG, err);
            return AGENT_EXIT_CONFIG;
        }
    }
    return 0;
}

static void attempt_connect(struct agent *a, uint64_t now)
{
    int saved_errno = 0;
    int rc = ensure_client(a, now);

    if (rc == 1)
        return;  /* IDENTITY_WAIT, scheduled */
    if (rc != 0) {
        a->exit_requested = true;
        a->exit_status = rc;
        return;
    }
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
        handle_failure(a, rc, saved_errno, now);
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

static void publish_heartbeat(struct agent *a, uint64_t now)
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
            agent_notice("connected to %s:%u as %s (TLS signatures so far: %llu, resumed "
                         "handshakes: %llu)",
                         a->config.broker.host, a->config.broker.port, a->config.broker.client_id,
                         (unsigned long long)a->tls_counters.signatures,
                         (unsigned long long)a->tls_counters.resumed_handshakes);
            publish_status_online(a);
            flush_queue(a);
            if (a->config.telemetry.heartbeat_interval_s)
                publish_heartbeat(a, now);
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
            notify_status(a);
            return;
        }
        if (was_connected) {
            a->counters.disconnects++;
            if (now - a->connected_since_ms >= a->config.reconnect.stable_reset_ms)
                agent_backoff_reset(&a->backoff);
        }
        if (a->user_disconnect) {
            a->user_disconnect = false;
            agent_info("disconnected on request; reconnecting now");
            a->state = AGENT_STATE_WAITING;
            a->next_attempt_ms = now;
        } else {
            handle_failure(a, rc, a->event_disconnect_errno, now);
        }
        /* Every reconnect uses a new client: the ledger, not libmosquitto,
         * decides what is sent again (and a failed connect's socket is
         * closed, not polled). */
        release_client(a);
    }
    notify_status(a);
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

/* A connect that failed under libmosquitto: close its socket (by freeing
 * the client: libmosquitto keeps polling a dead one) and class errno. */
static void connect_failed(struct agent *a, int err)
{
    uint64_t now = agent_monotonic_ms();

    release_client(a);
    a->event_connack = a->event_disconnected = false;
    handle_failure(a, MOSQ_ERR_ERRNO, err, now);
    notify_status(a);
}

bool agent_mqtt_hangup(struct agent *a)
{
    int err;

    if (a->state != AGENT_STATE_CONNECTING || !a->mqtt)
        return false;
    /* Read first what the broker sent before closing (a TLS alert says why
     * it refused us); taking SO_ERROR first would clear the reset and class
     * a refusal as a network failure. */
    if (agent_mqtt_has_pending_data(a->mqtt))
        return false;
    err = agent_mqtt_socket_error(a->mqtt);
    if (err == 0)
        return false;   /* read it: the broker may have sent a TLS alert */
    connect_failed(a, err);
    return true;
}

void agent_mqtt_hangup_read_done(struct agent *a)
{
    int err;

    if (a->state != AGENT_STATE_CONNECTING || !a->mqtt || agent_mqtt_fd(a->mqtt) < 0)
        return;
    err = agent_mqtt_socket_error(a->mqtt);
    if (err == 0)
        err = agent_mqtt_connect_errno(a->mqtt);
    connect_failed(a, err ? err : ECONNRESET);
}

int agent_run_timers(struct agent *a, uint64_t now)
{
    uint64_t next = now + 1000;

    if (a->state == AGENT_STATE_STOPPING) {
        if (a->mqtt && a->offline_sent) {
            a->offline_sent = false;
            agent_mqtt_disconnect(a->mqtt);
        }
        if (now >= a->shutdown_deadline_ms) {
            agent_warn("shutdown: the broker did not confirm in time; exiting anyway");
            a->exit_requested = true;
        }
        if (a->shutdown_deadline_ms < next)
            next = a->shutdown_deadline_ms;
    }
    if (a->reconnect_requested) {
        a->reconnect_requested = false;
        if (a->state == AGENT_STATE_CONNECTED || a->state == AGENT_STATE_CONNECTING) {
            a->user_disconnect = true;
            if (agent_mqtt_disconnect(a->mqtt) != MOSQ_ERR_SUCCESS) {
                a->user_disconnect = false;
                a->state = AGENT_STATE_WAITING;
                a->next_attempt_ms = now;
            }
        } else if (a->state != AGENT_STATE_STOPPING) {
            a->next_attempt_ms = now;
        }
    }
    if ((a->state == AGENT_STATE_WAITING || a->state == AGENT_STATE_IDENTITY_WAIT) &&
        now >= a->next_attempt_ms) {
        attempt_connect(a, now);
        notify_status(a);
    }
    if (a->state == AGENT_STATE_CONNECTING && now - a->connecting_since_ms >= AGENT_CONNECT_TIMEOUT_MS) {
        char msg[200];

        snprintf(msg, sizeof(msg), "connecting to %s:%u timed out after %u s",
                 a->config.broker.host, a->config.broker.port, AGENT_CONNECT_TIMEOUT_MS / 1000);
        agent_warn("%s", msg);
        drop_connection_objects(a, false);
        a->counters.connect_failures++;
        set_error(a, AGENT_FAILURE_NETWORK, msg);
        schedule_retry(a, AGENT_FAILURE_NETWORK, now);
        notify_status(a);
    }
    if (a->mqtt && now >= a->next_misc_ms) {
        a->next_misc_ms = now + 1000;
        agent_mqtt_io_done(a, agent_mqtt_misc(a->mqtt));
    }
    if (a->state == AGENT_STATE_CONNECTED && a->config.telemetry.heartbeat_interval_s &&
        now >= a->next_heartbeat_ms && !a->publish_hold)
        publish_heartbeat(a, now);
    {
        int rotation_ms = agent_rotation_run(a, now);

        if (rotation_ms >= 0 && now + (uint64_t)rotation_ms < next)
            next = now + (uint64_t)rotation_ms;
    }

    /* A disconnect started here (rotation switch, reconnect request,
     * shutdown) may complete at once, inside mosquitto_disconnect: act on
     * it now, not at the next socket event or once-a-second misc tick. */
    if (a->event_connack || a->event_disconnected || a->event_acked)
        agent_process_events(a);

    if ((a->state == AGENT_STATE_WAITING || a->state == AGENT_STATE_IDENTITY_WAIT) &&
        a->next_attempt_ms < next)
        next = a->next_attempt_ms;
    if (a->state == AGENT_STATE_CONNECTED && a->config.telemetry.heartbeat_interval_s &&
        a->next_heartbeat_ms < next)
        next = a->next_heartbeat_ms;
    if (a->mqtt && a->next_misc_ms < next)
        next = a->next_misc_ms;
    return next <= now ? 0 : (int)(next - now);
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
    agent_queue_init(&a->queue, a->config.telemetry.queue_max_messages,
                     a->config.telemetry.queue_max_bytes);
    agent_inflight_init(&a->inflight, AGENT_INFLIGHT_WINDOW);
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

    a->state = AGENT_STATE_WAITING;
    a->next_attempt_ms = now;
    attempt_connect(a, now);
    a->starting = false;
    if (a->exit_requested)
        return a->exit_status;
    notify_status(a);
    return 0;
}

void agent_destroy(struct agent *a)
{
    agent_rotation_free(&a->rotation);
    drop_connection_objects(a, true);
    agent_inflight_clear(&a->inflight);
    agent_queue_clear(&a->queue);
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
        notify_status(a);
        return;
    }
    a->state = AGENT_STATE_STOPPING;
    a->exit_requested = true;
}

void agent_reload(struct agent *a)
{
    struct agent_config fresh;
    char err[1024];
    bool reconnect;

    agent_notice("reloading %s", a->config_path);
    memset(&fresh, 0, sizeof(fresh));
    if (agent_config_load(a->config_path, &fresh, err, sizeof(err)) != 0) {
        agent_err("reload: %s; keeping the running configuration", err);
        return;
    }
    if (fresh.rotation.enabled) {
        char label[ROTATION_LABEL_MAX + 1];

        if (agent_rotation_check_config(&fresh, label, sizeof(label), err, sizeof(err)) != 0) {
            agent_err("reload: %s; keeping the running configuration", err);
            agent_config_free(&fresh);
            return;
        }
    }
    reconnect = agent_config_connection_changed(&a->config, &fresh);
    if (reconnect) {
        agent_notice("reload: connection settings changed; reconnecting with the new identity "
                     "and broker settings");
        if (a->state == AGENT_STATE_STOPPING) {
            agent_config_free(&fresh);
            return;
        }
        drop_connection_objects(a, true);
        a->state = AGENT_STATE_WAITING;
        a->next_attempt_ms = agent_monotonic_ms();
    } else {
        agent_notice("reload: connection settings unchanged; staying connected");
    }
    agent_config_free(&a->config);
    a->config = fresh;
    agent_log_set_level(a->config.log_level);
    {
        unsigned failures = a->backoff.failures;
        agent_backoff_init(&a->backoff, a->config.reconnect.initial_ms,
                           a->config.reconnect.maximum_ms, a->config.reconnect.jitter);
        a->backoff.failures = reconnect ? 0 : failures;
    }
    agent_queue_set_limits(&a->queue, a->config.telemetry.queue_max_messages,
                           a->config.telemetry.queue_max_bytes);
    if (a->state == AGENT_STATE_CONNECTED && a->config.telemetry.heartbeat_interval_s)
        a->next_heartbeat_ms = agent_monotonic_ms();
    notify_status(a);
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
    if (agent_queue_push(&a->queue, full, payload, len, qos, retain, err, err_len) != 0) {
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
