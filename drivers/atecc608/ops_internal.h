/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared pieces of the operation files: the call bracket (device mutex +
 * wake window), config-cache refresh, and the explanation of chip
 * execution errors (status 0x0F) from the cached config zone. Must never
 * be included by anything outside the driver.
 */
#ifndef ATECC608_OPS_INTERNAL_H
#define ATECC608_OPS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"

enum atecc_op_kind {
    ATECC_KIND_READ,
    ATECC_KIND_WRITE,
    ATECC_KIND_LOCK_CONFIG,
    ATECC_KIND_LOCK_DATA,
    ATECC_KIND_LOCK_SLOT,
    ATECC_KIND_GENKEY,
    ATECC_KIND_PUBKEY,
    ATECC_KIND_SIGN,
    ATECC_KIND_ECDH,
};

/* Takes the device mutex and opens a wake window. On failure the mutex
 * is released again. */
atecc_err atecc_call_begin(struct atecc_device *dev);
/* Closes the window (idle, bus lock released) and the mutex. */
void atecc_call_end(struct atecc_device *dev);
/* Releases only the mutex: the wake window stays open (Nonce). */
void atecc_call_end_keep_window(struct atecc_device *dev);

/* Inside a window (mutex held): Nonce + Sign of one digest, repeated as a
 * whole on transient errors; counts the signature in the stats. */
atecc_err atecc_sign_in_window(struct atecc_device *dev, uint8_t slot,
                               const uint8_t digest[ATECC_DIGEST_SIZE],
                               uint8_t signature[ATECC_P256_SIGNATURE_SIZE]);

/* Inside a window: Info, then the config zone into the cache. */
atecc_err atecc_first_contact(struct atecc_device *dev);
atecc_err atecc_refresh_config(struct atecc_device *dev);

/* Inside a window: one command whose output must be exactly expect bytes. */
atecc_err atecc_exec_expect(struct atecc_device *dev, uint8_t opcode, uint8_t param1,
                            uint16_t param2, const uint8_t *data, size_t data_len, uint8_t *out,
                            size_t expect, unsigned flags);

/* Given rc from the chip, returns a more specific error (and message)
 * when rc is ATECC_E_EXECUTION and the config zone explains it. */
atecc_err atecc_explain(struct atecc_device *dev, atecc_err rc, enum atecc_op_kind kind,
                        uint8_t zone, uint8_t slot);

#endif
