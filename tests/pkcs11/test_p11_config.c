/* SPDX-License-Identifier: Apache-2.0 */
/* Token configuration parser: good files, and a table of bad files each
 * with the exact message naming the JSON path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "p11_test_util.h"

#define GOOD_TOKEN "{\"label\":\"trustlink\",\"interface\":\"emu:/run/trustlink/atecc608.sock\"," \
                   "\"key_slots\":[0],\"free_slots\":[2,3,4],\"store\":\"/var/lib/trustlink/token0\"}"

static void test_config_parses_the_documented_example(void **state)
{
    struct p11_config cfg;
    char err[256];
    const char *text = "{\"tokens\":[" GOOD_TOKEN "], \"log_level\":\"warning\"}";
    (void)state;

    assert_int_equal(p11_config_parse(text, strlen(text), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.n_tokens, 1);
    assert_string_equal(cfg.tokens[0].label, "trustlink");
    assert_string_equal(cfg.tokens[0].interface, "emu:/run/trustlink/atecc608.sock");
    assert_int_equal(cfg.tokens[0].n_key_slots, 1);
    assert_int_equal(cfg.tokens[0].key_slots[0], 0);
    assert_int_equal(cfg.tokens[0].n_free_slots, 3);
    assert_int_equal(cfg.tokens[0].free_slots[2], 4);
    assert_string_equal(cfg.tokens[0].store, "/var/lib/trustlink/token0");
    assert_int_equal(cfg.log_level, P11_LOG_WARNING);
    p11_config_free(&cfg);
}

static void test_config_log_level_defaults_to_warning_and_accepts_debug(void **state)
{
    struct p11_config cfg;
    char err[256];
    const char *a = "{\"tokens\":[" GOOD_TOKEN "]}";
    const char *b = "{\"tokens\":[" GOOD_TOKEN "],\"log_level\":\"debug\"}";
    (void)state;

    assert_int_equal(p11_config_parse(a, strlen(a), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.log_level, P11_LOG_WARNING);
    p11_config_free(&cfg);
    assert_int_equal(p11_config_parse(b, strlen(b), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.log_level, P11_LOG_DEBUG);
    p11_config_free(&cfg);
}

static void test_config_accepts_two_tokens_and_empty_slot_lists(void **state)
{
    struct p11_config cfg;
    char err[256];
    const char *text = "{\"tokens\":[" GOOD_TOKEN ",{\"label\":\"b\",\"interface\":\"i2c:/dev/i2c-1@0x35\","
                       "\"key_slots\":[],\"free_slots\":[],\"store\":\"/s1\"}]}";
    (void)state;

    assert_int_equal(p11_config_parse(text, strlen(text), &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.n_tokens, 2);
    assert_string_equal(cfg.tokens[1].label, "b");
    assert_int_equal(cfg.tokens[1].n_key_slots, 0);
    p11_config_free(&cfg);
}

struct bad_case {
    const char *json;
    const char *message;
};

#define TOK(label, iface, keys, frees, store)                                                       \
    "{\"tokens\":[{\"label\":" label ",\"interface\":" iface ",\"key_slots\":" keys                   \
    ",\"free_slots\":" frees ",\"store\":" store "}]}"

static const struct bad_case bad_cases[] = {
    {"", "(root): not valid JSON (unexpected end of input at byte 0)"},
    {"{\"tokens\": [", "(root): not valid JSON (unexpected end of input at byte 12)"},
    {"[]", "(root): expected an object, got an array"},
    {"{} x", "(root): trailing data after the JSON value at byte 3"},
    {"{}", "tokens: missing (expected an array of 1-16 token objects)"},
    {"{\"tokens\":[]}", "tokens: expected an array of 1-16 token objects, got []"},
    {"{\"tokens\":{}}", "tokens: expected an array of 1-16 token objects, got {}"},
    {"{\"tokens\":[" GOOD_TOKEN "],\"colour\":1}", "colour: unknown key"},
    {"{\"tokens\":[" GOOD_TOKEN "],\"log_level\":\"loud\"}",
     "log_level: expected one of \"error\", \"warning\", \"info\", \"debug\", got \"loud\""},
    {"{\"tokens\":[" GOOD_TOKEN "],\"pin_kdf_iterations\":10}",
     "pin_kdf_iterations: expected an integer 1000-10000000, got 10"},
    {"{\"tokens\":[7]}", "tokens[0]: expected an object, got an integer"},
    {TOK("\"a\"", "\"x\"", "[0]", "[2,\"x\"]", "\"/s\""),
     "tokens[0].free_slots[1]: expected an integer 0-15, got \"x\""},
    {TOK("\"a\"", "\"x\"", "[16]", "[]", "\"/s\""), "tokens[0].key_slots[0]: expected an integer 0-15, got 16"},
    {TOK("\"a\"", "\"x\"", "[-1]", "[]", "\"/s\""), "tokens[0].key_slots[0]: expected an integer 0-15, got -1"},
    {TOK("\"a\"", "\"x\"", "[1.5]", "[]", "\"/s\""), "tokens[0].key_slots[0]: expected an integer 0-15, got 1.5"},
    {TOK("\"a\"", "\"x\"", "0", "[]", "\"/s\""), "tokens[0].key_slots: expected an array of integers 0-15, got 0"},
    {TOK("\"a\"", "\"x\"", "[0,1]", "[2,1]", "\"/s\""),
     "tokens[0].free_slots[1]: slot 1 is listed more than once in key_slots/free_slots"},
    {TOK("\"a\"", "\"x\"", "[3,3]", "[]", "\"/s\""),
     "tokens[0].key_slots[1]: slot 3 is listed more than once in key_slots/free_slots"},
    {TOK("\"abcdefghijklmnopqrstuvwxyz0123456\"", "\"x\"", "[0]", "[]", "\"/s\""),
     "tokens[0].label: expected a string of 1-32 bytes, got 33 bytes"},
    {TOK("\"\"", "\"x\"", "[0]", "[]", "\"/s\""), "tokens[0].label: expected a string of 1-32 bytes, got 0 bytes"},
    {TOK("5", "\"x\"", "[0]", "[]", "\"/s\""), "tokens[0].label: expected a string, got 5"},
    {TOK("\"a\"", "null", "[0]", "[]", "\"/s\""), "tokens[0].interface: expected a string, got null"},
    {"{\"tokens\":[{\"label\":\"a\",\"key_slots\":[0],\"free_slots\":[],\"store\":\"/s\"}]}",
     "tokens[0].interface: missing (expected a string)"},
    {"{\"tokens\":[{\"label\":\"a\",\"interface\":\"x\",\"key_slots\":[0],\"store\":\"/s\"}]}",
     "tokens[0].free_slots: missing (expected an array of integers 0-15)"},
    {"{\"tokens\":[{\"label\":\"a\",\"interface\":\"x\",\"key_slots\":[0],\"free_slots\":[]}]}",
     "tokens[0].store: missing (expected a string)"},
    {"{\"tokens\":[{\"label\":\"a\",\"interface\":\"x\",\"key_slots\":[0],\"free_slots\":[],\"store\":\"/s\","
     "\"pin\":\"1234\"}]}",
     "tokens[0].pin: unknown key"},
    {"{\"tokens\":[" GOOD_TOKEN "," GOOD_TOKEN "]}",
     "tokens[1].label: \"trustlink\" is already the label of tokens[0]"},
    {"{\"tokens\":[" GOOD_TOKEN ",{\"label\":\"b\",\"interface\":\"x\",\"key_slots\":[],\"free_slots\":[],"
     "\"store\":\"/var/lib/trustlink/token0\"}]}",
     "tokens[1].store: \"/var/lib/trustlink/token0\" is already the store of tokens[0]"},
};

static void test_config_bad_files_give_messages_naming_the_json_path(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        struct p11_config cfg;
        char err[256];
        memset(&cfg, 0, sizeof(cfg));
        int rc = p11_config_parse(bad_cases[i].json, strlen(bad_cases[i].json), &cfg, err, sizeof(err));
        if (rc == 0 || strcmp(err, bad_cases[i].message) != 0)
            fail_msg("case %zu (%s): rc %d, got \"%s\", want \"%s\"", i, bad_cases[i].json, rc, err,
                     bad_cases[i].message);
        assert_null(cfg.tokens);
    }
}

static void test_config_load_reads_the_path_from_the_environment(void **state)
{
    char *dir = p11t_mkdtemp();
    char *path = p11t_write_file(dir, "p.json", "{\"tokens\":[" GOOD_TOKEN "]}");
    struct p11_config cfg;
    char err[512];
    (void)state;

    setenv(P11_CONFIG_ENV, path, 1);
    assert_string_equal(p11_config_path(), path);
    assert_int_equal(p11_config_load(NULL, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg.n_tokens, 1);
    p11_config_free(&cfg);
    unsetenv(P11_CONFIG_ENV);
    assert_string_equal(p11_config_path(), "/etc/trustlink/pkcs11.json");
    free(path);
    p11t_rmtree(dir);
}

static void test_config_load_errors_name_the_file(void **state)
{
    char *dir = p11t_mkdtemp();
    char *path = p11t_write_file(dir, "p.json", "{\"tokens\":[]}");
    char *missing = NULL;
    struct p11_config cfg;
    char err[512], want[600];
    (void)state;

    assert_int_equal(p11_config_load(path, &cfg, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s: tokens: expected an array of 1-16 token objects, got []", path);
    assert_string_equal(err, want);
    missing = malloc(strlen(dir) + 16);
    sprintf(missing, "%s/nope.json", dir);
    assert_int_equal(p11_config_load(missing, &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open the token configuration"));
    assert_non_null(strstr(err, "TRUSTLINK_PKCS11_CONF"));
    free(missing);
    free(path);
    p11t_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_parses_the_documented_example),
        cmocka_unit_test(test_config_log_level_defaults_to_warning_and_accepts_debug),
        cmocka_unit_test(test_config_accepts_two_tokens_and_empty_slot_lists),
        cmocka_unit_test(test_config_bad_files_give_messages_naming_the_json_path),
        cmocka_unit_test(test_config_load_reads_the_path_from_the_environment),
        cmocka_unit_test(test_config_load_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
