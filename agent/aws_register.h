/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT fleet provisioning RegisterThing over MQTT: the activation of a
 * certificate that CreateCertificateFromCsr returned PENDING_ACTIVATION.
 * Used by key rotation (profile "aws") and meant for first-boot
 * provisioning by claim too, so nothing here knows about rotation.
 *
 *   request  $aws/provisioning-templates/<template>/provision/json
 *            {"certificateOwnershipToken": "...", "parameters": {"K": "V", ...}}
 *   accepted .../provision/json/accepted  {"deviceConfiguration": {...}, "thingName": "..."}
 *   rejected .../provision/json/rejected  {"statusCode": N, "errorCode": "...", "errorMessage": "..."}
 *
 * Owns: the topics, the request payload, the reading of the answers, the
 * {device_id} / {serial} expansion of parameter values, and one call in
 * flight (struct aws_register_call: publish, match the answer, deadline).
 * Must never: log the ownership token in full (aws_register_token_hint);
 * trust an answer's text (error codes and messages are reduced to
 * printable ASCII before anyone shows them); subscribe (the caller owns
 * its subscriptions, which must be acknowledged before the request goes
 * out, as AWS asks).
 */
#ifndef TRUSTLINK_AGENT_AWS_REGISTER_H
#define TRUSTLINK_AGENT_AWS_REGISTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_mqtt;

#define AWS_REGISTER_MAX_ANSWER (64 * 1024)
#define AWS_REGISTER_TOPIC_MAX 256
#define AWS_REGISTER_DETAIL_MAX 400

struct aws_register_param {
    const char *name;
    const char *value; /* already expanded */
};

enum aws_register_result {
    AWS_REGISTER_PENDING = 0, /* no answer yet */
    AWS_REGISTER_ACCEPTED,    /* detail: "thing <name>" */
    AWS_REGISTER_REJECTED,    /* detail: "<errorCode>: <errorMessage>" (sanitized) */
    AWS_REGISTER_MALFORMED,   /* an answer we cannot read: detail says why */
    AWS_REGISTER_TIMEOUT,     /* the deadline passed without an answer */
};

const char *aws_register_result_name(enum aws_register_result r);

/* The request topic and its two answer topics for a template. 0, or -1
 * when the template name does not fit or is not a plain topic level. */
int aws_register_topics(const char *template_name, char request[AWS_REGISTER_TOPIC_MAX],
                        char accepted[AWS_REGISTER_TOPIC_MAX],
                        char rejected[AWS_REGISTER_TOPIC_MAX]);

/* A template name AWS accepts in the topic: 1-36 of [A-Za-z0-9_-]. */
bool aws_register_template_name_ok(const char *name);

/* The request JSON (malloc'd; the caller cleanses and frees it: it holds
 * the token), or NULL when out of memory. */
char *aws_register_request(const char *ownership_token, const struct aws_register_param *params,
                           size_t n_params);

/* Reads a message from the accepted (accepted true) or rejected topic. */
enum aws_register_result aws_register_read_answer(bool accepted, const void *payload, size_t len,
                                                  char *detail, size_t detail_len);

/* The certificateOwnershipToken of a create-from-csr accepted answer.
 * 0, or -1 with err (missing, empty, too long for out). */
int aws_register_token_from_csr_answer(const void *payload, size_t len, char *out,
                                       size_t out_len, char *err, size_t err_len);

/* The first bytes of a token, for logs ("eyJ2ZXJz..."). */
void aws_register_token_hint(const char *token, char *out, size_t out_len);

/* Expands {device_id} and {serial} in a parameter value. Returns 0, or -1
 * when out is too small or the value holds another {...}; with serial
 * NULL a {serial} is an error too. */
int aws_register_expand(const char *value, const char *device_id, const char *serial, char *out,
                        size_t out_len);
/* Config-time check: only {device_id} and {serial} placeholders. */
bool aws_register_value_ok(const char *value);

/* Printable ASCII only (others become '?'), at most out_len - 1 bytes. */
void aws_register_sanitize(const char *in, char *out, size_t out_len);

/* ---- one call in flight ------------------------------------------------ */

struct aws_register_call {
    char request_topic[AWS_REGISTER_TOPIC_MAX];
    char accepted_topic[AWS_REGISTER_TOPIC_MAX];
    char rejected_topic[AWS_REGISTER_TOPIC_MAX];
    uint64_t deadline_ms;
    bool active;
    enum aws_register_result result;
    char detail[AWS_REGISTER_DETAIL_MAX];
};

/* Publishes RegisterThing (QoS 1) on m and arms the deadline. The answer
 * topics must already be subscribed. 0, or -1 with err (the call is then
 * not active). */
int aws_register_call_start(struct aws_register_call *c, struct agent_mqtt *m,
                            const char *template_name, const char *ownership_token,
                            const struct aws_register_param *params, size_t n_params,
                            uint64_t now_ms, unsigned timeout_ms, char *err, size_t err_len);
/* Offers a received message; true if it was one of the call's answer
 * topics (then c->result is no longer PENDING). */
bool aws_register_call_message(struct aws_register_call *c, const char *topic,
                               const void *payload, size_t len);
/* The outcome so far; TIMEOUT once now_ms passed the deadline. */
enum aws_register_result aws_register_call_poll(struct aws_register_call *c, uint64_t now_ms);
void aws_register_call_end(struct aws_register_call *c);

#endif
