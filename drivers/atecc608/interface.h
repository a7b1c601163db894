/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interface strings: "i2c:/dev/i2c-1@0x35[?bus_hz=400000]",
 * "emu:/run/trustlink/atecc608.sock[@0x35]" and (tests) "inproc:[@0x35]".
 * Owns the grammar, the defaults and the words of every parse error.
 * Must never open anything.
 *
 * CHOICE: i2c needs an explicit address (a wrong guess would talk to some
 * other part on a real bus); emu and inproc default to 0x35, the address
 * of the emulator's Trust&GO profile.
 */
#ifndef ATECC608_INTERFACE_H
#define ATECC608_INTERFACE_H

#include <stddef.h>
#include <stdint.h>

#include "atecc608/atecc608.h"

enum atecc_scheme {
    ATECC_SCHEME_I2C,
    ATECC_SCHEME_EMU,
    ATECC_SCHEME_INPROC,
};

enum {
    ATECC_IFACE_PATH_MAX = 256,
    ATECC_IFACE_ADDR_MIN = 0x08,
    ATECC_IFACE_ADDR_MAX = 0x77,
    ATECC_IFACE_DEFAULT_ADDR = 0x35,
    ATECC_IFACE_DEFAULT_BUS_HZ = 100000,
    ATECC_IFACE_BUS_HZ_MIN = 1000,
    ATECC_IFACE_BUS_HZ_MAX = 1000000,
};

struct atecc_iface {
    enum atecc_scheme scheme;
    char path[ATECC_IFACE_PATH_MAX];
    uint8_t addr7;
    uint32_t bus_hz;        /* i2c only; 0 elsewhere (the bus reports it) */
};

atecc_err atecc_iface_parse(const char *text, struct atecc_iface *out, char *detail,
                            size_t detail_len);

#endif
