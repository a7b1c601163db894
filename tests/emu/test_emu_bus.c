/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator bus behaviour: wake rule, word addresses, NAKs, I/O counter,
 * idle/sleep/watchdog and execution timing, all on a virtual clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "atecc608/crc.h"
#include "emu_test_util.h"

static const uint8_t msg32[32] = { 0xA5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                   16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };

static void open_timed(struct t_chip *t, double time_scale, uint32_t bus_hz)
{
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .time_scale = time_scale, .bus_hz = bus_hz };

    t_open(t, &args);
}

static void test_wake_at_100khz_single_byte_write_wakes(void **state)
{
    struct t_chip t;

    (void)state;
    open_timed(&t, 0, 100000);
    assert_true(t_wake(&t));
    t_close(&t);
}

static void test_wake_at_400khz_single_byte_write_is_too_short(void **state)
{
    struct t_chip t;
    uint8_t rsp[4];
    struct emu_stats stats;

    (void)state;
    open_timed(&t, 0, 400000);
    t_wake_pulse(&t, 0); /* 8 bit times at 400 kHz = 20 us < 60 us */
    assert_int_equal(emu_bus_read(t.chip, t.addr, rsp, 4), EMU_BUS_NAK_ADDR);
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.wakes, 0);
    t_close(&t);
}

static void test_wake_at_400khz_with_two_zero_bytes_ignoring_nak_wakes(void **state)
{
    struct t_chip t;
    uint8_t zeros[3] = { 0 };
    uint8_t rsp[4];
    static const uint8_t expected[4] = ATECC_WAKE_RESPONSE;

    (void)state;
    open_timed(&t, 0, 400000);
    /* 8 + 2 x 9 = 26 bit times = 65 us. */
    assert_int_equal(emu_bus_write(t.chip, 0x00, zeros, 3, EMU_BUS_IGNORE_NAK), EMU_BUS_ACK);
    assert_int_equal(emu_bus_read(t.chip, t.addr, rsp, 4), EMU_BUS_ACK);
    assert_memory_equal(rsp, expected, 4);
    t_close(&t);
}

static void test_wake_write_to_address_zero_is_nacked_without_ignore_nak(void **state)
{
    struct t_chip t;
    uint8_t zero = 0;

    (void)state;
    open_timed(&t, 0, 100000);
    assert_int_equal(emu_bus_write(t.chip, 0x00, &zero, 1, 0), EMU_BUS_NAK_ADDR);
    t_close(&t);
}

static void test_wake_response_is_04_11_33_43_with_valid_crc(void **state)
{
    struct t_chip t;
    uint8_t rsp[4];

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    t_wake_pulse(&t, 0);
    assert_int_equal(emu_bus_read(t.chip, t.addr, rsp, 4), EMU_BUS_ACK);
    assert_int_equal(rsp[0], 0x04);
    assert_int_equal(rsp[1], ATECC_STATUS_AFTER_WAKE);
    assert_true(atecc_crc16_check(rsp, 4));
    t_close(&t);
}

static void test_asleep_chip_naks_reads_and_writes(void **state)
{
    struct t_chip t;
    uint8_t buf[4];

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 4), EMU_BUS_NAK_ADDR);
    assert_int_equal(t_word(&t, ATECC_WORD_RESET), EMU_BUS_NAK_ADDR);
    assert_int_equal(t_send(&t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_NAK_ADDR);
    t_close(&t);
}

static void test_chip_answers_only_on_its_profile_address(void **state)
{
    struct t_chip t;
    uint8_t buf[4];

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_int_equal(t.addr, ATECC_ADDR_TRUSTANDGO);
    assert_true(t_wake(&t));
    assert_int_equal(emu_bus_read(t.chip, ATECC_ADDR_DEFAULT, buf, 4), EMU_BUS_NAK_ADDR);
    t_close(&t);
    t_open_profile(&t, EMU_PROFILE_BLANK);
    assert_int_equal(t.addr, ATECC_ADDR_DEFAULT);
    t_close(&t);
}

