/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlink-ca-responder, faithful AWS IoT mode (see ca_responder.h): the
 * PENDING_ACTIVATION -> RegisterThing -> ACTIVE life of a certificate from
 * CreateCertificateFromCsr, modelled with a CRL the broker re-reads.
 *
 * Owns: the list of issued certificates (serial, ownership token, expiry,
 * state) and the CRL file it rewrites (temporary file + rename).
 * Must never: let the broker accept a certificate that was not registered;
 * accept a token twice, late, or for parameters the template refuses.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca_responder.h"

enum cert_state { PENDING, ACTIVE };

struct issued {
    struct issued *next;
    ASN1_INTEGER *serial;
    char token[65];
    time_t expires;          /* the token's end (monotonic seconds) */
    enum cert_state state;
};

struct aws_faithful {
    struct aws_faithful_options opt;
    X509 *ca_cert;
    EVP_PKEY *ca_key;
    struct issued *issued;
    char provision_topic[256];
};

static time_t mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* The CRL lists every certificate not (yet) activated. */
static int write_crl(struct aws_faithful *f)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    char tmp[4096];
    FILE *out = NULL;
    int ok = 0, n = 0;
    time_t now = time(NULL);

    if (!crl || !t || !X509_CRL_set_version(crl, 1) ||
        !X509_CRL_set_issuer_name(crl, X509_get_subject_name(f->ca_cert)) ||
        !X509_time_adj_ex(t, 0, -60, &now) || !X509_CRL_set1_lastUpdate(crl, t) ||
        !X509_time_adj_ex(t, 1, 0, &now) || !X509_CRL_set1_nextUpdate(crl, t))
        goto out;
    for (struct issued *i = f->issued; i; i = i->next) {
        X509_REVOKED *rev;
        if (i->state != PENDING)
            continue;
        rev = X509_REVOKED_new();
        if (!rev || !X509_REVOKED_set_serialNumber(rev, i->serial) ||
            !X509_time_adj_ex(t, 0, -60, &now) || !X509_REVOKED_set_revocationDate(rev, t) ||
            !X509_CRL_add0_revoked(crl, rev)) {
            X509_REVOKED_free(rev);
            goto out;
        }
        n++;
    }
    if (!X509_CRL_sort(crl) || X509_CRL_sign(crl, f->ca_key, EVP_sha256()) <= 0)
        goto out;
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", f->opt.crl_path) >= sizeof(tmp))
        goto out;
    out = fopen(tmp, "w");
    if (!out || !PEM_write_X509_CRL(out, crl))
        goto out;
    if (fclose(out) != 0) {
        out = NULL;
        goto out;
    }
    out = NULL;
    if (rename(tmp, f->opt.crl_path) != 0)
        goto out;
    ok = 1;
    if (f->opt.broker_pid > 0) {
        /* mosquitto re-reads its crlfile on SIGHUP; give it a moment to do
         * so before the answer that follows reaches the device. */
        struct timespec pause = {0, 200000000L};
        if (kill(f->opt.broker_pid, SIGHUP) != 0)
            logf_("cannot signal the broker (pid %ld): %s", (long)f->opt.broker_pid,
                  strerror(errno));
        nanosleep(&pause, NULL);
    }
    logf_("CRL %s: %d certificate(s) pending activation", f->opt.crl_path, n);
out:
    if (out)
        fclose(out);
    if (!ok)
        logf_("cannot write the CRL %s", f->opt.crl_path);
    ERR_clear_error();
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    return ok ? 0 : -1;
}

struct aws_faithful *aws_faithful_new(const struct aws_faithful_options *o, X509 *ca_cert,
                                      EVP_PKEY *ca_key)
{
    struct aws_faithful *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->opt = *o;
    f->ca_cert = ca_cert;
    f->ca_key = ca_key;
    if ((size_t)snprintf(f->provision_topic, sizeof(f->provision_topic),
                         "$aws/provisioning-templates/%s/provision/json",
                         o->template_name) >= sizeof(f->provision_topic) ||
        write_crl(f) != 0) {
        free(f);
        return NULL;
    }
    return f;
}

void aws_faithful_free(struct aws_faithful *f)
{
    if (!f)
        return;
    while (f->issued) {
        struct issued *i = f->issued;
        f->issued = i->next;
        ASN1_INTEGER_free(i->serial);
        OPENSSL_cleanse(i->token, sizeof(i->token));
        free(i);
    }
    free(f);
}

const char *aws_faithful_provision_topic(const struct aws_faithful *f)
{
    return f->provision_topic;
}

int aws_faithful_issued(struct aws_faithful *f, X509 *cert, const char *token)
{
    struct issued *i = calloc(1, sizeof(*i));

    if (!i || strlen(token) >= sizeof(i->token) ||
        !(i->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert)))) {
        free(i);
        return -1;
    }
    snprintf(i->token, sizeof(i->token), "%s", token);
    i->expires = mono_now() + f->opt.token_lifetime;
    i->state = PENDING;
    i->next = f->issued;
    f->issued = i;
    return write_crl(f);
}

