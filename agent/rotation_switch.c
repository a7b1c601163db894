/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The second half of a rotation: the probe connection with the new
 * identity, the drain and switch of the main connection, and the commit
 * (see rotation.h for the steps, rotation.c for the first half).
 *
 * Owns: the probe client and its TLS context while probing, the switch of
 * the agent's identity and TLS context to the new ones.
 * Must never: retire the old pair before "committed" is on disk; switch
 * before "probe-ok" is on disk.
 */
#include "rotation.h"
#include "rotation_internal.h"

#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <openssl/ssl.h>

#include "agent.h"
#include "log.h"
#include "mqtt.h"
#include "rotation_chain.h"
#include "tls.h"

/* The new identity is in use but the journal could not record the next
 * step: keep both pairs, retry later (fail-stop, see the file comment). */
void rotation_hold_commit(struct agent *a, uint64_t now, const char *err)
{
    struct agent_rotation *r = &a->rotation;

    if (r->phase != ROTATION_PHASE_COMMIT_PENDING)
        agent_err("rotation: the journal cannot be written (%s); using the new identity but "
                  "keeping the old key on the token until the journal records the commit "
                  "(retrying every %u s)",
                  err, ROTATION_JOURNAL_RETRY_MS / 1000);
    r->phase = ROTATION_PHASE_COMMIT_PENDING;
    r->deadline_ms = now + ROTATION_JOURNAL_RETRY_MS;
    snprintf(r->last_result, sizeof(r->last_result), "commit-pending");
    snprintf(r->last_error, sizeof(r->last_error), "journal: %.480s", err);
}

void rotation_commit(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];
    enum agent_identity_status st;

    /* Retiring the old pair is destructive: only once "committed" is on
     * disk, so a crash can never roll back to a key that is gone. */
    if (rotation_journal_step(a, ROTATION_COMMITTED, err, sizeof(err)) != 0) {
        rotation_hold_commit(a, now, err);
        return;
    }
    st = rotation_retire_old(&a->config, a->identity, &r->proof, r->old_id, r->old_id_len,
                             r->new_id, r->new_id_len, err, sizeof(err));
    if (st == AGENT_IDENTITY_OK) {
        rotation_crash_point("committed");
        st = rotation_promote_new(a->identity, &r->proof, r->new_id, r->new_id_len, err,
                                  sizeof(err));
    }
    r->phase = ROTATION_PHASE_IDLE;
    r->last_finished = time(NULL);
    if (st != AGENT_IDENTITY_OK) {
        /* The new identity is in use; only the labels lag behind. */
        agent_err("rotation: connected with the new key, but committing on the token failed "
                  "(%s); the journal completes it at the next identity load",
                  err);
        snprintf(r->last_result, sizeof(r->last_result), "commit-pending");
        snprintf(r->last_error, sizeof(r->last_error), "%s", err);
        return;
    }
    if (rotation_journal_clear(a->config.rotation.state_dir, err, sizeof(err)) != 0)
        agent_warn("rotation journal: %s", err);
    rotation_chain_prune(a->config.rotation.state_dir, r->rec.new_key_id);
    r->rotations++;
    r->consecutive_failures = 0;
    snprintf(r->last_result, sizeof(r->last_result), "success");
    r->last_error[0] = '\0';
    agent_notice("rotation complete: new key %s, certificate %s (expires %s); old key %s",
                 r->rec.new_key_id, a->cert.sha256, a->cert.not_after,
                 a->config.rotation.retire == AGENT_RETIRE_DESTROY ? "destroyed"
                                                                    : "kept as previous");
    r->jitter_random = agent_random_u32();
    agent_rotation_cert_changed(a);
    agent_trim_heap();
}

static void probe_on_connack(void *ctx, int rc)
{
    struct agent *a = ctx;

    a->rotation.probe_connack = true;
    a->rotation.probe_connack_rc = rc;
}

static void probe_on_closed(void *ctx, int rc)
{
    struct agent *a = ctx;

    a->rotation.probe_closed = true;
    a->rotation.probe_close_rc = rc;
}

void rotation_start_probe(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    const struct agent_broker_config *b = &a->config.broker;
    struct agent_mqtt_callbacks cb = {.connected = probe_on_connack,
                                      .disconnected = probe_on_closed,
                                      .ctx = a};
    struct agent_mqtt_params p = {
        .client_id = a->config.rotation.probe_client_id,
        .host = b->host,
        .port = b->port,
        .keepalive_s = b->keepalive_s,
        .version = b->mqtt_version,
        .will_topic = NULL,
        .proxy = &b->proxy,
    };
    char err[512];
    int saved_errno = 0;
    int rc;

    r->probe_tls = agent_tls_new_for_key(b, r->new_cert, r->new_chain, r->new_key, "new key",
                                         &a->tls_counters, err, sizeof(err));
    if (!r->probe_tls) {
        rotation_fail(a, err);
        return;
    }
    p.ssl_ctx = agent_tls_ctx(r->probe_tls);
    r->probe = agent_mqtt_new(&p, &cb, err, sizeof(err));
    if (!r->probe) {
        rotation_fail(a, err);
        return;
    }
    r->probe_connack = r->probe_closed = false;
    rc = agent_mqtt_connect(r->probe, &saved_errno);
    if (rc != MOSQ_ERR_SUCCESS || agent_mqtt_fd(r->probe) < 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "probe connection with the new identity failed to start: %s",
                 rc == MOSQ_ERR_ERRNO ? strerror(saved_errno) : mosquitto_strerror(rc));
        rotation_fail(a, msg);
        return;
    }
    agent_info("rotation: probing the new identity as client %s", p.client_id);
    r->phase = ROTATION_PHASE_PROBING;
    r->deadline_ms = now + ROTATION_PROBE_TIMEOUT_MS;
}

