/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests json-c would read differently from what was checked, and
 * replies that quote request text (agent/control_request.c, control.c):
 * duplicate keys and NULs are refused; a quoted name is cut on a UTF-8
 * character boundary, so every reply stays valid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "control_test_util.h"

static int setup(void **state)
{
    struct ctl_fixture *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    ctlt_fixture_init(fx, true);
    ctlt_open(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    ctlt_fixture_free(*state);
    free(*state);
    return 0;
}

/* Well-formed UTF-8 throughout (overlongs and surrogates aside, which
 * nothing here produces). */
static bool valid_utf8(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    while (*u != '\0') {
        size_t need = *u < 0x80 ? 1 : (*u & 0xe0) == 0xc0 ? 2 : (*u & 0xf0) == 0xe0 ? 3
                                    : (*u & 0xf8) == 0xf0 ? 4 : 0;
        size_t i;

        if (need == 0)
            return false;
        for (i = 1; i < need; i++)
            if ((u[i] & 0xc0) != 0x80)
                return false;
        u += need;
    }
    return true;
}

static void expect_error(struct ctl_fixture *fx, int fd, const char *line, const char *needle)
{
    const char *reply = ctlt_request(fx, fd, line);

    if (strstr(reply, "\"ok\":false") == NULL || strstr(reply, needle) == NULL)
        fail_msg("expected an error mentioning \"%s\" for %s, got %s", needle, line, reply);
}

static void test_duplicate_keys_are_refused(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    expect_error(fx, fd, "{\"cmd\":\"status\",\"cmd\":\"rotate\"}\n", "duplicate key \\\"cmd\\\"");
    expect_error(fx, fd,
                 "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\",\"retain\":false,"
                 "\"retain\":true}\n",
                 "duplicate key \\\"retain\\\"");
    assert_int_equal(fx->fake.rotate_calls + fx->fake.publish_calls, 0);
    /* The connection stays usable. */
    assert_non_null(strstr(ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n"), "\"ok\":true"));
    close(fd);
}

static void test_command_with_nul_does_not_run(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    expect_error(fx, fd, "{\"cmd\":\"status\\u0000x\"}\n", "NUL");
    assert_int_equal(fx->fake.status_calls, 0);
    expect_error(fx, fd, "{\"cmd\\u0000x\":\"status\"}\n", "NUL");
    assert_int_equal(fx->fake.status_calls, 0);
    expect_error(fx, fd, "{\"cmd\":\"publish\",\"topic\":\"t\\u0000/x\",\"payload\":\"p\"}\n", "NUL");
    assert_int_equal(fx->fake.publish_calls, 0);
    close(fd);
}

static void test_quoted_names_are_cut_on_a_character_boundary(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);
    char line[512];
    char name[128];
    const char *reply;
    int shift;

    /* 63 ASCII bytes then 2-byte characters: the 64-byte limit falls
     * inside the first of them, then (shifted) at other offsets. */
    for (shift = 0; shift < 4; shift++) {
        memset(name, 'a', (size_t)(62 + shift));
        name[62 + shift] = '\0';
        strcat(name, "\xc3\xa9\xc3\xa9\xe2\x82\xac\xe2\x82\xac");
        snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}\n", name);
        reply = ctlt_request(fx, fd, line);
        assert_non_null(strstr(reply, "unknown command"));
        if (!valid_utf8(reply))
            fail_msg("reply is not valid UTF-8 (shift %d): %s", shift, reply);
        snprintf(line, sizeof(line), "{\"cmd\":\"status\",\"%s\":1}\n", name);
        reply = ctlt_request(fx, fd, line);
        assert_non_null(strstr(reply, "unknown field"));
        if (!valid_utf8(reply))
            fail_msg("reply is not valid UTF-8 (shift %d): %s", shift, reply);
    }
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_duplicate_keys_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_with_nul_does_not_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoted_names_are_cut_on_a_character_boundary, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
