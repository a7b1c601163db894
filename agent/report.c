/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Status and heartbeat documents (see report.h).
 * Must never: block, or read anything but struct agent and the clock.
 */
#include "report.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509.h>

#include "identity.h"
#include "publish.h"
#include "time64.h"
#include "uri.h"

/* Through int64 seconds, never time_t: see time64.h. */
static void asn1_time_iso(const ASN1_TIME *t, char *out, size_t len, int64_t *epoch)
{
    int64_t seconds;

    out[0] = '\0';
    if (time64_from_asn1(t, &seconds) != 0)
        return;
    time64_iso(seconds, out, len);
    if (epoch)
        *epoch = seconds;
}

void agent_cert_info_fill(struct agent_cert_info *info, const void *x509)
{
    const X509 *cert = x509;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    BIGNUM *serial = NULL;
    char *serial_hex = NULL;
    size_t used = 0;

    memset(info, 0, sizeof(*info));
    if (!cert)
        return;
    X509_NAME_oneline(X509_get_subject_name(cert), info->subject, sizeof(info->subject));
    X509_NAME_oneline(X509_get_issuer_name(cert), info->issuer, sizeof(info->issuer));
    serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    serial_hex = serial ? BN_bn2hex(serial) : NULL;
    snprintf(info->serial, sizeof(info->serial), "%s", serial_hex ? serial_hex : "");
    OPENSSL_free(serial_hex);
    BN_free(serial);
    asn1_time_iso(X509_get0_notBefore(cert), info->not_before, sizeof(info->not_before), NULL);
    asn1_time_iso(X509_get0_notAfter(cert), info->not_after, sizeof(info->not_after),
                  &info->not_after_epoch);
    if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) {
        for (unsigned i = 0; i < md_len && used + 4 <= sizeof(info->sha256); i++)
            used += (size_t)snprintf(info->sha256 + used, sizeof(info->sha256) - used, "%s%02X",
                                     i ? ":" : "", md[i]);
    }
}

static void add_string(struct json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value ? value : ""));
}

static void add_u64(struct json_object *o, const char *key, uint64_t value)
{
    json_object_object_add(o, key, json_object_new_uint64(value));
}

/* The delivery queue (agent/publish.h, docs/delivery.md). */
static struct json_object *queue_json(const struct agent *a)
{
    struct json_object *q = json_object_new_object();
    struct agent_outbox_status st;

    agent_outbox_get_status(a, &st);
    add_string(q, "durability", st.durability);
    add_u64(q, "messages", st.messages);
    add_u64(q, "bytes", st.bytes);
    add_u64(q, "oldest_age_ms", st.oldest_age_ms);
    if (st.file) {
        add_string(q, "file", st.file);
        add_u64(q, "stored", st.stored);
        add_u64(q, "file_bytes", st.file_bytes);
        add_u64(q, "fsyncs", st.fsyncs);
        add_u64(q, "fsync_failures", st.fsync_failures);
        add_u64(q, "compactions", st.compactions);
        add_u64(q, "restored_at_start", st.restored_at_start);
        add_u64(q, "corrupt_skipped_at_start", st.corrupt_skipped_at_start);
        add_u64(q, "torn_bytes_at_start", st.torn_bytes_at_start);
        add_u64(q, "retire_failures", st.retire_failures);
    } else if (st.error) {
        add_string(q, "error", st.error);
    }
    return q;
}

static struct json_object *counters_json(const struct agent *a)
{
    struct json_object *c = json_object_new_object();

    add_u64(c, "connects", a->counters.connects);
    add_u64(c, "connect_failures", a->counters.connect_failures);
    add_u64(c, "disconnects", a->counters.disconnects);
    add_u64(c, "signatures", a->tls_counters.signatures);
    add_u64(c, "full_handshakes", a->tls_counters.full_handshakes);
    add_u64(c, "resumed_handshakes", a->tls_counters.resumed_handshakes);
    add_u64(c, "failed_handshakes", a->tls_counters.failed_handshakes);
    add_u64(c, "published", a->counters.published);
    add_u64(c, "queued", a->counters.queued);
    add_u64(c, "rejected", a->counters.rejected);
    add_u64(c, "queue_length", a->queue.count);
    add_u64(c, "queue_bytes", a->queue.bytes);
    add_u64(c, "inflight", a->inflight.count);
    add_u64(c, "requeued", a->counters.requeued);
    add_u64(c, "dropped", a->counters.dropped);
    add_u64(c, "heartbeats", a->counters.heartbeats);
    add_u64(c, "token_reinits", a->counters.token_reinits);
    add_u64(c, "reloads", a->counters.reloads);
    add_u64(c, "reload_failures", a->counters.reload_failures);
    add_u64(c, "loop_wakeups", a->counters.loop_wakeups);
    return c;
}

static struct json_object *certificate_json(const struct agent_cert_info *cert, bool full)
{
    struct json_object *c = json_object_new_object();

    if (full) {
        add_string(c, "subject", cert->subject);
        add_string(c, "issuer", cert->issuer);
        add_string(c, "serial", cert->serial);
        add_string(c, "not_before", cert->not_before);
    }
    add_string(c, "not_after", cert->not_after);
    add_string(c, "sha256", cert->sha256);
    json_object_object_add(c, "days_left",
                           json_object_new_int64(time64_days_left(cert->not_after_epoch,
                                                                  (int64_t)time(NULL))));
    return c;
}

