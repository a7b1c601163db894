/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of agent/uri.c (pin-value redaction, parse errors) and
 * agent/failure.c (classification table).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mosquitto.h>
#include <openssl/x509_vfy.h>
#include <p11-kit/uri.h>

#include "failure.h"
#include "tls.h"
#include "uri.h"

static void test_redact_pin_value_in_path_and_query(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"pkcs11:token=t;object=k", "pkcs11:token=t;object=k"},
        {"pkcs11:token=t;pin-value=1234", "pkcs11:token=t"},
        {"pkcs11:pin-value=1234;token=t", "pkcs11:token=t"},
        {"pkcs11:token=t?pin-value=s3cr%20t&module-name=x", "pkcs11:token=t?module-name=x"},
        {"pkcs11:token=t?module-name=x&pin-value=9", "pkcs11:token=t?module-name=x"},
        {"pkcs11:token=t?pin-source=file:/etc/pin", "pkcs11:token=t"},
        /* p11-kit drops whitespace before it reads attribute names. */
        {"pkcs11:token=t;pin-\nvalue=1234", "pkcs11:token=t"},
        {"pkcs11:token=t;pin-value=12\n34", "pkcs11:token=t"},
        /* Unparseable: not shown at all. */
        {"pkcs11:id=%zz;pin-value=9999", "pkcs11:(not shown: not a valid pkcs11 URI)"},
        {"/not/a/uri", "pkcs11:(not shown: not a valid pkcs11 URI)"},
    };
    char out[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        agent_uri_redact(cases[i].in, out, sizeof(out));
        assert_string_equal(out, cases[i].out);
    }
}