static void test_wake_while_awake_is_ignored_and_counted(void **state)
{
    struct t_chip t;
    struct emu_stats stats;

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    t_nonce_passthrough(&t, ATECC_NONCE_PASSTHROUGH, msg32, 32);
    t_wake_pulse(&t, 0);
    /* The output buffer still holds the Nonce status, not a wake status. */
    assert_int_equal(t_word(&t, ATECC_WORD_RESET), EMU_BUS_ACK);
    {
        uint8_t rsp[4];
        assert_int_equal(emu_bus_read(t.chip, t.addr, rsp, 4), EMU_BUS_ACK);
        assert_int_equal(rsp[1], ATECC_STATUS_SUCCESS);
    }
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.wakes, 1);
    assert_int_equal(stats.ignored_wakes, 1);
    t_close(&t);
}

static void test_reads_nak_until_twhi_has_passed(void **state)
{
    struct t_chip t;
    uint8_t zero = 0;
    uint8_t rsp[4];

    (void)state;
    open_timed(&t, 1.0, 100000);
    (void)emu_bus_write(t.chip, 0x00, &zero, 1, 0);
    assert_int_equal(emu_bus_read(t.chip, t.addr, rsp, 4), EMU_BUS_NAK_ADDR);
    t_advance(&t, ATECC_T_WHI_US);
    assert_int_equal(emu_bus_read(t.chip, t.addr, rsp, 4), EMU_BUS_ACK);
    t_close(&t);
}

static void test_io_counter_runs_across_reads_and_reset_word_rewinds_it(void **state)
{
    struct t_chip t;
    uint8_t first[3];
    uint8_t rest[4];
    uint8_t again[7];

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    assert_int_equal(t_send(&t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_ACK);
    assert_int_equal(emu_bus_read(t.chip, t.addr, first, 3), EMU_BUS_ACK);
    assert_int_equal(emu_bus_read(t.chip, t.addr, rest, 4), EMU_BUS_ACK);
    assert_int_equal(first[0], 7);
    assert_int_equal(first[1], 0x00);
    assert_int_equal(first[2], 0x00);
    assert_int_equal(rest[0], 0x60);
    assert_int_equal(t_word(&t, ATECC_WORD_RESET), EMU_BUS_ACK);
    assert_int_equal(emu_bus_read(t.chip, t.addr, again, 7), EMU_BUS_ACK);
    assert_memory_equal(again, first, 3);
    assert_memory_equal(again + 3, rest, 4);
    assert_true(atecc_crc16_check(again, 7));
    t_close(&t);
}

static void test_reserved_word_address_is_nacked(void **state)
{
    struct t_chip t;

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    assert_int_equal(t_word(&t, 0x04), EMU_BUS_NAK_DATA);
    t_close(&t);
}

static void test_idle_keeps_tempkey(void **state)
{
    struct t_chip t;
    uint8_t sig[64];

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    t_nonce_passthrough(&t, ATECC_NONCE_PASSTHROUGH, msg32, 32);
    assert_int_equal(t_word(&t, ATECC_WORD_IDLE), EMU_BUS_ACK);
    assert_int_equal(t_send(&t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_NAK_ADDR);
    assert_true(t_wake(&t));
    t_output(&t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, sig, 64);
    t_close(&t);
}

static void test_sleep_loses_tempkey(void **state)
{
    struct t_chip t;

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    t_nonce_passthrough(&t, ATECC_NONCE_PASSTHROUGH, msg32, 32);
    assert_int_equal(t_word(&t, ATECC_WORD_SLEEP), EMU_BUS_ACK);
    assert_true(t_wake(&t));
    assert_int_equal(t_status(&t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    t_close(&t);
}

static void test_watchdog_expiry_puts_chip_to_sleep_and_loses_tempkey(void **state)
{
    struct t_chip t;
    uint8_t buf[4];
    struct emu_stats stats;

    (void)state;
    open_timed(&t, 1.0, 100000);
    assert_true(t_wake(&t));
    t_nonce_passthrough(&t, ATECC_NONCE_PASSTHROUGH, msg32, 32);
    t_advance(&t, ATECC_WATCHDOG_TYP_MS * 1000u);
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 4), EMU_BUS_NAK_ADDR);
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.watchdog_expiries, 1);
    assert_true(t_wake(&t));
    assert_int_equal(t_status(&t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    t_close(&t);
}

static void test_watchdog_scales_with_time_scale(void **state)
{
    struct t_chip t;
    uint8_t buf[4];

    (void)state;
    open_timed(&t, 0.1, 100000);
    assert_true(t_wake(&t));
    t_advance(&t, 120000); /* below 130 ms: still awake */
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 4), EMU_BUS_ACK);
    t_advance(&t, 20000);
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 4), EMU_BUS_NAK_ADDR);
    t_close(&t);
}

