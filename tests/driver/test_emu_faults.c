/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault handling against the in-process emulator's fault injection:
 * corrupted CRCs, missing wake responses, ECC faults, watchdog expiry,
 * NAKed commands. Transient faults are absorbed; persistent ones end in a
 * clear error within bounded (virtual) time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

struct fixture {
    struct harness *h;
    struct atecc_device *dev;
    uint8_t pub[64];
};

static int setup(void **state)
{
    static struct fixture fx;

    fx.h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    fx.dev = harness_open(fx.h, 0x35);
    assert_int_equal(atecc_pubkey(fx.dev, 0, fx.pub), ATECC_OK);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    atecc_close(fx->dev);
    harness_free(fx->h);
    return 0;
}

static void sign_and_check(struct fixture *fx)
{
    uint8_t d[32];
    uint8_t sig[64];

    memset(d, 0x3C, sizeof(d));
    assert_int_equal(atecc_sign(fx->dev, 0, d, sig), ATECC_OK);
    assert_true(harness_p256_verify(fx->pub, d, sig));
}

static uint64_t retries(struct fixture *fx)
{
    struct atecc_stats st;

    atecc_stats_get(fx->dev, &st);
    return st.retries;
}

static void test_one_corrupted_crc_is_retried(void **state)
{
    struct fixture *fx = *state;
    uint8_t r[32];
    uint64_t before = retries(fx);

    harness_fault(fx->h, "crc@1");
    assert_int_equal(atecc_random(fx->dev, r), ATECC_OK);
    assert_int_equal(retries(fx) - before, 1);
}

static void test_corrupted_sign_response_repeats_nonce_and_sign(void **state)
{
    struct fixture *fx = *state;
    uint64_t before = retries(fx);

    /* 2nd command from now is the Sign: its response is corrupted after
     * the chip consumed the digest buffer, so Nonce+Sign must be redone. */
    harness_fault(fx->h, "crc@2");
    sign_and_check(fx);
    assert_true(retries(fx) - before >= 1);
}

static void test_persistent_crc_fault_ends_in_crc_error(void **state)
{
    struct fixture *fx = *state;
    uint8_t r[32];
    uint64_t t0 = fx->h->clock.now_us(fx->h);

    harness_fault(fx->h, "crc:p=1");
    assert_int_equal(atecc_random(fx->dev, r), ATECC_E_CRC);
    assert_non_null(strstr(atecc_error_detail(), "response CRC wrong after 4 tries"));
    assert_true(fx->h->clock.now_us(fx->h) - t0 < 1000000);
    harness_fault(fx->h, "clear");
    assert_int_equal(atecc_random(fx->dev, r), ATECC_OK);
}

static void test_missing_wake_response_is_retried(void **state)
{
    struct fixture *fx = *state;
    struct emu_stats es;

    harness_fault(fx->h, "nowake@1");
    sign_and_check(fx);
    es = harness_emu_stats(fx->h);
    assert_int_equal(es.ignored_wakes, 0);
}

static void test_chip_that_never_wakes_is_no_device(void **state)
{
    struct fixture *fx = *state;
    uint8_t r[32];

    harness_fault(fx->h, "nowake:p=1");
    assert_int_equal(atecc_random(fx->dev, r), ATECC_E_NO_DEVICE);
    assert_string_equal(atecc_error_detail(),
                        "no ATECC608 answered at inproc:@0x35 (wake response missing after 4 "
                        "tries): check wiring and the address");
    harness_fault(fx->h, "clear");
    assert_int_equal(atecc_random(fx->dev, r), ATECC_OK);
}

static void test_ecc_fault_is_retried(void **state)
{
    struct fixture *fx = *state;

    harness_fault(fx->h, "ecc@2");
    sign_and_check(fx);
}

static void test_persistent_ecc_fault_is_reported(void **state)
{
    struct fixture *fx = *state;
    uint8_t d[32] = { 0 };
    uint8_t sig[64];

    harness_fault(fx->h, "ecc:p=1");
    assert_int_equal(atecc_sign(fx->dev, 0, d, sig), ATECC_E_ECC_FAULT);
    assert_non_null(strstr(atecc_error_detail(), "after 4 tries"));
}

static void test_watchdog_expiry_is_recovered_and_never_reaches_caller(void **state)
{
    struct fixture *fx = *state;
    uint8_t r[32];

    harness_fault(fx->h, "watchdog@1");
    sign_and_check(fx);
    harness_fault(fx->h, "watchdog@2");
    sign_and_check(fx);
    harness_fault(fx->h, "watchdog@1");
    assert_int_equal(atecc_random(fx->dev, r), ATECC_OK);
}

static void test_nak_of_command_is_retried(void **state)
{
    struct fixture *fx = *state;

    harness_fault(fx->h, "nak@1");
    sign_and_check(fx);
    harness_fault(fx->h, "nak@2");
    sign_and_check(fx);
}

static void test_random_faults_never_give_wrong_signatures(void **state)
{
    struct fixture *fx = *state;
    unsigned ok = 0;

    harness_fault(fx->h, "crc:p=0.1,nak:p=0.05,ecc:p=0.05");
    for (unsigned i = 0; i < 40; i++) {
        uint8_t d[32];
        uint8_t sig[64];
        atecc_err rc;

        memset(d, (int)i, sizeof(d));
        rc = atecc_sign(fx->dev, 0, d, sig);
        if (rc == ATECC_OK) {
            assert_true(harness_p256_verify(fx->pub, d, sig));
            ok++;
        }
    }
    assert_true(ok >= 35);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_corrupted_crc_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_sign_response_repeats_nonce_and_sign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_crc_fault_ends_in_crc_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_wake_response_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chip_that_never_wakes_is_no_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ecc_fault_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_ecc_fault_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_expiry_is_recovered_and_never_reaches_caller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nak_of_command_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_faults_never_give_wrong_signatures, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
