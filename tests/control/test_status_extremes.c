/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlinkctl's status rendering (agent/ctl/status_format.c) with
 * extreme values from the agent: no signed overflow (UBSan builds halt on
 * one) and no negative duration printed for a huge positive one.
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

#include "ctl/status_format.h"

static char *render(const char *reply_json)
{
    struct json_object *reply = json_tokener_parse(reply_json);
    char *buf = NULL;
    size_t len = 0;
    FILE *out;

    assert_non_null(reply);
    out = open_memstream(&buf, &len);
    assert_non_null(out);
    ctl_print_status(out, reply);
    fclose(out);
    json_object_put(reply);
    return buf;
}

static void test_huge_next_retry_in_ms_does_not_overflow(void **state)
{
    char *text;
    const char *line;

    (void)state;
    text = render("{\"ok\":true,\"state\":\"waiting\",\"next_retry_in_ms\":9223372036854775807}");
    line = strstr(text, "next retry in ");
    assert_non_null(line);
    /* 9223372036854775807 ms = 9223372036854776 s (rounded), about 1.07e14 days */
    assert_non_null(strstr(line, "106751991167d"));
    assert_null(strchr(line, '-'));
    free(text);
}

static void test_next_retry_in_ms_rounds_to_seconds(void **state)
{
    char *text;

    (void)state;
    text = render("{\"ok\":true,\"state\":\"waiting\",\"next_retry_in_ms\":61500}");
    assert_non_null(strstr(text, "next retry in 1m 2s"));
    free(text);
    text = render("{\"ok\":true,\"state\":\"waiting\",\"next_retry_in_ms\":61499}");
    assert_non_null(strstr(text, "next retry in 1m 1s"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_next_retry_in_ms_does_not_overflow),
        cmocka_unit_test(test_next_retry_in_ms_rounds_to_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
