/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Precise waits (clock.c): a kernel sleep to just before the deadline,
 * then a bounded spin. Driven by a fake time source whose reads cost a
 * tick and whose kernel sleeps wake late, early or not at all, so every
 * assertion is on the fake's time. The one test on the real clock only
 * checks that a wait never ends before its deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"

enum { SPIN_US = 200, TICK_US = 1 };

struct fake_time {
    uint64_t now;
    bool frozen;          /* time never moves */
    uint64_t overshoot;   /* kernel sleeps wake this late */
    unsigned cut_short;   /* the next sleeps return at once (a signal) */
    unsigned reads;
    unsigned sleeps;
    uint64_t slept_until[8];
};

static uint64_t f_now(void *ctx)
{
    struct fake_time *f = ctx;
    uint64_t t = f->now;

    f->reads++;
    if (!f->frozen)
        f->now += TICK_US;  /* a clock read takes time */
    return t;
}

static void f_sleep_until(void *ctx, uint64_t abs_us)
{
    struct fake_time *f = ctx;

    if (f->sleeps < sizeof(f->slept_until) / sizeof(f->slept_until[0]))
        f->slept_until[f->sleeps] = abs_us;
    f->sleeps++;
    if (f->frozen)
        return;
    if (f->cut_short > 0) {
        f->cut_short--;
        f->now += 10;
        return;
    }
    if (f->now < abs_us)
        f->now = abs_us + f->overshoot;
}

/* One precise wait on the fake time source. */
static void wait_on(struct fake_time *f, uint64_t deadline_us)
{
    struct atecc_wait_ops o = { .now_us = f_now, .sleep_until_us = f_sleep_until, .ctx = f };

    atecc_wait_until_with(&o, deadline_us, SPIN_US);
}

/* It returned at the deadline: not before it, nor later than the next
 * clock read after it (the last read costs one tick). */
static void assert_returned_at(const struct fake_time *f, uint64_t deadline_us)
{
    assert_true(f->now - TICK_US >= deadline_us);
    assert_true(f->now <= deadline_us + 2 * TICK_US);
}

static void test_past_deadline_costs_one_read_and_no_sleep(void **state)
{
    struct fake_time f = { .now = 5000 };

    (void)state;
    wait_on(&f, 4000);
    assert_int_equal(f.reads, 1);
    assert_int_equal(f.sleeps, 0);
}

static void test_far_deadline_sleeps_to_spin_margin_then_spins_to_it(void **state)
{
    struct fake_time f = { .now = 1000 };

    (void)state;
    wait_on(&f, 11000);
    assert_int_equal(f.sleeps, 1);
    assert_int_equal(f.slept_until[0], 11000 - SPIN_US);
    assert_returned_at(&f, 11000);
    assert_true(f.reads <= 2 + SPIN_US / TICK_US + 1);
}

static void test_usual_kernel_lateness_is_absorbed_by_the_spin(void **state)
{
    struct fake_time f = { .now = 1000, .overshoot = 150 };

    (void)state;
    wait_on(&f, 11000);
    assert_int_equal(f.sleeps, 1);
    assert_returned_at(&f, 11000);
    /* Only the 50 us the kernel left were spun. */
    assert_true(f.reads <= 2 + (SPIN_US - 150) / TICK_US + 1);
}

static void test_wake_past_the_deadline_does_not_spin(void **state)
{
    struct fake_time f = { .now = 1000, .overshoot = 500 };

    (void)state;
    wait_on(&f, 11000);
    assert_int_equal(f.sleeps, 1);
    assert_int_equal(f.reads, 2);
}

static void test_deadline_within_margin_only_spins(void **state)
{
    struct fake_time f = { .now = 1000 };

    (void)state;
    wait_on(&f, 1000 + SPIN_US);
    assert_int_equal(f.sleeps, 0);
    assert_returned_at(&f, 1000 + SPIN_US);
}

static void test_sleep_cut_short_is_resumed_never_ending_early(void **state)
{
    struct fake_time f = { .now = 1000, .cut_short = 2 };

    (void)state;
    wait_on(&f, 11000);
    assert_int_equal(f.sleeps, 3);
    assert_int_equal(f.slept_until[2], 11000 - SPIN_US);
    assert_returned_at(&f, 11000);
}

static void test_stopped_clock_cannot_hang_the_wait(void **state)
{
    struct fake_time f = { .now = 1000, .frozen = true };

    (void)state;
    wait_on(&f, 11000);
    assert_int_equal(f.sleeps, ATECC_WAIT_MAX_SLEEPS);
    assert_int_equal(f.reads, 1 + ATECC_WAIT_MAX_SLEEPS + ATECC_WAIT_MAX_SPINS);
}

static void test_default_clock_never_returns_before_the_deadline(void **state)
{
    const struct atecc_clock *c = atecc_clock_default();

    (void)state;
    assert_non_null(c->wait_until_us);
    for (unsigned i = 0; i < 20; i++) {
        /* Both paths: sleep + spin, and spin only. */
        uint64_t deadline = atecc_monotonic_us() + (i % 2 ? 1500 : SPIN_US / 2);

        c->wait_until_us(c->ctx, deadline);
        assert_true(c->now_us(c->ctx) >= deadline);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_past_deadline_costs_one_read_and_no_sleep),
        cmocka_unit_test(test_far_deadline_sleeps_to_spin_margin_then_spins_to_it),
        cmocka_unit_test(test_usual_kernel_lateness_is_absorbed_by_the_spin),
        cmocka_unit_test(test_wake_past_the_deadline_does_not_spin),
        cmocka_unit_test(test_deadline_within_margin_only_spins),
        cmocka_unit_test(test_sleep_cut_short_is_resumed_never_ending_early),
        cmocka_unit_test(test_stopped_clock_cannot_hang_the_wait),
        cmocka_unit_test(test_default_clock_never_returns_before_the_deadline),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
