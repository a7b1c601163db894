/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlink-ca-responder: the reference CA for key rotation tests and the
 * demo. Connects to an MQTT broker with its own mutual-TLS identity (file
 * cert/key), takes CSRs, signs them with a test CA and answers; modes make
 * it misbehave in each way the agent must survive. Run --help for usage;
 * the protocol is in tests/rotation/README.md.
 *
 * Owns: its mosquitto client, the signing CA key (a file: this is a test
 * CA, not a device), ephemeral keys for the other-key/other-ca modes, and
 * the queue of delayed answers.
 * Must never: sign a CSR whose self-signature does not verify; copy
 * extensions from the CSR (the CA decides: clientAuth, digitalSignature);
 * block the MQTT loop (delays are queued, not slept).
 */
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca_responder.h"

enum mode { M_NORMAL, M_REJECT, M_DELAY, M_GARBAGE, M_GARBAGE_JSON, M_OTHER_KEY, M_OTHER_CA,
            M_EXPIRED, M_OTHER_SUBJECT };
static const char *const mode_names[] = {"normal", "reject", "delay", "garbage", "garbage-json",
                                         "other-key", "other-ca", "expired", "other-subject",
                                         NULL};
enum profile { P_TRUSTLINK, P_AWS };

struct options {
    const char *host, *cafile, *cert, *key, *ca_cert, *ca_key, *chain, *client_id;
    const char *request_topic, *accepted_topic, *rejected_topic;
    int port, qos, keepalive;
    long validity_days;    /* validity = days + seconds: each part fits a */
    long validity;         /* 32-bit long, their sum in seconds may not */
    long delay_ms;
    long count;            /* exit after this many answers (0: never) */
    enum mode mode;
    enum profile profile;
    bool verbose;
    bool faithful;         /* aws profile: certificates pending until RegisterThing */
    struct aws_faithful_options aws;
};

struct pending {
    struct pending *next;
    struct timespec due;
    char *topic;
    char *payload;
};

