/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RegisterThing request and answers (see aws_register.h).
 */
#include "aws_register.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <mosquitto.h>
#include <openssl/crypto.h>

#include "mqtt.h"

/* Provisioning template names: 1-36 characters of [0-9A-Za-z_-]. */
#define TEMPLATE_NAME_MAX 36

const char *aws_register_result_name(enum aws_register_result r)
{
    switch (r) {
    case AWS_REGISTER_PENDING: return "pending";
    case AWS_REGISTER_ACCEPTED: return "accepted";
    case AWS_REGISTER_REJECTED: return "rejected";
    case AWS_REGISTER_MALFORMED: return "malformed";
    case AWS_REGISTER_TIMEOUT: return "timeout";
    }
    return "unknown";
}

bool aws_register_template_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > TEMPLATE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

int aws_register_topics(const char *template_name, char request[AWS_REGISTER_TOPIC_MAX],
                        char accepted[AWS_REGISTER_TOPIC_MAX],
                        char rejected[AWS_REGISTER_TOPIC_MAX])
{
    if (!aws_register_template_name_ok(template_name))
        return -1;
    snprintf(request, AWS_REGISTER_TOPIC_MAX, "$aws/provisioning-templates/%s/provision/json",
             template_name);
    snprintf(accepted, AWS_REGISTER_TOPIC_MAX, "%s/accepted", request);
    snprintf(rejected, AWS_REGISTER_TOPIC_MAX, "%s/rejected", request);
    return 0;
}

char *aws_register_request(const char *ownership_token, const struct aws_register_param *params,
                           size_t n_params)
{
    json_object *o = json_object_new_object();
    json_object *p = json_object_new_object();
    const char *text;
    char *out = NULL;

    if (!o || !p) {
        json_object_put(o);
        json_object_put(p);
        return NULL;
    }
    json_object_object_add(o, "certificateOwnershipToken",
                           json_object_new_string(ownership_token));
    for (size_t i = 0; i < n_params; i++)
        json_object_object_add(p, params[i].name, json_object_new_string(params[i].value));
    json_object_object_add(o, "parameters", p);
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text)
        out = strdup(text);
    json_object_put(o);
    return out;
}

void aws_register_sanitize(const char *in, char *out, size_t out_len)
{
    size_t j = 0;

    if (out_len == 0)
        return;
    for (size_t i = 0; in && in[i] && j + 1 < out_len; i++)
        out[j++] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
    out[j] = '\0';
}

