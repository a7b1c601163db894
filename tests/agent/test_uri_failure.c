/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of agent/uri.c (pin-value redaction, parse errors) and
 * agent/failure.c (classification table).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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
        {"pkcs11:token=t;pin-value=1234", "pkcs11:token=t;pin-value=REDACTED"},
        {"pkcs11:pin-value=1234;token=t", "pkcs11:pin-value=REDACTED;token=t"},
        {"pkcs11:token=t?pin-value=s3cr%20t&module-name=x",
         "pkcs11:token=t?pin-value=REDACTED&module-name=x"},
        {"pkcs11:object=pin-value=x", "pkcs11:object=pin-value=x"},
        {"pkcs11:token=t?module-name=x&pin-value=9", "pkcs11:token=t?module-name=x&pin-value=REDACTED"},
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
    char out[20];

    (void)state;
    agent_uri_redact("pkcs11:token=t;pin-value=123456789", out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_null(strstr(out, "1234"));
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
        cmocka_unit_test(test_parse_error_is_redacted_and_explained),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_eproto_before_connack_is_tls),
        cmocka_unit_test(test_refusal_classes_back_off_longer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
