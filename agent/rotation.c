/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rotation state machine: the live steps from start to the stored
 * certificate, and the dispatch of the machine (see rotation.h for the
 * steps and the rules; AWS activation is in rotation_activate.c, probe,
 * switch and commit in rotation_switch.c, recovery and the shared token
 * steps in rotation_recover.c, renewal timing in rotation_renewal.c).
 *
 * Token work goes through agent/token.h (objects found and
 * changed by CKA_ID, so every recovery step is idempotent); the CSR
 * through agent/csr.h; the answer through agent/rotation_wire.h and
 * agent/cert_check.h; the journal through agent/rotation_journal.h.
 * Callbacks (main client messages/SUBACKs, probe events) only record;
 * agent_rotation_run acts.
 *
 * Fail-stop: from probe-ok on, a journal write that fails stops the
 * rotation where it is. At probe-ok the new pair is rolled back (the old
 * identity is still the one in use); after the switch the agent keeps the
 * new identity, keeps both pairs on the token and retries the journal
 * every ROTATION_JOURNAL_RETRY_MS ("commit-pending"): the old pair is
 * retired only once "committed" is on disk, so the journal never
 * describes less than the token has already lost.
 *
 * Test hooks, compiled only with -DTRUSTLINK_TEST_HOOKS=ON (never in the
 * shipped daemon): TRUSTLINK_ROTATION_CRASH_AFTER=<step> makes trustlinkd
 * kill itself with SIGKILL right after that step took effect, and
 * TRUSTLINK_ROTATION_STOP_AFTER=<step> stops it (SIGSTOP) there so a test
 * can change the world before it continues (steps: key-generated,
 * csr-published, cert-received, cert-stored, activation-requested,
 * activated, probe-ok, switched,
 * committed — the last one after the old pair was retired and before the
 * new one got the configured label).
 */
#include "rotation.h"
#include "rotation_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mosquitto.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "agent.h"
#include "cert_check.h"
#include "csr.h"
#include "hex.h"
#include "token.h"
#include "log.h"
#include "mqtt.h"
#include "rotation_chain.h"
#include "rotation_wire.h"
#include "tls.h"

#define NEW_ID_BYTES 8

/* ---- small helpers ------------------------------------------------------ */

const char *agent_rotation_phase_name(enum rotation_phase phase)
{
    switch (phase) {
    case ROTATION_PHASE_IDLE: return "idle";
    case ROTATION_PHASE_SUBSCRIBING: return "subscribing";
    case ROTATION_PHASE_WAIT_ANSWER: return "waiting-for-certificate";
    case ROTATION_PHASE_ACTIVATING: return "activating";
    case ROTATION_PHASE_PROBING: return "probing";
    case ROTATION_PHASE_DRAINING: return "draining";
    case ROTATION_PHASE_SWITCHING: return "switching";
    case ROTATION_PHASE_COMMIT_PENDING: return "commit-pending";
    }
    return "unknown";
}

#ifdef TRUSTLINK_TEST_HOOKS
/* The test hooks: see the file comment. */
void rotation_crash_point(const char *step)
{
    const char *crash = getenv("TRUSTLINK_ROTATION_CRASH_AFTER");
    const char *stop = getenv("TRUSTLINK_ROTATION_STOP_AFTER");

    if (crash && strcmp(crash, step) == 0) {
        agent_err("rotation: TRUSTLINK_ROTATION_CRASH_AFTER=%s: killing trustlinkd (test hook)",
                  step);
        raise(SIGKILL);
    }
    if (stop && strcmp(stop, step) == 0) {
        agent_err("rotation: TRUSTLINK_ROTATION_STOP_AFTER=%s: stopping trustlinkd (test hook)",
                  step);
        raise(SIGSTOP);
    }
}
#else
void rotation_crash_point(const char *step)
{
    (void)step;
}
#endif

/* Records the step; on failure the in-memory record keeps the step that
 * is on disk, so status and the next attempt never claim more. */
int rotation_journal_step(struct agent *a, enum rotation_step step, char *err, size_t err_len)
{
    struct agent_rotation *r = &a->rotation;
    enum rotation_step before = r->rec.step;
    int64_t updated = r->rec.updated;

    r->rec.step = step;
    r->rec.updated = (int64_t)time(NULL);
    if (rotation_proof_record(a->config.rotation.state_dir, &r->rec, &r->proof, err, err_len) !=
        0) {
        r->rec.step = before;
        r->rec.updated = updated;
        return -1;
    }
    return 0;
}

