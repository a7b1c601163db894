/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The provider's narrow view of a secure element: the only way the layers
 * above reach the chip.
 *
 * Implementations: chip_atecc.c (thin adapter over the ATECC608 driver,
 * linked into libtrustlink-pkcs11.so) and tests/pkcs11/fake_chip.c
 * (software keys, for unit tests). Selection is at link time, so there is
 * no global to set.
 * Each function returns a CK_RV: the implementation maps its own errors to
 * CKR_ values in exactly one place. `detail` (when given) receives a
 * message a user can act on. CKR_DEVICE_REMOVED means the chip no longer
 * answers at all (the module then marks the token absent); a transient
 * bus or chip fault is CKR_DEVICE_ERROR.
 * Must never: return private key material, or hold the module lock's
 * invariants (it is called with the module lock held).
 */
#ifndef TRUSTLINK_P11_CHIP_H
#define TRUSTLINK_P11_CHIP_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include <p11-kit/pkcs11.h>

struct p11_chip;

struct p11_chip_info {
    uint8_t serial[9];
    char model[17];       /* e.g. "ATECC608B", NUL-terminated */
    uint8_t revision[4];  /* Info command revision bytes */
};

/* Whether the implementation knows the interface string's scheme (the part
 * up to ':'); checked at C_Initialize so a typo in the configuration is
 * an error there, not a token that is never present. */
bool p11_chip_interface_known(const char *interface);

/* may_create_threads false (CKF_LIBRARY_CANT_CREATE_OS_THREADS): the chip
 * must be driven from the callers' threads only. lock_dir: the config's
 * lock_dir (NULL: the driver's default). */
CK_RV p11_chip_open(const char *interface, const char *lock_dir, bool may_create_threads,
                    struct p11_chip **out,
                    char *detail, size_t detail_len);
void p11_chip_close(struct p11_chip *chip);
CK_RV p11_chip_info(struct p11_chip *chip, struct p11_chip_info *info);
/* digest: 32 bytes; sig: r || s, 64 bytes. */
CK_RV p11_chip_sign(struct p11_chip *chip, unsigned slot, const uint8_t digest[32], uint8_t sig[64]);
/* New P-256 key in slot; pub = X || Y. */
CK_RV p11_chip_genkey(struct p11_chip *chip, unsigned slot, uint8_t pub[64]);
CK_RV p11_chip_pubkey(struct p11_chip *chip, unsigned slot, uint8_t pub[64]);
CK_RV p11_chip_random(struct p11_chip *chip, uint8_t out[32]);
CK_RV p11_chip_ecdh(struct p11_chip *chip, unsigned slot, const uint8_t peer[64], uint8_t shared[32]);

#endif
