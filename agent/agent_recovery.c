/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Failures and the timers that recover from them (see agent.h): identity
 * loads and their token backoff, classing a failed or lost connection,
 * the connect timeout, and agent_run_timers, which decides what is due.
 *
 *   token fault (handshake signature failed, token not answering)
 *     -> identity dropped, IDENTITY_WAIT; reload after token_backoff
 *        (1 s, 2 s, then every 4 s; reset by the next CONNACK)
 *   other failures -> WAITING after the reconnect backoff (failure.h)
 *
 * Must never: free the MQTT client from inside a libmosquitto callback;
 * reload the token module on a fixed clock (a cleared fault would wait for
 * it); log a PIN.
 */
#include "agent_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <openssl/x509.h>

#include "identity.h"
#include "log.h"
#include "mqtt.h"

void agent_set_error(struct agent *a, enum agent_failure_class cls, const char *msg)
{
    a->last_failure = cls;
    snprintf(a->last_error, sizeof(a->last_error), "%s", msg);
    a->last_error_time = time(NULL);
}

/* A retryable identity load failed: next try after the token backoff.
 * While a token fault is being recovered from, a token that is not listed
 * is the fault going on, not a wrong token= attribute. */
static void identity_retry_later(struct agent *a, enum agent_identity_status st, const char *err,
                                 uint64_t now)
{
    unsigned delay = agent_backoff_next(&a->token_backoff, 0, 0);
    char msg[1024];

    if (a->token_faulty && st == AGENT_IDENTITY_TOKEN_NOT_FOUND)
        snprintf(msg, sizeof(msg), "token faulty: it failed with a device error and its module "
                                   "does not list it yet; reloading the PKCS#11 module in %.1f s",
                 delay / 1000.0);
    else if (a->token_faulty || st == AGENT_IDENTITY_TOKEN_FAULT)
        snprintf(msg, sizeof(msg), "token faulty: %.900s; reloading the PKCS#11 module in %.1f s",
                 err, delay / 1000.0);
    else
        snprintf(msg, sizeof(msg), "%.900s; retrying in %.1f s", err, delay / 1000.0);
    agent_err("identity (%s): %s", agent_identity_status_name(st), msg);
    agent_set_error(a, AGENT_FAILURE_TOKEN, msg);
    a->state = AGENT_STATE_IDENTITY_WAIT;
    a->next_attempt_ms = now + delay;
}

int agent_load_identity(struct agent *a, uint64_t now)
{
    char err[1024];
    enum agent_identity_status st;

    a->last_identity_load_ms = now;
    if (a->token_faulty)
        a->counters.token_reinits++;
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
        identity_retry_later(a, st, err, now);
        return 1;
    }
    agent_err("identity (%s): %s", agent_identity_status_name(st), err);
    agent_set_error(a, AGENT_FAILURE_CONFIG, err);
    return AGENT_EXIT_CONFIG;
}

static void schedule_retry(struct agent *a, enum agent_failure_class cls, uint64_t now)
{
    unsigned delay = agent_backoff_next(&a->backoff, agent_failure_penalty(cls), agent_random_u32());

    a->state = AGENT_STATE_WAITING;
    a->next_attempt_ms = now + delay;
    agent_info("next connection attempt in %.2f s", delay / 1000.0);
}

void agent_handle_failure(struct agent *a, int mosq_rc, int saved_errno, uint64_t now)
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
    agent_set_error(a, cls, msg);
    agent_log(cls == AGENT_FAILURE_NETWORK ? AGENT_LOG_WARNING : AGENT_LOG_ERR, "%s (%s)", msg,
              agent_failure_class_name(cls));

    if (cls == AGENT_FAILURE_TOKEN) {
        /* A wedged token recovers only by a full reload (facts 1), paced
         * by its own backoff: quick while the fault is short, at most
         * every AGENT_TOKEN_RETRY_MAX_MS while it lasts. */
        unsigned delay = agent_backoff_next(&a->token_backoff, 0, 0);

        agent_drop_connection_objects(a, true);
        a->token_faulty = true;
        a->state = AGENT_STATE_IDENTITY_WAIT;
        a->next_attempt_ms = now + delay;
        agent_notice("token fault: reloading the PKCS#11 module in %.1f s", delay / 1000.0);
        return;
    }
    if (cls == AGENT_FAILURE_NETWORK && in.handshaking) {
        /* The broker could not be reached: an outage, not a flap. */
        if (a->short_connection_lost)
            agent_backoff_reset(&a->backoff);
        a->short_connection_lost = false;
        a->broker_was_unreachable = true;
    }
    schedule_retry(a, cls, now);
}

/* A connect that failed under libmosquitto: close its socket (by freeing
 * the client: libmosquitto keeps polling a dead one) and class errno. */
static void connect_failed(struct agent *a, int err)
{
    uint64_t now = agent_monotonic_ms();

    agent_release_client(a);
    a->event_connack = a->event_disconnected = false;
    agent_handle_failure(a, MOSQ_ERR_ERRNO, err, now);
    agent_notify_status(a);
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

static void connect_timed_out(struct agent *a, uint64_t now)
{
    char msg[200];

    snprintf(msg, sizeof(msg), "connecting to %s:%u timed out after %u s", a->config.broker.host,
             a->config.broker.port, AGENT_CONNECT_TIMEOUT_MS / 1000);
    agent_warn("%s", msg);
    agent_drop_connection_objects(a, false);
    a->counters.connect_failures++;
    agent_set_error(a, AGENT_FAILURE_NETWORK, msg);
    schedule_retry(a, AGENT_FAILURE_NETWORK, now);
    agent_notify_status(a);
}

static void handle_reconnect_request(struct agent *a, uint64_t now)
{
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
    if (a->reconnect_requested)
        handle_reconnect_request(a, now);
    if ((a->state == AGENT_STATE_WAITING || a->state == AGENT_STATE_IDENTITY_WAIT) &&
        now >= a->next_attempt_ms) {
        agent_attempt_connect(a, now);
        agent_notify_status(a);
    }
    if (a->state == AGENT_STATE_CONNECTING && now - a->connecting_since_ms >= AGENT_CONNECT_TIMEOUT_MS)
        connect_timed_out(a, now);
    if (a->mqtt && now >= a->next_misc_ms) {
        a->next_misc_ms = now + 1000;
        agent_mqtt_io_done(a, agent_mqtt_misc(a->mqtt));
    }
    if (a->state == AGENT_STATE_CONNECTED && a->config.telemetry.heartbeat_interval_s &&
        now >= a->next_heartbeat_ms && !a->publish_hold)
        agent_publish_heartbeat(a, now);
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