static void free_inflight(struct agent_rotation *r)
{
    /* Client before its context, contexts before keys (as in agent.c). */
    agent_mqtt_free(r->probe);
    r->probe = NULL;
    agent_tls_free(r->probe_tls);
    r->probe_tls = NULL;
    EVP_PKEY_free(r->new_key);
    r->new_key = NULL;
    X509_free(r->new_cert);
    r->new_cert = NULL;
    sk_X509_pop_free(r->new_chain, X509_free);
    r->new_chain = NULL;
    free(r->csr_pem);
    r->csr_pem = NULL;
    free(r->answer);
    r->answer = NULL;
    r->answer_len = 0;
    r->probe_connack = r->probe_closed = false;
    aws_register_call_end(&r->activation);
    r->activation_attempt = 0;
}

void agent_rotation_init(struct agent_rotation *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < sizeof(r->sub_mid) / sizeof(r->sub_mid[0]); i++)
        r->sub_mid[i] = -1;
    r->jitter_random = agent_random_u32();
}

void agent_rotation_free(struct agent_rotation *r)
{
    free_inflight(r);
    r->phase = ROTATION_PHASE_IDLE;
}

/* ---- failure and success ----------------------------------------------- */

/* Before probe-ok: the old identity stays, the new objects go. */
void rotation_fail(struct agent *a, const char *msg)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];
    unsigned count = 0;

    agent_err("rotation failed at step %s: %s; keeping the current identity",
              rotation_step_name(r->rec.step), msg);
    snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
    snprintf(r->last_result, sizeof(r->last_result), "failed");
    snprintf(r->rec.error, sizeof(r->rec.error), "%.*s", ROTATION_ERROR_MAX, msg);
    /* The ownership token has no use once rolled back. */
    OPENSSL_cleanse(r->rec.ownership_token, sizeof(r->rec.ownership_token));
    r->rec.token_expires = 0;
    if (rotation_journal_step(a, ROTATION_ROLLED_BACK, err, sizeof(err)) != 0)
        agent_warn("rotation journal: %s", err);
    free_inflight(r);
    if (a->identity &&
        agent_token_destroy_id(agent_identity_token(a->identity), &r->proof, r->new_id,
                               r->new_id_len, &count, err, sizeof(err)) == AGENT_IDENTITY_OK) {
        if (rotation_journal_clear(a->config.rotation.state_dir, err, sizeof(err)) != 0)
            agent_warn("rotation journal: %s", err);
        rotation_chain_settle(a->config.rotation.state_dir, r->rec.old_key_id, r->rec.new_key_id);
        agent_info("rotation: removed %u new object(s) from the token", count);
    } else {
        agent_err("rotation: cannot remove the new objects yet (%s); the journal will finish it "
                  "at the next identity load",
                  a->identity ? err : "no identity");
    }
    r->failures++;
    r->consecutive_failures++;
    r->last_finished = time(NULL);
    r->phase = ROTATION_PHASE_IDLE;
    a->publish_hold = false;
    rotation_schedule_next_check(a);
}


/* ---- the live steps --------------------------------------------------------- */

static void subscribe_answers(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;
    char act_accepted[AWS_REGISTER_TOPIC_MAX], act_rejected[AWS_REGISTER_TOPIC_MAX];
    const char *topics[4] = {a->config.rotation.accepted_topic, a->config.rotation.rejected_topic,
                             act_accepted, act_rejected};

    r->subscribed = false;
    /* AWS: subscribe to the answers before the request goes out. */
    r->sub_count = rotation_activation_topics(&a->config, act_accepted, act_rejected) ? 4 : 2;
    for (unsigned i = 0; i < r->sub_count; i++) {
        int rc = agent_mqtt_subscribe(a->mqtt, topics[i], 1, &r->sub_mid[i]);

        r->sub_acked[i] = false;
        if (rc != MOSQ_ERR_SUCCESS) {
            r->sub_mid[i] = -1;
            agent_warn("rotation: cannot subscribe to %s: %s", topics[i], mosquitto_strerror(rc));
        }
    }
}