static void test_long_watchdog_with_chipmode_bit2_lasts_13_seconds(void **state)
{
    struct t_chip t;
    struct t_open_args args = { .profile = EMU_PROFILE_BLANK, .time_scale = 1.0 };
    const uint8_t word[4] = { 0xC0, 0x00, 0x00, ATECC_CHIPMODE_LONG_WATCHDOG };
    uint8_t buf[4];

    (void)state;
    t_open(&t, &args);
    assert_true(t_wake(&t));
    assert_int_equal(t_write_config_word(&t, 16, word), ATECC_STATUS_SUCCESS);
    assert_int_equal(t_word(&t, ATECC_WORD_SLEEP), EMU_BUS_ACK);
    assert_true(t_wake(&t));
    t_advance(&t, 12000000);
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 4), EMU_BUS_ACK);
    t_advance(&t, 1000000);
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 4), EMU_BUS_NAK_ADDR);
    t_close(&t);
}

static void open_trustandgo_watchdog(struct t_chip *t, bool long_watchdog)
{
    /* Scale 0.01: the short watchdog lasts 13 ms, the long one 130 ms. */
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .time_scale = 0.01,
                                .long_watchdog = long_watchdog };

    t_open(t, &args);
    assert_true(t_wake(t));
}

static void check_chip_mode(bool long_watchdog, uint8_t chip_mode, uint32_t watchdog_ms)
{
    struct t_chip t;

    open_trustandgo_watchdog(&t, long_watchdog);
    assert_int_equal(t_read_chip_mode(&t), chip_mode);
    assert_int_equal(emu_chip_watchdog_ms(t.chip), watchdog_ms);
    t_close(&t);
}

static void test_long_watchdog_option_sets_chipmode_0x05_in_config_block_0(void **state)
{
    (void)state;
    check_chip_mode(true, 0x05, 13000);
}

static void test_without_long_watchdog_option_chipmode_stays_0x01(void **state)
{
    (void)state;
    check_chip_mode(false, 0x01, 1300);
}

static void test_long_watchdog_option_command_succeeds_after_the_short_watchdog_would_expire(void **state)
{
    struct t_chip t;
    struct emu_stats stats;
    uint8_t out[4];

    (void)state;
    open_trustandgo_watchdog(&t, true);
    t_advance(&t, 20000); /* past 13 ms, before 130 ms; no new wake */
    t_output(&t, ATECC_OP_INFO, 0, 0, NULL, 0, out, sizeof(out));
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.wakes, 1);
    assert_int_equal(stats.watchdog_expiries, 0);
    t_advance(&t, 130000); /* the long watchdog still runs out */
    assert_int_equal(t_send(&t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_NAK_ADDR);
    t_close(&t);
}

static void test_without_long_watchdog_option_command_after_the_short_watchdog_finds_the_chip_asleep(void **state)
{
    struct t_chip t;
    struct emu_stats stats;

    (void)state;
    open_trustandgo_watchdog(&t, false);
    t_advance(&t, 20000);
    assert_int_equal(t_send(&t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_NAK_ADDR);
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.watchdog_expiries, 1);
    t_close(&t);
}

static void test_watchdog_never_fires_at_time_scale_zero(void **state)
{
    struct t_chip t;
    uint8_t buf[4];

    (void)state;
    open_timed(&t, 0, 100000);
    assert_true(t_wake(&t));
    t_advance(&t, 3600u * 1000000u);
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 4), EMU_BUS_ACK);
    t_close(&t);
}

