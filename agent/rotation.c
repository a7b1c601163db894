/*
 * The rotation state machine (see rotation.h for the steps and the rules).
 *
 * Token work goes through agent/identity_token.h (objects found and
 * changed by CKA_ID, so every recovery step is idempotent); the CSR
 * through agent/csr.h; the answer through agent/rotation_wire.h and
 * agent/cert_check.h; the journal through agent/rotation_journal.h.
 * Callbacks (main client messages/SUBACKs, probe events) only record;
 * agent_rotation_run acts.
 *
 * Test hook: TRUSTLINK_ROTATION_CRASH_AFTER=<step> makes trustlinkd kill
 * itself with SIGKILL right after that step took effect (steps:
 * key-generated, csr-published, cert-received, cert-stored, probe-ok,
 * switched, committed — the last one after the old pair was retired and
 * before the new one got the configured label).
 */
#include "rotation.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <mosquitto.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "agent.h"
#include "cert_check.h"
#include "csr.h"
#include "identity_token.h"
#include "log.h"
#include "mqtt.h"
#include "rotation_wire.h"
#include "tls.h"
#include "uri.h"

#define TEMP_LABEL_SUFFIX ".next"
#define PREVIOUS_LABEL_SUFFIX ".previous"
#define NEW_ID_BYTES 8

/* ---- small helpers ------------------------------------------------------ */

static void to_hex(const unsigned char *in, size_t len, char *out, size_t out_len)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < len && used + 3 <= out_len; i++)
        used += (size_t)snprintf(out + used, out_len - used, "%02x", in[i]);
}

