/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CSR request and answer payloads (see rotation_wire.h).
 */
#include "rotation_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "utf8.h"

char *rotation_wire_request(enum agent_rotation_profile profile, const char *request_id,
                            const char *csr_pem)
{
    struct json_object *o = json_object_new_object();
    const char *text;
    char *out = NULL;

    if (!o)
        return NULL;
    if (profile == AGENT_ROTATION_AWS) {
        json_object_object_add(o, "certificateSigningRequest", json_object_new_string(csr_pem));
    } else {
        json_object_object_add(o, "request_id", json_object_new_string(request_id));
        json_object_object_add(o, "csr", json_object_new_string(csr_pem));
    }
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text)
        out = strdup(text);
    json_object_put(o);
    return out;
}

static const char *string_field(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* How much of outside text to quote in an error: at most max bytes, cut
 * on a character boundary (a cut character would make the error, which
 * goes to logs and status replies, invalid UTF-8). For "%.*s". */
static int quote_len(const char *text, size_t max)
{
    return (int)tl_utf8_prefix_len(text, max);
}

enum rotation_answer rotation_wire_answer(enum agent_rotation_profile profile, bool accepted,
                                          const char *request_id, const void *payload, size_t len,
                                          char **pem_out, char *err, size_t err_len)
{
    struct json_tokener *tok = NULL;
    struct json_object *o = NULL;
    enum rotation_answer result = ROTATION_ANSWER_MALFORMED;
    const char *field;

    *pem_out = NULL;
    if (len > ROTATION_WIRE_MAX_ANSWER) {
        snprintf(err, err_len, "answer of %zu bytes is over the %d byte limit", len,
                 ROTATION_WIRE_MAX_ANSWER);
        goto cleanup;
    }
    tok = json_tokener_new();
    if (!tok) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    o = json_tokener_parse_ex(tok, payload, (int)len);
    if (!o || json_tokener_get_error(tok) != json_tokener_success ||
        tok->char_offset != (int)len || !json_object_is_type(o, json_type_object)) {
        snprintf(err, err_len, "the CA's answer is not a JSON object");
        goto cleanup;
    }
    if (profile == AGENT_ROTATION_TRUSTLINK) {
        const char *id = string_field(o, "request_id");

        if (id && strcmp(id, request_id) != 0) {
            result = ROTATION_ANSWER_IGNORE;
            snprintf(err, err_len, "answer for request %.*s, waiting for %.*s", quote_len(id, 64),
                     id, quote_len(request_id, 64), request_id);
            goto cleanup;
        }
        /* No id, no answer: anyone allowed to publish on the answer
         * topics could otherwise fail our rotation or put their text in
         * our logs and status. The request times out instead. */
        if (!id) {
            result = ROTATION_ANSWER_IGNORE;
            snprintf(err, err_len, "an answer without request_id, waiting for %.*s",
                     quote_len(request_id, 64), request_id);
            goto cleanup;
        }
    }
    if (!accepted) {
        const char *reason = profile == AGENT_ROTATION_AWS ? string_field(o, "errorMessage")
                                                           : string_field(o, "error");
        const char *code = profile == AGENT_ROTATION_AWS ? string_field(o, "errorCode") : NULL;

        if (!reason)
            reason = "(no reason given)";
        snprintf(err, err_len, "the CA rejected the CSR: %.*s%s%.*s%s", quote_len(reason, 200),
                 reason, code ? " (" : "", code ? quote_len(code, 60) : 0, code ? code : "",
                 code ? ")" : "");
        result = ROTATION_ANSWER_REJECTED;
        goto cleanup;
    }
    field = string_field(o, profile == AGENT_ROTATION_AWS ? "certificatePem" : "certificate");
    if (!field || !field[0]) {
        snprintf(err, err_len, "the CA's answer has no %s string",
                 profile == AGENT_ROTATION_AWS ? "certificatePem" : "certificate");
        goto cleanup;
    }
    *pem_out = strdup(field);
    if (!*pem_out) {
        snprintf(err, err_len, "out of memory");
        goto cleanup;
    }
    result = ROTATION_ANSWER_CERTIFICATE;
cleanup:
    /* A short err buffer may have cut the message inside a character. */
    if (result != ROTATION_ANSWER_CERTIFICATE && err_len > 0)
        err[tl_utf8_complete_len(err, strlen(err))] = '\0';
    json_object_put(o);
    if (tok)
        json_tokener_free(tok);
    return result;
}
