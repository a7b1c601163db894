/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's state machine, one pass at a time:
 * - A disconnect the agent starts itself is acted on in the same timer
 *   pass (agent_run_timers), not at the next socket event or once-a-second
 *   misc tick: the rotation switch used to sit ~0.5 s (up to 1 s) between
 *   its DISCONNECT and noticing the close, with messages held in RAM
 *   meanwhile.
 * - The reconnect backoff across broker restarts: a short connection lost
 *   keeps its failure count (flap protection), but a broker found
 *   unreachable starts the outage's count afresh, and the connection that
 *   ends such an outage resets it.
 *
 * libmosquitto 2.0.11 writes a DISCONNECT at once when the socket takes
 * it and calls on_disconnect inside mosquitto_disconnect. The MQTT client,
 * the identity hand-over and the TLS context are replaced here with the
 * linker's --wrap (CMakeLists.txt) so that this is what happens,
 * deterministically: one timer pass, then the state is checked, never a
 * duration: the misc tick is kept out of the pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <mosquitto.h>

#include "agent_internal.h"
#include "mqtt.h"

/* ---- the wrapped layer ---------------------------------------------------- */

struct agent_mqtt {
    struct agent_mqtt_callbacks cb;
};

static int disconnects_sent;
static int identities_adopted;

struct agent_mqtt *__wrap_agent_mqtt_new(const struct agent_mqtt_params *params,
                                         const struct agent_mqtt_callbacks *callbacks, char *err,
                                         size_t err_len);
struct agent_mqtt *__wrap_agent_mqtt_new(const struct agent_mqtt_params *params,
                                         const struct agent_mqtt_callbacks *callbacks, char *err,
                                         size_t err_len)
{
    struct agent_mqtt *m = calloc(1, sizeof(*m));

    (void)params;
    (void)err;
    (void)err_len;
    if (m)
        m->cb = *callbacks;
    return m;
}

void __wrap_agent_mqtt_free(struct agent_mqtt *m);
void __wrap_agent_mqtt_free(struct agent_mqtt *m)
{
    free(m);
}

/* As libmosquitto does when the DISCONNECT goes out at once. */
int __wrap_agent_mqtt_disconnect(struct agent_mqtt *m);
int __wrap_agent_mqtt_disconnect(struct agent_mqtt *m)
{
    disconnects_sent++;
    m->cb.disconnected(m->cb.ctx, 0);
    return 0;
}

int __wrap_agent_mqtt_publish(struct agent_mqtt *m, const char *topic, const void *payload,
                              size_t len, int qos, bool retain, int *mid);
int __wrap_agent_mqtt_publish(struct agent_mqtt *m, const char *topic, const void *payload,
                              size_t len, int qos, bool retain, int *mid)
{
    static int next_mid = 1;

    (void)m;
    (void)topic;
    (void)payload;
    (void)len;
    (void)qos;
    (void)retain;
    *mid = next_mid++;
    return 0;
}

const char *__wrap_agent_mqtt_last_log(const struct agent_mqtt *m);
const char *__wrap_agent_mqtt_last_log(const struct agent_mqtt *m)
{
    (void)m;
    return "";
}

int __wrap_agent_mqtt_fd(const struct agent_mqtt *m);
int __wrap_agent_mqtt_fd(const struct agent_mqtt *m)
{
    (void)m;
    return -1;
}

int __wrap_agent_mqtt_misc(struct agent_mqtt *m);
int __wrap_agent_mqtt_misc(struct agent_mqtt *m)
{
    (void)m;
    fail_msg("the misc tick ran inside the pass: the test would not show the wait");
    return 0;
}

void __wrap_agent_identity_adopt(struct agent_identity *id, EVP_PKEY *key, X509 *cert,
                                 STACK_OF(X509) *chain);
void __wrap_agent_identity_adopt(struct agent_identity *id, EVP_PKEY *key, X509 *cert,
                                 STACK_OF(X509) *chain)
{
    (void)id;
    (void)key;
    (void)cert;
    (void)chain;
    identities_adopted++;
}

X509 *__wrap_agent_identity_certificate(const struct agent_identity *id);
X509 *__wrap_agent_identity_certificate(const struct agent_identity *id)
{
    (void)id;
    return NULL;
}

