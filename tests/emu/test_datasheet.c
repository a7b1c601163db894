/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver's and the emulator's datasheet tables, each checked against
 * the published values (shared/atecc608.md, typed here a third time): the
 * two are written separately so that one wrong entry cannot make the
 * driver's deadlines and the chip's timing agree on a mistake; this test
 * catches a wrong entry in either.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "atecc608/atecc608.h"
#include "atecc608/protocol.h"
#include "emu_datasheet.h"

/* Maximum execution times in ms at M0, M1, M2. */
static const struct {
    const char *name;
    uint8_t opcode;
    unsigned m0, m1, m2;
} published[] = {
    {"Info", ATECC_OP_INFO, 5, 5, 5},
    {"Read", ATECC_OP_READ, 5, 5, 5},
    {"Write", ATECC_OP_WRITE, 45, 45, 45},
    {"Lock", ATECC_OP_LOCK, 35, 35, 35},
    {"Random", ATECC_OP_RANDOM, 23, 23, 23},
    {"Nonce", ATECC_OP_NONCE, 20, 20, 20},
    {"GenKey", ATECC_OP_GENKEY, 115, 215, 653},
    {"Sign", ATECC_OP_SIGN, 115, 220, 665},
    {"Verify", ATECC_OP_VERIFY, 105, 295, 1085},
    {"ECDH", ATECC_OP_ECDH, 75, 172, 531},
    {"SHA", ATECC_OP_SHA, 36, 42, 75},
    {"SelfTest", ATECC_OP_SELFTEST, 250, 625, 2324},
    {"Counter", ATECC_OP_COUNTER, 25, 25, 25},
    {"UpdateExtra", ATECC_OP_UPDATEEXTRA, 10, 10, 10},
    {"GenDig", ATECC_OP_GENDIG, 25, 35, 35},
    {"CheckMac", ATECC_OP_CHECKMAC, 40, 40, 40},
    {"MAC", ATECC_OP_MAC, 55, 55, 55},
    {"KDF", ATECC_OP_KDF, 165, 165, 165},
    {"AES", ATECC_OP_AES, 27, 27, 27},
    {"PrivWrite", ATECC_OP_PRIVWRITE, 50, 50, 50},
    {"SecureBoot", ATECC_OP_SECUREBOOT, 80, 160, 480},
    {"DeriveKey", ATECC_OP_DERIVEKEY, 50, 50, 50},
};

static void test_execution_times(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(published) / sizeof(published[0]); i++) {
        const unsigned want[3] = {published[i].m0, published[i].m1, published[i].m2};
        const enum atecc_clock_divider drv_div[3] = {ATECC_CLOCK_M0, ATECC_CLOCK_M1,
                                                     ATECC_CLOCK_M2};
        for (unsigned d = 0; d < 3; d++) {
            unsigned drv = atecc_max_exec_ms(published[i].opcode, drv_div[d]);
            unsigned emu = emu_exec_max_ms(published[i].opcode, d);
            if (drv != want[d] || emu != want[d])
                fail_msg("%s at M%u: published %u ms, driver %u, emulator %u", published[i].name,
                         d, want[d], drv, emu);
        }
    }
    /* Both know exactly these opcodes. */
    for (unsigned op = 0; op < 256; op++) {
        int known = 0;
        for (size_t i = 0; i < sizeof(published) / sizeof(published[0]); i++)
            known |= published[i].opcode == op;
        if (known)
            continue;
        if (atecc_max_exec_ms((uint8_t)op, ATECC_CLOCK_M0) != 0 ||
            emu_exec_max_ms((uint8_t)op, 0) != 0)
            fail_msg("opcode 0x%02x has a time in a table but is not published", op);
    }
}

static void test_slot_sizes(void **state)
{
    (void)state;
    /* Data zone: slots 0-7 36 bytes, slot 8 416 bytes, slots 9-15 72. */
    for (unsigned slot = 0; slot < 20; slot++) {
        unsigned want = slot < 8 ? 36 : slot == 8 ? 416 : slot < 16 ? 72 : 0;
        if (atecc_slot_size(slot) != want || emu_slot_bytes(slot) != want)
            fail_msg("slot %u: published %u bytes, driver %u, emulator %u", slot, want,
                     atecc_slot_size(slot), emu_slot_bytes(slot));
    }
}

static void test_chipmode_clock_divider(void **state)
{
    (void)state;
    /* ChipMode byte values 0x00 M0, 0x28 M1, 0x68 M2 (bits 3-7); the low
     * bits (address, TTL, watchdog) do not change the divider. */
    const struct {
        uint8_t chip_mode;
        unsigned divider;
    } cases[] = {{0x00, 0}, {0x01, 0}, {0x05, 0}, {0x28, 1}, {0x2D, 1},
                 {0x68, 2}, {0x6F, 2}, {0x08, 0}, {0xF8, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned drv = (unsigned)atecc_clock_divider_from_chipmode(cases[i].chip_mode);
        unsigned emu = emu_clock_divider(cases[i].chip_mode);
        if (drv != cases[i].divider || emu != cases[i].divider)
            fail_msg("ChipMode 0x%02x: divider M%u, driver M%u, emulator M%u",
                     cases[i].chip_mode, cases[i].divider, drv, emu);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_execution_times),
        cmocka_unit_test(test_slot_sizes),
        cmocka_unit_test(test_chipmode_clock_divider),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
