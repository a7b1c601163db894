/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The driver's datasheet tables: slot sizes, maximum execution times (the
 * deadlines the driver polls within) and the ChipMode clock divider. The
 * emulator has its own (emu/emu_datasheet.c); tests/emu/test_datasheet.c
 * checks both against the published values.
 */
#include "atecc608/atecc608.h"

unsigned atecc_slot_size(unsigned slot)
{
    if (slot < 8)
        return 36;
    if (slot == 8)
        return 416;
    if (slot < ATECC_SLOT_COUNT)
        return 72;
    return 0;
}

/* The no-polling table (one table serves 608A and 608B). */
unsigned atecc_max_exec_ms(uint8_t opcode, enum atecc_clock_divider divider)
{
    switch (opcode) {
    case ATECC_OP_INFO: return 5;
    case ATECC_OP_READ: return 5;
    case ATECC_OP_WRITE: return 45;
    case ATECC_OP_LOCK: return 35;
    case ATECC_OP_RANDOM: return 23;
    case ATECC_OP_NONCE: return 20;
    case ATECC_OP_COUNTER: return 25;
    case ATECC_OP_UPDATEEXTRA: return 10;
    case ATECC_OP_CHECKMAC: return 40;
    case ATECC_OP_MAC: return 55;
    case ATECC_OP_KDF: return 165;
    case ATECC_OP_AES: return 27;
    case ATECC_OP_PRIVWRITE: return 50;
    case ATECC_OP_DERIVEKEY: return 50;
    case ATECC_OP_GENKEY: return divider == ATECC_CLOCK_M2 ? 653 : divider == ATECC_CLOCK_M1 ? 215 : 115;
    case ATECC_OP_SIGN: return divider == ATECC_CLOCK_M2 ? 665 : divider == ATECC_CLOCK_M1 ? 220 : 115;
    case ATECC_OP_VERIFY: return divider == ATECC_CLOCK_M2 ? 1085 : divider == ATECC_CLOCK_M1 ? 295 : 105;
    case ATECC_OP_ECDH: return divider == ATECC_CLOCK_M2 ? 531 : divider == ATECC_CLOCK_M1 ? 172 : 75;
    case ATECC_OP_GENDIG: return divider == ATECC_CLOCK_M0 ? 25 : 35;
    case ATECC_OP_SHA: return divider == ATECC_CLOCK_M2 ? 75 : divider == ATECC_CLOCK_M1 ? 42 : 36;
    case ATECC_OP_SELFTEST: return divider == ATECC_CLOCK_M2 ? 2324 : divider == ATECC_CLOCK_M1 ? 625 : 250;
    case ATECC_OP_SECUREBOOT: return divider == ATECC_CLOCK_M2 ? 480 : divider == ATECC_CLOCK_M1 ? 160 : 80;
    default: return 0;
    }
}

/* Unknown encodings are treated as M0. */
enum atecc_clock_divider atecc_clock_divider_from_chipmode(uint8_t chip_mode)
{
    switch (chip_mode & ATECC_CHIPMODE_CLOCK_MASK) {
    case ATECC_CHIPMODE_CLOCK_M1: return ATECC_CLOCK_M1;
    case ATECC_CHIPMODE_CLOCK_M2: return ATECC_CLOCK_M2;
    default: return ATECC_CLOCK_M0;
    }
}