static int from_hex(const char *hex, unsigned char *out, size_t max, size_t *len)
{
    size_t n = strlen(hex);

    if (n == 0 || n % 2 != 0 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    *len = n / 2;
    return 0;
}

static void iso_time(time_t t, char *out, size_t out_len)
{
    struct tm tm;

    out[0] = '\0';
    if (t > 0 && gmtime_r(&t, &tm))
        strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint32_t random_u32(void)
{
    uint32_t r = 0;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)time(NULL) * 2654435761u;
    return r;
}

static const char *phase_name(enum rotation_phase phase)
{
    switch (phase) {
    case ROTATION_PHASE_IDLE: return "idle";
    case ROTATION_PHASE_SUBSCRIBING: return "subscribing";
    case ROTATION_PHASE_WAIT_ANSWER: return "waiting-for-certificate";
    case ROTATION_PHASE_PROBING: return "probing";
    case ROTATION_PHASE_DRAINING: return "draining";
    case ROTATION_PHASE_SWITCHING: return "switching";
    }
    return "unknown";
}

/* The test hook: see the file comment. */
static void crash_point(const char *step)
{
    const char *want = getenv("TRUSTLINK_ROTATION_CRASH_AFTER");

    if (want && strcmp(want, step) == 0) {
        agent_err("rotation: TRUSTLINK_ROTATION_CRASH_AFTER=%s: killing trustlinkd (test hook)",
                  step);
        raise(SIGKILL);
    }
}

static int journal_step(struct agent *a, enum rotation_step step, char *err, size_t err_len)
{
    struct agent_rotation *r = &a->rotation;

    r->rec.step = step;
    r->rec.updated = (int64_t)time(NULL);
    return rotation_journal_write(a->config.rotation.state_dir, &r->rec, err, err_len);
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
}

void agent_rotation_init(struct agent_rotation *r)
{
    memset(r, 0, sizeof(*r));
    r->sub_mid[0] = r->sub_mid[1] = -1;
    r->jitter_random = random_u32();
}

void agent_rotation_free(struct agent_rotation *r)
{
    free_inflight(r);
    r->phase = ROTATION_PHASE_IDLE;
}

/* ---- configuration ------------------------------------------------------ */

static int uri_label(const char *what, const char *text, char *label, size_t label_len,
                     bool *has_id, char *err, size_t err_len)
{
    P11KitUri *uri = agent_uri_parse(what, text, err, err_len);
    CK_ATTRIBUTE *attr;
    int rc = -1;

    if (!uri)
        return -1;
    attr = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    *has_id = p11_kit_uri_get_attribute(uri, CKA_ID) != NULL;
    if (!attr || attr->ulValueLen == 0 || attr->ulValueLen >= label_len ||
        attr->ulValueLen > ROTATION_LABEL_MAX - strlen(PREVIOUS_LABEL_SUFFIX)) {
        snprintf(err, err_len, "%s must name its object by label (object=..., at most %zu bytes) "
                               "for key rotation",
                 what, (size_t)(ROTATION_LABEL_MAX - strlen(PREVIOUS_LABEL_SUFFIX)));
        goto cleanup;
    }
    memcpy(label, attr->pValue, attr->ulValueLen);
    label[attr->ulValueLen] = '\0';
    rc = 0;
cleanup:
    p11_kit_uri_free(uri);
    return rc;
}

int agent_rotation_check_config(const struct agent_config *cfg, char *label, size_t label_len,
                                char *err, size_t err_len)
{
    char cert_label[ROTATION_LABEL_MAX + 1];
    bool has_id = false;

    if (uri_label("identity.key", cfg->identity.key_uri, label, label_len, &has_id, err,
                  err_len) != 0)
        return -1;
    if (has_id) {
        snprintf(err, err_len, "identity.key must not contain id= when rotation is enabled: a "
                               "rotated key gets a new CKA_ID; name it by object= only");
        return -1;
    }
    if (strncmp(cfg->identity.certificate, "pkcs11:", 7) != 0) {
        snprintf(err, err_len, "identity.certificate must be a pkcs11: URI (the certificate on "
                               "the token) when rotation is enabled");
        return -1;
    }
    if (uri_label("identity.certificate", cfg->identity.certificate, cert_label,
                  sizeof(cert_label), &has_id, err, err_len) != 0)
        return -1;
    if (has_id || strcmp(cert_label, label) != 0) {
        snprintf(err, err_len, "identity.certificate must name the same object= as identity.key "
                               "(\"%s\") and no id= when rotation is enabled",
                 label);
        return -1;
    }
    return 0;
}

/* ---- token steps shared by the live path and recovery -------------------- */

/* Retires the old pair per policy. Idempotent. */
static enum agent_identity_status retire_old(const struct agent_config *cfg,
                                             struct agent_identity *id,
                                             const struct rotation_record *rec,
                                             const unsigned char *old_id, size_t old_len,
                                             const unsigned char *new_id, size_t new_len,
                                             char *err, size_t err_len)
{
    char previous[ROTATION_LABEL_MAX + 16];
    unsigned count = 0;

    if (cfg->rotation.retire == AGENT_RETIRE_DESTROY)
        return agent_token_destroy_id(id, old_id, old_len, &count, err, err_len);

    snprintf(previous, sizeof(previous), "%s%s", rec->label, PREVIOUS_LABEL_SUFFIX);
    {
        struct agent_token_object found[12];
        int n = agent_token_find_label(id, previous, found, 12, err, err_len);

        if (n < 0)
            return AGENT_IDENTITY_TOKEN_FAULT;
        for (int i = 0; i < n && i < 12; i++) {
            bool is_old = found[i].id_len == old_len && memcmp(found[i].id, old_id, old_len) == 0;
            bool is_new = found[i].id_len == new_len && memcmp(found[i].id, new_id, new_len) == 0;
            enum agent_identity_status st;

            if (is_old || is_new)
                continue;
            st = agent_token_destroy_id(id, found[i].id, found[i].id_len, &count, err, err_len);
            if (st != AGENT_IDENTITY_OK)
                return st;
        }
    }
    return agent_token_relabel(id, old_id, old_len, previous, &count, err, err_len);
}

static enum agent_identity_status promote_new(struct agent_identity *id,
                                              const struct rotation_record *rec,
                                              const unsigned char *new_id, size_t new_len,
                                              char *err, size_t err_len)
{
    unsigned count = 0;

    return agent_token_relabel(id, new_id, new_len, rec->label, &count, err, err_len);
}

/* ---- recovery ------------------------------------------------------------ */

static bool has_private_key(struct agent_identity *id, const unsigned char *key_id, size_t len,
                            char *err, size_t err_len, bool *fault)
{
    struct agent_token_object found[8];
    int n = agent_token_find_id(id, key_id, len, found, 8, err, err_len);

    *fault = n < 0;
    for (int i = 0; i < n && i < 8; i++) {
        if (found[i].klass == CKO_PRIVATE_KEY)
            return true;
    }
    return false;
}

enum agent_identity_status agent_rotation_recover(struct agent *a, struct agent_identity *id,
                                                  char *err, size_t err_len)
{
    struct agent_rotation *r = &a->rotation;
    const char *dir = a->config.rotation.state_dir;
    struct rotation_record rec;
    unsigned char old_id[64], new_id[64];
    size_t old_len = 0, new_len = 0;
    enum rotation_load load;
    enum rotation_action action;
    enum agent_identity_status st = AGENT_IDENTITY_OK;
    const char *why = "";
    char jerr[512];
    bool fault = false;
    unsigned count = 0;

    load = rotation_journal_load(dir, &rec, jerr, sizeof(jerr));
    if (load == ROTATION_LOAD_ABSENT)
        return AGENT_IDENTITY_OK;
    if (load != ROTATION_LOAD_OK) {
        /* Never guess: the token is left alone and the file kept. */
        agent_err("rotation journal: %s; leaving the token as it is (remove the file once the "
                  "token was checked by hand)",
                  jerr);
        snprintf(r->last_result, sizeof(r->last_result), "journal-unreadable");
        snprintf(r->last_error, sizeof(r->last_error), "%s", jerr);
        return AGENT_IDENTITY_OK;
    }
    action = rotation_recovery_action(&rec, &why);
    if (action == ROTATION_ACTION_NONE) {
        rotation_journal_clear(dir, jerr, sizeof(jerr));
        return AGENT_IDENTITY_OK;
    }
    if (action == ROTATION_ACTION_REFUSE ||
        from_hex(rec.new_key_id, new_id, sizeof(new_id), &new_len) != 0 ||
        from_hex(rec.old_key_id, old_id, sizeof(old_id), &old_len) != 0) {
        agent_err("rotation journal %s/%s: refusing to act (%s); leaving the token as it is", dir,
                  ROTATION_JOURNAL_FILE, why);
        snprintf(r->last_result, sizeof(r->last_result), "journal-refused");
        snprintf(r->last_error, sizeof(r->last_error), "%s", why);
        return AGENT_IDENTITY_OK;
    }
    if (action == ROTATION_ACTION_COMPLETE &&
        !has_private_key(id, new_id, new_len, err, err_len, &fault)) {
        if (fault)
            return AGENT_IDENTITY_TOKEN_FAULT;
        /* Completing would retire the only key: refuse, loudly. */
        agent_err("rotation journal says step %s but the new key (id %s) is not on the token; "
                  "not retiring the old key",
                  rotation_step_name(rec.step), rec.new_key_id);
        snprintf(r->last_result, sizeof(r->last_result), "journal-refused");
        snprintf(r->last_error, sizeof(r->last_error), "new key %s missing at step %s",
                 rec.new_key_id, rotation_step_name(rec.step));
        return AGENT_IDENTITY_OK;
    }
    agent_notice("rotation journal: interrupted at step %s (%s): %s", rotation_step_name(rec.step),
                 why, action == ROTATION_ACTION_COMPLETE ? "completing it" : "rolling it back");
    if (action == ROTATION_ACTION_ROLL_BACK) {
        st = agent_token_destroy_id(id, new_id, new_len, &count, err, err_len);
    } else {
        st = retire_old(&a->config, id, &rec, old_id, old_len, new_id, new_len, err, err_len);
        if (st == AGENT_IDENTITY_OK)
            st = promote_new(id, &rec, new_id, new_len, err, err_len);
    }
    if (st != AGENT_IDENTITY_OK) {
        agent_err("rotation recovery: %s; the journal stays for the next attempt", err);
        return st == AGENT_IDENTITY_TOKEN_FAULT ? st : AGENT_IDENTITY_TOKEN_FAULT;
    }
    if (rotation_journal_clear(dir, jerr, sizeof(jerr)) != 0)
        agent_warn("rotation journal: %s", jerr);
    if (action == ROTATION_ACTION_COMPLETE) {
        r->rotations++;
        snprintf(r->last_result, sizeof(r->last_result), "completed-after-restart");
        r->last_error[0] = '\0';
    } else {
        r->failures++;
        snprintf(r->last_result, sizeof(r->last_result), "rolled-back-after-restart");
        snprintf(r->last_error, sizeof(r->last_error), "interrupted at step %s%s%s",
                 rotation_step_name(rec.step), rec.error[0] ? ": " : "", rec.error);
    }
    r->last_finished = time(NULL);
    return AGENT_IDENTITY_OK;
}

/* ---- failure and success ----------------------------------------------- */

static void schedule_next_check(struct agent *a)
{
    const struct agent_rotation_config *rc = &a->config.rotation;
    struct agent_rotation *r = &a->rotation;
    struct renewal_policy p;

    if (!rc->enabled || !rc->auto_renew || r->due == 0 || a->cert.not_after_epoch == 0) {
        r->next_check = 0;
        return;
    }
    renewal_policy_default(&p);
    p.floor = rc->renew_floor_s;
    p.jitter_cap = rc->jitter_cap_s;
    p.min_interval = rc->min_interval_s;
    p.retry_base = rc->retry_base_s;
    p.retry_max = rc->retry_max_s;
    r->next_check = renewal_next_attempt((int64_t)time(NULL), r->due,
                                         (int64_t)a->cert.not_after_epoch,
                                         (int64_t)r->last_attempt, r->consecutive_failures, &p);
}

/* Before probe-ok: the old identity stays, the new objects go. */
static void fail_rotation(struct agent *a, const char *msg)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];
    unsigned count = 0;

    agent_err("rotation failed at step %s: %s; keeping the current identity",
              rotation_step_name(r->rec.step), msg);
    snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
    snprintf(r->last_result, sizeof(r->last_result), "failed");
    snprintf(r->rec.error, sizeof(r->rec.error), "%.*s", ROTATION_ERROR_MAX, msg);
    if (journal_step(a, ROTATION_ROLLED_BACK, err, sizeof(err)) != 0)
        agent_warn("rotation journal: %s", err);
    free_inflight(r);
    if (a->identity && agent_token_destroy_id(a->identity, r->new_id, r->new_id_len, &count, err,
                                              sizeof(err)) == AGENT_IDENTITY_OK) {
        if (rotation_journal_clear(a->config.rotation.state_dir, err, sizeof(err)) != 0)
            agent_warn("rotation journal: %s", err);
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
    schedule_next_check(a);
}