static void add_time(struct json_object *o, const char *key, int64_t t)
{
    char text[32];

    time64_iso(t, text, sizeof(text));
    add_string(o, key, text);
}

/* The "rotation" object: everything for status (full), the outcome for the
 * heartbeat. */
static struct json_object *rotation_json(const struct agent *a, bool full)
{
    const struct agent_rotation *r = &a->rotation;
    struct json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    json_object_object_add(o, "enabled", json_object_new_boolean(a->config.rotation.enabled));
    add_string(o, "state", r->phase == ROTATION_PHASE_IDLE ? "idle" : agent_rotation_phase_name(r->phase));
    add_string(o, "last_result", r->last_result);
    add_time(o, "last_rotation", r->last_finished);
    add_string(o, "current_sha256", a->cert.sha256);
    add_string(o, "previous_sha256", r->previous_sha256);
    if (!full)
        return o;
    if (r->phase != ROTATION_PHASE_IDLE) {
        add_string(o, "step", rotation_step_name(r->rec.step));
        add_string(o, "trigger", r->trigger);
        add_string(o, "new_key_id", r->rec.new_key_id);
        json_object_object_add(o, "attempt", json_object_new_int64(r->rec.attempt));
    }
    add_string(o, "last_error", r->last_error);
    add_time(o, "last_attempt", r->last_attempt);
    add_u64(o, "rotations", r->rotations);
    add_u64(o, "failures", r->failures);
    add_time(o, "renewal_due", r->due);
    add_time(o, "next_check", r->next_check);
    return o;
}

void agent_report_status(const struct agent *a, struct json_object *out)
{
    uint64_t now = agent_monotonic_ms();
    char broker[300];
    struct json_object *identity = json_object_new_object();

    snprintf(broker, sizeof(broker), "%s:%u", a->config.broker.host, a->config.broker.port);
    add_string(out, "state", a->starting ? "starting" : agent_state_name(a->state));
    add_string(out, "device_id", a->config.device_id);
    add_string(out, "broker", broker);
    add_string(out, "client_id", a->config.broker.client_id);
    add_string(out, "status_topic", a->config.telemetry.status_topic);
    add_u64(out, "uptime_s", (now - a->started_ms) / 1000u);
    if (a->state == AGENT_STATE_CONNECTED)
        add_u64(out, "connected_for_s", (now - a->connected_since_ms) / 1000u);
    if (a->state == AGENT_STATE_WAITING || a->state == AGENT_STATE_IDENTITY_WAIT) {
        uint64_t in = a->next_attempt_ms > now ? a->next_attempt_ms - now : 0;
        add_u64(out, "next_retry_in_ms", in);
        add_u64(out, "next_retry_at", (uint64_t)time(NULL) + in / 1000u);
    }
    add_u64(out, "backoff_failures", a->backoff.failures);

    add_string(identity, "module", a->config.identity.module);
    if (a->identity) {
        add_string(identity, "uri", agent_identity_uri(a->identity));
        add_string(identity, "token", agent_identity_token_label(a->identity));
        add_string(identity, "key", agent_identity_key_name(a->identity));
    } else {
        char redacted[512];
        agent_uri_redact(a->config.identity.key_uri, redacted, sizeof(redacted));
        add_string(identity, "uri", redacted);
        json_object_object_add(identity, "loaded", json_object_new_boolean(false));
    }
    /* Set from a token fault until the next connection: the token, not
     * the configuration, is what failed. */
    json_object_object_add(identity, "token_faulty", json_object_new_boolean(a->token_faulty));
    json_object_object_add(out, "identity", identity);
    if (a->identity_ever_loaded)
        json_object_object_add(out, "certificate", certificate_json(&a->cert, true));
    json_object_object_add(out, "counters", counters_json(a));
    json_object_object_add(out, "queue", queue_json(a));
    json_object_object_add(out, "rotation", rotation_json(a, true));
    if (a->last_error[0]) {
        struct json_object *e = json_object_new_object();

        add_string(e, "class", agent_failure_class_name(a->last_failure));
        add_string(e, "message", a->last_error);
        add_u64(e, "age_s", (uint64_t)(time(NULL) - a->last_error_time));
        json_object_object_add(out, "last_error", e);
    } else {
        json_object_object_add(out, "last_error", NULL);
    }
    if (a->last_reload_error[0]) {
        struct json_object *e = json_object_new_object();

        add_string(e, "message", a->last_reload_error);
        add_u64(e, "age_s", (uint64_t)(time(NULL) - a->last_reload_time));
        json_object_object_add(out, "last_reload_error", e);
    } else {
        json_object_object_add(out, "last_reload_error", NULL);
    }
}

void agent_heartbeat_build(const struct agent *a, char **json_out)
{
    struct json_object *hb = json_object_new_object();
    const char *text;

    *json_out = NULL;
    if (!hb)
        return;
    add_string(hb, "device_id", a->config.device_id);
    add_u64(hb, "uptime_s", (agent_monotonic_ms() - a->started_ms) / 1000u);
    add_u64(hb, "time", (uint64_t)time(NULL));
    json_object_object_add(hb, "certificate", certificate_json(&a->cert, false));
    json_object_object_add(hb, "counters", counters_json(a));
    if (a->config.rotation.enabled)
        json_object_object_add(hb, "rotation", rotation_json(a, false));
    text = json_object_to_json_string_ext(hb, JSON_C_TO_STRING_PLAIN);
    *json_out = text ? strdup(text) : NULL;
    json_object_put(hb);
}
