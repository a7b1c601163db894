/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator internals: the chip structure and the narrow interfaces between
 * the emulator's files. Nothing outside drivers/atecc608/emu includes this.
 *
 * Ownership by file:
 *   emu_chip.c      bus state machine (wake, word addresses, I/O counter,
 *                   NAKs, watchdog, busy time), command framing, open/close
 *   emu_commands.c  command handlers and their status bytes
 *   emu_zones.c     zone layout, addressing, lock bits, slot/key policy
 *   emu_crypto.c    P-256, SHA-256 and RNG through OpenSSL 3
 *   emu_timing.c    execution and bus durations, waits on the chip's clock
 *   emu_clock.c     the real clock (CLOCK_MONOTONIC, precise waits)
 *   emu_fault.c     fault-injection rules
 *   emu_state.c     the persistent state file
 *   emu_profile.c   factory profiles
 */
#ifndef ATECC608_EMU_INTERNAL_H
#define ATECC608_EMU_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atecc608/protocol.h"
#include "emu.h"
#include "emu_clock.h"

/* Data zone: slots 0-7 of 36 B, slot 8 of 416 B, slots 9-15 of 72 B. */
enum {
    EMU_DATA_ZONE_SIZE = 8 * 36 + 416 + 7 * 72, /* 1208 */
    /*
     * CHOICE (layout not published): a P-256 private key lives in its slot
     * as 4 zero pad bytes then the 32-byte big-endian scalar, the same
     * shape the datasheet gives PrivWrite's input.
     */
    EMU_PRIVKEY_OFFSET = 4,
    /* A stored P-256 public key (72-byte slots): pad(4) X(32) pad(4) Y(32). */
    EMU_PUBKEY_SLOT_SIZE = 72,
    EMU_ERR_MAX = 256,
};

/* Default typical/maximum execution-time factor (see emu_timing.c). */
#define EMU_TYPICAL_FACTOR_DEFAULT 0.6

struct emu_zones {
    uint8_t config[ATECC_CONFIG_SIZE];
    uint8_t otp[ATECC_OTP_SIZE];
    uint8_t data[EMU_DATA_ZONE_SIZE];
    uint16_t key_valid; /* bit N: slot N holds a generated private key */
};

/* Volatile buffers: lost on sleep and watchdog expiry, kept across idle. */
struct emu_volatile {
    uint8_t tempkey[64];
    bool tempkey_valid;
    bool tempkey_64;
    uint8_t msgdigest[64];
    bool msgdigest_valid;
    uint8_t altkey[32];
    bool altkey_valid;
};

enum emu_fault_kind {
    EMU_FAULT_CRC,
    EMU_FAULT_NAK,
    EMU_FAULT_NOWAKE,
    EMU_FAULT_ECC,
    EMU_FAULT_WATCHDOG,
    EMU_FAULT_FLIP,
    EMU_FAULT_KIND_COUNT
};

enum { EMU_FAULT_RULES_MAX = 32 };

struct emu_fault_rule {
    enum emu_fault_kind kind;
    bool nth;            /* true: fires once on the countdown-th event */
    uint64_t countdown;
    double probability;  /* when !nth */
};

struct emu_faults {
    struct emu_fault_rule rules[EMU_FAULT_RULES_MAX];
    size_t count;
    uint64_t rng;        /* xorshift64* state, from options.seed */
};

enum emu_power {
    EMU_POWER_ASLEEP,
    EMU_POWER_IDLE,
    EMU_POWER_AWAKE,
};

struct emu_chip {
    struct emu_zones zones;
    struct emu_volatile vol;
    struct emu_faults faults;
    struct emu_stats stats;
    struct emu_clock clock;
    char *state_path;
    enum emu_profile profile;
    uint32_t bus_hz;
    double time_scale;
    double typical_factor;
    uint8_t revision;

    enum emu_power power;
    uint8_t addr7;            /* chosen at power-up and at every sleep */
    uint64_t ready_at_us;     /* tWHI after the wake */
    uint64_t busy_until_us;   /* end of the current command's execution */
    bool watchdog_armed;
    uint64_t watchdog_at_us;
    bool partial;             /* a command shorter than its count byte */