static void test_redact_truncates_safely(void **state)
{
    char out[12];

    (void)state;
    agent_uri_redact("pkcs11:token=t;object=abcdefgh;pin-value=123456789", out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_null(strstr(out, "1234"));
}

/* ---- property: no spelling of a PIN survives redaction --------------- */

static uint64_t prop_state;

static unsigned prop_next(unsigned bound)
{
    /* xorshift64*: deterministic, seeded below. */
    prop_state ^= prop_state >> 12;
    prop_state ^= prop_state << 25;
    prop_state ^= prop_state >> 27;
    return (unsigned)((prop_state * 2685821657736338717ULL) >> 33) % bound;
}

static void prop_append(char *buf, size_t len, size_t *used, const char *text)
{
    size_t n = strlen(text);

    assert_true(*used + n < len);
    memcpy(buf + *used, text, n + 1);
    *used += n;
}

/* Appends text with random whitespace between characters and, when
 * encode is set, some characters percent-encoded (either hex case). */
static void prop_mangle(char *buf, size_t len, size_t *used, const char *text, bool encode)
{
    static const char *const spaces[] = {" ", "\t", "\n", "\r", "\r\n"};
    char one[8];

    for (const char *p = text; *p; p++) {
        if (prop_next(4) == 0)
            prop_append(buf, len, used, spaces[prop_next(5)]);
        if (encode && prop_next(3) == 0)
            snprintf(one, sizeof(one), prop_next(2) ? "%%%02X" : "%%%02x", (unsigned char)*p);
        else
            snprintf(one, sizeof(one), "%c", *p);
        prop_append(buf, len, used, one);
    }
}

/* Percent-decodes and drops whitespace: the PIN must not hide in the
 * output in any spelling either. */
static void prop_normalise(const char *in, char *out, size_t len)
{
    size_t o = 0;

    for (const char *p = in; *p && o + 1 < len; p++) {
        unsigned v;

        if (*p == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &v) == 1) {
            out[o++] = (char)v;
            p += 2;
        } else if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static void test_redact_property_no_pin_survives(void **state)
{
    static const char *const others[] = {"token", "object", "manufacturer", "model", "serial"};
    const char *seed_env = getenv("TRUSTLINK_PROPERTY_SEED");
    unsigned iterations = 20000;
    char uri[1024], out[1024], norm[1024], pin[16];
    unsigned shown = 0;

    (void)state;
    prop_state = seed_env ? strtoull(seed_env, NULL, 0) : 0x5eedULL;
    if (prop_state == 0)
        prop_state = 1;
    for (unsigned i = 0; i < iterations; i++) {
        size_t used = 0;
        unsigned n_other = 1 + prop_next(3);
        bool in_query = prop_next(2) == 0;
        unsigned pin_at = prop_next(n_other + 1);

        /* Digits between Q and Z: no other generated value can contain it. */
        snprintf(pin, sizeof(pin), "Q%06uZ", prop_next(1000000));
        prop_append(uri, sizeof(uri), &used, "pkcs11:");
        for (unsigned k = 0; k <= n_other; k++) {
            if (k == pin_at && !in_query) {
                if (k > 0)
                    prop_append(uri, sizeof(uri), &used, ";");
                prop_mangle(uri, sizeof(uri), &used, "pin-value", false);
                prop_append(uri, sizeof(uri), &used, "=");
                prop_mangle(uri, sizeof(uri), &used, pin, true);
                if (k == n_other)
                    break;
                prop_append(uri, sizeof(uri), &used, ";");
            } else if (k > 0) {
                prop_append(uri, sizeof(uri), &used, ";");
            }
            if (k == n_other)
                break;
            prop_mangle(uri, sizeof(uri), &used, others[prop_next(5)], false);
            prop_append(uri, sizeof(uri), &used, "=");
            prop_mangle(uri, sizeof(uri), &used, "abc", true);
        }
        if (in_query) {
            prop_append(uri, sizeof(uri), &used, prop_next(2) ? "?" : "?module-name=m&");
            prop_mangle(uri, sizeof(uri), &used, "pin-value", false);
            prop_append(uri, sizeof(uri), &used, "=");
            prop_mangle(uri, sizeof(uri), &used, pin, true);
        }
        agent_uri_redact(uri, out, sizeof(out));
        prop_normalise(out, norm, sizeof(norm));
        if (strstr(out, pin) || strstr(norm, pin) || strstr(norm, "pin-value") ||
            strstr(norm, "pin-source"))
            fail_msg("iteration %u: the PIN survived redaction:\n  uri: %s\n  out: %s", i, uri,
                     out);
        shown += strncmp(out, "pkcs11:(not shown", 17) != 0;
    }
    /* Most generated URIs are valid: the property is about real output. */
    print_message("%u of %u generated URIs were shown redacted\n", shown, iterations);
    assert_true(shown > iterations / 2);
}

static void test_parse_error_is_redacted_and_explained(void **state)
{
    char err[512] = "";
    P11KitUri *uri;

    (void)state;
    uri = agent_uri_parse("identity.key", "pkcs11:id=%zz;pin-value=9999", err, sizeof(err));
    assert_null(uri);
    assert_non_null(strstr(err, "identity.key: not a valid pkcs11 URI"));
    assert_null(strstr(err, "9999"));
    uri = agent_uri_parse("identity.key", "pkcs11:token=a;object=b?pin-source=file:/p", err,
                          sizeof(err));
    assert_non_null(uri);
    assert_string_equal(p11_kit_uri_get_pin_source(uri), "file:/p");
    p11_kit_uri_free(uri);
}

static struct agent_tls_failure tls_ok(void)
{
    struct agent_tls_failure f;

    memset(&f, 0, sizeof(f));
    f.verify_error = X509_V_OK;
    f.alert = -1;
    f.sent_alert = -1;
    return f;
}

static void test_classify_table(void **state)
{
    struct {
        const char *name;
        int mosq_rc;
        int connack;
        int err_no;
        int verify;
        int alert;
        bool token;
        bool own_future;
        enum agent_failure_class expect;
        const char *text;
    } cases[] = {
        {"refused port", MOSQ_ERR_ERRNO, 0, 111, X509_V_OK, -1, false, false,
         AGENT_FAILURE_NETWORK, "cannot reach b:1: Connection refused"},
        {"lost", MOSQ_ERR_CONN_LOST, 0, 0, X509_V_OK, -1, false, false, AGENT_FAILURE_NETWORK,
         "connection to b:1 lost"},
        {"keepalive", MOSQ_ERR_KEEPALIVE, 0, 0, X509_V_OK, -1, false, false,
         AGENT_FAILURE_NETWORK, "connection to b:1 lost"},
        {"wrong CA", MOSQ_ERR_TLS, 0, 0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, -1, false,
         false, AGENT_FAILURE_BROKER_UNTRUSTED, "broker b:1 is not trusted"},
        {"wrong host", MOSQ_ERR_TLS, 0, 0, X509_V_ERR_IP_ADDRESS_MISMATCH, -1, false, false,
         AGENT_FAILURE_BROKER_UNTRUSTED, "broker b:1 is not trusted"},
        {"broker cert in future", MOSQ_ERR_TLS, 0, 0, X509_V_ERR_CERT_NOT_YET_VALID, -1, false,
         false, AGENT_FAILURE_CLOCK, "clock problem: the certificate of b:1 is not valid yet"},
        {"our cert in future", MOSQ_ERR_TLS, 0, 0, X509_V_OK, 45, false, true,
         AGENT_FAILURE_CLOCK, "clock problem: our certificate is not valid yet"},
        {"broker refuses cert", MOSQ_ERR_TLS, 0, 0, X509_V_OK, 48, false, false,
         AGENT_FAILURE_BROKER_REFUSED, "broker b:1 refused the TLS handshake (alert \"unknown CA\")"},
        {"connack refused", MOSQ_ERR_CONN_REFUSED, 5, 0, X509_V_OK, -1, false, false,
         AGENT_FAILURE_BROKER_REFUSED, "broker b:1 refused the MQTT connection"},
        {"token", MOSQ_ERR_TLS, 0, 0, X509_V_OK, -1, true, false, AGENT_FAILURE_TOKEN,
         "token error during the TLS handshake"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct agent_tls_failure f = tls_ok();
        struct agent_failure_input in;
        char msg[512] = "";
        enum agent_failure_class got;

        memset(&in, 0, sizeof(in));
        f.verify_error = cases[i].verify;
        if (f.verify_error != X509_V_OK)
            snprintf(f.verify_detail, sizeof(f.verify_detail), "%s",
                     X509_verify_cert_error_string(f.verify_error));
        f.alert = cases[i].alert;
        f.token_fault = cases[i].token;
        f.failed = cases[i].alert >= 0 || cases[i].token;
        in.mosq_rc = cases[i].mosq_rc;
        in.connack_rc = cases[i].connack;
        in.saved_errno = cases[i].err_no;
        in.tls = &f;
        in.own_cert_not_yet_valid = cases[i].own_future;
        in.broker = "b:1";
        got = agent_failure_classify(&in, msg, sizeof(msg));
        if (got != cases[i].expect || strstr(msg, cases[i].text) == NULL)
            fail_msg("%s: expected %s / \"%s\", got %s / \"%s\"", cases[i].name,
                     agent_failure_class_name(cases[i].expect), cases[i].text,
                     agent_failure_class_name(got), msg);
    }
}

/* libmosquitto turns an SSL error on read into MOSQ_ERR_ERRNO + EPROTO;
 * when the broker closes before its alert is read, that is all we get. */
static void test_eproto_before_connack_is_tls(void **state)
{
    struct agent_tls_failure f = tls_ok();
    struct agent_failure_input in;
    char msg[512] = "";

    (void)state;
    memset(&in, 0, sizeof(in));
    in.mosq_rc = MOSQ_ERR_ERRNO;
    in.saved_errno = EPROTO;
    in.tls = &f;
    in.broker = "b:1";
    in.handshaking = true;
    assert_int_equal(agent_failure_classify(&in, msg, sizeof(msg)), AGENT_FAILURE_BROKER_REFUSED);
    assert_non_null(strstr(msg, "TLS handshake with b:1 failed: the broker closed the connection"));
    in.own_cert_not_yet_valid = true;
    assert_int_equal(agent_failure_classify(&in, msg, sizeof(msg)), AGENT_FAILURE_CLOCK);
    assert_non_null(strstr(msg, "clock problem: our certificate is not valid yet"));
    /* After CONNACK a protocol error is a lost connection, not a refusal. */
    in.own_cert_not_yet_valid = false;
    in.handshaking = false;
    assert_int_equal(agent_failure_classify(&in, msg, sizeof(msg)), AGENT_FAILURE_NETWORK);
}

/* A fatal alert we sent (e.g. no protocol version in common) is ours, not
 * the broker's refusal. */
static void test_our_own_alert_is_reported_as_ours(void **state)
{
    struct agent_tls_failure f = tls_ok();
    struct agent_failure_input in;
    char msg[512] = "";

    (void)state;
    memset(&in, 0, sizeof(in));
    f.failed = true;
    f.sent_alert = SSL_AD_PROTOCOL_VERSION;
    snprintf(f.ssl_error, sizeof(f.ssl_error), "unsupported protocol");
    in.mosq_rc = MOSQ_ERR_TLS;
    in.tls = &f;
    in.broker = "b:1";
    assert_int_equal(agent_failure_classify(&in, msg, sizeof(msg)), AGENT_FAILURE_BROKER_REFUSED);
    assert_non_null(strstr(msg, "this agent ended it (alert \"protocol version\"): unsupported "
                                "protocol"));
    assert_null(strstr(msg, "refused"));
}

static void test_refusal_classes_back_off_longer(void **state)
{
    (void)state;
    assert_int_equal(agent_failure_penalty(AGENT_FAILURE_NETWORK), 0);
    assert_true(agent_failure_penalty(AGENT_FAILURE_BROKER_REFUSED) > 0);
    assert_true(agent_failure_penalty(AGENT_FAILURE_CLOCK) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_pin_value_in_path_and_query),
        cmocka_unit_test(test_redact_truncates_safely),
        cmocka_unit_test(test_redact_property_no_pin_survives),
        cmocka_unit_test(test_parse_error_is_redacted_and_explained),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_eproto_before_connack_is_tls),
        cmocka_unit_test(test_our_own_alert_is_reported_as_ours),
        cmocka_unit_test(test_refusal_classes_back_off_longer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
