/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The chip's own counters (struct emu_stats): a known bus sequence, driven
 * through emu_bus_write/emu_bus_read on a virtual clock at time scale 1,
 * must give exact counts each way. Every expected number below is worked
 * out from the byte protocol (shared/atecc608.md), not read back from the
 * emulator: an address byte per transaction, the data of acknowledged
 * writes to the chip, the data of acknowledged reads from it, and nothing
 * but the address byte for a NAKed transaction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "atecc608/crc.h"
#include "emu_test_util.h"

enum {
    SETTLE_US = 200000, /* well past Nonce or Sign, well before the watchdog */
    SIGN_RSP = 1 + ATECC_P256_SIGNATURE_SIZE + 2, /* count + R||S + CRC */
};

static const struct t_open_args real_time = { .profile = EMU_PROFILE_TRUSTANDGO, .time_scale = 1.0,
                                              .bus_hz = 100000 };

static struct emu_stats stats_of(const struct t_chip *t)
{
    struct emu_stats st;

    emu_stats_get(t->chip, &st);
    return st;
}

/* Word address 0x00, count byte, the rest: three transactions. */
static void read_response(struct t_chip *t, uint8_t *rsp, size_t expect_count)
{
    uint8_t reset = ATECC_WORD_RESET;

    assert_int_equal(emu_bus_write(t->chip, t->addr, &reset, 1, 0), EMU_BUS_ACK);
    assert_int_equal(emu_bus_read(t->chip, t->addr, rsp, 1), EMU_BUS_ACK);
    assert_int_equal(rsp[0], expect_count);
    assert_int_equal(emu_bus_read(t->chip, t->addr, rsp + 1, expect_count - 1), EMU_BUS_ACK);
    assert_true(atecc_crc16_check(rsp, expect_count));
}

static void test_one_signature_costs_known_bytes_each_way(void **state)
{
    struct t_chip t;
    uint8_t zero = 0;
    uint8_t reset = ATECC_WORD_RESET;
    uint8_t idle = ATECC_WORD_IDLE;
    uint8_t digest[32];
    uint8_t pkt[1 + ATECC_CMD_MAX];
    uint8_t rsp[ATECC_RSP_MAX];
    size_t nonce_len;
    size_t sign_len;
    struct emu_stats st;

    (void)state;
    memset(digest, 0xA5, sizeof(digest));
    t_open(&t, &real_time);
    /* Wake: a 1-byte write to 0x00 at 100 kHz, NAKed at the address byte:
     * the master stops there, so 1 byte reaches the bus. */
    (void)emu_bus_write(t.chip, 0x00, &zero, 1, 0);
    t_advance(&t, ATECC_T_WHI_US);
    assert_int_equal(emu_bus_write(t.chip, t.addr, &reset, 1, 0), EMU_BUS_ACK);  /* 2 */
    assert_int_equal(emu_bus_read(t.chip, t.addr, rsp, 4), EMU_BUS_ACK);         /* 1 + 4 back */
    /* Nonce pass-through: word address + 7 + 32 bytes. */
    nonce_len = t_frame(pkt, sizeof(pkt), ATECC_OP_NONCE, ATECC_NONCE_PASSTHROUGH, 0, digest, 32);
    assert_int_equal(nonce_len, 1 + ATECC_PKT_OVERHEAD + 32);
    assert_int_equal(emu_bus_write(t.chip, t.addr, pkt, nonce_len, 0), EMU_BUS_ACK);
    /* Busy: a poll now is NAKed and costs its address byte only. */
    assert_int_equal(emu_bus_read(t.chip, t.addr, rsp, ATECC_RSP_STATUS_COUNT), EMU_BUS_NAK_ADDR);
    t_advance(&t, SETTLE_US);
    read_response(&t, rsp, ATECC_RSP_STATUS_COUNT); /* 2 + (1 + 1 back) + (1 + 3 back) */
    assert_int_equal(rsp[1], ATECC_STATUS_SUCCESS);
    /* Sign with the key in slot 0 over TempKey: word address + 7 bytes. */
    sign_len = t_frame(pkt, sizeof(pkt), ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0);
    assert_int_equal(emu_bus_write(t.chip, t.addr, pkt, sign_len, 0), EMU_BUS_ACK);
    t_advance(&t, SETTLE_US);
    read_response(&t, rsp, SIGN_RSP); /* 2 + (1 + 1 back) + (1 + 66 back) */
    assert_int_equal(emu_bus_write(t.chip, t.addr, &idle, 1, 0), EMU_BUS_ACK); /* 2 */

    st = stats_of(&t);
    assert_int_equal(st.wake_pulses, 1);
    assert_int_equal(st.wakes, 1);
    assert_int_equal(st.ignored_wakes, 0);
    assert_int_equal(st.transactions, 13);
    assert_int_equal(st.naks, 1);
    assert_int_equal(st.bytes_to_chip, 1 + 2 + 1 + (1 + nonce_len) + 1 + 2 + 1 + 1 +
                                           (1 + sign_len) + 2 + 1 + 1 + 2);
    assert_int_equal(st.bytes_to_chip, 65);
    assert_int_equal(st.bytes_from_chip, 4 + 1 + 3 + 1 + (SIGN_RSP - 1));
    assert_int_equal(st.bytes_from_chip, 75);
    assert_int_equal(st.bus_bytes, st.bytes_to_chip + st.bytes_from_chip);
    assert_int_equal(st.commands, 2);
    assert_int_equal(st.by_opcode[ATECC_OP_NONCE], 1);
    assert_int_equal(st.by_opcode[ATECC_OP_SIGN], 1);
    assert_int_equal(st.idles, 1);
    for (unsigned op = 0; op < 256; op++)
        if (op != ATECC_OP_NONCE && op != ATECC_OP_SIGN)
            assert_int_equal(st.by_opcode[op], 0);
    t_close(&t);
}