static json_object *parse_object(const void *payload, size_t len)
{
    json_tokener *tok;
    json_object *o;

    if (len > AWS_REGISTER_MAX_ANSWER || !(tok = json_tokener_new()))
        return NULL;
    o = json_tokener_parse_ex(tok, payload, (int)len);
    if (o && (json_tokener_get_error(tok) != json_tokener_success ||
              json_tokener_get_parse_end(tok) != len ||
              !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

static const char *string_field(json_object *o, const char *name)
{
    json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

enum aws_register_result aws_register_read_answer(bool accepted, const void *payload, size_t len,
                                                  char *detail, size_t detail_len)
{
    json_object *o = parse_object(payload, len);
    enum aws_register_result result = AWS_REGISTER_MALFORMED;
    char code[64], message[256];

    if (!o) {
        snprintf(detail, detail_len, "the RegisterThing answer is not a JSON object (%zu bytes)",
                 len);
        goto cleanup;
    }
    if (accepted) {
        const char *thing = string_field(o, "thingName");
        char name[130];

        aws_register_sanitize(thing ? thing : "", name, sizeof(name));
        snprintf(detail, detail_len, "thing %s", thing ? name : "(no thingName)");
        result = AWS_REGISTER_ACCEPTED;
        goto cleanup;
    }
    aws_register_sanitize(string_field(o, "errorCode") ? string_field(o, "errorCode")
                                                       : "(no errorCode)",
                          code, sizeof(code));
    aws_register_sanitize(string_field(o, "errorMessage") ? string_field(o, "errorMessage")
                                                          : "(no errorMessage)",
                          message, sizeof(message));
    snprintf(detail, detail_len, "%s: %s", code, message);
    result = AWS_REGISTER_REJECTED;
cleanup:
    json_object_put(o);
    return result;
}

int aws_register_token_from_csr_answer(const void *payload, size_t len, char *out,
                                       size_t out_len, char *err, size_t err_len)
{
    json_object *o = parse_object(payload, len);
    const char *token = o ? string_field(o, "certificateOwnershipToken") : NULL;
    int rc = -1;

    if (!o)
        snprintf(err, err_len, "the create-from-csr answer is not a JSON object");
    else if (!token || !token[0])
        snprintf(err, err_len, "the create-from-csr answer has no certificateOwnershipToken: "
                               "the certificate cannot be activated");
    else if (strlen(token) >= out_len)
        snprintf(err, err_len, "the certificateOwnershipToken is longer than %zu bytes",
                 out_len - 1);
    else {
        memcpy(out, token, strlen(token) + 1);
        rc = 0;
    }
    json_object_put(o);
    return rc;
}

void aws_register_token_hint(const char *token, char *out, size_t out_len)
{
    char head[9];

    aws_register_sanitize(token, head, sizeof(head));
    snprintf(out, out_len, "%s...(%zu bytes)", head, strlen(token));
}

/* Length of the placeholder at s ("{device_id}", "{serial}"), 0 if none. */
static size_t placeholder(const char *s, const char **which)
{
    static const char *const names[] = {"{device_id}", "{serial}"};

    for (size_t i = 0; i < 2; i++) {
        if (strncmp(s, names[i], strlen(names[i])) == 0) {
            *which = names[i];
            return strlen(names[i]);
        }
    }
    return 0;
}

int aws_register_expand(const char *value, const char *device_id, const char *serial, char *out,
                        size_t out_len)
{
    size_t j = 0;

    for (size_t i = 0; value[i];) {
        const char *which = NULL, *with = NULL;
        size_t n = value[i] == '{' ? placeholder(value + i, &which) : 0;

        if (value[i] == '{' && n == 0)
            return -1;
        if (n) {
            with = strcmp(which, "{serial}") == 0 ? serial : device_id;
            if (!with || j + strlen(with) >= out_len)
                return -1;
            memcpy(out + j, with, strlen(with));
            j += strlen(with);
            i += n;
            continue;
        }
        if (j + 1 >= out_len)
            return -1;
        out[j++] = value[i++];
    }
    if (j >= out_len)
        return -1;
    out[j] = '\0';
    return 0;
}

bool aws_register_value_ok(const char *value)
{
    char probe[4096 + 64];

    return strlen(value) <= 4096 &&
           aws_register_expand(value, "", "", probe, sizeof(probe)) == 0;
}

/* ---- one call in flight ------------------------------------------------ */

int aws_register_call_start(struct aws_register_call *c, struct agent_mqtt *m,
                            const char *template_name, const char *ownership_token,
                            const struct aws_register_param *params, size_t n_params,
                            uint64_t now_ms, unsigned timeout_ms, char *err, size_t err_len)
{
    char *payload = NULL;
    int mid = 0, rc;

    memset(c, 0, sizeof(*c));
    if (aws_register_topics(template_name, c->request_topic, c->accepted_topic,
                            c->rejected_topic) != 0) {
        snprintf(err, err_len, "provisioning template name \"%.40s\" is not 1-%d characters "
                               "of A-Z, a-z, 0-9, '_' and '-'",
                 template_name, TEMPLATE_NAME_MAX);
        return -1;
    }
    payload = aws_register_request(ownership_token, params, n_params);
    if (!payload) {
        snprintf(err, err_len, "out of memory building the RegisterThing request");
        return -1;
    }
    rc = agent_mqtt_publish(m, c->request_topic, payload, strlen(payload), 1, false, &mid);
    OPENSSL_cleanse(payload, strlen(payload));
    free(payload);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, err_len, "publishing RegisterThing on %s failed: %s", c->request_topic,
                 mosquitto_strerror(rc));
        return -1;
    }
    c->active = true;
    c->result = AWS_REGISTER_PENDING;
    c->deadline_ms = now_ms + timeout_ms;
    return 0;
}

bool aws_register_call_message(struct aws_register_call *c, const char *topic,
                               const void *payload, size_t len)
{
    bool accepted, rejected;

    if (!c->active)
        return false;
    accepted = strcmp(topic, c->accepted_topic) == 0;
    rejected = strcmp(topic, c->rejected_topic) == 0;
    if (!accepted && !rejected)
        return false;
    /* The first answer decides; a second one (a duplicate QoS 1
     * delivery, or an answer to an earlier attempt) changes nothing. */
    if (c->result == AWS_REGISTER_PENDING)
        c->result = aws_register_read_answer(accepted, payload, len, c->detail,
                                             sizeof(c->detail));
    return true;
}

enum aws_register_result aws_register_call_poll(struct aws_register_call *c, uint64_t now_ms)
{
    if (c->active && c->result == AWS_REGISTER_PENDING && now_ms >= c->deadline_ms) {
        c->result = AWS_REGISTER_TIMEOUT;
        snprintf(c->detail, sizeof(c->detail), "no RegisterThing answer on %s",
                 c->accepted_topic);
    }
    return c->result;
}

void aws_register_call_end(struct aws_register_call *c)
{
    c->active = false;
}
