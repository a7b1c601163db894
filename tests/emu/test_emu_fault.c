/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator fault injection: each fault kind on the Nth event and with a
 * probability under a fixed seed, "clear", the grammar's error paths, and
 * the fault counter in emu_stats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "atecc608/crc.h"
#include "emu_test_util.h"

static const uint8_t msg32[32] = { 7 };

static int setup_tng(void **state)
{
    static struct t_chip t;
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .seed = 42 };

    t_open(&t, &args);
    assert_true(t_wake(&t));
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    t_close(*state);
    return 0;
}

static void add_fault(struct t_chip *t, const char *spec)
{
    char err[256] = "";

    if (emu_fault_add(t->chip, spec, err, sizeof(err)) != 0)
        fail_msg("emu_fault_add(%s): %s", spec, err);
}

static uint64_t faults_injected(struct t_chip *t)
{
    struct emu_stats stats;

    emu_stats_get(t->chip, &stats);
    return stats.faults_injected;
}

/* Info with a raw receive: true when the response CRC is right. */
static bool info_crc_ok(struct t_chip *t)
{
    uint8_t rsp[ATECC_RSP_MAX];
    int count;

    assert_int_equal(t_send(t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_ACK);
    count = t_receive(t, rsp, sizeof(rsp));
    assert_int_equal(count, 7);
    return atecc_crc16_check(rsp, 7);
}

static void test_fault_crc_on_nth_command_corrupts_only_that_response(void **state)
{
    struct t_chip *t = *state;

    add_fault(t, "crc@2");
    assert_true(info_crc_ok(t));
    assert_false(info_crc_ok(t));
    assert_true(info_crc_ok(t));
    assert_int_equal(faults_injected(t), 1);
}

static void test_fault_crc_command_still_executes(void **state)
{
    struct t_chip *t = *state;
    uint8_t rsp[ATECC_RSP_MAX];
    uint8_t sig[64];

    add_fault(t, "crc@1");
    assert_int_equal(t_send(t, ATECC_OP_NONCE, ATECC_NONCE_PASSTHROUGH, 0, msg32, 32), EMU_BUS_ACK);
    assert_int_equal(t_receive(t, rsp, sizeof(rsp)), 4);
    assert_false(atecc_crc16_check(rsp, 4));
    t_output(t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, sig, 64);
}

static void test_fault_nak_on_nth_command_refuses_the_write(void **state)
{
    struct t_chip *t = *state;
    struct emu_stats stats;

    add_fault(t, "nak@1");
    assert_int_equal(t_send(t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_NAK_ADDR);
    assert_true(info_crc_ok(t));
    emu_stats_get(t->chip, &stats);
    assert_int_equal(stats.faults_injected, 1);
    assert_int_equal(stats.commands, 1);
}

static void test_fault_nowake_ignores_the_next_wake_pulse(void **state)
{
    struct t_chip *t = *state;
    uint8_t buf[4];

    assert_int_equal(t_word(t, ATECC_WORD_SLEEP), EMU_BUS_ACK);
    add_fault(t, "nowake@1");
    t_wake_pulse(t, 0);
    assert_int_equal(emu_bus_read(t->chip, t->addr, buf, 4), EMU_BUS_NAK_ADDR);
    assert_true(t_wake(t));
    assert_int_equal(faults_injected(t), 1);
}

static void test_fault_ecc_answers_status_05_without_executing(void **state)
{
    struct t_chip *t = *state;

    add_fault(t, "ecc@1");
    assert_int_equal(t_status(t, ATECC_OP_NONCE, ATECC_NONCE_PASSTHROUGH, 0, msg32, 32), ATECC_STATUS_ECC_FAULT);
    assert_int_equal(t_status(t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0), ATECC_STATUS_EXECUTION_ERROR);
}

static void test_fault_watchdog_puts_chip_to_sleep_and_loses_tempkey(void **state)
{
    struct t_chip *t = *state;
    uint8_t buf[4];
    struct emu_stats stats;

    t_nonce_passthrough(t, ATECC_NONCE_PASSTHROUGH, msg32, 32);
    add_fault(t, "watchdog@1");
    assert_int_equal(t_send(t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0), EMU_BUS_NAK_ADDR);
    assert_int_equal(emu_bus_read(t->chip, t->addr, buf, 4), EMU_BUS_NAK_ADDR);
    emu_stats_get(t->chip, &stats);
    assert_int_equal(stats.watchdog_expiries, 1);
    assert_int_equal(stats.faults_injected, 1);
    assert_true(t_wake(t));
    assert_int_equal(t_status(t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0), ATECC_STATUS_EXECUTION_ERROR);
}

/* NAK pattern of 64 Info commands under "nak:p=0.5" with seed 42. */
static uint64_t nak_pattern(uint64_t seed)
{
    struct t_chip t;
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .seed = seed };
    uint64_t pattern = 0;

    t_open(&t, &args);
    assert_true(t_wake(&t));
    add_fault(&t, "nak:p=0.5");
    for (unsigned i = 0; i < 64; i++) {
        if (t_send(&t, ATECC_OP_INFO, 0, 0, NULL, 0) == EMU_BUS_NAK_ADDR)
            pattern |= 1ull << i;
    }
    t_close(&t);
    return pattern;
}

static void test_fault_probability_is_reproducible_with_a_fixed_seed(void **state)
{
    uint64_t a = nak_pattern(42);
    uint64_t b = nak_pattern(42);
    unsigned naks = (unsigned)__builtin_popcountll(a);

    (void)state;
    assert_true(a == b);
    /* p = 0.5 over 64 draws: far from all or nothing. */
    assert_in_range(naks, 16, 48);
    assert_true(nak_pattern(43) != a);
}

static void test_fault_probability_one_always_and_zero_never_fires(void **state)
{
    struct t_chip *t = *state;

    add_fault(t, "ecc:p=1");
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(t_status(t, ATECC_OP_INFO, 0, 0, NULL, 0), ATECC_STATUS_ECC_FAULT);
    add_fault(t, "clear");
    add_fault(t, "ecc:p=0");
    for (unsigned i = 0; i < 5; i++)
        assert_true(info_crc_ok(t));
    assert_int_equal(faults_injected(t), 5);
}

static void test_fault_probabilistic_crc_and_nowake(void **state)
{
    struct t_chip *t = *state;
    unsigned bad = 0;
    unsigned missed = 0;

    add_fault(t, "crc:p=0.5,nowake:p=0.5");
    for (unsigned i = 0; i < 40; i++)
        bad += info_crc_ok(t) ? 0 : 1;
    for (unsigned i = 0; i < 40; i++) {
        assert_int_equal(t_word(t, ATECC_WORD_SLEEP), EMU_BUS_ACK);
        while (!t_wake(t))
            missed++;
    }
    assert_in_range(bad, 5, 35);
    assert_true(missed > 0);
}

static void test_fault_clear_removes_every_rule(void **state)
{
    struct t_chip *t = *state;

    add_fault(t, "nak@1,ecc@1,crc@1");
    add_fault(t, "clear");
    assert_true(info_crc_ok(t));
    assert_int_equal(faults_injected(t), 0);
}

static void test_fault_bad_specs_are_rejected_with_a_message(void **state)
{
    struct t_chip *t = *state;
    static const char *const bad[] = { "bogus@1", "crc@0", "crc@", "crc:p=2", "crc:p=-0.1",
                                       "crc", "", "crc@1,", "nak:q=1", "crc@1x" };
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(emu_fault_add(t->chip, bad[i], err, sizeof(err)), -1);
        assert_true(strlen(err) > 0);
    }
}

