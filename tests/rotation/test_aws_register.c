/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the RegisterThing wire (agent/aws_register.c): request,
 * answers, ownership token, parameter expansion, and one call's matching
 * and deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "aws_register.h"

static void request_carries_token_and_parameters(void **state)
{
    struct aws_register_param p[2] = {{"ThingName", "dev-1"}, {"SerialNumber", "01\"23"}};
    char *req = aws_register_request("tok/en", p, 2);
    json_object *o, *v, *params;
    (void)state;

    assert_non_null(req);
    o = json_tokener_parse(req);
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "certificateOwnershipToken", &v));
    assert_string_equal(json_object_get_string(v), "tok/en");
    assert_true(json_object_object_get_ex(o, "parameters", &params));
    assert_int_equal(json_object_object_length(params), 2);
    assert_true(json_object_object_get_ex(params, "SerialNumber", &v));
    assert_string_equal(json_object_get_string(v), "01\"23");
    assert_int_equal(json_object_object_length(o), 2);
    json_object_put(o);
    free(req);
}

static void topics_follow_the_template(void **state)
{
    char req[AWS_REGISTER_TOPIC_MAX], acc[AWS_REGISTER_TOPIC_MAX], rej[AWS_REGISTER_TOPIC_MAX];
    (void)state;

    assert_int_equal(aws_register_topics("Fleet_1-a", req, acc, rej), 0);
    assert_string_equal(req, "$aws/provisioning-templates/Fleet_1-a/provision/json");
    assert_string_equal(acc, "$aws/provisioning-templates/Fleet_1-a/provision/json/accepted");
    assert_string_equal(rej, "$aws/provisioning-templates/Fleet_1-a/provision/json/rejected");
    assert_int_equal(aws_register_topics("a/b", req, acc, rej), -1);
    assert_int_equal(aws_register_topics("a+", req, acc, rej), -1);
    assert_int_equal(aws_register_topics("", req, acc, rej), -1);
    assert_int_equal(aws_register_topics("0123456789012345678901234567890123456", req, acc, rej),
                     -1);
    assert_true(aws_register_template_name_ok("012345678901234567890123456789012345"));
}

static void accepted_answer_names_the_thing(void **state)
{
    static const char ok[] = "{\"deviceConfiguration\":{},\"thingName\":\"dev-1\"}";
    char detail[128];
    (void)state;

    assert_int_equal(aws_register_read_answer(true, ok, strlen(ok), detail, sizeof(detail)),
                     AWS_REGISTER_ACCEPTED);
    assert_string_equal(detail, "thing dev-1");
}

/* AWS's error shape; its text is outside input: no control bytes get
 * through to status or logs. */
static void rejected_answer_gives_sanitized_code_and_message(void **state)
{
    static const char no[] = "{\"statusCode\":400,\"errorCode\":\"InvalidParameters\","
                             "\"errorMessage\":\"bad\\u001b[31m value\\nhere\"}";
    static const char bare[] = "{\"statusCode\":500}";
    char detail[128];
    (void)state;

    assert_int_equal(aws_register_read_answer(false, no, strlen(no), detail, sizeof(detail)),
                     AWS_REGISTER_REJECTED);
    assert_string_equal(detail, "InvalidParameters: bad?[31m value?here");
    assert_int_equal(aws_register_read_answer(false, bare, strlen(bare), detail, sizeof(detail)),
                     AWS_REGISTER_REJECTED);
    assert_string_equal(detail, "(no errorCode): (no errorMessage)");
}

static void unreadable_answers_are_malformed(void **state)
{
    static const char *const bad[] = {"", "[]", "{\"a\":1} x", "{\"a\":", "\"s\""};
    char detail[128];
    char *big;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(aws_register_read_answer(i % 2, bad[i], strlen(bad[i]), detail,
                                                  sizeof(detail)),
                         AWS_REGISTER_MALFORMED);
    big = malloc(AWS_REGISTER_MAX_ANSWER + 2);
    assert_non_null(big);
    memset(big, ' ', AWS_REGISTER_MAX_ANSWER + 1);
    big[0] = '{';
    big[AWS_REGISTER_MAX_ANSWER] = '}';
    assert_int_equal(aws_register_read_answer(true, big, AWS_REGISTER_MAX_ANSWER + 1, detail,
                                              sizeof(detail)),
                     AWS_REGISTER_MALFORMED);
    free(big);
}

