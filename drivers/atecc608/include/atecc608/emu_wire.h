/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Framing of the atecc608-emu unix socket: a simulated I2C bus.
 *
 * This is the contract between the emulator daemon and every bus master
 * that talks to it (the driver's emu transport, the test-only i2c-dev
 * shim). It carries I2C transactions, never chip commands: the chip's own
 * byte protocol (word address, count, CRC) travels inside WRITE and READ
 * payloads exactly as it would on the wire.
 *
 * Stream socket, request/reply in lockstep, one transaction per request.
 * Several clients may connect; the daemon serves one request at a time,
 * like a single bus. All integers are little-endian.
 *
 * Request:  op(1) addr(1) flags(1) reserved(1)=0 length(2) payload(length)
 * Reply:    result(1) reserved(1)=0 length(2) payload(length)
 *
 * op EMU_WIRE_OP_HELLO: addr, flags, length 0. Reply ACK with a
 *     struct-free payload of 12 bytes: wire version (u32), bus speed in Hz
 *     (u32), time scale in thousandths (u32; 1000 = real time, 0 = instant).
 * op EMU_WIRE_OP_WRITE: a master write of `length` bytes to the 7-bit
 *     address `addr`. Reply ACK (every byte acknowledged), NAK_ADDR (the
 *     address phase was not acknowledged: no such device, asleep, or busy
 *     executing) or NAK_DATA (a data byte was refused); payload empty.
 *     flags EMU_WIRE_IGNORE_NAK: the master goes on clocking the data bytes
 *     after a NAK (Linux I2C_M_IGNORE_NAK); the reply is then ACK.
 * op EMU_WIRE_OP_READ: a master read of `length` bytes from `addr`; no
 *     payload. Reply ACK with exactly `length` bytes, or NAK_ADDR empty.
 * op EMU_WIRE_OP_FAULT: payload is a fault specification in text (see
 *     `atecc608-emu --help`); reply ACK, or ERROR with a message.
 * op EMU_WIRE_OP_STATS: addr, flags, length 0. Reply ACK with the chip's
 *     counters since the daemon started (never reset; a client takes the
 *     difference of two replies):
 *       u32 layout version (EMU_WIRE_STATS_LAYOUT)
 *       u32 N, the number of counters before the opcode table
 *       u64 counter[N], indexed by enum emu_wire_stat
 *       u64 by_opcode[256], commands with a good count and CRC by opcode
 *     A later daemon may append counters (N grows, the opcode table moves
 *     behind them): a client reads the ones it knows and finds the table
 *     at 8 + 8 N. The request is not a bus transaction: it changes no
 *     counter and takes no bus time. Added after wire version 1 without
 *     changing it (no existing client sends 'S'); a daemon without it
 *     answers ERROR "unknown op" and closes the connection, which is how
 *     a client tells it apart.
 * Any malformed request gets result ERROR and a text message as payload;
 *     the daemon then closes that connection.
 *
 * Wake: SDA held low for at least tWLO wakes a sleeping or idle chip. A
 * write to address 0x00 holds SDA low for its 8 address-phase bit times
 * (7 zero address bits and the write bit); with IGNORE_NAK each following
 * zero data byte adds 9 bit times (CHOICE in shared/atecc608.md: a stream
 * of zero bytes counts as one low period). The emulator converts bit times
 * to microseconds with its bus speed and wakes the chip when the result is
 * at least 60 us. At 100 kHz the plain 1-byte write to address 0x00 (NAK
 * at the address phase) is 80 us and wakes; at 400 kHz it needs 2 more
 * zero bytes with IGNORE_NAK.
 *
 * Time: the daemon spends each transaction's bus time, (bytes + 1) x 9 bits
 * / bus speed, times the time scale, before it replies.
 */
#ifndef ATECC608_EMU_WIRE_H
#define ATECC608_EMU_WIRE_H

enum {
    EMU_WIRE_VERSION = 1,
    EMU_WIRE_REQUEST_HEADER = 6,
    EMU_WIRE_REPLY_HEADER = 4,
    EMU_WIRE_PAYLOAD_MAX = 4096,
    EMU_WIRE_HELLO_PAYLOAD = 12,
    EMU_WIRE_STATS_LAYOUT = 1,
    EMU_WIRE_STATS_OPCODES = 256,
};

/* Counter indexes in a STATS reply (meanings: struct emu_stats, emu.h). */
enum emu_wire_stat {
    EMU_WIRE_STAT_WAKE_PULSES,
    EMU_WIRE_STAT_WAKES,
    EMU_WIRE_STAT_IGNORED_WAKES,
    EMU_WIRE_STAT_TRANSACTIONS,
    EMU_WIRE_STAT_BYTES_TO_CHIP,
    EMU_WIRE_STAT_BYTES_FROM_CHIP,
    EMU_WIRE_STAT_NAKS,
    EMU_WIRE_STAT_COMMANDS,
    EMU_WIRE_STAT_IDLES,
    EMU_WIRE_STAT_SLEEPS,
    EMU_WIRE_STAT_WATCHDOG_EXPIRIES,
    EMU_WIRE_STAT_BUSY_US,
    EMU_WIRE_STAT_FAULTS_INJECTED,
    EMU_WIRE_STAT_COUNT
};

/* Size of a STATS reply with n counters. */
#define EMU_WIRE_STATS_PAYLOAD(n) (8u + 8u * (unsigned)(n) + 8u * EMU_WIRE_STATS_OPCODES)

enum emu_wire_op {
    EMU_WIRE_OP_HELLO = 'H',
    EMU_WIRE_OP_WRITE = 'W',
    EMU_WIRE_OP_READ = 'R',
    EMU_WIRE_OP_FAULT = 'F',
    EMU_WIRE_OP_STATS = 'S',
};

enum emu_wire_flags {
    EMU_WIRE_IGNORE_NAK = 0x01,
};

enum emu_wire_result {
    EMU_WIRE_ACK = 0,
    EMU_WIRE_NAK_ADDR = 1,
    EMU_WIRE_NAK_DATA = 2,
    EMU_WIRE_ERROR = 3,
};

#endif