static void commit_rotation(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];
    enum agent_identity_status st;

    if (journal_step(a, ROTATION_COMMITTED, err, sizeof(err)) != 0)
        agent_warn("rotation journal: %s", err);
    st = retire_old(&a->config, a->identity, &r->rec, r->old_id, r->old_id_len, r->new_id,
                    r->new_id_len, err, sizeof(err));
    if (st == AGENT_IDENTITY_OK) {
        crash_point("committed");
        st = promote_new(a->identity, &r->rec, r->new_id, r->new_id_len, err, sizeof(err));
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
    r->rotations++;
    r->consecutive_failures = 0;
    snprintf(r->last_result, sizeof(r->last_result), "success");
    r->last_error[0] = '\0';
    agent_notice("rotation complete: new key %s, certificate %s (expires %s); old key %s",
                 r->rec.new_key_id, a->cert.sha256, a->cert.not_after,
                 a->config.rotation.retire == AGENT_RETIRE_DESTROY ? "destroyed"
                                                                    : "kept as previous");
    r->jitter_random = random_u32();
    agent_rotation_cert_changed(a);
}

/* ---- the live steps --------------------------------------------------------- */

static void subscribe_answers(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;
    const char *topics[2] = {a->config.rotation.accepted_topic, a->config.rotation.rejected_topic};

    r->subscribed = false;
    for (int i = 0; i < 2; i++) {
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
        fail_rotation(a, "no random bytes for the request id");
        return;
    }
    to_hex(rid, sizeof(rid), r->rec.request_id, sizeof(r->rec.request_id));
    r->rec.attempt++;
    if (journal_step(a, ROTATION_CSR_PUBLISHED, err, sizeof(err)) != 0) {
        fail_rotation(a, err);
        return;
    }
    payload = rotation_wire_request(a->config.rotation.profile, r->rec.request_id, r->csr_pem);
    if (!payload) {
        fail_rotation(a, "out of memory building the request");
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
    crash_point("csr-published");
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
        snprintf(err, err_len, "a rotation is already in progress (%s)", phase_name(r->phase));
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
             (int)(ROTATION_LABEL_MAX - strlen(TEMP_LABEL_SUFFIX)), r->rec.label,
             TEMP_LABEL_SUFFIX);
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
    to_hex(r->old_id, r->old_id_len, r->rec.old_key_id, sizeof(r->rec.old_key_id));
    to_hex(r->new_id, r->new_id_len, r->rec.new_key_id, sizeof(r->rec.new_key_id));
    r->rec.started = r->rec.updated = (int64_t)time(NULL);
    snprintf(r->trigger, sizeof(r->trigger), "%s", trigger);
    snprintf(r->previous_sha256, sizeof(r->previous_sha256), "%s", a->cert.sha256);
    r->last_attempt = time(NULL);
    r->last_error[0] = '\0';
    snprintf(r->last_result, sizeof(r->last_result), "in-progress");

    /* Journal first: a crash after the key exists must find its id. */
    if (journal_step(a, ROTATION_KEY_GENERATED, err, err_len) != 0) {
        snprintf(r->last_result, sizeof(r->last_result), "failed");
        snprintf(r->last_error, sizeof(r->last_error), "%s", err);
        return -1;
    }
    agent_notice("rotation (%s): generating a new P-256 key on token \"%s\" (id %s, label %s)",
                 trigger, agent_identity_token_label(a->identity), r->rec.new_key_id,
                 r->rec.temp_label);
    r->phase = ROTATION_PHASE_SUBSCRIBING;  /* from here on, failures roll back */
    st = agent_token_generate_p256(a->identity, r->new_id, r->new_id_len, r->rec.temp_label, err,
                                   err_len);
    if (st != AGENT_IDENTITY_OK)
        goto failed;
    crash_point("key-generated");
    st = agent_token_key_by_id(a->identity, r->new_id, r->new_id_len, &r->new_key, err, err_len);
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
        fail_rotation(a, msg);
        snprintf(err, err_len, "%s", msg);
    }
