/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS activation inside a rotation (profile "aws", rotation.aws): after
 * the certificate from CreateCertificateFromCsr is stored, RegisterThing
 * with its ownership token makes it ACTIVE; only then is it probed.
 *
 *   [journal activation-requested: token + its end] publish RegisterThing
 *   -> accepted: [journal activated] probe (rotation_switch.c)
 *   -> rejected: roll back, status says AWS's errorCode and errorMessage
 *   -> no answer within rotation.answer_timeout: publish again while
 *      attempts (rotation.max_attempts) and the token's hour last, then
 *      roll back. A retry refused as InvalidCertificateOwnershipToken may
 *      mean the lost first answer had activated it: the probe decides
 *      (the broker accepts only an active certificate).
 *
 * Owns: the RegisterThing call of the rotation in flight, and the
 * expansion of rotation.aws.parameters ({device_id}: the config's
 * device_id; {serial}: the token's serialNumber via the token gateway).
 * Must never: log the ownership token in full; keep it in the journal
 * after the step that needs it.
 */
#include "rotation.h"
#include "rotation_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "log.h"
#include "token.h"

/* AWS: "the certificate ownership token ... expires after one hour".
 * The agent counts from the answer's arrival, less a margin for the time
 * the answer spent on the way. */
#define OWNERSHIP_TOKEN_LIFETIME_S 3600
#define OWNERSHIP_TOKEN_MARGIN_S 60
/* Room for one expanded parameter value (values are at most 4096 bytes
 * before expansion; device ids and serials are short). */
#define PARAM_VALUE_MAX 8192
#define TOKEN_SERIAL_MAX 64

bool rotation_activation_topics(const struct agent_config *cfg, char *accepted, char *rejected)
{
    const struct agent_rotation_config *rc = &cfg->rotation;
    char req[AWS_REGISTER_TOPIC_MAX], acc[AWS_REGISTER_TOPIC_MAX], rej[AWS_REGISTER_TOPIC_MAX];

    if (!rc->enabled || rc->profile != AGENT_ROTATION_AWS || !rc->aws_activation ||
        !rc->aws_template || aws_register_topics(rc->aws_template, req, acc, rej) != 0)
        return false;
    if (accepted)
        memcpy(accepted, acc, sizeof(acc));
    if (rejected)
        memcpy(rejected, rej, sizeof(rej));
    return true;
}

static void free_params(struct aws_register_param *params, char *values, size_t n)
{
    if (values) {
        OPENSSL_cleanse(values, n * PARAM_VALUE_MAX);
        free(values);
    }
    free(params);
}

/* rotation.aws.parameters, expanded. 0, or -1 with err. */
static int expand_params(struct agent *a, struct aws_register_param **out_params,
                         char **out_values, char *err, size_t err_len)
{
    const struct agent_rotation_config *rc = &a->config.rotation;
    struct aws_register_param *params = NULL;
    char *values = NULL;
    char serial[TOKEN_SERIAL_MAX] = "";
    bool need_serial = false;

    *out_params = NULL;
    *out_values = NULL;
    for (size_t i = 0; i < rc->aws_param_count; i++)
        need_serial = need_serial || strstr(rc->aws_param_values[i], "{serial}") != NULL;
    if (need_serial &&
        agent_token_serial(agent_identity_token(a->identity), serial, sizeof(serial), err,
                           err_len) != AGENT_IDENTITY_OK)
        return -1;
    if (need_serial && serial[0] == '\0') {
        snprintf(err, err_len, "rotation.aws.parameters uses {serial}, but the token reports an "
                               "empty serial number");
        return -1;
    }
    params = calloc(rc->aws_param_count ? rc->aws_param_count : 1, sizeof(*params));
    values = calloc(rc->aws_param_count ? rc->aws_param_count : 1, PARAM_VALUE_MAX);
    if (!params || !values) {
        snprintf(err, err_len, "out of memory expanding rotation.aws.parameters");
        free_params(params, values, rc->aws_param_count);
        return -1;
    }
    for (size_t i = 0; i < rc->aws_param_count; i++) {
        char *v = values + i * PARAM_VALUE_MAX;

        if (aws_register_expand(rc->aws_param_values[i], a->config.device_id, serial, v,
                                PARAM_VALUE_MAX) != 0) {
            snprintf(err, err_len, "rotation.aws.parameters.%.64s does not fit in %d bytes once "
                                   "expanded",
                     rc->aws_param_names[i], PARAM_VALUE_MAX);
            free_params(params, values, rc->aws_param_count);
            return -1;
        }
        params[i].name = rc->aws_param_names[i];
        params[i].value = v;
    }
    *out_params = params;
    *out_values = values;
    return 0;
}

/* One RegisterThing publication; a publication that cannot go out now
 * (connection down) is retried at the deadline like a lost answer. */
static void send_register(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    const struct agent_rotation_config *rc = &a->config.rotation;
    struct aws_register_param *params = NULL;
    char *values = NULL;
    char err[512], hint[48];

    r->activation_attempt++;
    r->deadline_ms = now + rc->answer_timeout_ms;
    aws_register_call_end(&r->activation);
    if (a->state != AGENT_STATE_CONNECTED || !a->mqtt || !r->subscribed) {
        agent_warn("rotation: not connected with the RegisterThing answer topics subscribed "
                   "(state %s); trying again in %.1f s",
                   agent_state_name(a->state), rc->answer_timeout_ms / 1000.0);
        return;
    }
    if (expand_params(a, &params, &values, err, sizeof(err)) != 0) {
        rotation_fail(a, err);
        return;
    }
    if (aws_register_call_start(&r->activation, a->mqtt, rc->aws_template,
                                r->rec.ownership_token, params, rc->aws_param_count, now,
                                rc->answer_timeout_ms, err, sizeof(err)) != 0) {
        agent_warn("rotation: %s; trying again in %.1f s", err, rc->answer_timeout_ms / 1000.0);
    } else {
        aws_register_token_hint(r->rec.ownership_token, hint, sizeof(hint));
        agent_notice("rotation: RegisterThing published to %s (ownership token %s, attempt %u "
                     "of %u)",
                     r->activation.request_topic, hint, r->activation_attempt, rc->max_attempts);
    }
    free_params(params, values, rc->aws_param_count);
}

void rotation_activation_begin(struct agent *a, uint64_t now, const char *ownership_token)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];

    snprintf(r->rec.ownership_token, sizeof(r->rec.ownership_token), "%s", ownership_token);
    r->rec.token_expires =
        (int64_t)time(NULL) + OWNERSHIP_TOKEN_LIFETIME_S - OWNERSHIP_TOKEN_MARGIN_S;
    /* On disk before the token is used: a crash from here on finds the
     * certificate that may become active (recovery rolls it back). */
    if (rotation_journal_step(a, ROTATION_ACTIVATION_REQUESTED, err, sizeof(err)) != 0) {
        rotation_fail(a, err);
        return;
    }
    r->phase = ROTATION_PHASE_ACTIVATING;
    r->activation_attempt = 0;
    send_register(a, now);
    if (r->phase == ROTATION_PHASE_ACTIVATING)
        rotation_crash_point("activation-requested");
}