static void test_idle_stops_the_watchdog(void **state)
{
    struct t_chip t;
    struct emu_stats stats;

    (void)state;
    open_timed(&t, 1.0, 100000);
    assert_true(t_wake(&t));
    assert_int_equal(t_word(&t, ATECC_WORD_IDLE), EMU_BUS_ACK);
    t_advance(&t, 10u * 1000000u);
    assert_true(t_wake(&t));
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.watchdog_expiries, 0);
    assert_int_equal(stats.idles, 1);
    t_close(&t);
}

static void test_command_too_close_to_watchdog_gets_ee_without_executing(void **state)
{
    struct t_chip t;

    (void)state;
    open_timed(&t, 1.0, 100000);
    assert_true(t_wake(&t));
    t_nonce_passthrough(&t, ATECC_NONCE_PASSTHROUGH, msg32, 32);
    /* Sign takes 0.6 x 115 ms = 69 ms; leave about 40 ms of the 1.3 s. */
    t_advance(&t, ATECC_WATCHDOG_TYP_MS * 1000u - 45000u);
    assert_int_equal(t_status(&t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0),
                     ATECC_STATUS_WATCHDOG_ABOUT_TO_EXPIRE);
    /* Not executed: TempKey is still valid after an idle/wake cycle. */
    assert_int_equal(t_word(&t, ATECC_WORD_IDLE), EMU_BUS_ACK);
    assert_true(t_wake(&t));
    {
        uint8_t sig[64];
        t_output(&t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, sig, 64);
    }
    t_close(&t);
}

static void test_busy_chip_naks_until_execution_time_passes(void **state)
{
    struct t_chip t;
    uint64_t start;

    (void)state;
    open_timed(&t, 1.0, 100000);
    assert_true(t_wake(&t));
    t_nonce_passthrough(&t, ATECC_NONCE_PASSTHROUGH, msg32, 32);
    assert_int_equal(t_send(&t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0), EMU_BUS_ACK);
    start = t.vclock.now_us;
    /* 0.6 x 115 ms = 69 ms. */
    t_advance(&t, 68000);
    assert_int_equal(t_word(&t, ATECC_WORD_RESET), EMU_BUS_NAK_ADDR);
    assert_int_equal(t_send(&t, ATECC_OP_INFO, 0, 0, NULL, 0), EMU_BUS_NAK_ADDR);
    t.vclock.now_us = start + 69000;
    assert_int_equal(t_word(&t, ATECC_WORD_RESET), EMU_BUS_ACK);
    t_close(&t);
}

static void test_typical_factor_one_makes_commands_take_the_maximum(void **state)
{
    struct t_chip t;
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .time_scale = 1.0, .typical_factor = 1.0 };
    struct emu_stats stats;

    (void)state;
    t_open(&t, &args);
    assert_true(t_wake(&t));
    assert_int_equal(t_send(&t, ATECC_OP_RANDOM, 0, 0, NULL, 0), EMU_BUS_ACK);
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.busy_us, 23000);
    t_close(&t);
}

static void test_bus_transfer_time_is_spent_through_the_clock(void **state)
{
    struct t_chip t;
    uint8_t buf[9];

    (void)state;
    open_timed(&t, 1.0, 100000);
    assert_true(t_wake(&t));
    t.vclock.slept_us = 0;
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 9), EMU_BUS_ACK);
    /* (9 + 1) bytes x 9 bits at 100 kHz = 900 us. */
    assert_int_equal(t.vclock.slept_us, 900);
    t_close(&t);
}

