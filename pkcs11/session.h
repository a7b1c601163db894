/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions: the module's session table, each session's R/O or R/W flag,
 * its session objects, and its active operations (find, sign, verify,
 * digest).
 *
 * Owns: struct p11_session and everything hanging off it; session handle
 * allocation (numbers from the module counter); the session state
 * (CKS_*) derived from the token's login state; object lookup by handle
 * across token and session objects with the visibility rules (private
 * objects only while the user is logged in).
 * Must never: be called without the module lock; outlive C_Finalize;
 * free a session a thread is using in an unlocked chip call (busy > 0):
 * closing such a session removes it from the table (its handle is invalid
 * at once) and leaves the free to that thread (entry.c).
 * Session objects die with their session (or at C_Finalize); when the
 * last session of a token closes, the token is logged out (PKCS#11 §5.6).
 */
#ifndef TRUSTLINK_P11_SESSION_H
#define TRUSTLINK_P11_SESSION_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "slot.h"

struct p11_op {
    bool active;
    CK_MECHANISM_TYPE mech;
    CK_OBJECT_HANDLE key;
    int chip_slot;           /* sign: the private key's chip slot */
    uint8_t pub[64];         /* verify: X || Y; sign: the key's public half */
    bool have_pub;           /* sign: pub is known (verify-after-sign) */
    EVP_MD_CTX *md;          /* hashing mechanisms, multi-part */
    bool multi;              /* an Update was made: single-part calls refused */
    bool raw;                /* CKM_ECDSA: accumulates the hash input */
    uint8_t buf[64];
    size_t buf_len;
};

struct p11_sobj {
    CK_OBJECT_HANDLE handle;
    p11_attrs attrs;
};

struct p11_session {
    CK_SESSION_HANDLE handle;
    CK_SLOT_ID slot;
    CK_FLAGS flags;
    struct p11_sobj *objs;
    size_t n_objs;
    bool find_active;
    CK_OBJECT_HANDLE *found;
    size_t n_found;
    size_t find_pos;
    struct p11_op sign;
    struct p11_op verify;
    struct p11_op digest;
    unsigned busy;           /* threads in an unlocked chip call on it */
    bool closed;             /* closed while busy: freed by the last one */
};

CK_RV p11_session_open(struct p11_module *m, struct p11_token *tok, CK_FLAGS flags,
                       CK_SESSION_HANDLE *out);
struct p11_session *p11_session_get(struct p11_module *m, CK_SESSION_HANDLE h);
CK_RV p11_session_close(struct p11_module *m, CK_SESSION_HANDLE h);
void p11_session_close_all(struct p11_module *m, CK_SLOT_ID slot);
void p11_session_free(struct p11_session *s);
CK_ULONG p11_session_count(struct p11_module *m, CK_SLOT_ID slot, bool rw_only);
CK_STATE p11_session_state(struct p11_module *m, const struct p11_session *s);
/* After logout: ends operations that used private keys. */
void p11_sessions_logged_out(struct p11_module *m, CK_SLOT_ID slot);
void p11_op_reset(struct p11_op *op);

/* Session objects. add takes ownership of *attrs (left empty). */
CK_RV p11_session_add_object(struct p11_module *m, struct p11_session *s, p11_attrs *attrs,
                             CK_OBJECT_HANDLE *out);

/* Finds a visible object (token or session) by handle:
 * CKR_OBJECT_HANDLE_INVALID when unknown or private while not logged in
 * as the user. *session_owner is the owning session for session objects,
 * NULL for token objects. */
CK_RV p11_object_lookup(struct p11_module *m, struct p11_session *s, CK_OBJECT_HANDLE h,
                        p11_attrs **attrs, struct p11_session **session_owner);
CK_RV p11_object_destroy(struct p11_module *m, struct p11_session *s, CK_OBJECT_HANDLE h);
/* Starts a search: collects the matching visible handles. */
CK_RV p11_find_init(struct p11_module *m, struct p11_session *s, const CK_ATTRIBUTE *t, CK_ULONG n);

#endif
