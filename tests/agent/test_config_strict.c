/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent config refuses what json-c would read loosely: a key given
 * twice (json-c keeps the last one, so the file has no single meaning).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define IDENTITY "\"identity\":{\"key\":\"pkcs11:token=t;object=device;type=private\"," \
                 "\"certificate\":\"/etc/trustlink/device.pem\"}"
#define BROKER "\"broker\":{\"host\":\"h\",\"ca_file\":\"/ca.pem\"}"

static int parse(const char *text, char *err, size_t err_len)
{
    struct agent_config cfg;
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    rc = agent_config_parse(text, strlen(text), &cfg, err, err_len);
    if (rc == 0)
        agent_config_free(&cfg);
    return rc;
}

static void test_config_without_duplicates_loads(void **state)
{
    char err[512] = "";

    (void)state;
    if (parse("{\"device_id\":\"dev-1\"," IDENTITY "," BROKER "}", err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

static void test_duplicate_top_level_key_is_refused(void **state)
{
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"device_id\":\"dev-1\",\n" IDENTITY ",\n" BROKER
                           ",\n\"device_id\":\"dev-2\"}",
                           err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "duplicate key \"device_id\" (line 4; first at line 1)"));
}

static void test_duplicate_nested_key_is_refused(void **state)
{
    char err[512] = "";

    (void)state;
    assert_int_equal(parse("{\"device_id\":\"dev-1\"," IDENTITY ","
                           "\"broker\":{\"host\":\"h\",\"ca_file\":\"/ca.pem\",\"host\":\"evil\"}}",
                           err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "duplicate key \"host\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_without_duplicates_loads),
        cmocka_unit_test(test_duplicate_top_level_key_is_refused),
        cmocka_unit_test(test_duplicate_nested_key_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