static void publish_request(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    unsigned char rid[8];
    char *payload = NULL;
    char err[512];
    int mid = 0, rc;

    if (RAND_bytes(rid, sizeof(rid)) != 1) {
        rotation_fail(a, "no random bytes for the request id");
        return;
    }
    agent_hex_encode(rid, sizeof(rid), r->rec.request_id, sizeof(r->rec.request_id));
    r->rec.attempt++;
    if (rotation_journal_step(a, ROTATION_CSR_PUBLISHED, err, sizeof(err)) != 0) {
        rotation_fail(a, err);
        return;
    }
    payload = rotation_wire_request(a->config.rotation.profile, r->rec.request_id, r->csr_pem);
    if (!payload) {
        rotation_fail(a, "out of memory building the request");
        return;
    }
    rc = agent_mqtt_publish(a->mqtt, a->config.rotation.request_topic, payload, strlen(payload),
                            1, false, &mid);
    free(payload);
    if (rc != MOSQ_ERR_SUCCESS)
        agent_warn("rotation: publishing the CSR failed (%s); retrying after the timeout",
                   mosquitto_strerror(rc));
    else
        agent_notice("rotation: CSR published to %s (request %s, attempt %u of %u)",
                     a->config.rotation.request_topic, r->rec.request_id, r->rec.attempt,
                     a->config.rotation.max_attempts);
    rotation_crash_point("csr-published");
    r->phase = ROTATION_PHASE_WAIT_ANSWER;
    r->deadline_ms = now + a->config.rotation.answer_timeout_ms;
}

int agent_rotation_start(struct agent *a, const char *trigger, char *err, size_t err_len)
{
    struct agent_rotation *r = &a->rotation;
    const struct agent_rotation_config *rc = &a->config.rotation;
    X509_NAME *subject = NULL;
    struct rotation_record existing;
    char jerr[512];
    uint64_t now = agent_monotonic_ms();
    enum agent_identity_status st;
    int result = -1;

    if (!rc->enabled) {
        snprintf(err, err_len, "rotation is not enabled (no \"rotation\" section in the config)");
        return -1;
    }
    if (r->phase != ROTATION_PHASE_IDLE) {
        snprintf(err, err_len, "a rotation is already in progress (%s)", agent_rotation_phase_name(r->phase));
        return -1;
    }
    if (a->state != AGENT_STATE_CONNECTED || !a->identity || !a->mqtt) {
        snprintf(err, err_len, "not connected to the broker: rotation needs the connection "
                               "(state %s)",
                 agent_state_name(a->state));
        return -1;
    }
    if (rotation_journal_load(rc->state_dir, &existing, jerr, sizeof(jerr)) != ROTATION_LOAD_ABSENT) {
        snprintf(err, err_len, "a rotation journal is present in %s (%s): it is completed or "
                               "rolled back at the next identity load; not starting another",
                 rc->state_dir, r->last_error[0] ? r->last_error : "see the log");
        return -1;
    }
    if (mkdir(rc->state_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create rotation.state_dir %s: %s", rc->state_dir,
                 strerror(errno));
        return -1;
    }

    free_inflight(r);
    memset(&r->rec, 0, sizeof(r->rec));
    if (agent_rotation_check_config(&a->config, r->rec.label, sizeof(r->rec.label), err,
                                    err_len) != 0)
        return -1;
    /* check_config keeps labels short enough for both suffixes. */
    snprintf(r->rec.temp_label, sizeof(r->rec.temp_label), "%.*s%s",
             (int)(ROTATION_LABEL_MAX - strlen(ROTATION_TEMP_LABEL_SUFFIX)), r->rec.label,
             ROTATION_TEMP_LABEL_SUFFIX);
    r->old_id_len = sizeof(r->old_id);
    if (agent_identity_key_id(a->identity, r->old_id, &r->old_id_len) != AGENT_IDENTITY_OK ||
        r->old_id_len == 0) {
        snprintf(err, err_len, "cannot read the CKA_ID of the current key");
        return -1;
    }
    r->new_id_len = NEW_ID_BYTES;
    if (RAND_bytes(r->new_id, (int)r->new_id_len) != 1) {
        snprintf(err, err_len, "no random bytes for the new key id");
        return -1;
    }
    agent_hex_encode(r->old_id, r->old_id_len, r->rec.old_key_id, sizeof(r->rec.old_key_id));
    agent_hex_encode(r->new_id, r->new_id_len, r->rec.new_key_id, sizeof(r->rec.new_key_id));
    /* The new key is made on the identity's token: recovery acts only there. */
    r->rec.slot_id = agent_identity_slot_id(a->identity);
    r->rec.started = r->rec.updated = (int64_t)time(NULL);
    snprintf(r->trigger, sizeof(r->trigger), "%s", trigger);
    snprintf(r->previous_sha256, sizeof(r->previous_sha256), "%s", a->cert.sha256);
    r->last_attempt = time(NULL);
    r->last_error[0] = '\0';
    snprintf(r->last_result, sizeof(r->last_result), "in-progress");

    /* Journal first: a crash after the key exists must find its id. */
    if (rotation_journal_step(a, ROTATION_KEY_GENERATED, err, err_len) != 0) {
        snprintf(r->last_result, sizeof(r->last_result), "failed");
        snprintf(r->last_error, sizeof(r->last_error), "%s", err);
        return -1;
    }
    agent_notice("rotation (%s): generating a new P-256 key on token \"%s\" (id %s, label %s)",
                 trigger, agent_identity_token_label(a->identity), r->rec.new_key_id,
                 r->rec.temp_label);
    r->phase = ROTATION_PHASE_SUBSCRIBING;  /* from here on, failures roll back */
    st = agent_token_generate_p256(agent_identity_token(a->identity), &r->proof, r->new_id,
                                   r->new_id_len, r->rec.temp_label, err, err_len);
    if (st != AGENT_IDENTITY_OK)
        goto failed;
    rotation_crash_point("key-generated");
    st = agent_token_key_by_id(agent_identity_token(a->identity), r->new_id, r->new_id_len,
                               &r->new_key, err, err_len);
    if (st != AGENT_IDENTITY_OK)
        goto failed;
    if (rc->subject) {
        if (agent_csr_parse_subject(rc->subject, &subject, err, err_len) != 0)
            goto failed;
    } else {
        subject = X509_NAME_dup(X509_get_subject_name(agent_identity_certificate(a->identity)));
        if (!subject) {
            snprintf(err, err_len, "out of memory");
            goto failed;
        }
    }
    if (agent_csr_build(r->new_key, subject, &r->csr_pem, err, err_len) != 0)
        goto failed;
    r->deadline_ms = now + rc->answer_timeout_ms;
    if (r->subscribed)
        publish_request(a, now);
    result = 0;
    goto cleanup;
failed:
    {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s", err);
        rotation_fail(a, msg);
        snprintf(err, err_len, "%s", msg);
    }
cleanup:
    X509_NAME_free(subject);
    return result;
}


