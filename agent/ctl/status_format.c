/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Status rendering (see status_format.h).
 */
#include "status_format.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "log.h"
#include "time64.h"

enum { LABEL_WIDTH = 22 };

struct known_field {
    const char *key;
    const char *label;
};

/* Order of the top-level fields; anything else follows in reply order. */
static const struct known_field top_fields[] = {
    { "state", "State" },             { "device_id", "Device ID" },
    { "broker", "Broker" },           { "client_id", "Client ID" },
    { "identity", "Identity" },       { "certificate", "Certificate" },
    { "rotation", "Key rotation" },   { "uptime_s", "Uptime" },         { "counters", "Counters" },
    { "queue", "Delivery queue" },
    { "last_error", "Last error" },   { "last_reload_error", "Last reload error" },
};

/* Folded into the state line instead of printed on their own. */
static const char *const state_details[] = {
    "next_retry_s", "next_retry_in_ms", "next_retry_at", "connected_for_s",
};

static const struct known_field labels[] = {
    { "next_retry_s", "Next retry" }, { "subject", "Subject" },
    { "issuer", "Issuer" },           { "serial", "Serial" },
    { "not_before", "Not before" },   { "not_after", "Not after" },
    { "sha256", "SHA-256" },          { "days_left", "Days left" },
    { "host", "Host" },               { "port", "Port" },
    { "key", "Key" },                 { "module", "Module" },
    { "uri", "URI" },                 { "token", "Token" },
    { "age_s", "Age" },               { "class", "Class" },
    { "message", "Message" },         { "current_sha256", "Current SHA-256" },
    { "previous_sha256", "Previous SHA-256" },
    { "durability", "Durability" },   { "oldest_age_ms", "Oldest message age" },
    { "file_bytes", "File size" },    { "fsyncs", "Fsyncs" },
    { "stored", "Stored on disk" },
};

static void label_for(const char *key, char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(top_fields) / sizeof(top_fields[0]); i++)
        if (strcmp(top_fields[i].key, key) == 0) {
            snprintf(buf, len, "%s", top_fields[i].label);
            return;
        }
    for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(labels[i].key, key) == 0) {
            snprintf(buf, len, "%s", labels[i].label);
            return;
        }
    /* "queue_depth" -> "Queue depth" */
    snprintf(buf, len, "%s", key);
    for (i = 0; buf[i] != '\0'; i++)
        if (buf[i] == '_')
            buf[i] = ' ';
    if (buf[0] != '\0')
        buf[0] = (char)toupper((unsigned char)buf[0]);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s);
    size_t b = strlen(suffix);

    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void print_duration(FILE *out, int64_t s)
{
    if (s < 0) {
        fprintf(out, "%" PRId64 " s", s);
        return;
    }
    if (s >= 86400)
        fprintf(out, "%" PRId64 "d %" PRId64 "h %" PRId64 "m %" PRId64 "s", s / 86400,
                s % 86400 / 3600, s % 3600 / 60, s % 60);
    else if (s >= 3600)
        fprintf(out, "%" PRId64 "h %" PRId64 "m %" PRId64 "s", s / 3600, s % 3600 / 60, s % 60);
    else if (s >= 60)
        fprintf(out, "%" PRId64 "m %" PRId64 "s", s / 60, s % 60);
    else
        fprintf(out, "%" PRId64 " s", s);
}

static void print_epoch(FILE *out, int64_t t)
{
    char buf[64];

    /* time64_iso, not gmtime_r: renewal dates of long-lived certificates
     * lie past 2038, beyond a 32-bit time_t. */
    time64_iso(t, buf, sizeof(buf));
    if (buf[0])
        fputs(buf, out);
    else
        fprintf(out, "%" PRId64, t);
}

/* Strings in the reply can come from the network (a CA's rejection text,
 * a broker's alert): control bytes are shown as \xNN, never sent to the
 * terminal. */
static void put_escaped(FILE *out, const char *s)
{
    char buf[4096];
    size_t len = strlen(s);

    /* Long strings in pieces; a piece never ends inside an escape since
     * each one is escaped on its own. */
    while (len > 0) {
        char piece[1024];
        size_t n = len < sizeof(piece) - 1 ? len : sizeof(piece) - 1;

        memcpy(piece, s, n);
        piece[n] = '\0';
        agent_escape_controls(piece, buf, sizeof(buf));
        fputs(buf, out);
        s += n;
        len -= n;
    }
}

