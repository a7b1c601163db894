/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test hook of the ATECC608 chip adapter (chip_atecc.c).
 * Must never: be used by the module itself; its symbol is not exported
 * from libtrustlink-pkcs11.so.
 */
#ifndef TRUSTLINK_P11_CHIP_ATECC_H
#define TRUSTLINK_P11_CHIP_ATECC_H

#include "atecc608/atecc608.h"

/* Options passed to every later atecc_open (the in-process emulator
 * transport, a virtual clock, a private lock directory); NULL restores
 * the defaults. Call before C_Initialize; the options must outlive the
 * module's use of the chip. */
void p11_chip_atecc_set_options(const struct atecc_options *options);

#endif