cleanup:
    X509_NAME_free(subject);
    return result;
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

static void start_probe(struct agent *a, uint64_t now)
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
    };
    char err[512];
    int saved_errno = 0;
    int rc;

    r->probe_tls = agent_tls_new_for_key(b, r->new_cert, r->new_chain, r->new_key, "new key",
                                         &a->tls_counters, err, sizeof(err));
    if (!r->probe_tls) {
        fail_rotation(a, err);
        return;
    }
    p.ssl_ctx = agent_tls_ctx(r->probe_tls);
    r->probe = agent_mqtt_new(&p, &cb, err, sizeof(err));
    if (!r->probe) {
        fail_rotation(a, err);
        return;
    }
    r->probe_connack = r->probe_closed = false;
    rc = agent_mqtt_connect(r->probe, &saved_errno);
    if (rc != MOSQ_ERR_SUCCESS || agent_mqtt_fd(r->probe) < 0) {
        char msg[600];
        snprintf(msg, sizeof(msg), "probe connection with the new identity failed to start: %s",
                 rc == MOSQ_ERR_ERRNO ? strerror(saved_errno) : mosquitto_strerror(rc));
        fail_rotation(a, msg);
        return;
    }
    agent_info("rotation: probing the new identity as client %s", p.client_id);
    r->phase = ROTATION_PHASE_PROBING;
    r->deadline_ms = now + ROTATION_PROBE_TIMEOUT_MS;
}