static void test_nak_costs_the_address_byte_only(void **state)
{
    struct t_chip t;
    uint8_t buf[9];
    uint8_t word[1] = { ATECC_WORD_RESET };
    struct emu_stats stats;

    (void)state;
    open_timed(&t, 1.0, 100000);
    /* Asleep: the address byte is NAKed and the master stops there,
     * 9 bits at 100 kHz = 90 us, whatever it meant to read or write. */
    t.vclock.slept_us = 0;
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 9), EMU_BUS_NAK_ADDR);
    assert_int_equal(t.vclock.slept_us, 90);
    t.vclock.slept_us = 0;
    assert_int_equal(emu_bus_write(t.chip, t.addr, word, 1, 0), EMU_BUS_NAK_ADDR);
    assert_int_equal(t.vclock.slept_us, 90);
    /* Another address: NAKed the same way. */
    t.vclock.slept_us = 0;
    assert_int_equal(emu_bus_read(t.chip, (uint8_t)(t.addr + 1), buf, 9), EMU_BUS_NAK_ADDR);
    assert_int_equal(t.vclock.slept_us, 90);
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.naks, 3);
    assert_int_equal(stats.bus_bytes, 3);
    /* A master that ignores NAKs clocks all its bytes out. */
    t.vclock.slept_us = 0;
    assert_int_equal(emu_bus_write(t.chip, t.addr, word, 1, EMU_BUS_IGNORE_NAK), EMU_BUS_ACK);
    assert_int_equal(t.vclock.slept_us, 180);
    /* Awake, an ACKed read pays every byte. */
    assert_true(t_wake(&t));
    t.vclock.slept_us = 0;
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 9), EMU_BUS_ACK);
    assert_int_equal(t.vclock.slept_us, 900);
    t_close(&t);
}

static void test_transaction_waits_for_its_start_plus_bus_time_as_a_deadline(void **state)
{
    struct t_chip t;
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .time_scale = 1.0, .absolute_waits = true };
    uint8_t buf[9];
    uint64_t start;

    (void)state;
    t_open(&t, &args);
    assert_true(t_wake(&t));
    start = t.vclock.now_us;
    t.vclock.waits = 0;
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 9), EMU_BUS_ACK);
    /* (9 + 1) bytes x 9 bits at 100 kHz = 900 us, one absolute wait. */
    assert_int_equal(t.vclock.waits, 1);
    assert_int_equal(t.vclock.last_deadline_us, start + 900);
    assert_int_equal(t.vclock.slept_us, 0);
    t_close(&t);
}

/*
 * Every wait returns 500 us late; the chip must still count a command's
 * execution time from the end of its last byte on the bus, not from when
 * the late wait returned.
 */
static void check_ready_time_ignores_late_waits(bool absolute_waits)
{
    struct t_chip t;
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .time_scale = 1.0,
                                .absolute_waits = absolute_waits };
    /* Word address + Nonce with 32 bytes: 1 + 7 + 32 bytes on the bus. */
    const uint64_t nonce_bus_us = (1 + 7 + 32 + 1) * 9 * 10;
    const uint64_t nonce_exec_us = 20000 * 6 / 10; /* 0.6 x 20 ms */
    const uint64_t probe_bus_us = 1 * 9 * 10;      /* address byte only */
    uint64_t ready;

    t_open(&t, &args);
    assert_true(t_wake(&t));
    t.vclock.oversleep_us = 500;
    ready = t.vclock.now_us + nonce_bus_us + nonce_exec_us;
    assert_int_equal(t_send(&t, ATECC_OP_NONCE, ATECC_NONCE_PASSTHROUGH, 0, msg32, 32), EMU_BUS_ACK);
    /* A probe that ends 1 us before the chip is ready is NAKed, although
     * its own wait returns after the chip became ready ... */
    t.vclock.now_us = ready - probe_bus_us - 1;
    assert_int_equal(emu_bus_write(t.chip, t.addr, NULL, 0, 0), EMU_BUS_NAK_ADDR);
    /* ... and one that ends, on time, just as it is ready is ACKed: the
     * command's late wait did not delay the chip. */
    t.vclock.oversleep_us = 0;
    t.vclock.now_us = ready - probe_bus_us;
    assert_int_equal(emu_bus_write(t.chip, t.addr, NULL, 0, 0), EMU_BUS_ACK);
    t_close(&t);
}

