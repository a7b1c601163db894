/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ATECC608 driver: the public API.
 *
 * A plain C library that talks to one chip over a transport ("i2c:" for
 * Linux i2c-dev, "emu:" for the atecc608-emu socket). It knows nothing of
 * PKCS#11, TLS or MQTT. Every function returns an atecc_err; a human
 * message with the specifics (which device, which address, how many tries)
 * comes with it, per thread, from atecc_error_detail().
 *
 * Thread safety: one atecc_device may be used from several threads; calls
 * are serialised by a per-device mutex. Between processes, a bus lock
 * (flock on a per-bus-and-address lock file) is held for a whole wake
 * window, so no other process can split a Nonce from the Sign using it.
 */
#ifndef ATECC608_ATECC608_H
#define ATECC608_ATECC608_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atecc608/protocol.h"

typedef enum atecc_err {
    ATECC_OK = 0,
    ATECC_E_ARGUMENT,        /* a caller error: NULL, out of range */
    ATECC_E_INTERFACE,       /* interface string does not parse */
    ATECC_E_OPEN,            /* bus device or socket cannot be opened */
    ATECC_E_NO_DEVICE,       /* nothing acknowledges / no wake response */
    ATECC_E_BUS,             /* I/O error on the bus */
    ATECC_E_TIMEOUT,         /* no response within the maximum execution time */
    ATECC_E_RESPONSE,        /* response malformed (count out of range) */
    ATECC_E_CRC,             /* response CRC wrong after every retry */
    ATECC_E_BUS_LOCK,        /* the inter-process bus lock failed */
    ATECC_E_NOMEM,
    /* One per chip status byte. */
    ATECC_E_MISCOMPARE,      /* 0x01: Verify/CheckMac miscompare */
    ATECC_E_PARSE,           /* 0x03: bad opcode, parameter or length */
    ATECC_E_ECC_FAULT,       /* 0x05: ECC fault (retries exhausted) */
    ATECC_E_SELFTEST,        /* 0x07: chip in self-test failure mode */
    ATECC_E_HEALTH_TEST,     /* 0x08: RNG health test failed */
    ATECC_E_EXECUTION,       /* 0x0F: forbidden by policy or state */
    ATECC_E_AFTER_WAKE,      /* 0x11 where a command response was due */
    ATECC_E_WATCHDOG,        /* 0xEE: watchdog about to expire */
    ATECC_E_CHIP_CRC,        /* 0xFF: the chip saw a bad CRC (retries exhausted) */
    ATECC_E_STATUS_UNKNOWN,  /* a status byte no document names */
    /* Execution errors the driver can explain from the config zone. */
    ATECC_E_ZONE_LOCKED,     /* write or lock to a locked zone */
    ATECC_E_ZONE_UNLOCKED,   /* operation needs a locked zone */
    ATECC_E_SLOT_LOCKED,     /* slot locked by Lock(slot) */
    ATECC_E_SLOT_NOT_READABLE, /* secret slot: reading is refused */
    ATECC_E_SLOT_POLICY,     /* slot's SlotConfig/KeyConfig forbids it */
    ATECC_E__COUNT
} atecc_err;

/* Static, never NULL. */
const char *atecc_strerror(atecc_err err);
/* Maps a chip status byte to its error (0x00 -> ATECC_OK). */
atecc_err atecc_err_from_status(uint8_t status);

/* Time source: tests drive a virtual clock shared with the emulator. */
struct atecc_clock {
    uint64_t (*now_us)(void *ctx);           /* monotonic microseconds */
    void (*sleep_us)(void *ctx, uint64_t us);
    void *ctx;
    /* Optional: return once now_us() >= deadline_us, as soon after it as
     * the platform allows (the default clock sleeps to just before it and
     * spins the rest). Used where the driver knows when the chip will be
     * ready. NULL: sleep_us(deadline_us - now_us()). */
    void (*wait_until_us)(void *ctx, uint64_t deadline_us);
};

enum atecc_chip_model {
    ATECC_MODEL_UNKNOWN = 0,
    ATECC_MODEL_608A,
    ATECC_MODEL_608B,
};

enum atecc_wake_state {
    ATECC_ASLEEP = 0,
    ATECC_IDLE,
    ATECC_AWAKE,
};

