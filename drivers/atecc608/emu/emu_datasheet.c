/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulated chip's datasheet tables (see emu_datasheet.h).
 */
#include "emu_datasheet.h"

#include <stddef.h>

#include "atecc608/protocol.h"

/* One row an opcode: its name (lower case, for counters by opcode) and
 * its maximum time at M0, M1, M2 (ms). The M0 column
 * is the base list; M1 and M2 repeat it except where the facts name a
 * change (GenKey, Sign, Verify, ECDH, GenDig, SHA, SelfTest, SecureBoot). */
static const struct {
    uint8_t opcode;
    const char *name;
    uint16_t ms[3];
} exec_table[] = {
    {ATECC_OP_INFO, "info", {5, 5, 5}},
    {ATECC_OP_READ, "read", {5, 5, 5}},
    {ATECC_OP_WRITE, "write", {45, 45, 45}},
    {ATECC_OP_LOCK, "lock", {35, 35, 35}},
    {ATECC_OP_RANDOM, "random", {23, 23, 23}},
    {ATECC_OP_NONCE, "nonce", {20, 20, 20}},
    {ATECC_OP_GENKEY, "genkey", {115, 215, 653}},
    {ATECC_OP_SIGN, "sign", {115, 220, 665}},
    {ATECC_OP_VERIFY, "verify", {105, 295, 1085}},
    {ATECC_OP_ECDH, "ecdh", {75, 172, 531}},
    {ATECC_OP_SHA, "sha", {36, 42, 75}},
    {ATECC_OP_SELFTEST, "selftest", {250, 625, 2324}},
    {ATECC_OP_COUNTER, "counter", {25, 25, 25}},
    {ATECC_OP_UPDATEEXTRA, "updateextra", {10, 10, 10}},
    {ATECC_OP_GENDIG, "gendig", {25, 35, 35}},
    {ATECC_OP_CHECKMAC, "checkmac", {40, 40, 40}},
    {ATECC_OP_MAC, "mac", {55, 55, 55}},
    {ATECC_OP_KDF, "kdf", {165, 165, 165}},
    {ATECC_OP_AES, "aes", {27, 27, 27}},
    {ATECC_OP_PRIVWRITE, "privwrite", {50, 50, 50}},
    {ATECC_OP_SECUREBOOT, "secureboot", {80, 160, 480}},
    {ATECC_OP_DERIVEKEY, "derivekey", {50, 50, 50}},
};

/* Data zone: slots 0-7 of 36 bytes, slot 8 of 416, slots 9-15 of 72. */
static const uint16_t slot_bytes[16] = {
    36, 36, 36, 36, 36, 36, 36, 36, 416, 72, 72, 72, 72, 72, 72, 72,
};

unsigned emu_clock_divider(uint8_t chip_mode)
{
    /* ChipMode byte values 0x00 (M0), 0x28 (M1), 0x68 (M2) in bits 3-7;
     * any other pattern runs at M0. */
    uint8_t bits = chip_mode & 0xF8u;
    return bits == 0x28u ? 1u : bits == 0x68u ? 2u : 0u;
}

unsigned emu_exec_max_ms(uint8_t opcode, unsigned divider)
{
    if (divider > 2)
        return 0;
    for (size_t i = 0; i < sizeof(exec_table) / sizeof(exec_table[0]); i++)
        if (exec_table[i].opcode == opcode)
            return exec_table[i].ms[divider];
    return 0;
}

unsigned emu_slot_bytes(unsigned slot)
{
    return slot < sizeof(slot_bytes) / sizeof(slot_bytes[0]) ? slot_bytes[slot] : 0;
}

const char *emu_opcode_name(uint8_t opcode)
{
    for (size_t i = 0; i < sizeof(exec_table) / sizeof(exec_table[0]); i++)
        if (exec_table[i].opcode == opcode)
            return exec_table[i].name;
    return NULL;
}
