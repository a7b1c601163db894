/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8-safe truncation (common/utf8.c): never a cut inside a character.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "utf8.h"

static void test_prefix_stops_before_a_character_that_does_not_fit(void **state)
{
    /* "ab" then e-acute (2 bytes), euro sign (3), an emoji (4). */
    const char *s = "ab\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";

    (void)state;
    assert_int_equal(tl_utf8_prefix_len(s, 2), 2);
    assert_int_equal(tl_utf8_prefix_len(s, 3), 2);
    assert_int_equal(tl_utf8_prefix_len(s, 4), 4);
    assert_int_equal(tl_utf8_prefix_len(s, 6), 4);
    assert_int_equal(tl_utf8_prefix_len(s, 7), 7);
    assert_int_equal(tl_utf8_prefix_len(s, 10), 7);
    assert_int_equal(tl_utf8_prefix_len(s, 11), 11);
    assert_int_equal(tl_utf8_prefix_len(s, 64), 11);
}

static void test_invalid_bytes_count_as_single_characters(void **state)
{
    (void)state;
    assert_int_equal(tl_utf8_prefix_len("\xff\xfe" "a", 2), 2);
    /* A lead byte without its continuation. */
    assert_int_equal(tl_utf8_prefix_len("\xe2" "ab", 2), 2);
}

static void test_complete_len_drops_a_cut_character_only(void **state)
{
    const char *s = "ab\xe2\x82\xac";

    (void)state;
    assert_int_equal(tl_utf8_complete_len(s, 5), 5);
    assert_int_equal(tl_utf8_complete_len(s, 4), 2);
    assert_int_equal(tl_utf8_complete_len(s, 3), 2);
    assert_int_equal(tl_utf8_complete_len(s, 2), 2);
    assert_int_equal(tl_utf8_complete_len("\xf0\x9f\x98", 3), 0);
    assert_int_equal(tl_utf8_complete_len("plain", 5), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_stops_before_a_character_that_does_not_fit),
        cmocka_unit_test(test_invalid_bytes_count_as_single_characters),
        cmocka_unit_test(test_complete_len_drops_a_cut_character_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