static void handle_answer(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    char *pem = NULL;
    char err[768];
    enum rotation_answer kind;
    enum agent_cert_check check;
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;

    kind = rotation_wire_answer(a->config.rotation.profile, r->answer_accepted, r->rec.request_id,
                                r->answer, r->answer_len, &pem, err, sizeof(err));
    free(r->answer);
    r->answer = NULL;
    r->answer_len = 0;
    if (kind == ROTATION_ANSWER_IGNORE) {
        agent_debug("rotation: ignoring an answer: %s", err);
        return;
    }
    if (kind != ROTATION_ANSWER_CERTIFICATE) {
        fail_rotation(a, err);
        return;
    }
    check = agent_cert_check(pem, strlen(pem), r->new_key, a->config.rotation.issuing_ca_file,
                             time(NULL), &leaf, &chain, err, sizeof(err));
    free(pem);
    if (check != AGENT_CERT_OK) {
        char msg[900];
        snprintf(msg, sizeof(msg), "the CA's certificate is refused (%s): %s",
                 agent_cert_check_name(check), err);
        fail_rotation(a, msg);
        return;
    }
    r->new_cert = leaf;
    r->new_chain = chain;
    {
        struct agent_cert_info info;
        agent_cert_info_fill(&info, leaf);
        snprintf(r->new_sha256, sizeof(r->new_sha256), "%s", info.sha256);
    }
    if (journal_step(a, ROTATION_CERT_RECEIVED, err, sizeof(err)) != 0) {
        fail_rotation(a, err);
        return;
    }
    crash_point("cert-received");
    if (journal_step(a, ROTATION_CERT_STORED, err, sizeof(err)) != 0) {
        fail_rotation(a, err);
        return;
    }
    if (agent_token_store_certificate(a->identity, leaf, r->new_id, r->new_id_len,
                                      r->rec.temp_label, err, sizeof(err)) != AGENT_IDENTITY_OK) {
        fail_rotation(a, err);
        return;
    }
    crash_point("cert-stored");
    start_probe(a, now);
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

static void probe_step(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];
    char msg[800];

    if (r->probe_connack && r->probe_connack_rc == 0) {
        agent_notice("rotation: the broker accepted the new identity (probe CONNACK)");
        agent_mqtt_disconnect(r->probe);
        agent_mqtt_free(r->probe);
        r->probe = NULL;
        if (journal_step(a, ROTATION_PROBE_OK, err, sizeof(err)) != 0)
            agent_warn("rotation journal: %s", err);
        crash_point("probe-ok");
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
        fail_rotation(a, msg);
    }
}

