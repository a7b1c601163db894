/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's token gateway: the only agent code that holds libp11
 * objects (PKCS11_CTX, slots, keys) or the module's CK_FUNCTION_LIST.
 * Everything else reaches the token through this interface, which is
 * narrow enough to move behind a process boundary later (the model is
 * OpenSSH's ssh-pkcs11-helper): plain values in and out, no handles.
 *
 * Owns: the one CKR -> failure-class table (token_fault.c).
 * Must never: log or print a PIN; decide "token fault?" anywhere but in
 * agent_token_status_of_rv.
 */
#ifndef TRUSTLINK_AGENT_TOKEN_H
#define TRUSTLINK_AGENT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

/* ---- failure classes (token_fault.c) ---------------------------------- */

/* The class of a PKCS#11 return value: OK, TOKEN_FAULT (a reload of the
 * module may cure it: retry), PIN_INCORRECT, PIN_LOCKED, or CONFIG
 * (anything else: a person must act). */
enum agent_identity_status agent_token_status_of_rv(unsigned long rv);
/* "CKR_SESSION_COUNT: Too many sessions are active" (p11-kit's text); an
 * unnamed value shows as hex. Returns buf. */
const char *agent_token_rv_text(unsigned long rv, char *buf, size_t len);
/* An OpenSSL error code libp11 queued (its CKR library) whose CKR is a
 * token fault by the table above. */
bool agent_token_openssl_error_is_fault(unsigned long openssl_error);
/* Scans (without consuming) the thread's OpenSSL error queue for one. */
bool agent_token_error_queue_has_fault(void);
/* The CKR value libp11 queued last, or CKR_OK; consumes the error queue. */
unsigned long agent_token_drain_ckr(void);

#endif
