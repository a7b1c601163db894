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

#endif