struct responder {
    struct options opt;
    struct mosquitto *mosq;
    EVP_PKEY *ca_key, *other_key, *other_ca_key;
    X509 *ca_cert, *other_ca_cert;
    char *chain_pem;
    struct pending *queue;
    struct aws_faithful *faithful;
    long answered;
    bool subscribed;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

void logf_(const char *fmt, ...)
{
    va_list ap;

    fputs("trustlink-ca-responder: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fputs(
"NAME\n"
"    trustlink-ca-responder - reference CA answering rotation CSRs over MQTT\n"
"\n"
"SYNOPSIS\n"
"    trustlink-ca-responder --port PORT --cafile FILE --cert FILE --key FILE\n"
"                           --ca-cert FILE --ca-key FILE [OPTION]...\n"
"\n"
"DESCRIPTION\n"
"    Connects to the broker with its own TLS client certificate, subscribes to\n"
"    the request topic and answers every CSR: it verifies the CSR's\n"
"    self-signature, issues a certificate for the CSR's subject and public key\n"
"    (basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage\n"
"    clientAuth, no extension copied from the CSR) signed by the test CA, and\n"
"    publishes it. Invalid requests are always rejected. A test tool: the CA\n"
"    key is a plain file.\n"
"\n"
"    trustlink profile: request {\"request_id\",\"csr\"} on <prefix>/<device>/csr;\n"
"    answer {\"request_id\",\"certificate\"} (PEM, leaf first, then --chain) on\n"
"    {topic}/accepted, or {\"request_id\",\"error\"} on {topic}/rejected.\n"
"    aws profile (AWS IoT CreateCertificateFromCsr): request\n"
"    {\"certificateSigningRequest\"} on $aws/certificates/create-from-csr/json;\n"
"    answer {\"certificateId\",\"certificatePem\",\"certificateOwnershipToken\"} on\n"
"    {topic}/accepted, or {\"statusCode\",\"errorCode\",\"errorMessage\"} on\n"
"    {topic}/rejected.\n"
"\n"
"OPTIONS\n"
"    -h, --host HOST        broker address (default 127.0.0.1)\n"
"    -p, --port PORT        broker port (required)\n"
"        --cafile FILE      CA bundle verifying the broker\n"
"        --cert FILE        the responder's client certificate (PEM)\n"
"        --key FILE         the responder's client key (PEM)\n"
"        --client-id ID     MQTT client id (default trustlink-ca-responder)\n"
"        --ca-cert FILE     issuing CA certificate (PEM)\n"
"        --ca-key FILE      issuing CA private key (PEM)\n"
"        --chain FILE       PEM appended after the leaf in answers\n"
"        --profile NAME     trustlink (default) or aws\n"
"        --prefix PREFIX    trustlink profile: request topic PREFIX/+/csr\n"
"                           (default prefix: trustlink)\n"
"        --request-topic FILTER   subscription filter (overrides --prefix)\n"
"        --accepted-topic TEMPLATE   default {topic}/accepted\n"
"        --rejected-topic TEMPLATE   default {topic}/rejected\n"
"                           {topic} is the request's topic; {device_id} the\n"
"                           level matched by the filter's first '+'\n"
"        --days N           certificate validity in days (default 30)\n"
"        --seconds N        certificate validity in seconds (short-lived tests)\n"
"        --mode MODE        normal, reject, delay, garbage (JSON answer whose\n"
"                           certificate is not PEM), garbage-json (answer not\n"
"                           JSON), other-key (certificate for a fresh key),\n"
"                           other-ca (signed by a fresh CA with the same name),\n"
"                           expired (validity ended an hour ago),\n"
"                           other-subject (the right key, but named\n"
"                           CN=another-device)\n"
"        --delay-ms N       answer N ms late (any mode; mode delay: default 2000)\n"
"        --qos N            QoS of subscription and answers (default 1)\n"
"        --count N          exit 0 after N answers\n"
"        --faithful         aws profile, as AWS IoT: a certificate is\n"
"                           PENDING_ACTIVATION (listed in --crl, the broker\n"
"                           SIGHUPed to re-read it) until RegisterThing on\n"
"                           $aws/provisioning-templates/TEMPLATE/provision/json\n"
"                           presents its ownership token, once, in time\n"
"        --template NAME    faithful: the template name (default trustlink)\n"
"        --template-param NAME[=VALUE]  faithful: a parameter RegisterThing\n"
"                           must carry (with VALUE: exactly); repeatable (8)\n"
"        --token-lifetime S faithful: ownership token lifetime (default 3600)\n"
"        --crl FILE         faithful: the CRL to maintain (the broker's crlfile)\n"
"        --broker-pid PID   faithful: SIGHUP this broker after each CRL change\n"
"        --drop-register-answers N  faithful: handle the first N RegisterThing\n"
"                           requests (activate, reject) but send no answer\n"
"    -v, --verbose          log every request and answer\n"
"        --help             this text\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT: disconnect cleanly, drop queued answers, exit 0.\n"
"\n"
"EXIT STATUS\n"
"    0 on a signal or after --count answers; 64 for bad options; 1 when the\n"
"    CA files cannot be loaded or the broker connection fails.\n"
"    Logs go to stderr; \"subscribed to FILTER\" marks readiness.\n", f);
}

/* ---- answers ------------------------------------------------------------- */

static void queue_answer(struct responder *r, const char *topic, const char *payload)
{
    struct pending *p = calloc(1, sizeof(*p)), **tail;

    if (!p || !(p->topic = strdup(topic)) || !(p->payload = strdup(payload))) {
        logf_("out of memory, answer dropped");
        if (p) {
            free(p->topic);
            free(p);
        }
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &p->due);
    p->due.tv_sec += r->opt.delay_ms / 1000;
    p->due.tv_nsec += (r->opt.delay_ms % 1000) * 1000000L;
    if (p->due.tv_nsec >= 1000000000L) {
        p->due.tv_sec++;
        p->due.tv_nsec -= 1000000000L;
    }
    for (tail = &r->queue; *tail; tail = &(*tail)->next)
        ;
    *tail = p;
}

static void flush_due(struct responder *r, bool all)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    while (r->queue) {
        struct pending *p = r->queue;
        if (!all && (p->due.tv_sec > now.tv_sec ||
                     (p->due.tv_sec == now.tv_sec && p->due.tv_nsec > now.tv_nsec)))
            break;
        int rc = mosquitto_publish(r->mosq, NULL, p->topic, (int)strlen(p->payload), p->payload,
                                   r->opt.qos, false);
        if (rc != MOSQ_ERR_SUCCESS)
            logf_("publish to %s failed: %s", p->topic, mosquitto_strerror(rc));
        else if (r->opt.verbose)
            logf_("answered on %s (%zu bytes)", p->topic, strlen(p->payload));
        r->answered++;
        r->queue = p->next;
        free(p->topic);
        free(p->payload);
        free(p);
    }
}

