/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the CSR exchange payloads (agent/rotation_wire.c): both
 * profiles, the request_id match, rejections and every malformed answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "rotation_wire.h"

#define PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static enum rotation_answer answer(enum agent_rotation_profile profile, bool accepted,
                                   const char *payload, char **pem, char *err, size_t err_len)
{
    return rotation_wire_answer(profile, accepted, "req-1", payload, strlen(payload), pem, err,
                                err_len);
}

static void request_trustlink_has_id_and_csr(void **state)
{
    char *text = rotation_wire_request(AGENT_ROTATION_TRUSTLINK, "req-1", "CSR/PEM");
    struct json_object *o = json_tokener_parse(text), *v;
    (void)state;

    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "request_id", &v));
    assert_string_equal(json_object_get_string(v), "req-1");
    assert_true(json_object_object_get_ex(o, "csr", &v));
    assert_string_equal(json_object_get_string(v), "CSR/PEM");
    assert_int_equal(json_object_object_length(o), 2);
    assert_null(strstr(text, "\\/"));  /* PEM slashes are not escaped */
    json_object_put(o);
    free(text);
}

static void request_aws_uses_its_field_name(void **state)
{
    char *text = rotation_wire_request(AGENT_ROTATION_AWS, "req-1", "CSR");
    struct json_object *o = json_tokener_parse(text), *v;
    (void)state;

    assert_true(json_object_object_get_ex(o, "certificateSigningRequest", &v));
    assert_string_equal(json_object_get_string(v), "CSR");
    assert_int_equal(json_object_object_length(o), 1);
    json_object_put(o);
    free(text);
}

static void accepted_answer_gives_the_certificate(void **state)
{
    char *pem = NULL, err[256];
    struct json_object *o = json_object_new_object();
    (void)state;

    json_object_object_add(o, "request_id", json_object_new_string("req-1"));
    json_object_object_add(o, "certificate", json_object_new_string(PEM));
    assert_int_equal(answer(AGENT_ROTATION_TRUSTLINK, true, json_object_to_json_string(o), &pem,
                            err, sizeof(err)),
                     ROTATION_ANSWER_CERTIFICATE);
    assert_string_equal(pem, PEM);
    free(pem);
    json_object_put(o);

    assert_int_equal(answer(AGENT_ROTATION_AWS, true,
                            "{\"certificateId\":\"x\",\"certificatePem\":\"PEMTEXT\","
                            "\"certificateOwnershipToken\":\"t\"}",
                            &pem, err, sizeof(err)),
                     ROTATION_ANSWER_CERTIFICATE);
    assert_string_equal(pem, "PEMTEXT");
    free(pem);
}

static void answer_to_another_request_is_ignored(void **state)
{
    char *pem = NULL, err[256];
    (void)state;

    assert_int_equal(answer(AGENT_ROTATION_TRUSTLINK, true,
                            "{\"request_id\":\"req-0\",\"certificate\":\"X\"}", &pem, err,
                            sizeof(err)),
                     ROTATION_ANSWER_IGNORE);
    assert_null(pem);
    assert_int_equal(answer(AGENT_ROTATION_TRUSTLINK, false,
                            "{\"request_id\":\"req-0\",\"error\":\"no\"}", &pem, err, sizeof(err)),
                     ROTATION_ANSWER_IGNORE);
}

static void rejections_carry_the_reason(void **state)
{
    char *pem = NULL, err[256];
    (void)state;

    assert_int_equal(answer(AGENT_ROTATION_TRUSTLINK, false,
                            "{\"request_id\":\"req-1\",\"error\":\"policy says no\"}", &pem, err,
                            sizeof(err)),
                     ROTATION_ANSWER_REJECTED);
    assert_non_null(strstr(err, "policy says no"));
    /* Without a request_id it is not ours: ignored (the request times
     * out), so a forged rejection cannot fail a rotation. */
    assert_int_equal(answer(AGENT_ROTATION_TRUSTLINK, false, "{\"error\":\"bad request\"}", &pem,
                            err, sizeof(err)),
                     ROTATION_ANSWER_IGNORE);
    assert_int_equal(answer(AGENT_ROTATION_TRUSTLINK, true, "{\"certificate\":\"X\"}", &pem, err,
                            sizeof(err)),
                     ROTATION_ANSWER_IGNORE);
    assert_null(pem);
    assert_int_equal(answer(AGENT_ROTATION_AWS, false,
                            "{\"statusCode\":400,\"errorCode\":\"InvalidCsr\","
                            "\"errorMessage\":\"bad csr\"}",
                            &pem, err, sizeof(err)),
                     ROTATION_ANSWER_REJECTED);
    assert_non_null(strstr(err, "bad csr"));
    assert_non_null(strstr(err, "InvalidCsr"));
    assert_null(pem);
}

static void malformed_answers_are_named(void **state)
{
    static const struct {
        enum agent_rotation_profile profile;
        const char *payload;
        const char *fragment;
    } cases[] = {
        {AGENT_ROTATION_TRUSTLINK, "not json", "not a JSON object"},
        {AGENT_ROTATION_TRUSTLINK, "[1,2]", "not a JSON object"},
        {AGENT_ROTATION_TRUSTLINK, "{\"request_id\":\"req-1\"} trailing", "not a JSON object"},
        {AGENT_ROTATION_TRUSTLINK, "{\"request_id\":\"req-1\"}", "no certificate"},
        {AGENT_ROTATION_TRUSTLINK, "{\"request_id\":\"req-1\",\"certificate\":5}",
         "no certificate"},
        {AGENT_ROTATION_TRUSTLINK, "{\"request_id\":\"req-1\",\"certificate\":\"\"}",
         "no certificate"},
        {AGENT_ROTATION_AWS, "{\"certificateId\":\"x\"}", "no certificatePem"},
    };
    char *pem = NULL, err[256];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(answer(cases[i].profile, true, cases[i].payload, &pem, err, sizeof(err)),
                         ROTATION_ANSWER_MALFORMED);
        assert_null(pem);
        if (!strstr(err, cases[i].fragment))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].fragment);
    }
}

static void oversized_answer_is_refused_unread(void **state)
{
    size_t len = ROTATION_WIRE_MAX_ANSWER + 1;
    char *big = malloc(len);
    char *pem = NULL, err[256];
    (void)state;

    memset(big, ' ', len);
    assert_int_equal(rotation_wire_answer(AGENT_ROTATION_TRUSTLINK, true, "req-1", big, len, &pem,
                                          err, sizeof(err)),
                     ROTATION_ANSWER_MALFORMED);
    assert_non_null(strstr(err, "limit"));
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_trustlink_has_id_and_csr),
        cmocka_unit_test(request_aws_uses_its_field_name),
        cmocka_unit_test(accepted_answer_gives_the_certificate),
        cmocka_unit_test(answer_to_another_request_is_ignored),
        cmocka_unit_test(rejections_carry_the_reason),
        cmocka_unit_test(malformed_answers_are_named),
        cmocka_unit_test(oversized_answer_is_refused_unread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