/* Main session: stop handing it messages, let in-flight ones finish. */
static void begin_switch(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;

    a->publish_hold = true;
    r->phase = ROTATION_PHASE_DRAINING;
    r->deadline_ms = now + ROTATION_DRAIN_TIMEOUT_MS;
}

static void switch_identity_now(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;

    agent_drop_connection(a);
    /* The identity takes the new key and certificate; the probe's TLS
     * context (already holding them, and maybe a session) becomes the
     * main one, so the reconnect may even resume without a signature. */
    agent_identity_adopt(a->identity, r->new_key, r->new_cert, r->new_chain);
    r->new_key = NULL;
    r->new_cert = NULL;
    r->new_chain = NULL;
    a->tls = r->probe_tls;
    r->probe_tls = NULL;
    agent_cert_info_fill(&a->cert, agent_identity_certificate(a->identity));
    a->publish_hold = false;
    r->phase = ROTATION_PHASE_SWITCHING;
    agent_notice("rotation: switching the main connection to the new identity");
    agent_reconnect_now(a);
}

bool agent_rotation_switch_disconnected(struct agent *a)
{
    if (a->rotation.phase != ROTATION_PHASE_SWITCHING || !a->switch_disconnect)
        return false;
    a->switch_disconnect = false;
    switch_identity_now(a);
    return true;
}

void rotation_probe_step(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];
    char msg[800];

    if (r->probe_connack && r->probe_connack_rc == 0) {
        agent_notice("rotation: the broker accepted the new identity (probe CONNACK)");
        agent_mqtt_disconnect(r->probe);
        agent_mqtt_free(r->probe);
        r->probe = NULL;
        if (rotation_journal_step(a, ROTATION_PROBE_OK, err, sizeof(err)) != 0) {
            /* Fail-stop: without probe-ok on disk a crash after the
             * switch would roll back the key in use. The old identity is
             * still the live one, so roll back now. */
            snprintf(msg, sizeof(msg), "the journal cannot record probe-ok: %s", err);
            rotation_fail(a, msg);
            return;
        }
        rotation_crash_point("probe-ok");
        begin_switch(a, now);
        return;
    }
    if (r->probe_connack || r->probe_closed || now >= r->deadline_ms) {
        struct agent_tls_failure f;

        agent_tls_take_failure(r->probe_tls, &f);
        if (r->probe_connack)
            snprintf(msg, sizeof(msg), "the broker refused the new identity (CONNACK %d)",
                     r->probe_connack_rc);
        else if (f.alert >= 0)
            snprintf(msg, sizeof(msg), "the broker refused the new identity in the TLS "
                                       "handshake (alert: %s)",
                     SSL_alert_desc_string_long(f.alert));
        else if (r->probe_closed)
            snprintf(msg, sizeof(msg), "the probe connection with the new identity closed: %s",
                     f.verify_detail[0] ? f.verify_detail
                     : f.ssl_error[0]   ? f.ssl_error
                                        : mosquitto_strerror(r->probe_close_rc));
        else
            snprintf(msg, sizeof(msg), "the probe connection got no CONNACK within %u s",
                     ROTATION_PROBE_TIMEOUT_MS / 1000);
        rotation_fail(a, msg);
    }
}

void rotation_drain_step(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;

    if (a->state != AGENT_STATE_CONNECTED || !a->mqtt) {
        switch_identity_now(a);
        return;
    }
    if (a->inflight.count > 0 && now < r->deadline_ms)
        return;
    if (a->inflight.count > 0)
        agent_warn("rotation: %zu message(s) still unacknowledged after %u s; switching anyway "
                   "(they are sent again on the new connection)",
                   a->inflight.count, ROTATION_DRAIN_TIMEOUT_MS / 1000);
    r->phase = ROTATION_PHASE_SWITCHING;
    a->switch_disconnect = true;
    if (agent_mqtt_disconnect(a->mqtt) != MOSQ_ERR_SUCCESS) {
        a->switch_disconnect = false;
        switch_identity_now(a);
    }
}

struct agent_mqtt *agent_rotation_probe(const struct agent *a)
{
    return a->rotation.probe;
}

void agent_rotation_probe_io_done(struct agent *a, int rc)
{
    struct agent_rotation *r = &a->rotation;

    /* libmosquitto closes a failed TLS handshake without a callback. */
    if (rc != MOSQ_ERR_SUCCESS && r->probe && agent_mqtt_fd(r->probe) < 0 && !r->probe_closed) {
        r->probe_closed = true;
        r->probe_close_rc = rc;
    }
}
