/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmocka steps shared by the provider's C_* API tests: token set-up and a
 * logged-in read/write session (the emulator fixture is in emu_harness.h).
 */
#ifndef TRUSTLINK_P11_FIXTURE_H
#define TRUSTLINK_P11_FIXTURE_H

#include <p11-kit/pkcs11.h>

/* C_InitToken(slot 0, "trustlink") with so_pin, then the user PIN set. */
void p11t_init_token(const char *so_pin, const char *user_pin);
/* A read/write session on slot 0 with the user logged in (possibly
 * already, through another session). */
CK_SESSION_HANDLE p11t_open_user_rw(const char *user_pin);

#endif