static void test_fault_spec_with_a_bad_rule_adds_none(void **state)
{
    struct t_chip *t = *state;
    char err[256];

    assert_int_equal(emu_fault_add(t->chip, "nak@1,bogus@2", err, sizeof(err)), -1);
    assert_true(info_crc_ok(t));
}

#define TNG(name) cmocka_unit_test_setup_teardown(name, setup_tng, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TNG(test_fault_crc_on_nth_command_corrupts_only_that_response),
        TNG(test_fault_crc_command_still_executes),
        TNG(test_fault_nak_on_nth_command_refuses_the_write),
        TNG(test_fault_nowake_ignores_the_next_wake_pulse),
        TNG(test_fault_ecc_answers_status_05_without_executing),
        TNG(test_fault_watchdog_puts_chip_to_sleep_and_loses_tempkey),
        cmocka_unit_test(test_fault_probability_is_reproducible_with_a_fixed_seed),
        TNG(test_fault_probability_one_always_and_zero_never_fires),
        TNG(test_fault_probabilistic_crc_and_nowake),
        TNG(test_fault_clear_removes_every_rule),
        TNG(test_fault_bad_specs_are_rejected_with_a_message),
        TNG(test_fault_spec_with_a_bad_rule_adds_none),
    };

    return cmocka_run_group_tests_name("emu_fault", tests, NULL, NULL);
}
