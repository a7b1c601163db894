/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: control-socket request lines (agent/control_request.c)
 * as the control server handles them: split at '\n', blank lines
 * ignored, each line parsed and run against recording handlers, and a
 * reply object built the way the server builds it.
 *
 * Input: first byte = the peer (bit 0: may administer, bit 4: may
 * publish), the rest = the bytes a client sent. Checks: parse gives a
 * request or a message, never both; run gives 0 or -1 with a message; a
 * peer reaches publish only if it may publish or administer, and
 * reconnect or rotate only if it may administer; a publish hands over the payload with its
 * length (NULs included) and the request's topic; every reply serialises
 * to one line that parses back to an object with a boolean "ok".
 * Corpus: tests/fuzz/control_line/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "control_request.h"
#include "fuzz_target.h"

struct recorder {
    int publish_calls;
    int admin_calls;
    int fail_every;     /* a handler fails when its call count is a multiple */
    int calls;
    size_t line_len;    /* the line being handled */
    unsigned char last_payload_byte;
};

static int maybe_fail(struct recorder *r, const char *what, char *err, size_t err_len)
{
    r->calls++;
    if (r->fail_every > 0 && r->calls % r->fail_every == 0) {
        snprintf(err, err_len, "%s failed (fuzz handler)", what);
        return -1;
    }
    return 0;
}

static int on_status(void *ctx, struct json_object *out, char *err, size_t err_len)
{
    json_object_object_add(out, "state", json_object_new_string("connected"));
    json_object_object_add(out, "ok", json_object_new_string("a handler may not redefine ok"));
    return maybe_fail(ctx, "status", err, err_len);
}

static int on_publish(void *ctx, const char *topic, const void *payload, size_t payload_len,
                      int qos, bool retain, char *err, size_t err_len)
{
    struct recorder *r = ctx;

    (void)qos;
    (void)retain;
    r->publish_calls++;
    if (topic == NULL || (payload == NULL && payload_len > 0))
        fail_msg("publish without a topic or a payload");
    /* JSON escapes only shrink: the payload cannot be longer than the
     * line; its last byte is read so ASan sees a wrong length. */
    if (payload_len > r->line_len)
        fail_msg("payload of %zu bytes from a line of %zu", payload_len, r->line_len);
    if (payload_len > 0)
        r->last_payload_byte = ((const unsigned char *)payload)[payload_len - 1];
    return maybe_fail(r, "publish", err, err_len);
}

static int on_reconnect(void *ctx, char *err, size_t err_len)
{
    struct recorder *r = ctx;

    r->admin_calls++;
    return maybe_fail(r, "reconnect", err, err_len);
}

static int on_rotate(void *ctx, char *err, size_t err_len)
{
    struct recorder *r = ctx;

    r->admin_calls++;
    return maybe_fail(r, "rotate", err, err_len);
}

static void check_reply(struct json_object *reply)
{
    const char *text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE);
    struct json_object *back, *ok = NULL;

    if (text == NULL || strchr(text, '\n') != NULL)
        fail_msg("a reply is not one line: %s", text ? text : "(null)");
    back = json_tokener_parse(text);
    if (back == NULL || !json_object_is_type(back, json_type_object) ||
        !json_object_object_get_ex(back, "ok", &ok) || !json_object_is_type(ok, json_type_boolean))
        fail_msg("a reply does not parse back to an object with a boolean ok: %s", text);
    json_object_put(back);
}

static void handle_line(const struct agent_control_handlers *h, const struct control_peer *peer,
                        const char *line, size_t len)
{
    struct json_object *req = NULL, *id = NULL, *reply;
    char err[256];
    int rc;

    if (control_request_is_blank(line, len))
        return;
    ((struct recorder *)h->ctx)->line_len = len;
    err[0] = '\0';
    rc = control_request_parse(line, len, &req, &id, err, sizeof(err));
    reply = json_object_new_object();
    if (reply == NULL)
        fail_msg("out of memory");
    if (rc == 0) {
        if (req == NULL)
            fail_msg("parse succeeded without a request");
        json_object_object_add(reply, "ok", json_object_new_boolean(1));
        if (id != NULL)
            json_object_object_add(reply, "id", json_object_get(id));
        err[0] = '\0';
        rc = control_request_run(h, peer, req, reply, err, sizeof(err));
        if (rc != 0 && rc != -1)
            fail_msg("control_request_run returned %d", rc);
    } else if (rc == -1) {
        if (req != NULL || err[0] == '\0')
            fail_msg("parse failed with a request or without a message");
    } else if (rc != -2) {
        fail_msg("control_request_parse returned %d", rc);
    }
    if (rc != 0) {
        if (err[0] == '\0')
            fail_msg("a failure without a message");
        json_object_object_add(reply, "ok", json_object_new_boolean(0));
        json_object_object_add(reply, "error", json_object_new_string(err));
    }
    check_reply(reply);
    json_object_put(reply);
    json_object_put(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct recorder rec = { 0 };
    struct agent_control_handlers h = {
        .status = on_status,
        .publish = on_publish,
        .reconnect = on_reconnect,
        .rotate = on_rotate,
        .ctx = &rec,
    };
    struct control_peer peer = { .may_publish = false, .may_admin = false, .uid = 1000,
                                 .gid = 1000 };
    const char *p, *end, *nl;

    if (size == 0)
        return 0;
    peer.may_admin = (data[0] & 1) != 0;
    peer.may_publish = (data[0] & 0x10) != 0;
    rec.fail_every = (data[0] >> 1) & 3;
    if (peer.may_admin)
        peer.uid = peer.gid = 0;
    if (data[0] & 8)
        h.rotate = NULL; /* an agent without rotation */
    p = (const char *)data + 1;
    end = (const char *)data + size;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        handle_line(&h, &peer, p, (size_t)(nl - p));
        p = nl + 1;
    }
    if (!peer.may_admin && rec.admin_calls != 0)
        fail_msg("a peer that may not administer reached reconnect/rotate %d times",
                 rec.admin_calls);
    if (!peer.may_admin && !peer.may_publish && rec.publish_calls != 0)
        fail_msg("a peer that may not publish reached publish %d times", rec.publish_calls);
    return 0;
}