static void drain_step(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;

    if (a->state != AGENT_STATE_CONNECTED || !a->mqtt) {
        switch_identity_now(a);
        return;
    }
    if (agent_mqtt_inflight(a->mqtt) > 0 && now < r->deadline_ms)
        return;
    if (agent_mqtt_inflight(a->mqtt) > 0)
        agent_warn("rotation: %u message(s) still unacknowledged after %u s; switching anyway",
                   agent_mqtt_inflight(a->mqtt), ROTATION_DRAIN_TIMEOUT_MS / 1000);
    r->phase = ROTATION_PHASE_SWITCHING;
    a->switch_disconnect = true;
    if (agent_mqtt_disconnect(a->mqtt) != MOSQ_ERR_SUCCESS) {
        a->switch_disconnect = false;
        switch_identity_now(a);
    }
}

static int renewal_step(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;
    int64_t now_s = (int64_t)time(NULL);
    int wait_ms = (int)a->config.rotation.check_interval_ms;
    char err[600];

    if (r->next_check == 0)
        return wait_ms;
    if (now_s >= r->next_check && a->state == AGENT_STATE_CONNECTED) {
        agent_notice("rotation: the certificate is due for renewal (expires %s)",
                     a->cert.not_after);
        uint64_t failures_before = r->failures;

        if (agent_rotation_start(a, "auto", err, sizeof(err)) != 0) {
            agent_warn("rotation: automatic renewal not started: %s", err);
            /* A refusal before any step counts as a failed attempt too, so
             * the retry backs off instead of spinning. */
            if (r->failures == failures_before)
                r->consecutive_failures++;
            r->last_attempt = time(NULL);
            schedule_next_check(a);
        }
        return 0;
    }
    if (r->next_check > now_s && (r->next_check - now_s) * 1000 < wait_ms)
        wait_ms = (int)((r->next_check - now_s) * 1000);
    return wait_ms;
}

int agent_rotation_run(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    char msg[300];

    if (!a->config.rotation.enabled)
        return -1;
    switch (r->phase) {
    case ROTATION_PHASE_IDLE:
        return a->config.rotation.auto_renew ? renewal_step(a) : -1;
    case ROTATION_PHASE_SUBSCRIBING:
        if (r->subscribed && a->state == AGENT_STATE_CONNECTED) {
            publish_request(a, now);
        } else if (now >= r->deadline_ms) {
            snprintf(msg, sizeof(msg), "the answer topics were not subscribed within %.1f s "
                                       "(connection state %s)",
                     a->config.rotation.answer_timeout_ms / 1000.0, agent_state_name(a->state));
            fail_rotation(a, msg);
        }
        break;
    case ROTATION_PHASE_WAIT_ANSWER:
        if (r->answer) {
            handle_answer(a, now);
        } else if (now >= r->deadline_ms) {
            if (r->rec.attempt >= a->config.rotation.max_attempts) {
                snprintf(msg, sizeof(msg), "no answer from the CA after %u attempt(s) of %.1f s",
                         r->rec.attempt, a->config.rotation.answer_timeout_ms / 1000.0);
                fail_rotation(a, msg);
            } else {
                agent_warn("rotation: no answer to request %s within %.1f s; publishing again",
                           r->rec.request_id, a->config.rotation.answer_timeout_ms / 1000.0);
                r->phase = ROTATION_PHASE_SUBSCRIBING;
                r->deadline_ms = now + a->config.rotation.answer_timeout_ms;
                return 0;
            }
        }
        break;
    case ROTATION_PHASE_PROBING:
        probe_step(a, now);
        break;
    case ROTATION_PHASE_DRAINING:
        drain_step(a, now);
        break;
    case ROTATION_PHASE_SWITCHING:
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
        if (journal_step(a, ROTATION_SWITCHED, err, sizeof(err)) != 0)
            agent_warn("rotation journal: %s", err);
        crash_point("switched");
        commit_rotation(a);
    }
}