static void test_command_is_ready_its_execution_time_after_its_last_byte_despite_late_waits(void **state)
{
    (void)state;
    check_ready_time_ignores_late_waits(true);
}

static void test_command_ready_time_ignores_late_waits_with_a_relative_only_clock(void **state)
{
    (void)state;
    check_ready_time_ignores_late_waits(false);
}

static void test_time_scale_zero_never_waits(void **state)
{
    struct t_chip t;
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .time_scale = 0, .absolute_waits = true };
    uint8_t out[4];

    (void)state;
    t_open(&t, &args);
    assert_true(t_wake(&t));
    t_output(&t, ATECC_OP_INFO, 0, 0, NULL, 0, out, sizeof(out));
    assert_int_equal(t.vclock.waits, 0);
    t_close(&t);
}

static void test_partial_command_makes_reads_nak(void **state)
{
    struct t_chip t;
    uint8_t pkt[16];
    uint8_t buf[4];
    size_t len;

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    len = t_frame(pkt, sizeof(pkt), ATECC_OP_INFO, 0, 0, NULL, 0);
    assert_int_equal(emu_bus_write(t.chip, t.addr, pkt, len - 2, 0), EMU_BUS_ACK);
    assert_int_equal(emu_bus_read(t.chip, t.addr, buf, 4), EMU_BUS_NAK_ADDR);
    t_close(&t);
}

static void test_command_with_bad_crc_gets_status_ff(void **state)
{
    struct t_chip t;
    uint8_t pkt[16];
    uint8_t rsp[8];
    size_t len;

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    len = t_frame(pkt, sizeof(pkt), ATECC_OP_INFO, 0, 0, NULL, 0);
    pkt[len - 1] ^= 0x01;
    assert_int_equal(emu_bus_write(t.chip, t.addr, pkt, len, 0), EMU_BUS_ACK);
    assert_int_equal(t_receive(&t, rsp, sizeof(rsp)), 4);
    assert_int_equal(rsp[1], ATECC_STATUS_CRC_ERROR);
    t_close(&t);
}

static void test_command_longer_than_its_count_is_nacked_and_answered_ff(void **state)
{
    struct t_chip t;
    uint8_t pkt[16];
    uint8_t rsp[8];
    size_t len;

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    len = t_frame(pkt, sizeof(pkt), ATECC_OP_INFO, 0, 0, NULL, 0);
    pkt[len] = 0x00;
    assert_int_equal(emu_bus_write(t.chip, t.addr, pkt, len + 1, 0), EMU_BUS_NAK_DATA);
    assert_int_equal(t_receive(&t, rsp, sizeof(rsp)), 4);
    assert_int_equal(rsp[1], ATECC_STATUS_CRC_ERROR);
    t_close(&t);
}

static void test_stats_count_wakes_idles_sleeps_commands_and_bytes(void **state)
{
    struct t_chip t;
    struct emu_stats stats;

    (void)state;
    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    assert_int_equal(t_word(&t, ATECC_WORD_IDLE), EMU_BUS_ACK);
    assert_true(t_wake(&t));
    (void)t_status(&t, ATECC_OP_SELFTEST, ATECC_SELFTEST_ALL, 0, NULL, 0);
    assert_int_equal(t_word(&t, ATECC_WORD_SLEEP), EMU_BUS_ACK);
    emu_stats_get(t.chip, &stats);
    assert_int_equal(stats.wakes, 2);
    assert_int_equal(stats.idles, 1);
    assert_int_equal(stats.sleeps, 1);
    assert_int_equal(stats.commands, 1);
    assert_true(stats.bus_bytes > 0);
    t_close(&t);
}