/*
 * How atecc_sign reaches the chip.
 *   TUNED (default): a sign engine. Callers of any thread queue their
 *     request and block; one worker per device drains the queue back to
 *     back inside one wake window and one bus-lock hold (a fresh Nonce
 *     before every Sign, idle + re-wake only when the watchdog demands it),
 *     and keeps the chip awake for a short linger after the queue runs
 *     dry. A caller that finds nothing queued and nobody signing signs in
 *     its own thread, in the same window. Responses are polled first where
 *     they were found in earlier runs of the same command (learned per
 *     opcode), reached with a precise wait.
 *   NAIVE: the baseline a straightforward driver is: wake before and idle
 *     after every command, wait the full maximum execution time, no queue,
 *     no polling. Kept for measurement only.
 * DEFAULT reads $TRUSTLINK_SIGN_POLICY ("tuned" or "naive") at atecc_open;
 * unset or anything else means TUNED.
 */
enum atecc_sign_policy {
    ATECC_SIGN_POLICY_DEFAULT = 0,
    ATECC_SIGN_POLICY_TUNED,
    ATECC_SIGN_POLICY_NAIVE,
};

/* sign_linger_us value that idles the chip as soon as the queue is empty. */
#define ATECC_SIGN_LINGER_NONE UINT_MAX
/* Default linger: see sign_engine.h for why 10 ms. */
#define ATECC_SIGN_LINGER_DEFAULT_US 10000u
/* Upper bound of the linger: it keeps the bus lock, so it must stay short
 * enough that other processes are never starved. */
#define ATECC_SIGN_LINGER_MAX_US 100000u

struct atecc_options {
    const struct atecc_clock *clock;  /* NULL = CLOCK_MONOTONIC, nanosleep, precise waits */
    /* Directory of the inter-process bus lock files: an absolute path to a
     * directory that is not world-writable. NULL or "":
     * ATECC_BUSLOCK_DIR_DEFAULT. No fallback: a directory that does not
     * qualify fails atecc_open with a message naming it. */
    const char *lock_dir;
    unsigned retries;                 /* resends after CRC/bus errors; 0 = default (3) */
    /* Transport for the in-process emulator (tests only): when set, the
     * interface string "inproc:[@ADDR]" uses it. Opaque here; defined in
     * drivers/atecc608/transport.h. The caller owns inproc_ctx. */
    const struct atecc_transport_ops *inproc_ops;
    void *inproc_ctx;
    /* Longest wait for the bus lock held by another process; 0 = 5000
     * (well below half of trustlinkd's WatchdogSec=30, see buslock.h). */
    unsigned lock_timeout_ms;
    /* Sign path (see enum atecc_sign_policy). */
    enum atecc_sign_policy sign_policy;
    /* Host time (CLOCK_MONOTONIC, microseconds) the sign engine keeps the
     * chip awake and the bus lock held after its queue empties, so the
     * next burst pays no wake. 0 = $TRUSTLINK_SIGN_LINGER_US if set, else
     * ATECC_SIGN_LINGER_DEFAULT_US; ATECC_SIGN_LINGER_NONE = no linger;
     * capped at ATECC_SIGN_LINGER_MAX_US. */
    unsigned sign_linger_us;
};

/* Default directory of the bus lock files: root-owned, mode 2770, group
 * of the chip users, created by the trustlink tmpfiles.d entry. */
#define ATECC_BUSLOCK_DIR_DEFAULT "/run/trustlink-lock"

struct atecc_device;

/*
 * Opens the chip named by an interface string:
 *   i2c:/dev/i2c-1@0x35[?bus_hz=400000]   Linux i2c-dev, 7-bit address
 *   emu:/run/trustlink/atecc608.sock[@0x35]  atecc608-emu socket
 * Opening talks to the chip once (wake, Info) to learn its model and clock
 * divider, then idles it. On failure *out is NULL and detail (if given)
 * says why in words a user can act on.
 */
atecc_err atecc_open(const char *interface, const struct atecc_options *options,
                     struct atecc_device **out, char *detail, size_t detail_len);
void atecc_close(struct atecc_device *dev);

