/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The inside of the token gateway (token.h), shared by token.c (module,
 * token, login, sessions, searches, the one attribute reader), token_key.c
 * (keys and certificates) and token_mutate.c (rotation's token changes).
 * Nothing outside token*.c may include this header (tests/agent/
 * identity_token_driver.c peeks at libp11's key list through it).
 *
 * Owns: struct agent_token: the libp11 context and slots and the raw
 * function list of the same module instance.
 * Must never: grow fields that hold a PIN.
 */
#ifndef TRUSTLINK_AGENT_TOKEN_INTERNAL_H
#define TRUSTLINK_AGENT_TOKEN_INTERNAL_H

#include <stddef.h>

#include <libp11.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "token.h"

struct agent_token {
    PKCS11_CTX *p11;
    PKCS11_SLOT *slots;
    unsigned n_slots;
    PKCS11_SLOT *slot;            /* the chosen slot, inside slots */
    void *module_handle;          /* dlopen reference on libp11's module instance */
    CK_FUNCTION_LIST *fn;         /* same instance: shares libp11's login */
    CK_SLOT_ID slot_id;
    char label[33];
};

/* The classes the agent manages; anything else with the same id or label
 * (data objects, secret keys) belongs to someone else. */
extern const CK_OBJECT_CLASS token_managed_classes[3];

/* One short session per gateway call: handles do not survive a module
 * reload (the recovery path), so none is kept across calls. */
enum agent_identity_status token_session_open(struct agent_token *tok, bool rw,
                                              CK_SESSION_HANDLE *s, char *err, size_t err_len);
void token_session_close(struct agent_token *tok, CK_SESSION_HANDLE s);

/* THE attribute reader: the two-call convention for one attribute into
 * buf (capacity cap). *len = its length. CKR_OK; CKR_ATTRIBUTE_TYPE_INVALID
 * / CKR_ATTRIBUTE_SENSITIVE when the object has none / hides it;
 * CKR_BUFFER_TOO_SMALL when it exceeds cap (buf untouched); else the
 * module's error. */
CK_RV token_attr_read(struct agent_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                      CK_ATTRIBUTE_TYPE type, void *buf, size_t cap, size_t *len);
/* The same, allocating (at most max bytes): *out is malloc'd. */
CK_RV token_attr_read_alloc(struct agent_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            CK_ATTRIBUTE_TYPE type, size_t max, unsigned char **out,
                            size_t *len);
/* Class, CKA_ID, CKA_LABEL of one object; oversized id or label read as
 * empty (they cannot be ours). */
CK_RV token_object_read(struct agent_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                        struct agent_token_object *o);

/* Handles of the objects matching tmpl: up to max kept, *count = all. */
CK_RV token_find_handles(struct agent_token *tok, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                         CK_ULONG n_tmpl, CK_OBJECT_HANDLE *out, size_t max, size_t *count);
/* Objects of klass matching uri's object attributes (class, id, label):
 * up to max kept (handles and descriptions), *count = all. */
CK_RV token_find_uri(struct agent_token *tok, CK_SESSION_HANDLE s, P11KitUri *uri,
                     CK_OBJECT_CLASS klass, CK_OBJECT_HANDLE *handles,
                     struct agent_token_object *found, size_t max, size_t *count);

/* err := "<what> on token "<label>" (CKR_...: text)"; returns the class. */
enum agent_identity_status token_fail(struct agent_token *tok, CK_RV rv, char *err,
                                      size_t err_len, const char *what);
/* "object=<label>;id=<hex>" lists for messages. */
void token_list_objects(const struct agent_token_object *o, size_t n, char *out, size_t out_len);

#endif