/* needle: text the message must contain, or NULL for any message. */
static void expect_open_fails(const struct emu_options *options, const char *needle)
{
    char err[256] = "";

    assert_null(emu_chip_open(options, err, sizeof(err)));
    assert_true(strlen(err) > 0);
    if (needle != NULL && strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_open_rejects_out_of_range_options_with_a_message(void **state)
{
    struct emu_options options;

    (void)state;
    memset(&options, 0, sizeof(options));
    options.typical_factor = 1.5;
    expect_open_fails(&options, NULL);
    options.typical_factor = 0;
    options.time_scale = -1;
    expect_open_fails(&options, NULL);
    options.time_scale = 0;
    options.bus_hz = 2000000;
    expect_open_fails(&options, NULL);
    options.bus_hz = 0;
    options.profile = (enum emu_profile)7;
    expect_open_fails(&options, NULL);
}

static void test_long_watchdog_option_is_refused_for_the_blank_profile(void **state)
{
    struct emu_options options = { .profile = EMU_PROFILE_BLANK, .long_watchdog = true };

    (void)state;
    expect_open_fails(&options, "trustandgo profile only");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wake_at_100khz_single_byte_write_wakes),
        cmocka_unit_test(test_wake_at_400khz_single_byte_write_is_too_short),
        cmocka_unit_test(test_wake_at_400khz_with_two_zero_bytes_ignoring_nak_wakes),
        cmocka_unit_test(test_wake_write_to_address_zero_is_nacked_without_ignore_nak),
        cmocka_unit_test(test_wake_response_is_04_11_33_43_with_valid_crc),
        cmocka_unit_test(test_asleep_chip_naks_reads_and_writes),
        cmocka_unit_test(test_chip_answers_only_on_its_profile_address),
        cmocka_unit_test(test_wake_while_awake_is_ignored_and_counted),
        cmocka_unit_test(test_reads_nak_until_twhi_has_passed),
        cmocka_unit_test(test_io_counter_runs_across_reads_and_reset_word_rewinds_it),
        cmocka_unit_test(test_reserved_word_address_is_nacked),
        cmocka_unit_test(test_idle_keeps_tempkey),
        cmocka_unit_test(test_sleep_loses_tempkey),
        cmocka_unit_test(test_watchdog_expiry_puts_chip_to_sleep_and_loses_tempkey),
        cmocka_unit_test(test_watchdog_scales_with_time_scale),
        cmocka_unit_test(test_long_watchdog_with_chipmode_bit2_lasts_13_seconds),
        cmocka_unit_test(test_long_watchdog_option_sets_chipmode_0x05_in_config_block_0),
        cmocka_unit_test(test_without_long_watchdog_option_chipmode_stays_0x01),
        cmocka_unit_test(test_long_watchdog_option_command_succeeds_after_the_short_watchdog_would_expire),
        cmocka_unit_test(test_without_long_watchdog_option_command_after_the_short_watchdog_finds_the_chip_asleep),
        cmocka_unit_test(test_watchdog_never_fires_at_time_scale_zero),
        cmocka_unit_test(test_idle_stops_the_watchdog),
        cmocka_unit_test(test_command_too_close_to_watchdog_gets_ee_without_executing),
        cmocka_unit_test(test_busy_chip_naks_until_execution_time_passes),
        cmocka_unit_test(test_typical_factor_one_makes_commands_take_the_maximum),
        cmocka_unit_test(test_bus_transfer_time_is_spent_through_the_clock),
        cmocka_unit_test(test_nak_costs_the_address_byte_only),
        cmocka_unit_test(test_transaction_waits_for_its_start_plus_bus_time_as_a_deadline),
        cmocka_unit_test(test_command_is_ready_its_execution_time_after_its_last_byte_despite_late_waits),
        cmocka_unit_test(test_command_ready_time_ignores_late_waits_with_a_relative_only_clock),
        cmocka_unit_test(test_time_scale_zero_never_waits),
        cmocka_unit_test(test_partial_command_makes_reads_nak),
        cmocka_unit_test(test_command_with_bad_crc_gets_status_ff),
        cmocka_unit_test(test_command_longer_than_its_count_is_nacked_and_answered_ff),
        cmocka_unit_test(test_stats_count_wakes_idles_sleeps_commands_and_bytes),
        cmocka_unit_test(test_open_rejects_out_of_range_options_with_a_message),
        cmocka_unit_test(test_long_watchdog_option_is_refused_for_the_blank_profile),
    };

    return cmocka_run_group_tests_name("emu_bus", tests, NULL, NULL);
}
