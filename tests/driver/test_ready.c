/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Response-time learning (ready.c) against a simulated chip whose response
 * is ready at a known offset R: a poll started at s finds it iff s >= R.
 * The simulation schedules polls exactly as exec.c does: the first at
 * atecc_ready_first_poll (or the typical-time estimate while nothing is
 * learned), after a busy probe below the learned time the next at that
 * time, after the first busy poll at it the next at once, otherwise the
 * next one poll transaction plus a poll interval later. Pure arithmetic:
 * no clock, no bus.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ready.h"

enum {
    RESOLUTION_US = 50,
    POLL_TXN_US = 230,       /* a busy poll: 2 bytes at 100 kHz + host */
    COARSE_US = 1000,        /* exec.c's poll interval before anything is learned */
    FINE_US = 250,           /* ... and around the learned time */
    TYPICAL_US = 46000,      /* unlearned first poll of Sign: 40 % of 115 ms */
    SIGN_READY_US = 68820,   /* Sign at 0.6 x 115 ms, less the poll's address phase */
};

struct outcome {
    uint64_t first;   /* offset of the first poll */
    uint64_t found;   /* offset of the poll that found the response */
    unsigned polls;   /* polls sent, the finding one included */
};

static struct outcome execute(struct atecc_ready *r, uint64_t ready_us)
{
    struct atecc_ready_run run;
    struct outcome o = { 0, 0, 0 };
    uint64_t expected = atecc_ready_expected(r);
    uint64_t s = atecc_ready_first_poll(r, RESOLUTION_US);

    memset(&run, 0, sizeof(run));
    if (s == 0)
        s = TYPICAL_US;
    o.first = s;
    for (;;) {
        o.polls++;
        assert_true(o.polls < 1000);
        if (s >= ready_us) {
            atecc_ready_learn(r, &run, s);
            o.found = s;
            return o;
        }
        atecc_ready_busy(r, &run, s);
        if (expected != 0 && s < expected)
            s = s + POLL_TXN_US > expected ? s + POLL_TXN_US : expected;
        else if (expected != 0 && run.misses == 1)
            s += POLL_TXN_US;
        else
            s += POLL_TXN_US + (expected != 0 ? FINE_US : COARSE_US);
    }
}

/* Runs n executions; asserts that none polls first after the fastest
 * response seen before it, and returns the last one. */
static struct outcome run_n(struct atecc_ready *r, uint64_t ready_us, unsigned n)
{
    struct outcome o = { 0, 0, 0 };

    for (unsigned i = 0; i < n; i++) {
        uint64_t ack = atecc_ready_expected(r);

        o = execute(r, ready_us);
        if (ack != 0)
            assert_true(o.first <= ack);
    }
    return o;
}

/* Runs n more executions at ready_us: the last one polls once, at most
 * one resolution after ready. */
static void assert_converges(struct atecc_ready *r, uint64_t ready_us, unsigned n)
{
    struct outcome o = run_n(r, ready_us, n);

    assert_int_equal(o.polls, 1);
    assert_true(o.found >= ready_us);
    assert_true(o.found - ready_us < RESOLUTION_US);
}

static void test_nothing_learned_means_no_first_poll(void **state)
{
    struct atecc_ready r;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(atecc_ready_first_poll(&r, RESOLUTION_US), 0);
    assert_int_equal(atecc_ready_expected(&r), 0);
}

static void test_first_execution_brackets_the_ready_time(void **state)
{
    struct atecc_ready r;
    struct outcome o;

    (void)state;
    memset(&r, 0, sizeof(r));
    o = execute(&r, SIGN_READY_US);
    assert_true(o.polls > 2);
    assert_int_equal(r.ack_us, o.found);
    /* The last busy coarse poll is the floor. */
    assert_int_equal(r.nak_us, o.found - POLL_TXN_US - COARSE_US);
    assert_true(r.nak_us < SIGN_READY_US && SIGN_READY_US <= r.ack_us);
}

static void test_converges_to_one_poll_within_resolution_of_ready(void **state)
{
    struct atecc_ready r;
    struct outcome o;

    (void)state;
    memset(&r, 0, sizeof(r));
    (void)execute(&r, SIGN_READY_US);
    /* A bracket of ~1.2 ms halves each execution: 6 more reach 50 us. */
    for (unsigned i = 0; i < 6; i++) {
        o = execute(&r, SIGN_READY_US);
        /* Learning never costs more than one probe per execution. */
        assert_true(o.polls <= 2);
    }
    assert_converges(&r, SIGN_READY_US, 10);
}

static void test_unknown_floor_is_searched_from_zero_without_late_polls(void **state)
{
    struct atecc_ready r;
    struct outcome o;

    (void)state;
    /* The first poll found the response at once: no floor. */
    memset(&r, 0, sizeof(r));
    o = execute(&r, 1000);
    assert_int_equal(o.polls, 1);
    assert_int_equal(r.nak_us, 0);
    assert_int_equal(atecc_ready_first_poll(&r, RESOLUTION_US), TYPICAL_US / 2);
    assert_converges(&r, 1000, 12);
}

