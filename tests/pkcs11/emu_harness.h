/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider's unit tests against the in-process ATECC608 emulator: the
 * real chip adapter (pkcs11/chip_atecc.c) and driver talk to an emu_chip
 * through the driver's "inproc:" transport, with a virtual clock shared by
 * driver and emulator (the pattern of tests/driver/harness.c, copied: that
 * file belongs to the driver's tests).
 *
 * A gate lets a test hold a chip call inside the transport, to observe
 * what other threads can do meanwhile (the module lock must be free).
 * Must never: reach into the emulator beyond emu.h.
 */
#ifndef TRUSTLINK_P11_EMU_HARNESS_H
#define TRUSTLINK_P11_EMU_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "atecc608/atecc608.h"
#include "emu.h"

struct p11_emu {
    _Atomic uint64_t now_us;
    struct atecc_clock clock;
    struct emu_clock emu_clock;
    pthread_mutex_t bus_mutex;     /* an emu_chip is not thread-safe */
    struct emu_chip *chip;
    struct atecc_options options;
    char lock_dir[64];
    /* Gate: while armed, the next bus write blocks until released. */
    pthread_mutex_t gate_mutex;
    pthread_cond_t gate_cond;
    bool gate_armed;
    bool gate_holding;             /* a thread is blocked in the gate */
};

/* Trust&GO profile; installs the options into the chip adapter. */
struct p11_emu *p11_emu_new(void);
void p11_emu_free(struct p11_emu *e);
/* "inproc:@0x35", for pkcs11.json. */
const char *p11_emu_interface(void);
/* A second driver handle on the same chip (to read what the chip says). */
struct atecc_device *p11_emu_open_device(struct p11_emu *e);
uint64_t p11_emu_commands(struct p11_emu *e);

void p11_emu_gate_arm(struct p11_emu *e);
/* Waits (bounded: false after 30 s) until a thread is held in the gate. */
bool p11_emu_gate_wait_held(struct p11_emu *e);
void p11_emu_gate_release(struct p11_emu *e);

/* OpenSSL check of a raw R||S signature over digest with raw X||Y key. */
bool p11_emu_p256_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64]);

struct p11_emu_fixture {
    char *dir;            /* temp dir: pkcs11.json and the store */
    char *conf;           /* path of pkcs11.json */
    char store_dir[512];  /* <dir>/token0 */
    struct p11_emu *emu;
};

/* Setup: in-process emulator (Trust&GO), token "trustlink" with
 * key_slots [0] and free_slots [2,3] stored in <dir>/token0,
 * TRUSTLINK_PKCS11_CONF pointing at it, C_Initialize. *state is a
 * struct p11_emu_fixture. */
int p11_emu_fixture_setup(void **state);
/* C_Finalize, emulator and temp dir gone. */
int p11_emu_fixture_teardown(void **state);

#endif