/* The driver's datasheet tables (datasheet.c): data-zone slot sizes in
 * bytes (0: no such slot), the maximum execution time of an opcode at a
 * clock divider in ms (0: unknown opcode), and the divider ChipMode
 * selects. The emulator keeps tables of its own, on purpose. */
unsigned atecc_slot_size(unsigned slot);
unsigned atecc_max_exec_ms(uint8_t opcode, enum atecc_clock_divider divider);
enum atecc_clock_divider atecc_clock_divider_from_chipmode(uint8_t chip_mode);

/* Size of a failure detail, terminating NUL included. */
#define ATECC_DETAIL_MAX 512
/* Detail of the calling thread's latest failed driver call (like errno:
 * per thread, set by every call that fails, cleared by every call that
 * starts a wake window): which device, which address, how many tries.
 * A call made from another thread, on this device or any other, never
 * changes it, so it needs no lock and is never a neighbour's. Read it
 * right after the failing call. Never NULL; "" when nothing is known. */
const char *atecc_error_detail(void);

enum atecc_chip_model atecc_model(const struct atecc_device *dev);
const char *atecc_interface(const struct atecc_device *dev);
/* The chip's 7-bit I2C address on its bus. */
uint8_t atecc_address(const struct atecc_device *dev);

/* Wake-state tracking. */
enum atecc_wake_state atecc_wake_state(struct atecc_device *dev, uint64_t *awake_us);
atecc_err atecc_idle(struct atecc_device *dev);
atecc_err atecc_sleep(struct atecc_device *dev);

/* Operations. Buffers are sized by the protocol.h constants. */
atecc_err atecc_info_revision(struct atecc_device *dev, uint8_t revision[4]);
atecc_err atecc_serial(struct atecc_device *dev, uint8_t serial[ATECC_SERIAL_SIZE]);
atecc_err atecc_random(struct atecc_device *dev, uint8_t out[ATECC_RANDOM_SIZE]);

/* zone: ATECC_ZONE_CONFIG/OTP/DATA; slot only for data; len 4 or 32
 * (32 needs block alignment: offset 0). block is the 32-byte block index,
 * word the 4-byte word within it. */
atecc_err atecc_read(struct atecc_device *dev, uint8_t zone, uint8_t slot, uint8_t block,
                     uint8_t word, uint8_t *out, size_t len);
atecc_err atecc_write(struct atecc_device *dev, uint8_t zone, uint8_t slot, uint8_t block,
                      uint8_t word, const uint8_t *data, size_t len);
atecc_err atecc_read_config(struct atecc_device *dev, uint8_t config[ATECC_CONFIG_SIZE]);

/* Lock the config zone or the data+OTP zones. expected_crc: the CRC of the
 * zone contents the caller expects, or NULL to skip the check. */
atecc_err atecc_lock_config(struct atecc_device *dev, const uint16_t *expected_crc);
atecc_err atecc_lock_data(struct atecc_device *dev, const uint16_t *expected_crc);
atecc_err atecc_lock_slot(struct atecc_device *dev, uint8_t slot);

/* GenKey: create a new P-256 key in slot and return its public key. */
atecc_err atecc_genkey(struct atecc_device *dev, uint8_t slot, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE]);
/* GenKey mode 0: public key of the private key stored in slot. */
atecc_err atecc_pubkey(struct atecc_device *dev, uint8_t slot, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE]);

/* Nonce pass-through of 32 bytes into target (ATECC_NONCE_PASSTHROUGH or
 * ATECC_NONCE_PASSTHROUGH_MSGDIG). Leaves the chip awake: the caller's
 * next command must follow in the same wake window (see atecc_sign).
 * On success the bus lock stays held until the next call on this device
 * (which ends the window) or atecc_idle/atecc_close; the caller must
 * serialise its own threads between the Nonce and that call. */
atecc_err atecc_nonce_passthrough(struct atecc_device *dev, uint8_t mode,
                                  const uint8_t data[ATECC_DIGEST_SIZE]);

/* Sign an external 32-byte digest with the private key in slot: Nonce
 * pass-through + Sign in one wake window under the bus lock. Safe from any
 * number of threads: with the TUNED policy the request goes through the
 * device's sign engine (it blocks until its own signature or error is
 * ready; a failure of one request never fails another). */
