/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket requests (see control_request.h): the JSON envelope of
 * one line, the commands and their fields, the privilege rule.
 */
#include "control_request.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json_strict.h"
#include "utf8.h"

/* Checks that obj has only the listed keys. */
static int check_keys(struct json_object *req, const char *cmd, const char *const *known,
                      char *err, size_t err_len)
{
    json_object_object_foreach(req, key, val)
    {
        size_t i;
        bool found = false;

        (void)val;
        for (i = 0; known[i] != NULL; i++)
            if (strcmp(known[i], key) == 0)
                found = true;
        if (!found) {
            snprintf(err, err_len, "unknown field \"%.*s\" for %s",
                     (int)tl_utf8_prefix_len(key, 64), key, cmd);
            return -1;
        }
    }
    return 0;
}

static int parse_publish(struct json_object *req, const char **topic, const char **payload,
                         size_t *payload_len, int *qos, bool *retain, char *err, size_t err_len)
{
    static const char *const known[] = { "cmd", "id", "topic", "payload", "qos", "retain", NULL };
    struct json_object *v = NULL;

    if (check_keys(req, "publish", known, err, err_len) < 0)
        return -1;
    if (!json_object_object_get_ex(req, "topic", &v) || !json_object_is_type(v, json_type_string)) {
        snprintf(err, err_len, "publish: \"topic\" must be a string");
        return -1;
    }
    *topic = tl_json_c_string(v);
    if (*topic == NULL) {
        snprintf(err, err_len, "publish: \"topic\" contains a NUL character (\\u0000)");
        return -1;
    }
    if (!json_object_object_get_ex(req, "payload", &v) ||
        !json_object_is_type(v, json_type_string)) {
        snprintf(err, err_len, "publish: \"payload\" must be a string");
        return -1;
    }
    *payload = json_object_get_string(v);
    *payload_len = (size_t)json_object_get_string_len(v);
    *qos = 0;
    if (json_object_object_get_ex(req, "qos", &v)) {
        int64_t q;

        if (!json_object_is_type(v, json_type_int)) {
            snprintf(err, err_len, "publish: \"qos\" must be an integer (0, 1 or 2)");
            return -1;
        }
        /* Range policy is the handler's; only keep the value representable. */
        q = json_object_get_int64(v);
        if (q < INT_MIN || q > INT_MAX) {
            snprintf(err, err_len, "publish: \"qos\" must be 0, 1 or 2");
            return -1;
        }
        *qos = (int)q;
    }
    *retain = false;
    if (json_object_object_get_ex(req, "retain", &v)) {
        if (!json_object_is_type(v, json_type_boolean)) {
            snprintf(err, err_len, "publish: \"retain\" must be true or false");
            return -1;
        }
        *retain = json_object_get_boolean(v);
    }
    return 0;
}