SSL_CTX *__wrap_agent_tls_ctx(const struct agent_tls *tls);
SSL_CTX *__wrap_agent_tls_ctx(const struct agent_tls *tls)
{
    (void)tls;
    return NULL;
}

/* ---- fixture ---------------------------------------------------------------- */

static const char *config_text;

static const char config_json[] =
    "{\"device_id\":\"device-001\","
    "\"identity\":{\"key\":\"pkcs11:token=t;object=k\",\"certificate\":\"pkcs11:token=t;object=k\"},"
    "\"broker\":{\"host\":\"127.0.0.1\",\"port\":8883,\"ca_file\":\"/nonexistent/ca.pem\"},"
    "\"telemetry\":{\"heartbeat_interval\":0},"
    "\"rotation\":{\"issuing_ca_file\":\"/nonexistent/ca.pem\",\"state_dir\":\"/nonexistent\","
    "\"auto_renew\":false}}";

static void attach_client(struct agent *a);

/* A connected agent with a (wrapped) client; its next misc tick is far
 * off, as it is for most of each second. Returns the pass's time. */
static uint64_t connected_agent(struct agent *a)
{
    uint64_t now = agent_monotonic_ms();
    char err[512];

    memset(a, 0, sizeof(*a));
    assert_int_equal(agent_config_parse(config_text, strlen(config_text), &a->config, err,
                                        sizeof(err)), 0);
    agent_backoff_init(&a->backoff, 1000, 30000, false);
    agent_queue_init(&a->queue, 100, 65536);
    agent_inflight_init(&a->inflight, AGENT_INFLIGHT_WINDOW);
    agent_rotation_init(&a->rotation);
    a->offline_mid = -1;
    a->identity = (struct agent_identity *)(uintptr_t)1;   /* only passed to wrapped calls */
    disconnects_sent = 0;
    identities_adopted = 0;
    a->state = AGENT_STATE_CONNECTED;
    a->connected_since_ms = now;
    a->next_misc_ms = now + 60000;
    a->next_heartbeat_ms = now + 60000;
    attach_client(a);
    return now;
}

static void finish(struct agent *a)
{
    a->identity = NULL;   /* the fake one is not freed */
    agent_destroy(a);
}

/* The client through the agent's own constructor, so its callbacks are
 * the agent's. */
static void attach_client(struct agent *a)
{
    char err[256];

    a->mqtt = agent_client_new(a, &a->config, NULL, err, sizeof(err));
    assert_non_null(a->mqtt);
}

/* The next attempt is due already, and the loop wakes for it rather than
 * for the misc tick a second later. */
static void assert_reconnect_due(const struct agent *a, uint64_t now, int next_ms)
{
    assert_true(a->next_attempt_ms <= agent_monotonic_ms());
    assert_true(next_ms >= 0);
    assert_true(now + (uint64_t)next_ms <= a->next_attempt_ms);
}

static void test_rotation_switch_acts_on_its_disconnect_in_the_same_pass(void **state)
{
    struct agent a;
    uint64_t now = connected_agent(&a);
    int next_ms;

    (void)state;
    assert_true(a.config.rotation.enabled);
    /* Probe accepted, nothing in flight: the drain is over at once. */
    a.rotation.phase = ROTATION_PHASE_DRAINING;
    a.rotation.deadline_ms = now + 5000;
    a.publish_hold = true;

    next_ms = agent_run_timers(&a, now);

    assert_int_equal(disconnects_sent, 1);
    /* Acted on within the pass: identity switched, old client gone,
     * messages released, and the loop told to reconnect without waiting. */
    assert_int_equal(identities_adopted, 1);
    assert_int_equal(a.rotation.phase, ROTATION_PHASE_SWITCHING);
    assert_null(a.mqtt);
    assert_false(a.publish_hold);
    assert_int_equal(a.state, AGENT_STATE_WAITING);
    assert_reconnect_due(&a, now, next_ms);
    finish(&a);
}

