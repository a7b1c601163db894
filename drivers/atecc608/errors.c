/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one table of driver errors: status byte -> atecc_err -> message.
 * Must never hold per-device detail (that is device.c's last_error).
 */
#include "atecc608/atecc608.h"

static const struct {
    atecc_err err;
    int status;           /* chip status byte, -1 when none */
    const char *message;
} atecc_error_table[] = {
    { ATECC_OK, ATECC_STATUS_SUCCESS, "success" },
    { ATECC_E_ARGUMENT, -1, "invalid argument" },
    { ATECC_E_INTERFACE, -1, "interface string does not parse" },
    { ATECC_E_OPEN, -1, "cannot open the bus device or socket" },
    { ATECC_E_NO_DEVICE, -1, "no ATECC608 answered (no wake response)" },
    { ATECC_E_BUS, -1, "I/O error on the bus" },
    { ATECC_E_TIMEOUT, -1, "no response within the maximum execution time" },
    { ATECC_E_RESPONSE, -1, "malformed response (count byte out of range)" },
    { ATECC_E_CRC, -1, "response CRC wrong after every retry" },
    { ATECC_E_BUS_LOCK, -1, "the inter-process bus lock failed" },
    { ATECC_E_NOMEM, -1, "out of memory" },
    { ATECC_E_MISCOMPARE, ATECC_STATUS_MISCOMPARE, "chip status 0x01: verify/checkmac miscompare" },
    { ATECC_E_PARSE, ATECC_STATUS_PARSE_ERROR,
      "chip status 0x03: parse error (bad opcode, parameter or length)" },
    { ATECC_E_ECC_FAULT, ATECC_STATUS_ECC_FAULT, "chip status 0x05: ECC fault (after every retry)" },
    { ATECC_E_SELFTEST, ATECC_STATUS_SELFTEST_ERROR,
      "chip status 0x07: self-test failure, the chip is in failure mode" },
    { ATECC_E_HEALTH_TEST, ATECC_STATUS_HEALTH_TEST_ERROR, "chip status 0x08: RNG health test failed" },
    { ATECC_E_EXECUTION, ATECC_STATUS_EXECUTION_ERROR,
      "chip status 0x0F: execution error (policy or state forbids it)" },
    { ATECC_E_AFTER_WAKE, ATECC_STATUS_AFTER_WAKE,
      "chip status 0x11: wake token where a command response was due" },
    { ATECC_E_WATCHDOG, ATECC_STATUS_WATCHDOG_ABOUT_TO_EXPIRE,
      "chip status 0xEE: watchdog about to expire" },
    { ATECC_E_CHIP_CRC, ATECC_STATUS_CRC_ERROR,
      "chip status 0xFF: the chip saw a bad CRC or communication error (after every retry)" },
    { ATECC_E_STATUS_UNKNOWN, -1, "chip returned an undocumented status byte" },
    { ATECC_E_ZONE_LOCKED, -1, "the zone is locked" },
    { ATECC_E_ZONE_UNLOCKED, -1, "the operation needs a locked zone" },
    { ATECC_E_SLOT_LOCKED, -1, "the slot is locked" },
    { ATECC_E_SLOT_NOT_READABLE, -1, "the slot is secret and cannot be read" },
    { ATECC_E_SLOT_POLICY, -1, "the slot's SlotConfig/KeyConfig forbids this operation" },
};

const char *atecc_strerror(atecc_err err)
{
    for (size_t i = 0; i < sizeof(atecc_error_table) / sizeof(atecc_error_table[0]); i++)
        if (atecc_error_table[i].err == err)
            return atecc_error_table[i].message;
    return "unknown driver error";
}

atecc_err atecc_err_from_status(uint8_t status)
{
    for (size_t i = 0; i < sizeof(atecc_error_table) / sizeof(atecc_error_table[0]); i++)
        if (atecc_error_table[i].status == status)
            return atecc_error_table[i].err;
    return ATECC_E_STATUS_UNKNOWN;
}