/* A wake pulse that ignores the NAK clocks its zero bytes (400 kHz needs
 * 2 more for tWLO); one sent to an awake chip still counts as a pulse. */
static void test_wake_pulses_count_what_the_master_clocked(void **state)
{
    struct t_open_args fast = real_time;
    struct t_chip t;
    uint8_t zeros[3] = { 0 };
    struct emu_stats st;

    (void)state;
    fast.bus_hz = 400000;
    t_open(&t, &fast);
    assert_int_equal(emu_bus_write(t.chip, 0x00, zeros, 1, 0), EMU_BUS_NAK_ADDR); /* too short */
    assert_int_equal(emu_bus_write(t.chip, 0x00, zeros, 3, EMU_BUS_IGNORE_NAK), EMU_BUS_ACK);
    t_advance(&t, ATECC_T_WHI_US);
    assert_int_equal(emu_bus_write(t.chip, 0x00, zeros, 3, EMU_BUS_IGNORE_NAK), EMU_BUS_ACK);
    st = stats_of(&t);
    assert_int_equal(st.transactions, 3);
    assert_int_equal(st.wake_pulses, 2);
    assert_int_equal(st.wakes, 1);
    assert_int_equal(st.ignored_wakes, 1);
    assert_int_equal(st.bytes_to_chip, 1 + 4 + 4);
    assert_int_equal(st.bytes_from_chip, 0);
    t_close(&t);
}

/* A NAKed write costs its address byte, unless the master ignores the NAK
 * and clocks the data out anyway. A packet with a bad CRC is a command but
 * not counted by opcode (the chip cannot trust the opcode byte). */
static void test_naked_writes_and_bad_crc_packets(void **state)
{
    struct t_chip t;
    uint8_t pkt[1 + ATECC_CMD_MAX];
    size_t len;
    struct emu_stats before;
    struct emu_stats st;

    (void)state;
    t_open(&t, &real_time);
    len = t_frame(pkt, sizeof(pkt), ATECC_OP_INFO, 0, 0, NULL, 0);
    /* Asleep: both NAKed at the address. */
    assert_int_equal(emu_bus_write(t.chip, t.addr, pkt, len, 0), EMU_BUS_NAK_ADDR);
    assert_int_equal(emu_bus_write(t.chip, t.addr, pkt, len, EMU_BUS_IGNORE_NAK), EMU_BUS_ACK);
    st = stats_of(&t);
    assert_int_equal(st.naks, 2);
    assert_int_equal(st.bytes_to_chip, 1 + (1 + len));
    assert_int_equal(st.commands, 0);
    assert_true(t_wake(&t));
    before = stats_of(&t);
    pkt[len - 1] ^= 0xFF;
    assert_int_equal(emu_bus_write(t.chip, t.addr, pkt, len, 0), EMU_BUS_ACK);
    st = stats_of(&t);
    assert_int_equal(st.commands - before.commands, 1);
    assert_int_equal(st.by_opcode[ATECC_OP_INFO], 0);
    assert_int_equal(st.bytes_to_chip - before.bytes_to_chip, 1 + len);
    t_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_signature_costs_known_bytes_each_way),
        cmocka_unit_test(test_wake_pulses_count_what_the_master_clocked),
        cmocka_unit_test(test_naked_writes_and_bad_crc_packets),
    };

    return cmocka_run_group_tests_name("emu_stats", tests, NULL, NULL);
}
