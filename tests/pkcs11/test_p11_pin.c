/* SPDX-License-Identifier: Apache-2.0 */
/* PIN records: hashing, verification, retry counter and flags, length range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pin.h"

#define IT 1000u  /* test iterations: the minimum the store accepts */
#define PIN(s) (const CK_UTF8CHAR *)(s), (CK_ULONG)strlen(s)

static void test_pin_correct_is_ok(void **state)
{
    struct tok_pin_record r;
    bool changed;
    (void)state;
    assert_int_equal(tok_pin_set(&r, PIN("123456"), IT), CKR_OK);
    assert_true(r.set);
    assert_int_equal(r.iterations, IT);
    assert_int_equal(tok_pin_check(&r, PIN("123456"), &changed), CKR_OK);
    assert_false(changed);
    assert_int_equal(tok_pin_flags(&r, false), 0);
}

static void test_pin_incorrect_counts_a_failure(void **state)
{
    struct tok_pin_record r;
    bool changed;
    (void)state;
    assert_int_equal(tok_pin_set(&r, PIN("123456"), IT), CKR_OK);
    assert_int_equal(tok_pin_check(&r, PIN("123457"), &changed), CKR_PIN_INCORRECT);
    assert_true(changed);
    assert_int_equal(r.failures, 1);
}

static void test_pin_same_pin_gets_different_salt_and_hash(void **state)
{
    struct tok_pin_record a, b;
    (void)state;
    assert_int_equal(tok_pin_set(&a, PIN("123456"), IT), CKR_OK);
    assert_int_equal(tok_pin_set(&b, PIN("123456"), IT), CKR_OK);
    assert_memory_not_equal(a.salt, b.salt, sizeof(a.salt));
    assert_memory_not_equal(a.hash, b.hash, sizeof(a.hash));
}

static void test_pin_default_iterations_are_used_when_zero(void **state)
{
    struct tok_pin_record r;
    (void)state;
    assert_int_equal(tok_pin_set(&r, PIN("1234"), 0), CKR_OK);
    assert_int_equal(r.iterations, P11_PIN_ITERATIONS);
    assert_int_equal(r.max_failures, 10);
}

static void test_pin_count_low_after_one_failure(void **state)
{
    struct tok_pin_record r;
    bool changed;
    (void)state;
    assert_int_equal(tok_pin_set(&r, PIN("123456"), IT), CKR_OK);
    tok_pin_check(&r, PIN("000000"), &changed);
    assert_int_equal(tok_pin_flags(&r, false), CKF_USER_PIN_COUNT_LOW);
    assert_int_equal(tok_pin_flags(&r, true), CKF_SO_PIN_COUNT_LOW);
}

static void test_pin_final_try_when_one_attempt_left(void **state)
{
    struct tok_pin_record r;
    bool changed;
    (void)state;
    assert_int_equal(tok_pin_set(&r, PIN("123456"), IT), CKR_OK);
    for (int i = 0; i < 9; i++)
        assert_int_equal(tok_pin_check(&r, PIN("000000"), &changed), CKR_PIN_INCORRECT);
    assert_int_equal(tok_pin_flags(&r, false), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
    assert_int_equal(tok_pin_flags(&r, true), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY);
}

static void test_pin_locked_after_max_failures_even_for_the_right_pin(void **state)
{
    struct tok_pin_record r;
    bool changed;
    (void)state;
    assert_int_equal(tok_pin_set(&r, PIN("123456"), IT), CKR_OK);
    for (int i = 0; i < 9; i++)
        tok_pin_check(&r, PIN("000000"), &changed);
    assert_int_equal(tok_pin_check(&r, PIN("000000"), &changed), CKR_PIN_LOCKED);
    assert_true(tok_pin_locked(&r));
    assert_true(tok_pin_flags(&r, false) & CKF_USER_PIN_LOCKED);
    assert_true(tok_pin_flags(&r, true) & CKF_SO_PIN_LOCKED);
    assert_int_equal(tok_pin_check(&r, PIN("123456"), &changed), CKR_PIN_LOCKED);
    assert_false(changed);
    assert_int_equal(r.failures, 10);
}

static void test_pin_correct_resets_the_counter(void **state)
{
    struct tok_pin_record r;
    bool changed;
    (void)state;
    assert_int_equal(tok_pin_set(&r, PIN("123456"), IT), CKR_OK);
    for (int i = 0; i < 5; i++)
        tok_pin_check(&r, PIN("000000"), &changed);
    assert_int_equal(tok_pin_check(&r, PIN("123456"), &changed), CKR_OK);
    assert_true(changed);
    assert_int_equal(r.failures, 0);
    assert_int_equal(tok_pin_flags(&r, false), 0);
}

static void test_pin_length_range_on_set(void **state)
{
    struct tok_pin_record r;
    char long_pin[66];
    (void)state;
    memset(long_pin, '1', 65);
    long_pin[65] = '\0';
    memset(&r, 0, sizeof(r));
    assert_int_equal(tok_pin_set(&r, PIN("123"), IT), CKR_PIN_LEN_RANGE);
    assert_int_equal(tok_pin_set(&r, PIN(long_pin), IT), CKR_PIN_LEN_RANGE);
    assert_int_equal(tok_pin_set(&r, NULL, 6, IT), CKR_PIN_LEN_RANGE);
    assert_false(r.set);
    long_pin[64] = '\0';
    assert_int_equal(tok_pin_set(&r, PIN(long_pin), IT), CKR_OK);
    assert_int_equal(tok_pin_set(&r, PIN("1234"), IT), CKR_OK);
}

static void test_pin_out_of_range_login_counts_as_incorrect(void **state)
{
    struct tok_pin_record r;
    bool changed;
    (void)state;
    assert_int_equal(tok_pin_set(&r, PIN("123456"), IT), CKR_OK);
    assert_int_equal(tok_pin_check(&r, PIN("12"), &changed), CKR_PIN_INCORRECT);
    assert_int_equal(r.failures, 1);
}

static void test_pin_unset_record_is_not_initialized(void **state)
{
    struct tok_pin_record r;
    bool changed;
    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(tok_pin_check(&r, PIN("123456"), &changed), CKR_USER_PIN_NOT_INITIALIZED);
    assert_int_equal(tok_pin_flags(&r, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin_correct_is_ok),
        cmocka_unit_test(test_pin_incorrect_counts_a_failure),
        cmocka_unit_test(test_pin_same_pin_gets_different_salt_and_hash),
        cmocka_unit_test(test_pin_default_iterations_are_used_when_zero),
        cmocka_unit_test(test_pin_count_low_after_one_failure),
        cmocka_unit_test(test_pin_final_try_when_one_attempt_left),
        cmocka_unit_test(test_pin_locked_after_max_failures_even_for_the_right_pin),
        cmocka_unit_test(test_pin_correct_resets_the_counter),
        cmocka_unit_test(test_pin_length_range_on_set),
        cmocka_unit_test(test_pin_out_of_range_login_counts_as_incorrect),
        cmocka_unit_test(test_pin_unset_record_is_not_initialized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