void agent_rotation_disconnected(struct agent *a)
{
    a->rotation.subscribed = false;
    a->rotation.sub_acked[0] = a->rotation.sub_acked[1] = false;
}

void agent_rotation_subscribed(struct agent *a, int mid, bool ok)
{
    struct agent_rotation *r = &a->rotation;

    for (int i = 0; i < 2; i++) {
        if (mid == r->sub_mid[i]) {
            r->sub_acked[i] = true;
            if (!ok)
                agent_warn("rotation: the broker refused the subscription to %s",
                           i == 0 ? a->config.rotation.accepted_topic
                                  : a->config.rotation.rejected_topic);
        }
    }
    r->subscribed = r->sub_acked[0] && r->sub_acked[1];
}

void agent_rotation_message(struct agent *a, const char *topic, const void *payload, size_t len)
{
    struct agent_rotation *r = &a->rotation;
    bool accepted = strcmp(topic, a->config.rotation.accepted_topic) == 0;
    bool rejected = strcmp(topic, a->config.rotation.rejected_topic) == 0;

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

void agent_rotation_cert_changed(struct agent *a)
{
    struct agent_rotation *r = &a->rotation;
    X509 *cert = a->identity ? agent_identity_certificate(a->identity) : NULL;
    struct renewal_policy p;
    struct tm nb, na;
    int64_t due;

    r->due = 0;
    if (!cert || ASN1_TIME_to_tm(X509_get0_notBefore(cert), &nb) != 1 ||
        ASN1_TIME_to_tm(X509_get0_notAfter(cert), &na) != 1) {
        schedule_next_check(a);
        return;
    }
    renewal_policy_default(&p);
    p.floor = a->config.rotation.renew_floor_s;
    p.jitter_cap = a->config.rotation.jitter_cap_s;
    due = renewal_due((int64_t)timegm(&nb), (int64_t)timegm(&na), &p, r->jitter_random);
    if (due != INT64_MIN)
        r->due = due;
    schedule_next_check(a);
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

/* ---- report --------------------------------------------------------------- */

static void add_str(struct json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value ? value : ""));
}

static void add_time(struct json_object *o, const char *key, time_t t)
{
    char text[32];

    iso_time(t, text, sizeof(text));
    add_str(o, key, text);
}

struct json_object *agent_rotation_report(const struct agent *a, bool full)
{
    const struct agent_rotation *r = &a->rotation;
    struct json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    json_object_object_add(o, "enabled", json_object_new_boolean(a->config.rotation.enabled));
    add_str(o, "state", r->phase == ROTATION_PHASE_IDLE ? "idle" : phase_name(r->phase));
    add_str(o, "last_result", r->last_result);
    add_time(o, "last_rotation", r->last_finished);
    add_str(o, "current_sha256", a->cert.sha256);
    add_str(o, "previous_sha256", r->previous_sha256);
    if (!full)
        return o;
    if (r->phase != ROTATION_PHASE_IDLE) {
        add_str(o, "step", rotation_step_name(r->rec.step));
        add_str(o, "trigger", r->trigger);
        add_str(o, "new_key_id", r->rec.new_key_id);
        json_object_object_add(o, "attempt", json_object_new_int64(r->rec.attempt));
    }
    add_str(o, "last_error", r->last_error);
    add_time(o, "last_attempt", r->last_attempt);
    json_object_object_add(o, "rotations", json_object_new_int64((int64_t)r->rotations));
    json_object_object_add(o, "failures", json_object_new_int64((int64_t)r->failures));
    add_time(o, "renewal_due", (time_t)r->due);
    add_time(o, "next_check", (time_t)r->next_check);
    return o;
}
