/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The module's inputs json-c would read loosely or that would hang it:
 * duplicate keys in the module config and the token store are refused,
 * a NUL hidden in the store's label is refused, and a FIFO given as the
 * module config or as token.json is refused at once instead of blocking
 * every program that loads the module.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounded_call.h"
#include "config.h"
#include "p11_test_util.h"
#include "store.h"

static const char store_head[] =
    "{\"format\":\"trustlink-token\",\"version\":1,\"generation\":1,";
static const char store_tail[] =
    "\"next_uid\":1,\"so_pin\":null,\"user_pin\":null,\"objects\":[]}";

static int setup(void **state)
{
    *state = p11t_mkdtemp();
    return 0;
}

static int teardown(void **state)
{
    p11t_rmtree(*state);
    return 0;
}

static enum tok_store_err open_store(const char *dir, char *err, size_t err_len)
{
    struct tok_store *st = NULL;
    enum tok_store_err e = tok_store_open(dir, &st, err, err_len);

    tok_store_close(st);
    return e;
}

static void write_store(const char *dir, const char *middle)
{
    char text[1024];

    snprintf(text, sizeof(text), "%s%s%s", store_head, middle, store_tail);
    free(p11t_write_file(dir, TOK_STORE_FILE, text));
}

static void test_store_with_a_valid_label_loads(void **state)
{
    char err[512] = "";

    write_store(*state, "\"label\":\"dev\",");
    assert_int_equal(open_store(*state, err, sizeof(err)), TOK_STORE_OK);
}

static void test_store_with_a_duplicate_key_is_corrupt(void **state)
{
    char err[512] = "";

    write_store(*state, "\"label\":\"dev\",\"label\":\"other\",");
    assert_int_equal(open_store(*state, err, sizeof(err)), TOK_STORE_CORRUPT);
    assert_non_null(strstr(err, "duplicate key \"label\""));
}

static void test_store_label_hiding_a_nul_is_corrupt(void **state)
{
    char err[512] = "";

    write_store(*state, "\"label\":\"dev\\u0000x\",");
    assert_int_equal(open_store(*state, err, sizeof(err)), TOK_STORE_CORRUPT);
}

static int open_store_child(void *dir)
{
    char err[512] = "";
    enum tok_store_err e = open_store(dir, err, sizeof(err));

    printf("token store open: %s\n", err);
    return e == TOK_STORE_OK ? 1 : strstr(err, "FIFO") != NULL ? 0 : 2;
}

static void test_fifo_as_token_store_is_refused_without_blocking(void **state)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", (char *)*state, TOK_STORE_FILE);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(tl_test_bounded_call(open_store_child, *state, 10), 0);
}

static void test_module_config_with_a_duplicate_key_is_refused(void **state)
{
    const char *text = "{\"tokens\":[{\"label\":\"a\",\"interface\":\"emu:/x\",\"key_slots\":[0],"
                       "\"store\":\"/tmp\"}],\"log_level\":\"error\",\"log_level\":\"debug\"}";
    struct p11_config cfg;
    char err[512] = "";

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(p11_config_parse(text, strlen(text), &cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "duplicate key \"log_level\""));
}

static int load_config_child(void *path)
{
    struct p11_config cfg;
    char err[512] = "";

    memset(&cfg, 0, sizeof(cfg));
    if (p11_config_load(path, &cfg, err, sizeof(err)) == 0)
        return 1;
    printf("module config: %s\n", err);
    return strstr(err, "FIFO") != NULL ? 0 : 2;
}

static void test_fifo_as_module_config_is_refused_without_blocking(void **state)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/pkcs11.json", (char *)*state);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(tl_test_bounded_call(load_config_child, path, 10), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_with_a_valid_label_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_with_a_duplicate_key_is_corrupt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_label_hiding_a_nul_is_corrupt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fifo_as_token_store_is_refused_without_blocking,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_config_with_a_duplicate_key_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fifo_as_module_config_is_refused_without_blocking,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