/* Expands {topic} and {device_id} in a template. */
static char *expand(const char *tmpl, const char *topic, const char *device_id)
{
    size_t cap = strlen(tmpl) + 1, len = 0;
    char *out;
    const char *p;

    for (p = tmpl; (p = strchr(p, '{')) != NULL; p++)
        cap += strlen(topic) + strlen(device_id);
    out = malloc(cap);
    if (!out)
        return NULL;
    for (p = tmpl; *p;) {
        if (strncmp(p, "{topic}", 7) == 0) {
            len += (size_t)sprintf(out + len, "%s", topic);
            p += 7;
        } else if (strncmp(p, "{device_id}", 11) == 0) {
            len += (size_t)sprintf(out + len, "%s", device_id);
            p += 11;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

/* The topic level matched by the filter's first '+' ("" if none). */
static void device_of(const char *filter, const char *topic, char *out, size_t cap)
{
    const char *f = filter, *t = topic;

    out[0] = '\0';
    while (*f && *t) {
        const char *fe = strchr(f, '/'), *te = strchr(t, '/');
        size_t fl = fe ? (size_t)(fe - f) : strlen(f), tl = te ? (size_t)(te - t) : strlen(t);
        if (fl == 1 && *f == '+') {
            snprintf(out, cap, "%.*s", (int)tl, t);
            return;
        }
        if (!fe || !te)
            return;
        f = fe + 1;
        t = te + 1;
    }
}

static void answer(struct responder *r, const char *req_topic, bool ok, const char *request_id,
                   const char *cert_pem, const char *error)
{
    char device[128];
    char *topic;
    json_object *o = json_object_new_object();
    char hexid[65] = "", token[33];
    unsigned char rnd[16];

    device_of(r->opt.request_topic, req_topic, device, sizeof(device));
    topic = expand(ok ? r->opt.accepted_topic : r->opt.rejected_topic, req_topic, device);
    if (!o || !topic)
        goto out;
    if (r->opt.mode == M_GARBAGE_JSON && ok) {
        queue_answer(r, topic, "\x01garbage{{{ not json");
        goto out;
    }
    if (r->opt.profile == P_AWS) {
        if (ok) {
            /* certificateId: SHA-256 of the DER, as AWS IoT uses (64 hex). */
            BIO *bio = BIO_new_mem_buf(cert_pem, -1);
            X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
            unsigned char md[32];
            unsigned int mdlen = 0;
            if (x && X509_digest(x, EVP_sha256(), md, &mdlen))
                for (unsigned i = 0; i < mdlen; i++)
                    sprintf(hexid + 2 * i, "%02x", md[i]);
            RAND_bytes(rnd, sizeof(rnd));
            for (unsigned i = 0; i < sizeof(rnd); i++)
                sprintf(token + 2 * i, "%02x", rnd[i]);
            /* Faithful mode: the certificate is PENDING_ACTIVATION until
             * RegisterThing presents this token. */
            if (r->faithful && (!x || aws_faithful_issued(r->faithful, x, token) != 0)) {
                X509_free(x);
                BIO_free(bio);
                free(topic);
                topic = expand(r->opt.rejected_topic, req_topic, device);
                if (!topic)
                    goto out;
                json_object_object_add(o, "statusCode", json_object_new_int(500));
                json_object_object_add(o, "errorCode", json_object_new_string("InternalFailure"));
                json_object_object_add(o, "errorMessage",
                                       json_object_new_string("cannot record the certificate"));
                goto queue;
            }
            X509_free(x);
            BIO_free(bio);
            ERR_clear_error();
            json_object_object_add(o, "certificateId", json_object_new_string(hexid));
            json_object_object_add(o, "certificatePem", json_object_new_string(cert_pem));
            json_object_object_add(o, "certificateOwnershipToken", json_object_new_string(token));
        } else {
            json_object_object_add(o, "statusCode", json_object_new_int(400));
            json_object_object_add(o, "errorCode", json_object_new_string("InvalidPayload"));
            json_object_object_add(o, "errorMessage", json_object_new_string(error));
        }
    } else {
        if (request_id)
            json_object_object_add(o, "request_id", json_object_new_string(request_id));
        if (ok)
            json_object_object_add(o, "certificate", json_object_new_string(cert_pem));
        else
            json_object_object_add(o, "error", json_object_new_string(error));
    }
queue:
    queue_answer(r, topic, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
out:
    json_object_put(o);
    free(topic);
}

static void handle_request(struct responder *r, const char *topic, const char *payload, int len)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL, *v;
    const char *request_id = NULL, *csr_text = NULL;
    const char *csr_field = r->opt.profile == P_AWS ? "certificateSigningRequest" : "csr";
    BIO *bio = NULL;
    X509_REQ *req = NULL;
    EVP_PKEY *pub;
    X509 *cert = NULL;
    char *pem = NULL, msg[300];

    if (!tok)
        return;
    o = json_tokener_parse_ex(tok, payload, len);
    if (!o || !json_object_is_type(o, json_type_object)) {
        answer(r, topic, false, NULL, NULL, "request is not a JSON object");
        goto out;
    }
    if (r->opt.profile == P_TRUSTLINK) {
        if (!json_object_object_get_ex(o, "request_id", &v) ||
            !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
            json_object_get_string_len(v) > 64) {
            answer(r, topic, false, NULL, NULL, "request_id: expected a string of 1-64 bytes");
            goto out;
        }
        request_id = json_object_get_string(v);
    }
    if (!json_object_object_get_ex(o, csr_field, &v) || !json_object_is_type(v, json_type_string)) {
        snprintf(msg, sizeof(msg), "%s: expected a PEM string", csr_field);
        answer(r, topic, false, request_id, NULL, msg);
        goto out;
    }
    csr_text = json_object_get_string(v);
    bio = BIO_new_mem_buf(csr_text, -1);
    req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    pub = req ? X509_REQ_get0_pubkey(req) : NULL;
    if (!req || !pub) {
        snprintf(msg, sizeof(msg), "%s: not a PEM certificate request", csr_field);
        answer(r, topic, false, request_id, NULL, msg);
        goto out;
    }
    if (X509_REQ_verify(req, pub) != 1) {
        answer(r, topic, false, request_id, NULL, "CSR self-signature does not verify");
        goto out;
    }
    if (r->opt.mode == M_REJECT) {
        answer(r, topic, false, request_id, NULL, "rejected by policy (responder --mode reject)");
        goto out;
    }
    if (r->opt.mode == M_GARBAGE) {
        answer(r, topic, true, request_id, "this is not a certificate\n", NULL);
        goto out;
    }
    switch (r->opt.mode) {
    case M_OTHER_KEY:
        cert = issue(X509_REQ_get_subject_name(req), r->other_key, r->ca_cert, r->ca_key, -60,
                     r->opt.validity_days, r->opt.validity);
        break;
    case M_OTHER_CA:
        cert = issue(X509_REQ_get_subject_name(req), pub, r->other_ca_cert, r->other_ca_key, -60,
                     r->opt.validity_days, r->opt.validity);
        break;
    case M_EXPIRED:
        cert = issue(X509_REQ_get_subject_name(req), pub, r->ca_cert, r->ca_key, -7200, 0, -3600);
        break;
    case M_OTHER_SUBJECT: {
        X509_NAME *other = X509_NAME_new();

        if (other && X509_NAME_add_entry_by_txt(other, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)"another-device", -1, -1,
                                                0) == 1)
            cert = issue(other, pub, r->ca_cert, r->ca_key, -60, r->opt.validity_days,
                         r->opt.validity);
        X509_NAME_free(other);
        break;
    }
    default:
        cert = issue(X509_REQ_get_subject_name(req), pub, r->ca_cert, r->ca_key, -60,
                     r->opt.validity_days, r->opt.validity);
        break;
    }
    pem = cert ? pem_of_cert_chain(cert, r->opt.mode == M_OTHER_CA ? NULL : r->chain_pem) : NULL;
    if (!pem) {
        answer(r, topic, false, request_id, NULL, "internal error: signing failed");
        goto out;
    }
    if (r->opt.verbose) {
        char subj[256];
        X509_NAME_oneline(X509_REQ_get_subject_name(req), subj, sizeof(subj));
        logf_("request %s on %s: issuing for %s (mode %s)", request_id ? request_id : "-",
              topic, subj, mode_names[r->opt.mode]);
    }
    answer(r, topic, true, request_id, pem, NULL);
out:
    ERR_clear_error();
    free(pem);
    X509_free(cert);
    X509_REQ_free(req);
    BIO_free(bio);
    json_object_put(o);
    json_tokener_free(tok);
}

/* ---- MQTT ----------------------------------------------------------------- */

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
    struct responder *r = ud;

    if (rc != 0) {
        logf_("connection refused: %s", mosquitto_connack_string(rc));
        return;
    }
    rc = mosquitto_subscribe(m, NULL, r->opt.request_topic, r->opt.qos);
    if (rc != MOSQ_ERR_SUCCESS)
        logf_("subscribe failed: %s", mosquitto_strerror(rc));
    if (r->faithful) {
        rc = mosquitto_subscribe(m, NULL, aws_faithful_provision_topic(r->faithful), r->opt.qos);
        if (rc != MOSQ_ERR_SUCCESS)
            logf_("subscribe to RegisterThing failed: %s", mosquitto_strerror(rc));
    }
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
    struct responder *r = ud;

    (void)m;
    (void)mid;
    if (n < 1 || granted[0] > 2) {
        logf_("subscription to %s refused by the broker", r->opt.request_topic);
        stop = 1;
        return;
    }
    r->subscribed = true;
    logf_("subscribed to %s", r->opt.request_topic);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
    struct responder *r = ud;
    size_t tl = strlen(msg->topic);

    (void)m;
    /* Our own answers may match a wide filter: never answer an answer. */
    if ((tl > 9 && strcmp(msg->topic + tl - 9, "/accepted") == 0) ||
        (tl > 9 && strcmp(msg->topic + tl - 9, "/rejected") == 0))
        return;
    if (r->faithful && strcmp(msg->topic, aws_faithful_provision_topic(r->faithful)) == 0) {
        char *topic = NULL, *json = NULL;
        aws_faithful_register(r->faithful, msg->payload ? msg->payload : "", msg->payloadlen,
                              &topic, &json);
        if (topic && json && r->opt.aws.drop_answers > 0) {
            r->opt.aws.drop_answers--;
            logf_("RegisterThing answer dropped on purpose (%ld more to drop)",
                  r->opt.aws.drop_answers);
        } else if (topic && json)
            queue_answer(r, topic, json);
        else
            logf_("out of memory, RegisterThing answer dropped");
        free(topic);
        free(json);
        return;
    }
    handle_request(r, msg->topic, msg->payload ? msg->payload : "", msg->payloadlen);
}

/* ---- main ------------------------------------------------------------------- */

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static char request_buf[256];
    const char *prefix = "trustlink";
    static const struct option longs[] = {
        {"host", required_argument, NULL, 'h'}, {"port", required_argument, NULL, 'p'},
        {"cafile", required_argument, NULL, 1}, {"cert", required_argument, NULL, 2},
        {"key", required_argument, NULL, 3}, {"ca-cert", required_argument, NULL, 4},
        {"ca-key", required_argument, NULL, 5}, {"chain", required_argument, NULL, 6},
        {"profile", required_argument, NULL, 7}, {"prefix", required_argument, NULL, 8},
        {"request-topic", required_argument, NULL, 9},
        {"accepted-topic", required_argument, NULL, 10},
        {"rejected-topic", required_argument, NULL, 11}, {"days", required_argument, NULL, 12},
        {"seconds", required_argument, NULL, 13}, {"mode", required_argument, NULL, 14},
        {"delay-ms", required_argument, NULL, 15}, {"qos", required_argument, NULL, 16},
        {"count", required_argument, NULL, 17}, {"client-id", required_argument, NULL, 18},
        {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 19},
        {"faithful", no_argument, NULL, 20}, {"template", required_argument, NULL, 21},
        {"token-lifetime", required_argument, NULL, 22},
        {"template-param", required_argument, NULL, 23}, {"crl", required_argument, NULL, 24},
        {"broker-pid", required_argument, NULL, 25},
        {"drop-register-answers", required_argument, NULL, 26},
        {NULL, 0, NULL, 0}};
    long v;
    int c;
    bool delay_set = false;

    memset(o, 0, sizeof(*o));
    o->host = "127.0.0.1";
    o->qos = 1;
    o->keepalive = 30;
    o->validity_days = 30;
    o->validity = 0;
    o->client_id = "trustlink-ca-responder";
    o->accepted_topic = "{topic}/accepted";
    o->rejected_topic = "{topic}/rejected";
    while ((c = getopt_long(argc, argv, "h:p:v", longs, NULL)) != -1) {
        switch (c) {
        case 'h': o->host = optarg; break;
        case 'p':
            if (parse_long(optarg, 1, 65535, &v) != 0)
                goto bad_value;
            o->port = (int)v;
            break;
        case 1: o->cafile = optarg; break;
        case 2: o->cert = optarg; break;
        case 3: o->key = optarg; break;
        case 4: o->ca_cert = optarg; break;
        case 5: o->ca_key = optarg; break;
        case 6: o->chain = optarg; break;
        case 7:
            if (strcmp(optarg, "trustlink") == 0)
                o->profile = P_TRUSTLINK;
            else if (strcmp(optarg, "aws") == 0)
                o->profile = P_AWS;
            else
                goto bad_value;
            break;
        case 8: prefix = optarg; break;
        case 9: o->request_topic = optarg; break;
        case 10: o->accepted_topic = optarg; break;
        case 11: o->rejected_topic = optarg; break;
        case 12:
            if (parse_long(optarg, 1, 36500, &v) != 0)
                goto bad_value;
            o->validity_days = v;
            o->validity = 0;
            break;
        case 13:
            if (parse_long(optarg, 1, LONG_MAX, &v) != 0 || v / 86400 > 36500)
                goto bad_value;
            o->validity_days = v / 86400;
            o->validity = v % 86400;
            break;
        case 14: {
            int i;
            for (i = 0; mode_names[i] && strcmp(mode_names[i], optarg) != 0; i++)
                ;
            if (!mode_names[i])
                goto bad_value;
            o->mode = (enum mode)i;
            break;
        }
        case 15:
            if (parse_long(optarg, 0, 3600000, &o->delay_ms) != 0)
                goto bad_value;
            delay_set = true;
            break;
        case 16:
            if (parse_long(optarg, 0, 2, &v) != 0)
                goto bad_value;
            o->qos = (int)v;
            break;
        case 17:
            if (parse_long(optarg, 1, 1000000, &o->count) != 0)
                goto bad_value;
            break;
        case 18: o->client_id = optarg; break;
        case 'v': o->verbose = true; break;
        case 19: usage(stdout); exit(0);
        case 20: o->faithful = true; break;
        case 21: o->aws.template_name = optarg; break;
        case 22:
            if (parse_long(optarg, 1, 86400, &o->aws.token_lifetime) != 0)
                goto bad_value;
            break;
        case 23: {
            char *eq = strchr(optarg, '=');
            if (o->aws.n_params >= AWS_MAX_PARAMS || optarg[0] == '=' || !optarg[0])
                goto bad_value;
            if (eq)
                *eq = '\0';
            o->aws.param_names[o->aws.n_params] = optarg;
            o->aws.param_values[o->aws.n_params++] = eq ? eq + 1 : NULL;
            break;
        }
        case 24: o->aws.crl_path = optarg; break;
        case 26:
            if (parse_long(optarg, 0, 1000, &o->aws.drop_answers) != 0)
                goto bad_value;
            break;
        case 25:
            if (parse_long(optarg, 1, INT_MAX, &v) != 0)
                goto bad_value;
            o->aws.broker_pid = (pid_t)v;
            break;
        default: usage(stderr); return -1;
        }
        continue;
bad_value:
        fprintf(stderr, "trustlink-ca-responder: bad option value \"%s\" (see --help)\n",
                optarg);
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "trustlink-ca-responder: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (!o->port || !o->cafile || !o->cert || !o->key || !o->ca_cert || !o->ca_key) {
        fprintf(stderr, "trustlink-ca-responder: --port, --cafile, --cert, --key, --ca-cert "
                        "and --ca-key are required (see --help)\n");
        return -1;
    }
    if (o->faithful && (o->profile != P_AWS || !o->aws.crl_path)) {
        fprintf(stderr, "trustlink-ca-responder: --faithful needs --profile aws and --crl\n");
        return -1;
    }
    if (!o->aws.template_name)
        o->aws.template_name = "trustlink";
    if (!o->aws.token_lifetime)
        o->aws.token_lifetime = 3600;
    if (o->mode == M_DELAY && !delay_set)
        o->delay_ms = 2000;
    if (!o->request_topic) {
        if (o->profile == P_AWS) {
            o->request_topic = "$aws/certificates/create-from-csr/json";
        } else {
            snprintf(request_buf, sizeof(request_buf), "%s/+/csr", prefix);
            o->request_topic = request_buf;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct responder r;
    struct sigaction sa;
    int rc, exit_code = 1;

    memset(&r, 0, sizeof(r));
    if (parse_options(argc, argv, &r.opt) != 0)
        return 64;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    r.ca_key = read_key(r.opt.ca_key);
    r.ca_cert = read_cert(r.opt.ca_cert);
    if (!r.ca_key || !r.ca_cert || X509_check_private_key(r.ca_cert, r.ca_key) != 1) {
        logf_("cannot load the issuing CA (%s, %s) or they do not match", r.opt.ca_cert,
              r.opt.ca_key);
        goto out;
    }
    if (r.opt.chain && !(r.chain_pem = read_text(r.opt.chain))) {
        logf_("cannot read --chain %s", r.opt.chain);
        goto out;
    }
    r.other_key = EVP_EC_gen("P-256");
    r.other_ca_key = EVP_EC_gen("P-256");
    /* Same name as the real CA: only the signature tells them apart. */
    r.other_ca_cert = r.other_ca_key ? self_signed_ca(r.other_ca_key,
                                                      X509_get_subject_name(r.ca_cert)) : NULL;
    if (!r.other_key || !r.other_ca_cert) {
        logf_("cannot make the ephemeral keys");
        goto out;
    }
    if (r.opt.faithful && !(r.faithful = aws_faithful_new(&r.opt.aws, r.ca_cert, r.ca_key)))
        goto out;

    mosquitto_lib_init();
    r.mosq = mosquitto_new(r.opt.client_id, true, &r);
    if (!r.mosq) {
        logf_("mosquitto_new failed");
        goto out_lib;
    }
    mosquitto_int_option(r.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    /* File keys, libmosquitto's own SSL_CTX: integration-facts 2 concerns
     * MOSQ_OPT_SSL_CTX only, which is not used here. */
    rc = mosquitto_tls_set(r.mosq, r.opt.cafile, NULL, r.opt.cert, r.opt.key, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        logf_("TLS setup failed (%s): %s", r.opt.cert, mosquitto_strerror(rc));
        goto out_lib;
    }
    mosquitto_connect_callback_set(r.mosq, on_connect);
    mosquitto_subscribe_callback_set(r.mosq, on_subscribe);
    mosquitto_message_callback_set(r.mosq, on_message);
    rc = mosquitto_connect(r.mosq, r.opt.host, r.opt.port, r.opt.keepalive);
    if (rc != MOSQ_ERR_SUCCESS) {
        logf_("cannot connect to %s:%d: %s", r.opt.host, r.opt.port,
              rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        goto out_lib;
    }
    while (!stop) {
        rc = mosquitto_loop(r.mosq, 50, 1);
        if (rc != MOSQ_ERR_SUCCESS && !stop) {
            logf_("connection lost (%s), reconnecting", mosquitto_strerror(rc));
            struct timespec ts = {0, 200000000L};
            nanosleep(&ts, NULL);
            mosquitto_reconnect(r.mosq);
        }
        flush_due(&r, false);
        if (r.opt.count && r.answered >= r.opt.count && !r.queue) {
            /* Let QoS 1 answers leave before disconnecting. */
            for (int i = 0; i < 10; i++)
                mosquitto_loop(r.mosq, 20, 1);
            break;
        }
    }
    exit_code = 0;
    mosquitto_disconnect(r.mosq);
    mosquitto_loop(r.mosq, 50, 1);
    logf_("stopped after %ld answer(s)", r.answered);
out_lib:
    while (r.queue) {
        struct pending *p = r.queue;
        r.queue = p->next;
        free(p->topic);
        free(p->payload);
        free(p);
    }
    mosquitto_destroy(r.mosq);
    mosquitto_lib_cleanup();
out:
    aws_faithful_free(r.faithful);
    free(r.chain_pem);
    X509_free(r.ca_cert);
    X509_free(r.other_ca_cert);
    EVP_PKEY_free(r.ca_key);
    EVP_PKEY_free(r.other_key);
    EVP_PKEY_free(r.other_ca_key);
    return exit_code;
}
