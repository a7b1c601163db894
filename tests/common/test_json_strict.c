/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict JSON checks every JSON input goes through (common/json_strict.c):
 * duplicate keys (also when spelt with escapes), keys with NUL, and string
 * values that hide a NUL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "json_strict.h"

static int check(const char *text, char *err, size_t err_len)
{
    struct json_object *o = json_tokener_parse(text);

    /* The helper's contract: json-c accepted the text first. */
    assert_non_null(o);
    json_object_put(o);
    err[0] = '\0';
    return tl_json_check_keys(text, strlen(text), err, err_len);
}

static void test_distinct_keys_pass(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(check("{\"a\":1,\"b\":{\"a\":2,\"b\":[{\"a\":3},{\"a\":4}]},\"c\":\"a\"}",
                           err, sizeof(err)),
                     0);
    /* Empty objects, first of all and nested (before any key exists, the
     * key table is not even allocated: found by the fuzz stage). */
    assert_int_equal(check("{}", err, sizeof(err)), 0);
    assert_int_equal(check("[{},{\"a\":{}}]", err, sizeof(err)), 0);
    /* Empty keys: distinct from others, and a duplicate of each other. */
    assert_int_equal(check("{\"\":1,\"a\":2}", err, sizeof(err)), 0);
    assert_int_equal(check("{\"\":1,\"\":2}", err, sizeof(err)), -1);
    /* The same key in sibling objects is fine. */
    assert_int_equal(check("[{\"k\":1},{\"k\":2}]", err, sizeof(err)), 0);
    /* Keys look alike in values and comments: not keys. */
    assert_int_equal(check("{\"a\":\"a\", /* \"a\": */ \"b\":[\"a\",\"a\"]}", err, sizeof(err)),
                     0);
}

static void test_duplicate_key_is_refused_with_its_name_and_line(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(check("{\"cmd\":\"status\",\n\"cmd\":\"rotate\"}", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "duplicate key \"cmd\" (line 2; first at line 1)"));
}

static void test_duplicate_in_a_nested_object_is_found(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(check("{\"x\":[1,{\"y\":{\"z\":1,\"w\":2,\"z\":3}}],\"y\":0}", err,
                           sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "\"z\""));
}

static void test_escaped_spelling_is_the_same_key(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(check("{\"cmd\":\"status\",\"\\u0063md\":\"rotate\"}", err, sizeof(err)), -1);
    /* A surrogate pair and the raw UTF-8 of the same character. */
    assert_int_equal(check("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", err, sizeof(err)), -1);
    assert_int_equal(check("{\"a\\/b\":1,\"a/b\":2}", err, sizeof(err)), -1);
}

static void test_key_with_nul_is_refused(void **state)
{
    char err[256];

    (void)state;
    /* json-c would cut it to "cmd". */
    assert_int_equal(check("{\"cmd\\u0000x\":\"rotate\"}", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "NUL"));
}

static void test_string_value_with_nul_is_not_a_c_string(void **state)
{
    struct json_object *o = json_tokener_parse("[\"status\\u0000x\",\"status\",7]");

    (void)state;
    assert_non_null(o);
    assert_null(tl_json_c_string(json_object_array_get_idx(o, 0)));
    assert_string_equal(tl_json_c_string(json_object_array_get_idx(o, 1)), "status");
    assert_null(tl_json_c_string(json_object_array_get_idx(o, 2)));
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distinct_keys_pass),
        cmocka_unit_test(test_duplicate_key_is_refused_with_its_name_and_line),
        cmocka_unit_test(test_duplicate_in_a_nested_object_is_found),
        cmocka_unit_test(test_escaped_spelling_is_the_same_key),
        cmocka_unit_test(test_key_with_nul_is_refused),
        cmocka_unit_test(test_string_value_with_nul_is_not_a_c_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