/* {statusCode, errorCode, errorMessage}: AWS IoT's error shape. */
static char *error_json(int status, const char *code, const char *message)
{
    json_object *o = json_object_new_object();
    char *out = NULL;

    if (o) {
        json_object_object_add(o, "statusCode", json_object_new_int(status));
        json_object_object_add(o, "errorCode", json_object_new_string(code));
        json_object_object_add(o, "errorMessage", json_object_new_string(message));
        out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    }
    json_object_put(o);
    return out;
}

/* NULL when the parameters satisfy the template, else why not. */
static const char *check_parameters(const struct aws_faithful *f, json_object *params,
                                    char *msg, size_t cap)
{
    if (params && !json_object_is_type(params, json_type_object))
        return "parameters: expected an object of strings";
    if (params) {
        json_object_object_foreach(params, key, val) {
            if (!json_object_is_type(val, json_type_string)) {
                snprintf(msg, cap, "parameters.%s: expected a string", key);
                return msg;
            }
        }
    }
    for (int k = 0; k < f->opt.n_params; k++) {
        json_object *v = NULL;
        const char *name = f->opt.param_names[k], *want = f->opt.param_values[k];
        if (!params || !json_object_object_get_ex(params, name, &v) ||
            json_object_get_string_len(v) == 0) {
            snprintf(msg, cap, "template %s requires parameter %s", f->opt.template_name, name);
            return msg;
        }
        if (want && strcmp(json_object_get_string(v), want) != 0) {
            snprintf(msg, cap, "template %s refuses %s=%s", f->opt.template_name, name,
                     json_object_get_string(v));
            return msg;
        }
    }
    return NULL;
}

void aws_faithful_register(struct aws_faithful *f, const char *payload, int len, char **topic,
                           char **json)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL, *v = NULL, *params = NULL, *ok = NULL;
    struct issued *i = NULL;
    const char *token = NULL, *why;
    char msg[300], *accepted = NULL;
    bool rejected = true;

    *topic = NULL;
    *json = NULL;
    o = tok ? json_tokener_parse_ex(tok, payload, len) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        *json = error_json(400, "InvalidPayload", "request is not a JSON object");
        goto answer;
    }
    if (json_object_object_get_ex(o, "certificateOwnershipToken", &v) &&
        json_object_is_type(v, json_type_string))
        token = json_object_get_string(v);
    if (!token || !*token) {
        *json = error_json(400, "InvalidCertificateOwnershipToken",
                           "Certificate ownership token cannot be empty.");
        goto answer;
    }
    for (i = f->issued; i && strcmp(i->token, token) != 0; i = i->next)
        ;
    if (!i) {
        *json = error_json(400, "InvalidCertificateOwnershipToken",
                           "Certificate ownership token is not valid.");
        goto answer;
    }
    if (i->state != PENDING) {
        *json = error_json(400, "InvalidCertificateOwnershipToken",
                           "Certificate ownership token was already used.");
        goto answer;
    }
    if (mono_now() >= i->expires) {
        *json = error_json(400, "InvalidCertificateOwnershipToken",
                           "Certificate ownership token has expired.");
        goto answer;
    }
    json_object_object_get_ex(o, "parameters", &params);
    why = check_parameters(f, params, msg, sizeof(msg));
    if (why) {
        *json = error_json(400, "InvalidParameters", why);
        goto answer;
    }
    i->state = ACTIVE;
    if (write_crl(f) != 0) {
        i->state = PENDING;
        *json = error_json(500, "InternalFailure", "the CRL could not be written");
        goto answer;
    }
    /* Accepted: {deviceConfiguration, thingName}. */
    ok = json_object_new_object();
    if (ok) {
        json_object *thing = NULL;
        json_object_object_add(ok, "deviceConfiguration", json_object_new_object());
        if (params && json_object_object_get_ex(params, "ThingName", &thing))
            json_object_object_add(ok, "thingName", json_object_get(thing));
        else
            json_object_object_add(ok, "thingName", json_object_new_string("trustlink-thing"));
        accepted = strdup(json_object_to_json_string_ext(ok, JSON_C_TO_STRING_PLAIN));
    }
    *json = accepted;
    rejected = false;
    logf_("RegisterThing: certificate activated");
answer:
    if (rejected && *json)
        logf_("RegisterThing rejected: %s", *json);
    *topic = malloc(strlen(f->provision_topic) + 10);
    if (*topic)
        sprintf(*topic, "%s/%s", f->provision_topic, rejected ? "rejected" : "accepted");
    json_object_put(ok);
    json_object_put(o);
    if (tok)
        json_tokener_free(tok);
}
