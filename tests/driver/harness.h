/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test harness shared by the driver's emulator-based tests: a virtual
 * clock that the driver (atecc_clock) and the emulator (emu_clock) both
 * read and advance, and an "inproc:" transport that forwards raw bus
 * transactions to an in-process emu_chip under a mutex. Must never reach
 * into the emulator beyond its public emu.h.
 */
#ifndef TESTS_DRIVER_HARNESS_H
#define TESTS_DRIVER_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "atecc608/atecc608.h"
#include "emu.h"
#include "transport.h"

struct harness {
    _Atomic uint64_t now_us;
    struct atecc_clock clock;
    struct emu_clock emu_clock;
    pthread_mutex_t bus_mutex;   /* an emu_chip is not thread-safe */
    /* Which threads advanced the clock since harness_forget_clock_user. */
    pthread_mutex_t user_mutex;
    pthread_t clock_user;
    unsigned clock_users;        /* 0, 1, or 2 = more than one thread */
    struct emu_chip *chip;
    char lock_dir[64];
};

extern const struct atecc_transport_ops harness_ops;

/* profile, revision (0 = default). Returns NULL on failure. */
struct harness *harness_new(enum emu_profile profile, uint8_t revision);
/* The same with a chosen time scale (1 = datasheet timing on the virtual
 * clock, 0 = instant and no watchdog) and fault seed. */
struct harness *harness_new_scaled(enum emu_profile profile, uint8_t revision, double time_scale,
                                   uint64_t seed);
/* The Trust&GO profile on a part provisioned with the long watchdog
 * (ChipMode bit 2, ~13 s), datasheet timing on the virtual clock. */
struct harness *harness_new_long_watchdog(void);
void harness_free(struct harness *h);
/* Options wired to h: virtual clock, inproc ops, private lock dir. */
struct atecc_options harness_options(struct harness *h);
/* Opens "inproc:@ADDR" on h; asserts success. */
struct atecc_device *harness_open(struct harness *h, uint8_t addr7);
void harness_fault(struct harness *h, const char *spec);
struct emu_stats harness_emu_stats(struct harness *h);

/* Starts recording which threads advance the virtual clock. */
void harness_forget_clock_user(struct harness *h);
/* True if the calling thread, and no other, advanced it since. */
bool harness_clock_used_only_by_this_thread(struct harness *h);

/* OpenSSL check of a raw R||S signature over digest with raw X||Y key. */
bool harness_p256_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64]);

#endif
