/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault hooks of the fake chip (fake_chip.c) for unit tests: a chip that
 * stops answering and comes back, signatures that come back well framed
 * but wrong, and counts of chip operations.
 */
#ifndef TRUSTLINK_P11_FAKE_CHIP_H
#define TRUSTLINK_P11_FAKE_CHIP_H

#include <stdbool.h>

/* present false: every call on the chip of that interface string returns
 * CKR_DEVICE_REMOVED (and opens fail) until it is set true again. */
void fake_chip_set_present(const char *interface, bool present);
/* The next n signatures (any chip) have one bit of s flipped. */
void fake_chip_corrupt_next_signatures(unsigned n);
/* A transient fault: the next n calls (any chip, any operation) return
 * CKR_DEVICE_ERROR. */
void fake_chip_fail_next_calls(unsigned n);
unsigned fake_chip_sign_calls(void);
unsigned fake_chip_ecdh_calls(void);

#endif