static void test_a_fast_outlier_is_unlearned_after_two_misses(void **state)
{
    struct atecc_ready r;
    struct atecc_ready_run quiet;
    struct outcome o;

    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&quiet, 0, sizeof(quiet));
    (void)run_n(&r, SIGN_READY_US, 12);
    /* One execution answered 0.5 ms early (a host hiccup delayed the
     * chip's view of the poll, say). */
    atecc_ready_learn(&r, &quiet, SIGN_READY_US - 500);
    assert_int_equal(atecc_ready_expected(&r), SIGN_READY_US - 500);
    o = execute(&r, SIGN_READY_US);
    assert_true(o.polls > 1);
    assert_int_equal(atecc_ready_expected(&r), SIGN_READY_US - 500);
    (void)execute(&r, SIGN_READY_US);
    assert_true(atecc_ready_expected(&r) >= SIGN_READY_US);
    assert_converges(&r, SIGN_READY_US, 8);
}

static void test_one_slow_execution_does_not_move_the_learned_time(void **state)
{
    struct atecc_ready r;
    uint64_t ack;

    (void)state;
    memset(&r, 0, sizeof(r));
    (void)run_n(&r, SIGN_READY_US, 12);
    ack = atecc_ready_expected(&r);
    (void)execute(&r, SIGN_READY_US + 2000);
    assert_int_equal(atecc_ready_expected(&r), ack);
    (void)execute(&r, SIGN_READY_US);
    (void)execute(&r, SIGN_READY_US + 2000);
    assert_int_equal(atecc_ready_expected(&r), ack);
}

static void test_a_chip_that_slowed_down_is_followed(void **state)
{
    enum { SLOWER = SIGN_READY_US + 2000 };
    struct atecc_ready r;

    (void)state;
    memset(&r, 0, sizeof(r));
    (void)run_n(&r, SIGN_READY_US, 12);
    (void)run_n(&r, SLOWER, 2);
    assert_true(atecc_ready_expected(&r) >= SLOWER);
    assert_converges(&r, SLOWER, 10);
}

static void test_a_chip_that_became_faster_is_found_after_a_refresh(void **state)
{
    enum { FASTER = SIGN_READY_US - 2000 };
    struct atecc_ready r;

    (void)state;
    memset(&r, 0, sizeof(r));
    (void)run_n(&r, SIGN_READY_US, 12);
    /* Converged: it polls at the old time and always finds the response
     * there, until the floor is forgotten and searched again. */
    assert_converges(&r, FASTER, ATECC_READY_REFRESH + 16);
}

static void test_busy_polls_split_into_floor_and_misses(void **state)
{
    struct atecc_ready r;
    struct atecc_ready_run run;

    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&run, 0, sizeof(run));
    r.ack_us = 10000;
    r.nak_us = 9000;
    atecc_ready_busy(&r, &run, 9500);
    assert_true(run.busy_below);
    assert_int_equal(run.misses, 0);
    atecc_ready_busy(&r, &run, 10000);
    assert_int_equal(run.misses, 1);
    assert_int_equal(run.below_us, 9500);
    assert_int_equal(run.last_us, 10000);
    /* Found later than ack_us after a miss: the floor still rises to the
     * probe, the only busy poll below ack_us. */
    atecc_ready_learn(&r, &run, 10250);
    assert_int_equal(r.ack_us, 10000);
    assert_int_equal(r.nak_us, 9500);
    assert_int_equal(r.misses, 1);
}

static void test_huge_offsets_saturate(void **state)
{
    struct atecc_ready r;
    struct atecc_ready_run run;

    (void)state;
    memset(&r, 0, sizeof(r));
    memset(&run, 0, sizeof(run));
    atecc_ready_learn(&r, &run, (uint64_t)1 << 40);
    assert_int_equal(r.ack_us, UINT32_MAX);
    assert_true(atecc_ready_first_poll(&r, RESOLUTION_US) <= UINT32_MAX);
    /* Found at offset 0 (an instant chip) still counts as learned. */
    memset(&r, 0, sizeof(r));
    atecc_ready_learn(&r, &run, 0);
    assert_int_equal(atecc_ready_expected(&r), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_learned_means_no_first_poll),
        cmocka_unit_test(test_first_execution_brackets_the_ready_time),
        cmocka_unit_test(test_converges_to_one_poll_within_resolution_of_ready),
        cmocka_unit_test(test_unknown_floor_is_searched_from_zero_without_late_polls),
        cmocka_unit_test(test_a_fast_outlier_is_unlearned_after_two_misses),
        cmocka_unit_test(test_one_slow_execution_does_not_move_the_learned_time),
        cmocka_unit_test(test_a_chip_that_slowed_down_is_followed),
        cmocka_unit_test(test_a_chip_that_became_faster_is_found_after_a_refresh),
        cmocka_unit_test(test_busy_polls_split_into_floor_and_misses),
        cmocka_unit_test(test_huge_offsets_saturate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
