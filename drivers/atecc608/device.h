/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The private device record and the helpers every layer above the
 * transport shares. Owns nothing by itself; device.c creates and frees it.
 * Must never be exposed to callers (atecc608.h keeps it opaque).
 */
#ifndef ATECC608_DEVICE_H
#define ATECC608_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "atecc608/atecc608.h"
#include "buslock.h"
#include "interface.h"
#include "ready.h"
#include "transport.h"

struct atecc_sign_engine;

struct atecc_device {
    pthread_mutex_t mutex;        /* serialises every public call */
    struct atecc_transport tp;
    struct atecc_clock clock;
    struct atecc_iface iface;
    struct atecc_buslock lock;
    char interface[ATECC_IFACE_PATH_MAX + 64];
    unsigned retries;

    enum atecc_chip_model model;
    uint8_t revision[4];
    uint8_t config[ATECC_CONFIG_SIZE];
    bool config_valid;
    enum atecc_clock_divider divider;

    enum atecc_wake_state state;
    uint64_t wake_us;             /* clock time of the wake pulse */
    /* Bumped by every public call bracket (ops_zone.c): the sign engine
     * compares it to learn whether the window it left open during its
     * linger is still its own. Guarded by mutex. */
    uint64_t window_gen;
    /* Set when a call returns with its window left open for the caller's
     * next command (Nonce): the next window_begin must not hand the bus
     * over. Guarded by mutex. */
    bool keep_window;
    /* This call continues such a window (a Nonce from the caller's last
     * call is waiting in the chip): it must not hand the bus over either.
     * Guarded by mutex. */
    bool pair_pending;
    /* The current hold of the bus lock (fair sharing, exec.c): when it
     * began on the device clock, and how many wake windows it has opened.
     * Guarded by mutex. */
    uint64_t hold_start_us;
    unsigned hold_windows;

    /* When each opcode's response was found in earlier executions
     * (ready.h): the next execution polls first there. Guarded by mutex. */
    struct atecc_ready ready[256];

    enum atecc_sign_policy sign_policy; /* never DEFAULT after open */
    unsigned linger_us;                 /* 0 = none */
    struct atecc_sign_engine *engine;   /* TUNED only; own lock inside */

    struct atecc_stats stats;
    /* Detail of the latest failure, for composing the next message
     * (exec_give_up); callers get theirs from atecc_error_detail(). Guarded
     * by mutex. */
    char last_error[ATECC_DETAIL_MAX];
};

/* Sets dev->last_error and the calling thread's detail
 * (atecc_error_detail) (printf format) and returns err. */
atecc_err atecc_fail(struct atecc_device *dev, atecc_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the calling thread's detail only (printf format). */
void atecc_detail_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t atecc_now(struct atecc_device *dev);
void atecc_sleep_for(struct atecc_device *dev, uint64_t us);
/* Returns once the device clock reaches deadline_us, as closely as the
 * clock can (atecc_clock.wait_until_us); for waits whose end is known. */
void atecc_wait_until(struct atecc_device *dev, uint64_t deadline_us);
/* A chip duration in ms, scaled by the bus's time scale, in us. */
uint64_t atecc_chip_us(const struct atecc_device *dev, uint64_t ms);

/* Config-zone helpers over the cache (valid after open). */
uint16_t atecc_cfg_u16(const struct atecc_device *dev, unsigned offset);
uint16_t atecc_slot_config(const struct atecc_device *dev, unsigned slot);
uint16_t atecc_key_config(const struct atecc_device *dev, unsigned slot);
bool atecc_config_locked(const struct atecc_device *dev);
bool atecc_data_locked(const struct atecc_device *dev);
bool atecc_slot_is_locked(const struct atecc_device *dev, unsigned slot);

#endif
