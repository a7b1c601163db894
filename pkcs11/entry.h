/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal glue shared by the C_* entry point files: the module lock and
 * the checks every entry point makes first (initialised in this process,
 * valid session).
 * Must never: be exported (the version script keeps only C_*).
 */
#ifndef TRUSTLINK_P11_ENTRY_H
#define TRUSTLINK_P11_ENTRY_H

#include "session.h"

/* Takes the module lock; CKR_CRYPTOKI_NOT_INITIALIZED (lock released)
 * when C_Initialize was not called in this process. */
CK_RV p11_enter(struct p11_module **m);
/* p11_enter + session lookup (CKR_SESSION_HANDLE_INVALID). */
CK_RV p11_enter_session(CK_SESSION_HANDLE h, struct p11_module **m, struct p11_session **s);
/* Releases the lock and returns rv. */
CK_RV p11_leave(CK_RV rv);

/*
 * Chip calls run without the module lock, so threads on other sessions
 * (and the driver's own queue) proceed while the chip works. The caller
 * copies everything the chip call needs (chip pointer, slot, digest) out
 * of the module state before p11_chip_call_begin, and touches no module
 * state until p11_chip_call_end.
 *
 * begin: marks s busy (a concurrent C_CloseSession then only detaches it:
 * its handle is invalid at once, its memory is freed by the busy thread)
 * and counts the call (C_Finalize waits for it), then releases the lock.
 * end: retakes the lock; CKR_SESSION_CLOSED when s was closed meanwhile
 * (s is freed then and must not be used), else CKR_OK.
 */
void p11_chip_call_begin(struct p11_module *m, struct p11_session *s);
CK_RV p11_chip_call_end(struct p11_module *m, struct p11_session *s);

#endif