    uint8_t out[ATECC_RSP_MAX];
    size_t out_len;
    size_t io_pos;            /* I/O address counter into out */

    bool persist_failed;
    char last_error[EMU_ERR_MAX];
};

/* A parsed command handed to the handlers. */
struct emu_cmd {
    uint8_t opcode;
    uint8_t param1;
    uint16_t param2;
    const uint8_t *data;
    size_t data_len;
};

/* A handler's output: 1 byte is a status (or SelfTest's result byte). */
struct emu_rsp {
    uint8_t data[64];
    size_t len;
};

/* emu_commands.c */
void emu_command_run(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp);

/* emu_zones.c */
unsigned emu_slot_offset(unsigned slot);
uint16_t emu_slot_config(const struct emu_chip *chip, unsigned slot);
uint16_t emu_key_config(const struct emu_chip *chip, unsigned slot);
bool emu_config_locked(const struct emu_chip *chip);
bool emu_data_locked(const struct emu_chip *chip);
bool emu_slot_locked(const struct emu_chip *chip, unsigned slot);
bool emu_slot_is_p256_private(const struct emu_chip *chip, unsigned slot);
uint8_t emu_chip_address_from_config(const struct emu_chip *chip);
uint8_t emu_zone_read(struct emu_chip *chip, uint8_t param1, uint16_t param2, struct emu_rsp *rsp);
uint8_t emu_zone_write(struct emu_chip *chip, uint8_t param1, uint16_t param2,
                       const uint8_t *data, size_t len);
uint8_t emu_zone_lock(struct emu_chip *chip, uint8_t param1, uint16_t param2);
uint8_t *emu_slot_privkey(struct emu_chip *chip, unsigned slot);
/* Saves the state file if there is one; false (and last_error) on failure. */
bool emu_zones_commit(struct emu_chip *chip);

/* emu_crypto.c: 0 on success, -1 on failure unless stated. */
int emu_random_bytes(uint8_t *out, size_t len);
int emu_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
int emu_p256_keygen(uint8_t priv[32], uint8_t pub[64]);
int emu_p256_public(const uint8_t priv[32], uint8_t pub[64]);
int emu_p256_sign(const uint8_t priv[32], const uint8_t digest[32], uint8_t sig[64]);
/* 1 valid, 0 invalid signature, -1 public key not a P-256 point. */
int emu_p256_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64]);
/* -1 when the peer key is not a P-256 point. */
int emu_p256_ecdh(const uint8_t priv[32], const uint8_t peer[64], uint8_t shared[32]);
void emu_cleanse(void *ptr, size_t len);

/* emu_timing.c */
uint64_t emu_now_us(struct emu_chip *chip);
/* Returns once the chip's clock has reached deadline_us (maybe later). */
void emu_wait_until(struct emu_chip *chip, uint64_t deadline_us);
uint64_t emu_exec_us(const struct emu_chip *chip, uint8_t opcode);
uint64_t emu_bus_us(const struct emu_chip *chip, size_t bytes);
uint64_t emu_scaled_us(const struct emu_chip *chip, uint64_t real_us);
uint64_t emu_watchdog_us(const struct emu_chip *chip);

/* emu_fault.c */
void emu_faults_init(struct emu_faults *faults, uint64_t seed);
/* Counts one event: a command (crc/nak/ecc/watchdog) or a wake pulse
 * (nowake). Returns a bit mask of the kinds that fire on it. */
unsigned emu_faults_on_command(struct emu_faults *faults);
bool emu_faults_on_wake(struct emu_faults *faults);
/* Counts one response that carries data beyond a status byte (flip). */
bool emu_faults_on_data_response(struct emu_faults *faults);

/* emu_state.c */
int emu_state_load(struct emu_zones *zones, const char *path, char *err, size_t err_len);
int emu_state_save(const struct emu_zones *zones, const char *path, char *err, size_t err_len);

/* emu_profile.c */
int emu_profile_build(struct emu_zones *zones, enum emu_profile profile, uint8_t revision,
                      char *err, size_t err_len);

#endif