static void handle_answer(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    char *pem = NULL;
    char err[768];
    enum rotation_answer kind;
    enum agent_cert_check check;
    struct agent_cert_identity who;
    X509_NAME *asked;
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    bool activate = rotation_activation_topics(&a->config, NULL, NULL);
    char *token = NULL;

    kind = rotation_wire_answer(a->config.rotation.profile, r->answer_accepted, r->rec.request_id,
                                r->answer, r->answer_len, &pem, err, sizeof(err));
    if (kind == ROTATION_ANSWER_CERTIFICATE && activate) {
        /* AWS: the certificate is PENDING_ACTIVATION until RegisterThing
         * with this token; without it there is nothing to do but fail. */
        token = malloc(ROTATION_OWNERSHIP_TOKEN_MAX + 1);
        if (!token) {
            snprintf(err, sizeof(err), "out of memory");
            kind = ROTATION_ANSWER_MALFORMED;
        } else if (aws_register_token_from_csr_answer(r->answer, r->answer_len, token,
                                                      ROTATION_OWNERSHIP_TOKEN_MAX + 1, err,
                                                      sizeof(err)) != 0) {
            kind = ROTATION_ANSWER_MALFORMED;
        }
    }
    OPENSSL_cleanse(r->answer, r->answer_len);
    free(r->answer);
    r->answer = NULL;
    r->answer_len = 0;
    if (kind == ROTATION_ANSWER_IGNORE) {
        agent_debug("rotation: ignoring an answer: %s", err);
        goto cleanup;
    }
    if (kind != ROTATION_ANSWER_CERTIFICATE) {
        rotation_fail(a, err);
        goto cleanup;
    }
    /* The identity rule (cert_check.h): the names our own CSR asked for. */
    asked = agent_csr_subject_of(r->csr_pem, err, sizeof(err));
    who.subject = asked;
    who.current = agent_identity_certificate(a->identity);
    who.aws_subject = a->config.rotation.profile == AGENT_ROTATION_AWS;
    check = asked ? agent_cert_check(pem, strlen(pem), r->new_key, &who,
                                     a->config.rotation.issuing_ca_file, time(NULL), &leaf,
                                     &chain, err, sizeof(err))
                  : AGENT_CERT_INTERNAL;
    X509_NAME_free(asked);
    free(pem);
    pem = NULL;
    if (check != AGENT_CERT_OK) {
        char msg[900];
        snprintf(msg, sizeof(msg), "the CA's certificate is refused (%s): %s",
                 agent_cert_check_name(check), err);
        rotation_fail(a, msg);
        goto cleanup;
    }
    r->new_cert = leaf;
    r->new_chain = chain;
    {
        struct agent_cert_info info;
        agent_cert_info_fill(&info, leaf);
        snprintf(r->new_sha256, sizeof(r->new_sha256), "%s", info.sha256);
    }
    if (rotation_journal_step(a, ROTATION_CERT_RECEIVED, err, sizeof(err)) != 0) {
        rotation_fail(a, err);
        goto cleanup;
    }
    rotation_crash_point("cert-received");
    if (rotation_journal_step(a, ROTATION_CERT_STORED, err, sizeof(err)) != 0) {
        rotation_fail(a, err);
        goto cleanup;
    }
    if (agent_token_store_certificate(agent_identity_token(a->identity), &r->proof, leaf,
                                      r->new_id, r->new_id_len, r->rec.temp_label, err,
                                      sizeof(err)) != AGENT_IDENTITY_OK) {
        rotation_fail(a, err);
        goto cleanup;
    }
    /* The token keeps only the leaf; the intermediates must outlive a
     * restart too (rotation_chain.h). */
    if (rotation_chain_save(a->config.rotation.state_dir, r->rec.new_key_id, chain, err,
                            sizeof(err)) != 0) {
        rotation_fail(a, err);
        goto cleanup;
    }
    rotation_crash_point("cert-stored");
    if (activate)
        rotation_activation_begin(a, now, token);
    else
        rotation_start_probe(a, now);
cleanup:
    if (token) {
        OPENSSL_cleanse(token, ROTATION_OWNERSHIP_TOKEN_MAX + 1);
        free(token);
    }
    free(pem);
}