atecc_err atecc_sign(struct atecc_device *dev, uint8_t slot, const uint8_t digest[ATECC_DIGEST_SIZE],
                     uint8_t signature[ATECC_P256_SIGNATURE_SIZE]);

/* Signs count digests back-to-back in one wake window and one bus-lock
 * hold (a fresh Nonce before each Sign; the watchdog is avoided by idling
 * between signatures when needed). *done (may be NULL) = signatures made
 * before the first failure. */
atecc_err atecc_sign_batch(struct atecc_device *dev, uint8_t slot, size_t count,
                           const uint8_t (*digests)[ATECC_DIGEST_SIZE],
                           uint8_t (*signatures)[ATECC_P256_SIGNATURE_SIZE], size_t *done);

/* Verify on the chip with an external public key. *valid false with
 * ATECC_OK means the signature was checked and is wrong. */
atecc_err atecc_verify_extern(struct atecc_device *dev, const uint8_t digest[ATECC_DIGEST_SIZE],
                              const uint8_t signature[ATECC_P256_SIGNATURE_SIZE],
                              const uint8_t pubkey[ATECC_P256_PUBKEY_SIZE], bool *valid);

/* ECDH with the private key in slot; shared X coordinate returned in clear. */
atecc_err atecc_ecdh(struct atecc_device *dev, uint8_t slot, const uint8_t peer_pubkey[ATECC_P256_PUBKEY_SIZE],
                     uint8_t shared[32]);

/* SelfTest; *result is the chip's failure bitmap (0 = all passed). */
atecc_err atecc_selftest(struct atecc_device *dev, uint8_t mode, uint8_t *result);

/* Raw command for diagnostics and tests: wakes as needed, sends, polls,
 * checks length and CRC. On success rsp holds the response data (without
 * count and CRC) and *rsp_len its length; a 1-byte status response is
 * returned as its error code. */
atecc_err atecc_execute(struct atecc_device *dev, uint8_t opcode, uint8_t param1, uint16_t param2,
                        const uint8_t *data, size_t data_len, uint8_t *rsp, size_t rsp_cap,
                        size_t *rsp_len);

/* The policy atecc_open settled on (never DEFAULT), and its name. */
enum atecc_sign_policy atecc_sign_policy_of(const struct atecc_device *dev);
const char *atecc_sign_policy_name(enum atecc_sign_policy policy);
/* Linger in effect, microseconds (0 = none). */
unsigned atecc_sign_linger_us(const struct atecc_device *dev);

/* Bucket i of atecc_stats.batch_hist counts batches of size in
 * [2^i, 2^(i+1)), the last bucket everything from 128 on. */
#define ATECC_BATCH_HIST_BUCKETS 8

/* Counters (read-only snapshot). */
struct atecc_stats {
    uint64_t commands;
    uint64_t wake_pulses;
    uint64_t idles;
    uint64_t sleeps;
    uint64_t retries;
    uint64_t polls;        /* response polls that found the chip busy */
    uint64_t bus_bytes;    /* bytes written and read, address bytes included */
    uint64_t watchdog_avoided; /* re-wakes because a command could cross the watchdog */
    /* Appended for the sign path (all policies unless noted). */
    uint64_t signatures;      /* signatures made (atecc_sign, atecc_sign_batch) */
    uint64_t sign_failures;   /* sign requests that ended in an error */
    uint64_t batches;         /* engine drains: requests signed back to back
                               * without the queue running dry (TUNED) */
    uint64_t batch_max;       /* largest batch */
    uint64_t batch_sum;       /* requests in all batches (sum of sizes) */
    uint64_t batch_hist[ATECC_BATCH_HIST_BUCKETS];
    uint64_t linger_hits;     /* batches that found the chip still awake from
                               * the previous one (no wake paid) */
    uint64_t linger_idles;    /* lingers that ran out and idled the chip */
    /* Estimated chip busy time: for every command, the time from the end
     * of its write to the poll that found its response, in the device
     * clock's microseconds (an upper bound, by at most one poll period). */
    uint64_t chip_busy_us;
    /* Times this device ended its window early and handed the bus lock to
     * a waiting process (fair sharing, buslock.h). */
    uint64_t bus_handovers;
};
void atecc_stats_get(struct atecc_device *dev, struct atecc_stats *out);

#endif