static void print_value(FILE *out, const char *key, struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        fputs("none", out);
        break;
    case json_type_boolean:
        fputs(json_object_get_boolean(v) ? "yes" : "no", out);
        break;
    case json_type_int:
        if (ends_with(key, "_s"))
            print_duration(out, json_object_get_int64(v));
        else if (ends_with(key, "_ms"))
            fprintf(out, "%" PRId64 " ms", json_object_get_int64(v));
        else if (ends_with(key, "_at"))
            print_epoch(out, json_object_get_int64(v));
        else
            fprintf(out, "%" PRId64, json_object_get_int64(v));
        break;
    case json_type_string:
        put_escaped(out, json_object_get_string(v));
        break;
    default: /* double, array: compact JSON */
        fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), out);
        break;
    }
}

static void print_field(FILE *out, int indent, const char *key, struct json_object *v,
                        struct json_object *parent);

static void print_object(FILE *out, int indent, struct json_object *obj)
{
    json_object_object_foreach(obj, key, val)
    {
        print_field(out, indent, key, val, obj);
    }
}

static bool is_state_detail(const char *key)
{
    size_t i;

    for (i = 0; i < sizeof(state_details) / sizeof(state_details[0]); i++)
        if (strcmp(state_details[i], key) == 0)
            return true;
    return false;
}

static bool get_int(struct json_object *obj, const char *key, int64_t *v)
{
    struct json_object *o = NULL;

    if (!json_object_object_get_ex(obj, key, &o) || !json_object_is_type(o, json_type_int))
        return false;
    *v = json_object_get_int64(o);
    return true;
}

/* "connected (for 2m 3s)", "waiting (next retry in 12 s, at ...)" */
static void print_state_details(FILE *out, struct json_object *reply)
{
    int64_t v;

    if (get_int(reply, "connected_for_s", &v)) {
        fputs(" (for ", out);
        print_duration(out, v);
        fputs(")", out);
    }
    if (get_int(reply, "next_retry_in_ms", &v)) {
        fputs(" (next retry in ", out);
        if (v < 10000)
            fprintf(out, "%.1f s", (double)v / 1000.0);
        else
            print_duration(out, v / 1000 + (v % 1000 >= 500)); /* rounded; no v + 500 overflow */
    } else if (get_int(reply, "next_retry_s", &v)) {
        fputs(" (next retry in ", out);
        print_duration(out, v);
    } else {
        return;
    }
    if (get_int(reply, "next_retry_at", &v)) {
        fputs(", at ", out);
        print_epoch(out, v);
    }
    fputs(")", out);
}

static void print_field(FILE *out, int indent, const char *key, struct json_object *v,
                        struct json_object *parent)
{
    char raw_label[64], label[64];
    int width = LABEL_WIDTH - indent;

    if (indent == 0 && is_state_detail(key))
        return;
    label_for(key, raw_label, sizeof(raw_label));
    agent_escape_controls(raw_label, label, sizeof(label) - 1); /* room for the colon */
    if (json_object_is_type(v, json_type_object)) {
        fprintf(out, "%*s%s:\n", indent, "", label);
        print_object(out, indent + 2, v);
        return;
    }
    fprintf(out, "%*s%-*s ", indent, "", width < 1 ? 1 : width, strcat(label, ":"));
    print_value(out, key, v);
    if (indent == 0 && strcmp(key, "state") == 0)
        print_state_details(out, parent);
    fputc('\n', out);
}

void ctl_print_status(FILE *out, struct json_object *reply)
{
    struct json_object *v = NULL;
    size_t i;

    for (i = 0; i < sizeof(top_fields) / sizeof(top_fields[0]); i++)
        if (json_object_object_get_ex(reply, top_fields[i].key, &v))
            print_field(out, 0, top_fields[i].key, v, reply);
    json_object_object_foreach(reply, key, val)
    {
        bool known = strcmp(key, "ok") == 0 || strcmp(key, "id") == 0;

        for (i = 0; !known && i < sizeof(top_fields) / sizeof(top_fields[0]); i++)
            known = strcmp(top_fields[i].key, key) == 0;
        if (!known)
            print_field(out, 0, key, val, reply);
    }
}
