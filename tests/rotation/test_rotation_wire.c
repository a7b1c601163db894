/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the CSR exchange payloads (agent/rotation_wire.c): both
 * profiles, the request_id match, rejections and every malformed answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* Strict UTF-8 check: every lead byte has all its continuation bytes. */
static bool valid_utf8(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;

    while (*s) {
        size_t need = *s < 0x80 ? 0 : *s >= 0xc2 && *s <= 0xdf ? 1
                      : *s >= 0xe0 && *s <= 0xef           ? 2
                      : *s >= 0xf0 && *s <= 0xf4           ? 3
                                                           : 4;

        if (need == 4)
            return false;
        s++;
        for (; need > 0; need--, s++)
            if ((*s & 0xc0) != 0x80)
                return false;
    }
    return true;
}

/* Outside text quoted in an error (request ids, the CA's reason and code)
 * is cut to a bound: the cut falls on a character boundary, so the error
 * (logged, put in status replies) stays valid UTF-8. Each case puts a
 * multi-byte character across the bound. */
static void cut_quotes_keep_whole_characters(void **state)
{
    /* The payload is before, `fill` ASCII bytes, after: after starts with
     * one multi-byte character, which so straddles the bound. */
    static const struct {
        enum agent_rotation_profile profile;
        bool accepted;
        const char *before, *after;
        size_t fill;
        enum rotation_answer result;
    } cases[] = {
        /* request_id: e-acute across the 64-byte cut. */
        {AGENT_ROTATION_TRUSTLINK, true, "{\"request_id\":\"", "\xc3\xa9\",\"certificate\":\"X\"}",
         63, ROTATION_ANSWER_IGNORE},
        /* The reason: a euro sign across the 200-byte cut, the code after it. */
        {AGENT_ROTATION_AWS, false, "{\"errorCode\":\"Bad\",\"errorMessage\":\"", "\xe2\x82\xac\"}",
         199, ROTATION_ANSWER_REJECTED},
        /* AWS errorCode: an emoji across the 60-byte cut. */
        {AGENT_ROTATION_AWS, false,
         "{\"errorCode\":\"", "\xf0\x9f\x98\x80\",\"errorMessage\":\"no\"}", 59,
         ROTATION_ANSWER_REJECTED},
    };
    char *pem = NULL, err[512], payload[600], filler[256];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(filler, 'a', cases[i].fill);
        filler[cases[i].fill] = '\0';
        snprintf(payload, sizeof(payload), "%s%s%s", cases[i].before, filler, cases[i].after);
        assert_int_equal(answer(cases[i].profile, cases[i].accepted, payload, &pem, err,
                                sizeof(err)),
                         cases[i].result);
        assert_non_null(strstr(err, filler));
        if (!valid_utf8(err))
            fail_msg("case %zu: a character was cut: %s", i, err);
    }

    /* A short err buffer cuts the whole message: still no half character. */
    snprintf(payload, sizeof(payload),
             "{\"request_id\":\"req-1\",\"error\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}");
    assert_int_equal(answer(AGENT_ROTATION_TRUSTLINK, false, payload, &pem, err, 31),
                     ROTATION_ANSWER_REJECTED);
    assert_true(valid_utf8(err));
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
        cmocka_unit_test(cut_quotes_keep_whole_characters),
        cmocka_unit_test(malformed_answers_are_named),
        cmocka_unit_test(oversized_answer_is_refused_unread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