int agent_rotation_run(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    char msg[300];

    if (!a->config.rotation.enabled)
        return -1;
    switch (r->phase) {
    case ROTATION_PHASE_IDLE:
        return a->config.rotation.auto_renew ? rotation_renewal_step(a) : -1;
    case ROTATION_PHASE_SUBSCRIBING:
        if (r->subscribed && a->state == AGENT_STATE_CONNECTED) {
            publish_request(a, now);
        } else if (now >= r->deadline_ms) {
            snprintf(msg, sizeof(msg), "the answer topics were not subscribed within %.1f s "
                                       "(connection state %s)",
                     a->config.rotation.answer_timeout_ms / 1000.0, agent_state_name(a->state));
            rotation_fail(a, msg);
        }
        break;
    case ROTATION_PHASE_WAIT_ANSWER:
        if (r->answer) {
            handle_answer(a, now);
        } else if (now >= r->deadline_ms) {
            if (r->rec.attempt >= a->config.rotation.max_attempts) {
                snprintf(msg, sizeof(msg), "no answer from the CA after %u attempt(s) of %.1f s",
                         r->rec.attempt, a->config.rotation.answer_timeout_ms / 1000.0);
                rotation_fail(a, msg);
            } else {
                agent_warn("rotation: no answer to request %s within %.1f s; publishing again",
                           r->rec.request_id, a->config.rotation.answer_timeout_ms / 1000.0);
                r->phase = ROTATION_PHASE_SUBSCRIBING;
                r->deadline_ms = now + a->config.rotation.answer_timeout_ms;
                return 0;
            }
        }
        break;
    case ROTATION_PHASE_ACTIVATING:
        rotation_activation_step(a, now);
        break;
    case ROTATION_PHASE_PROBING:
        rotation_probe_step(a, now);
        break;
    case ROTATION_PHASE_DRAINING:
        rotation_drain_step(a, now);
        break;
    case ROTATION_PHASE_SWITCHING:
        break;
    case ROTATION_PHASE_COMMIT_PENDING:
        if (now >= r->deadline_ms)
            rotation_commit(a, now);
        break;
    }
    if (r->phase == ROTATION_PHASE_IDLE)
        return 0;
    if (r->phase == ROTATION_PHASE_DRAINING)
        return 20;
    if (r->phase == ROTATION_PHASE_SWITCHING)
        return -1;
    return r->deadline_ms > now ? (int)(r->deadline_ms - now) : 0;
}