static void activated(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    char err[512];

    agent_notice("rotation: RegisterThing accepted (%s): the new certificate is active",
                 r->activation.detail);
    aws_register_call_end(&r->activation);
    /* The token is spent: it leaves the journal with this step. */
    OPENSSL_cleanse(r->rec.ownership_token, sizeof(r->rec.ownership_token));
    r->rec.token_expires = 0;
    if (rotation_journal_step(a, ROTATION_ACTIVATED, err, sizeof(err)) != 0) {
        rotation_fail(a, err);
        return;
    }
    rotation_crash_point("activated");
    rotation_start_probe(a, now);
}

void rotation_activation_step(struct agent *a, uint64_t now)
{
    struct agent_rotation *r = &a->rotation;
    const struct agent_rotation_config *rc = &a->config.rotation;
    static const char used_code[] = "InvalidCertificateOwnershipToken:";
    enum aws_register_result res;
    char msg[700];

    if (r->activation.active)
        res = aws_register_call_poll(&r->activation, now);
    else
        res = now >= r->deadline_ms ? AWS_REGISTER_TIMEOUT : AWS_REGISTER_PENDING;
    switch (res) {
    case AWS_REGISTER_PENDING:
        return;
    case AWS_REGISTER_ACCEPTED:
        activated(a, now);
        return;
    case AWS_REGISTER_REJECTED:
        if (r->activation_attempt > 1 &&
            strncmp(r->activation.detail, used_code, strlen(used_code)) == 0) {
            /* Our earlier attempt may have activated the certificate and
             * its answer got lost: only the broker can tell. */
            agent_warn("rotation: RegisterThing attempt %u refused (%s) after an unanswered "
                       "attempt; probing whether the certificate is active",
                       r->activation_attempt, r->activation.detail);
            aws_register_call_end(&r->activation);
            rotation_start_probe(a, now);
            return;
        }
        snprintf(msg, sizeof(msg), "RegisterThing rejected: %s", r->activation.detail);
        rotation_fail(a, msg);
        return;
    case AWS_REGISTER_MALFORMED:
        snprintf(msg, sizeof(msg), "RegisterThing: %s", r->activation.detail);
        rotation_fail(a, msg);
        return;
    case AWS_REGISTER_TIMEOUT:
        if (r->activation_attempt < rc->max_attempts && (int64_t)time(NULL) < r->rec.token_expires) {
            agent_warn("rotation: no RegisterThing answer within %.1f s; publishing again",
                       rc->answer_timeout_ms / 1000.0);
            send_register(a, now);
            return;
        }
        snprintf(msg, sizeof(msg), "no RegisterThing answer after %u attempt(s) of %.1f s%s",
                 r->activation_attempt, rc->answer_timeout_ms / 1000.0,
                 (int64_t)time(NULL) < r->rec.token_expires ? ""
                                                            : " (the ownership token expired)");
        rotation_fail(a, msg);
        return;
    }
}

bool rotation_activation_message(struct agent *a, const char *topic, const void *payload,
                                 size_t len)
{
    struct agent_rotation *r = &a->rotation;

    if (aws_register_call_message(&r->activation, topic, payload, len))
        return true;
    /* An answer after its call ended (a late duplicate): not for the CSR
     * code either. */
    {
        char acc[AWS_REGISTER_TOPIC_MAX], rej[AWS_REGISTER_TOPIC_MAX];

        if (rotation_activation_topics(&a->config, acc, rej) &&
            (strcmp(topic, acc) == 0 || strcmp(topic, rej) == 0)) {
            agent_info("rotation: ignoring a message on %s (no RegisterThing waiting for it)",
                       topic);
            return true;
        }
    }
    return false;
}
