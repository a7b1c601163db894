/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulator's real clock: the pure deadline arithmetic of a precise
 * wait (sleep to EMU_WAIT_SPIN_MARGIN_NS before the deadline, spin the
 * rest), and the one property of the real waits that noise cannot break:
 * they never return before their deadline. Nothing here asserts how late
 * a wait may end; that is measured, not tested (emu_wait_lateness).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>

#include "emu_clock.h"

enum { T_NOW_NS = 1000000000 }; /* an arbitrary point on the clock */

static void test_wait_sleeps_until_the_margin_before_a_far_deadline(void **state)
{
    uint64_t wake = 0;

    (void)state;
    assert_int_equal(emu_wait_next(T_NOW_NS, T_NOW_NS + 5000000, &wake), EMU_WAIT_SLEEP);
    assert_int_equal(wake, T_NOW_NS + 5000000 - EMU_WAIT_SPIN_MARGIN_NS);
}

static void test_wait_sleeps_when_the_deadline_is_just_beyond_the_margin(void **state)
{
    uint64_t wake = 0;

    (void)state;
    assert_int_equal(emu_wait_next(T_NOW_NS, T_NOW_NS + EMU_WAIT_SPIN_MARGIN_NS + 1, &wake), EMU_WAIT_SLEEP);
    assert_int_equal(wake, T_NOW_NS + 1);
}

static void test_wait_spins_within_the_margin(void **state)
{
    uint64_t wake = 0;

    (void)state;
    assert_int_equal(emu_wait_next(T_NOW_NS, T_NOW_NS + EMU_WAIT_SPIN_MARGIN_NS, &wake), EMU_WAIT_SPIN);
    assert_int_equal(emu_wait_next(T_NOW_NS, T_NOW_NS + 1, &wake), EMU_WAIT_SPIN);
    assert_int_equal(wake, 0); /* a spin names no wake-up time */
}

static void test_wait_is_done_at_and_after_the_deadline(void **state)
{
    uint64_t wake = 0;

    (void)state;
    assert_int_equal(emu_wait_next(T_NOW_NS, T_NOW_NS, &wake), EMU_WAIT_DONE);
    assert_int_equal(emu_wait_next(T_NOW_NS + 3000000, T_NOW_NS, &wake), EMU_WAIT_DONE);
}

static void test_wait_near_the_clock_origin_does_not_wrap(void **state)
{
    uint64_t wake = 0;

    (void)state;
    assert_int_equal(emu_wait_next(0, EMU_WAIT_SPIN_MARGIN_NS / 2, &wake), EMU_WAIT_SPIN);
    assert_int_equal(emu_wait_next(0, 3 * (uint64_t)EMU_WAIT_SPIN_MARGIN_NS, &wake), EMU_WAIT_SLEEP);
    assert_int_equal(wake, 2 * (uint64_t)EMU_WAIT_SPIN_MARGIN_NS);
}

/* Past, inside the spin margin, just beyond it, and well beyond it. */
static void test_real_clock_wait_never_returns_before_its_deadline(void **state)
{
    const struct emu_clock *clock = emu_real_clock();
    const uint64_t offsets_us[] = { 0, 50, EMU_WAIT_SPIN_MARGIN_NS / 1000 + 300, 2000 };

    (void)state;
    assert_non_null(clock->wait_until_us);
    for (size_t i = 0; i < sizeof(offsets_us) / sizeof(offsets_us[0]); i++) {
        uint64_t deadline = clock->now_us(clock->ctx) + offsets_us[i];

        clock->wait_until_us(clock->ctx, deadline);
        assert_true(clock->now_us(clock->ctx) >= deadline);
    }
}

static void test_real_clock_relative_sleep_never_returns_early(void **state)
{
    const struct emu_clock *clock = emu_real_clock();
    uint64_t start = clock->now_us(clock->ctx);

    (void)state;
    clock->sleep_us(clock->ctx, 700);
    assert_true(clock->now_us(clock->ctx) - start >= 700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_sleeps_until_the_margin_before_a_far_deadline),
        cmocka_unit_test(test_wait_sleeps_when_the_deadline_is_just_beyond_the_margin),
        cmocka_unit_test(test_wait_spins_within_the_margin),
        cmocka_unit_test(test_wait_is_done_at_and_after_the_deadline),
        cmocka_unit_test(test_wait_near_the_clock_origin_does_not_wrap),
        cmocka_unit_test(test_real_clock_wait_never_returns_before_its_deadline),
        cmocka_unit_test(test_real_clock_relative_sleep_never_returns_early),
    };

    return cmocka_run_group_tests_name("emu_clock", tests, NULL, NULL);
}
