/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test hooks of the ATECC608 chip adapter (chip_atecc.c).
 * Must never: be used by the module itself; its symbol is not exported
 * from libtrustlink-pkcs11.so.
 */
#ifndef TRUSTLINK_P11_CHIP_ATECC_H
#define TRUSTLINK_P11_CHIP_ATECC_H

#include "atecc608/atecc608.h"
#include "chip.h"

/* Options passed to every later atecc_open (the in-process emulator
 * transport, a virtual clock, a private lock directory); NULL restores
 * the defaults. Call before C_Initialize; the options must outlive the
 * module's use of the chip. */
void p11_chip_atecc_set_options(const struct atecc_options *options);

/* The adapter's one mapping of driver errors to CKR_ values (exposed for
 * its unit test). */
CK_RV p11_ckr_from_atecc(atecc_err e);

#endif
