/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for the emulator's unit tests: a virtual clock, packet
 * framing from the facts sheet (count, opcode, params, data, CRC-16), and a
 * bus master that drives the chip only through emu_bus_write/emu_bus_read.
 * Written for the tests on purpose: the driver is never used here, so the
 * emulator and the driver cannot share a mistake.
 */
#ifndef EMU_TEST_UTIL_H
#define EMU_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atecc608/protocol.h"
#include "emu.h"

struct t_vclock {
    uint64_t now_us;
    uint64_t slept_us;        /* time the chip asked to sleep (sleep_us) */
    uint64_t waits;           /* calls of either sleep */
    uint64_t last_deadline_us; /* the last wait_until_us deadline */
    uint64_t oversleep_us;    /* every sleep returns this much late */
};

struct t_chip {
    struct t_vclock vclock;
    struct emu_clock clock;
    struct emu_chip *chip;
    uint8_t addr;
    uint32_t bus_hz;
};

struct t_open_args {
    enum emu_profile profile;
    double time_scale;
    double typical_factor;
    uint32_t bus_hz;
    uint8_t revision;
    uint64_t seed;
    const char *state_path;
    bool long_watchdog;
    /* Give the chip the clock's wait_until_us (else it has only sleep_us). */
    bool absolute_waits;
};

/* Opens a chip on a virtual clock; asserts on failure. */
void t_open(struct t_chip *t, const struct t_open_args *args);
void t_open_profile(struct t_chip *t, enum emu_profile profile);
void t_close(struct t_chip *t);
void t_advance(struct t_chip *t, uint64_t us);

/* Word address 0x03 + command packet into out; returns its length. */
size_t t_frame(uint8_t *out, size_t cap, uint8_t opcode, uint8_t param1, uint16_t param2,
               const uint8_t *data, size_t len);

/* A wake pulse at the chip's bus speed (1-byte write to address 0x00, plus
 * extra_zero_bytes with IGNORE_NAK), then tWHI on the virtual clock. */
void t_wake_pulse(struct t_chip *t, size_t extra_zero_bytes);
/* Wake pulse + 4-byte read; true when the chip answered 04 11 33 43. */
bool t_wake(struct t_chip *t);
enum emu_bus_result t_word(struct t_chip *t, uint8_t word);

enum emu_bus_result t_send(struct t_chip *t, uint8_t opcode, uint8_t param1, uint16_t param2,
                           const uint8_t *data, size_t len);
/*
 * Reads a response as a host would: word address 0x00 (NAK = busy: advance
 * 1 ms and retry, bounded), 1-byte count, count-1 bytes. Returns the count
 * (rsp holds count..CRC), or -1 if the chip never answered, -2 bad count.
 */
int t_receive(struct t_chip *t, uint8_t *rsp, size_t cap);
/* t_send + t_receive; asserts the send is ACKed and the CRC is right. */
int t_exec(struct t_chip *t, uint8_t opcode, uint8_t param1, uint16_t param2, const uint8_t *data,
           size_t len, uint8_t *rsp, size_t cap);
/* t_exec expecting a status group (count 4); returns the status byte. */
uint8_t t_status(struct t_chip *t, uint8_t opcode, uint8_t param1, uint16_t param2,
                 const uint8_t *data, size_t len);
/* t_exec expecting out_len output bytes, copied to out. */
void t_output(struct t_chip *t, uint8_t opcode, uint8_t param1, uint16_t param2, const uint8_t *data,
              size_t len, uint8_t *out, size_t out_len);

/* Convenience commands (the chip must be awake). */
void t_nonce_passthrough(struct t_chip *t, uint8_t mode, const uint8_t *msg, size_t len);
void t_genkey(struct t_chip *t, uint16_t slot, uint8_t pub[64]);
void t_pubkey(struct t_chip *t, uint16_t slot, uint8_t pub[64]);
void t_read_config(struct t_chip *t, uint8_t config[128]);
/* ChipMode (config byte 19), from a 32-byte Read of config block 0. */
uint8_t t_read_chip_mode(struct t_chip *t);
/* Write 4 config bytes at offset (a multiple of 4). */
uint8_t t_write_config_word(struct t_chip *t, unsigned offset, const uint8_t word[4]);

/* Host-side OpenSSL checks, independent of the emulator. */
bool t_openssl_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64]);
/* A fresh P-256 peer: its public key, and the ECDH X with chip_pub. */
void t_openssl_ecdh_peer(const uint8_t chip_pub[64], uint8_t peer_pub[64], uint8_t shared[32]);
void t_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* A fresh temporary directory (mkdtemp) and its removal. */
void t_tmpdir(char *out, size_t cap);
void t_rmdir(const char *dir);

#endif