static void ownership_token_read_from_the_csr_answer(void **state)
{
    static const char ans[] = "{\"certificateId\":\"ab\",\"certificatePem\":\"x\","
                              "\"certificateOwnershipToken\":\"eyJ0b2tlbiI6MX0=\"}";
    static const char none[] = "{\"certificateId\":\"ab\",\"certificatePem\":\"x\"}";
    static const char empty[] = "{\"certificateOwnershipToken\":\"\"}";
    char tok[32], small[8], err[160];
    (void)state;

    assert_int_equal(aws_register_token_from_csr_answer(ans, strlen(ans), tok, sizeof(tok), err,
                                                        sizeof(err)), 0);
    assert_string_equal(tok, "eyJ0b2tlbiI6MX0=");
    assert_int_equal(aws_register_token_from_csr_answer(none, strlen(none), tok, sizeof(tok), err,
                                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "no certificateOwnershipToken"));
    assert_int_equal(aws_register_token_from_csr_answer(empty, strlen(empty), tok, sizeof(tok),
                                                        err, sizeof(err)), -1);
    assert_int_equal(aws_register_token_from_csr_answer(ans, strlen(ans), small, sizeof(small),
                                                        err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than 7"));
}

static void token_hint_never_shows_the_whole_token(void **state)
{
    char hint[48];
    (void)state;

    aws_register_token_hint("eyJhbGciOiJIUzI1NiJ9.secret-part", hint, sizeof(hint));
    assert_null(strstr(hint, "secret"));
    assert_non_null(strstr(hint, "eyJhbGci"));
    assert_non_null(strstr(hint, "(32 bytes)"));
}

static void parameters_expand_device_id_and_serial(void **state)
{
    char out[32];
    (void)state;

    assert_int_equal(aws_register_expand("{device_id}-{serial}", "dev-1", "0123EE", out,
                                         sizeof(out)), 0);
    assert_string_equal(out, "dev-1-0123EE");
    assert_int_equal(aws_register_expand("plain", "d", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "plain");
    assert_int_equal(aws_register_expand("", "d", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* Unknown or broken placeholders, no serial, no room: refused. */
    assert_int_equal(aws_register_expand("{chip}", "d", "s", out, sizeof(out)), -1);
    assert_int_equal(aws_register_expand("{serial", "d", "s", out, sizeof(out)), -1);
    assert_int_equal(aws_register_expand("{serial}", "d", NULL, out, sizeof(out)), -1);
    assert_int_equal(aws_register_expand("{device_id}", "0123456789", "s", out, 10), -1);
    assert_int_equal(aws_register_expand("0123456789", "d", "s", out, 10), -1);
    assert_int_equal(aws_register_expand("012345678", "d", "s", out, 10), 0);
    assert_true(aws_register_value_ok("sn-{serial}"));
    assert_false(aws_register_value_ok("{x}"));
}

/* One call: only its two topics count, the first answer decides, the
 * deadline turns silence into a timeout. */
static void call_matches_its_topics_and_times_out(void **state)
{
    static const char ok[] = "{\"thingName\":\"t\"}";
    static const char no[] = "{\"errorCode\":\"E\",\"errorMessage\":\"m\"}";
    struct aws_register_call c;
    (void)state;

    memset(&c, 0, sizeof(c));
    assert_int_equal(aws_register_topics("tpl", c.request_topic, c.accepted_topic,
                                         c.rejected_topic), 0);
    /* Not active: nothing is taken. */
    assert_false(aws_register_call_message(&c, c.accepted_topic, ok, strlen(ok)));
    c.active = true;
    c.deadline_ms = 1000;
    assert_false(aws_register_call_message(&c, "$aws/certificates/create-from-csr/json/accepted",
                                           ok, strlen(ok)));
    assert_int_equal(aws_register_call_poll(&c, 999), AWS_REGISTER_PENDING);
    assert_true(aws_register_call_message(&c, c.rejected_topic, no, strlen(no)));
    assert_int_equal(aws_register_call_poll(&c, 999), AWS_REGISTER_REJECTED);
    assert_string_equal(c.detail, "E: m");
    /* A later answer (duplicate delivery) changes nothing. */
    assert_true(aws_register_call_message(&c, c.accepted_topic, ok, strlen(ok)));
    assert_int_equal(aws_register_call_poll(&c, 5000), AWS_REGISTER_REJECTED);

    c.result = AWS_REGISTER_PENDING;
    c.detail[0] = '\0';
    assert_int_equal(aws_register_call_poll(&c, 1000), AWS_REGISTER_TIMEOUT);
    assert_non_null(strstr(c.detail, "no RegisterThing answer"));
    aws_register_call_end(&c);
    assert_false(c.active);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_carries_token_and_parameters),
        cmocka_unit_test(topics_follow_the_template),
        cmocka_unit_test(accepted_answer_names_the_thing),
        cmocka_unit_test(rejected_answer_gives_sanitized_code_and_message),
        cmocka_unit_test(unreadable_answers_are_malformed),
        cmocka_unit_test(ownership_token_read_from_the_csr_answer),
        cmocka_unit_test(token_hint_never_shows_the_whole_token),
        cmocka_unit_test(parameters_expand_device_id_and_serial),
        cmocka_unit_test(call_matches_its_topics_and_times_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
