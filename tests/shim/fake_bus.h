/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A scripted emu_wire peer for the shim's own tests: a thread serving the
 * atecc608-emu socket framing (atecc608/emu_wire.h) with fixed devices,
 * so the shim's mapping of i2c-dev calls to wire transactions is checked
 * exactly, without the real emulator. Test code only.
 *
 * Devices: FAKE_ADDR_ACK acknowledges every write and answers reads with
 * bytes 0, 1, 2, ...; FAKE_ADDR_DATA_NAK acknowledges its address but
 * refuses data bytes; every other address NAKs (an IGNORE_NAK write is
 * then ACKed, as the wire format says).
 */
#ifndef TRUSTLINK_TESTS_FAKE_BUS_H
#define TRUSTLINK_TESTS_FAKE_BUS_H

#include <stddef.h>
#include <stdint.h>

enum {
    FAKE_ADDR_ACK = 0x35,
    FAKE_ADDR_DATA_NAK = 0x36,
    FAKE_LOG_MAX = 64,
    FAKE_LOG_DATA = 16,
};

struct fake_txn {
    uint8_t op, addr, flags;
    size_t len;
    uint8_t data[FAKE_LOG_DATA]; /* first bytes of a WRITE payload */
};

struct fake_bus;

/* Starts serving on socket_path. NULL on failure. */
struct fake_bus *fake_bus_start(const char *socket_path);
void fake_bus_stop(struct fake_bus *bus);

/* Closes every client connection at its next request (a daemon that is
 * gone) when on. */
void fake_bus_set_drop(struct fake_bus *bus, int on);

/* Transactions seen (HELLO included), oldest first; clear resets. */
size_t fake_bus_log(struct fake_bus *bus, struct fake_txn *out, size_t cap);
void fake_bus_clear(struct fake_bus *bus);

#endif