int control_request_run(const struct agent_control_handlers *h, const struct control_peer *peer,
                        struct json_object *req, struct json_object *reply, char *err,
                        size_t err_len)
{
    static const char *const known_plain[] = { "cmd", "id", NULL };
    struct json_object *v = NULL;
    const char *cmd;
    int rc;

    if (!json_object_object_get_ex(req, "cmd", &v) || !json_object_is_type(v, json_type_string)) {
        snprintf(err, err_len, "request must have a string \"cmd\" (status, publish, reconnect "
                               "or rotate)");
        return -1;
    }
    /* "status\u0000x" must not run status. */
    cmd = tl_json_c_string(v);
    if (cmd == NULL) {
        snprintf(err, err_len, "\"cmd\" contains a NUL character (\\u0000)");
        return -1;
    }

    if (strcmp(cmd, "status") == 0) {
        if (check_keys(req, cmd, known_plain, err, err_len) < 0)
            return -1;
        rc = h->status(h->ctx, reply, err, err_len);
        /* The handler may not redefine the envelope. */
        json_object_object_add(reply, "ok", json_object_new_boolean(1));
        return rc;
    }
    if (strcmp(cmd, "publish") != 0 && strcmp(cmd, "reconnect") != 0 &&
        strcmp(cmd, "rotate") != 0) {
        snprintf(err, err_len,
                 "unknown command \"%.*s\" (expected status, publish, reconnect or rotate)",
                 (int)tl_utf8_prefix_len(cmd, 64), cmd);
        return -1;
    }
    if (strcmp(cmd, "publish") == 0 && !peer->may_publish && !peer->may_admin) {
        snprintf(err, err_len,
                 "permission denied: publish needs root, the agent's user or a uid/primary gid "
                 "listed in control.publish_uids/publish_gids or admin_uids/admin_gids (peer "
                 "uid %ld gid %ld)",
                 peer->uid, peer->gid);
        return -1;
    }
    if (strcmp(cmd, "publish") != 0 && !peer->may_admin) {
        snprintf(err, err_len,
                 "permission denied: %s needs root, the agent's user or a uid/primary gid listed "
                 "in control.admin_uids/admin_gids (peer uid %ld gid %ld)",
                 cmd, peer->uid, peer->gid);
        return -1;
    }
    if (strcmp(cmd, "publish") == 0) {
        const char *topic = NULL;
        const char *payload = NULL;
        size_t payload_len = 0;
        int qos = 0;
        bool retain = false;

        if (parse_publish(req, &topic, &payload, &payload_len, &qos, &retain, err, err_len) < 0)
            return -1;
        return h->publish(h->ctx, topic, payload, payload_len, qos, retain, err, err_len);
    }
    if (check_keys(req, cmd, known_plain, err, err_len) < 0)
        return -1;
    if (strcmp(cmd, "reconnect") == 0)
        return h->reconnect(h->ctx, err, err_len);
    if (h->rotate == NULL) {
        snprintf(err, err_len, "rotate is not supported by this agent");
        return -1;
    }
    return h->rotate(h->ctx, err, err_len);
}

bool control_request_is_blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

int control_request_parse(const char *line, size_t len, struct json_object **out_req,
                          struct json_object **out_id, char *err, size_t err_len)
{
    struct json_tokener *tok = NULL;
    struct json_object *req = NULL;
    struct json_object *id = NULL;
    enum json_tokener_error jerr;
    size_t end;
    int rc = -1;

    *out_req = NULL;
    *out_id = NULL;
    if (len > INT_MAX) { /* json_tokener takes an int length; max_line bounds it anyway */
        snprintf(err, err_len, "request too long");
        return -1;
    }
    tok = json_tokener_new_ex(CONTROL_REQUEST_JSON_DEPTH);
    if (tok == NULL) {
        snprintf(err, err_len, "out of memory");
        return -2;
    }
    req = json_tokener_parse_ex(tok, line, (int)len);
    jerr = json_tokener_get_error(tok);
    if (req == NULL || jerr != json_tokener_success) {
        /* json_tokener_continue: the line ended inside a value. */
        snprintf(err, err_len, "malformed JSON: %s",
                 jerr == json_tokener_continue ? "unexpected end of line"
                                               : json_tokener_error_desc(jerr));
        goto cleanup;
    }
    end = json_tokener_get_parse_end(tok);
    if (!control_request_is_blank(line + end, len - end)) {
        snprintf(err, err_len, "malformed JSON: trailing data after the object (one object per line)");
        goto cleanup;
    }
    if (!json_object_is_type(req, json_type_object)) {
        snprintf(err, err_len, "request must be a JSON object");
        goto cleanup;
    }
    /* json-c keeps the last of two equal keys: {"cmd":"status","cmd":
     * "rotate"} would run what a reader of the first key did not expect. */
    switch (tl_json_check_keys(line, len, err, err_len)) {
    case 0:
        break;
    case -2:
        rc = -2;
        goto cleanup;
    default:
        goto cleanup;
    }
    /* "id" is echoed so a client can match pipelined replies. Only
     * scalars, so a reply never grows with the request. */
    if (json_object_object_get_ex(req, "id", &id) && id != NULL &&
        !json_object_is_type(id, json_type_int) && !json_object_is_type(id, json_type_string)) {
        snprintf(err, err_len, "\"id\" must be an integer or a string");
        goto cleanup;
    }
    if (id != NULL && json_object_is_type(id, json_type_string) &&
        json_object_get_string_len(id) > 128) {
        snprintf(err, err_len, "\"id\" must be at most 128 bytes");
        goto cleanup;
    }
    *out_req = req;
    *out_id = id;
    req = NULL;
    rc = 0;
cleanup:
    json_object_put(req);
    json_tokener_free(tok);
    return rc;
}