static void test_reconnect_request_acts_on_its_disconnect_in_the_same_pass(void **state)
{
    struct agent a;
    uint64_t now = connected_agent(&a);
    int next_ms;

    (void)state;
    a.reconnect_requested = true;

    next_ms = agent_run_timers(&a, now);

    assert_int_equal(disconnects_sent, 1);
    assert_null(a.mqtt);
    assert_int_equal(a.state, AGENT_STATE_WAITING);
    assert_int_equal(a.counters.disconnects, 1);
    assert_int_equal(a.counters.connect_failures, 0);
    assert_reconnect_due(&a, now, next_ms);
    finish(&a);
}

/* ---- reconnect backoff across broker restarts -------------------------- */

static const char plain_config_json[] =
    "{\"device_id\":\"device-001\","
    "\"identity\":{\"key\":\"pkcs11:token=t;object=k\",\"certificate\":\"pkcs11:token=t;object=k\"},"
    "\"broker\":{\"host\":\"127.0.0.1\",\"port\":8883,\"ca_file\":\"/nonexistent/ca.pem\"},"
    "\"reconnect\":{\"initial\":1,\"maximum\":30,\"jitter\":\"none\",\"stable_reset\":30},"
    "\"telemetry\":{\"heartbeat_interval\":0}}";

static int use_plain_config(void **state)
{
    (void)state;
    config_text = plain_config_json;
    return 0;
}

static int use_rotation_config(void **state)
{
    (void)state;
    config_text = config_json;
    return 0;
}

/* The broker closes an established connection (as when it stops). */
static void broker_closes(struct agent *a)
{
    a->event_disconnected = true;
    a->event_disconnect_rc = MOSQ_ERR_CONN_LOST;
    a->event_disconnect_errno = ECONNRESET;
    agent_process_events(a);
    assert_int_equal(a->state, AGENT_STATE_WAITING);
}

/* The next attempt's TCP connect is refused: the broker is down. */
static void attempt_refused(struct agent *a)
{
    a->state = AGENT_STATE_CONNECTING;
    agent_handle_failure(a, MOSQ_ERR_ERRNO, ECONNREFUSED, agent_monotonic_ms());
    assert_int_equal(a->state, AGENT_STATE_WAITING);
}

/* The next attempt gets CONNACK 0. */
static void attempt_accepted(struct agent *a)
{
    attach_client(a);
    a->state = AGENT_STATE_CONNECTING;
    a->event_connack = true;
    a->event_connack_rc = 0;
    agent_process_events(a);
    assert_int_equal(a->state, AGENT_STATE_CONNECTED);
}

static void test_a_restarted_broker_counts_its_outage_afresh(void **state)
{
    struct agent a;

    (void)state;
    connected_agent(&a);
    a.backoff.failures = 3;          /* left over from earlier restarts */
    broker_closes(&a);               /* up for less than stable_reset */
    assert_int_equal(a.backoff.failures, 4);
    attempt_refused(&a);             /* the broker is down: an outage */
    assert_int_equal(a.backoff.failures, 1);
    assert_int_equal(agent_backoff_ceiling(&a.backoff, 0), 2000);
    attempt_refused(&a);
    assert_int_equal(a.backoff.failures, 2);
    attempt_accepted(&a);            /* back: the outage is over */
    assert_int_equal(a.backoff.failures, 0);
    finish(&a);
}

static void test_a_connection_dropped_at_once_keeps_backing_off(void **state)
{
    struct agent a;

    (void)state;
    connected_agent(&a);
    /* Taken over or kicked right after CONNACK, again and again, with the
     * broker up: no refusal, so the count grows. */
    for (unsigned i = 1; i <= 4; i++) {
        broker_closes(&a);
        assert_int_equal(a.backoff.failures, i);
        agent_release_client(&a);
        attempt_accepted(&a);
        assert_int_equal(a.backoff.failures, i);
    }
    finish(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rotation_switch_acts_on_its_disconnect_in_the_same_pass,
                               use_rotation_config),
        cmocka_unit_test_setup(test_reconnect_request_acts_on_its_disconnect_in_the_same_pass,
                               use_rotation_config),
        cmocka_unit_test_setup(test_a_restarted_broker_counts_its_outage_afresh, use_plain_config),
        cmocka_unit_test_setup(test_a_connection_dropped_at_once_keeps_backing_off,
                               use_plain_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