/* ---- events -------------------------------------------------------------- */

void agent_rotation_connected(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];

    if (!a->config.rotation.enabled)
        return;
    subscribe_answers(a);
    if (r->phase == ROTATION_PHASE_SWITCHING) {
        if (rotation_journal_step(a, ROTATION_SWITCHED, err, sizeof(err)) != 0) {
            rotation_hold_commit(a, agent_monotonic_ms(), err);
            return;
        }
        rotation_crash_point("switched");
        rotation_commit(a, agent_monotonic_ms());
    }
}

void agent_rotation_disconnected(struct agent *a)
{
    a->rotation.subscribed = false;
    memset(a->rotation.sub_acked, 0, sizeof(a->rotation.sub_acked));
}

void agent_rotation_subscribed(struct agent *a, int mid, bool ok)
{
    struct agent_rotation *r = &a->rotation;
    static const char *const what[4] = {"the CSR accepted topic", "the CSR rejected topic",
                                        "the RegisterThing accepted topic",
                                        "the RegisterThing rejected topic"};
    bool all = true;

    for (unsigned i = 0; i < r->sub_count; i++) {
        if (mid == r->sub_mid[i]) {
            r->sub_acked[i] = true;
            if (!ok)
                agent_warn("rotation: the broker refused the subscription to %s", what[i]);
        }
        all = all && r->sub_acked[i];
    }
    r->subscribed = r->sub_count > 0 && all;
}

void agent_rotation_message(struct agent *a, const char *topic, const void *payload, size_t len)
{
    struct agent_rotation *r = &a->rotation;
    bool accepted = strcmp(topic, a->config.rotation.accepted_topic) == 0;
    bool rejected = strcmp(topic, a->config.rotation.rejected_topic) == 0;

    if (rotation_activation_message(a, topic, payload, len))
        return;
    if (!accepted && !rejected)
        return;
    if (r->phase != ROTATION_PHASE_WAIT_ANSWER || r->answer) {
        agent_info("rotation: ignoring a message on %s (no request waiting for it)", topic);
        return;
    }
    if (len > ROTATION_WIRE_MAX_ANSWER) {
        agent_warn("rotation: ignoring a %zu byte message on %s (limit %d)", len, topic,
                   ROTATION_WIRE_MAX_ANSWER);
        return;
    }
    {
        /* Answers to other (earlier) requests are dropped here, so they
         * cannot crowd out the one we wait for. */
        char *pem = NULL;
        char err[256];
        enum rotation_answer kind = rotation_wire_answer(a->config.rotation.profile, accepted,
                                                         r->rec.request_id, payload, len, &pem,
                                                         err, sizeof(err));
        free(pem);
        if (kind == ROTATION_ANSWER_IGNORE) {
            agent_debug("rotation: %s", err);
            return;
        }
    }
    r->answer = malloc(len ? len : 1);
    if (!r->answer)
        return;
    memcpy(r->answer, payload, len);
    r->answer_len = len;
    r->answer_accepted = accepted;
}

void agent_rotation_abandon(struct agent *a, const char *why)
{
    struct agent_rotation *r = &a->rotation;

    if (r->phase == ROTATION_PHASE_IDLE)
        return;
    agent_warn("rotation interrupted at step %s: %s; the journal decides at the next identity "
               "load",
               rotation_step_name(r->rec.step), why);
    free_inflight(r);
    r->phase = ROTATION_PHASE_IDLE;
    a->publish_hold = false;
    a->switch_disconnect = false;
    snprintf(r->last_result, sizeof(r->last_result), "interrupted");
    snprintf(r->last_error, sizeof(r->last_error), "%s", why);
}
