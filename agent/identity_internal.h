/*
 * The inside of struct agent_identity, shared by identity.c (loading) and
 * identity_token.c (token operations for key rotation). Nothing else may
 * include this header.
 *
 * Owns: nothing beyond the struct definition and the few helpers both
 * files need.
 * Must never: grow fields that hold a PIN.
 */
#ifndef TRUSTLINK_AGENT_IDENTITY_INTERNAL_H
#define TRUSTLINK_AGENT_IDENTITY_INTERNAL_H

#include <stddef.h>

#include <libp11.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "identity.h"

#define AGENT_IDENTITY_KEY_ID_MAX 64

struct agent_identity {
    PKCS11_CTX *p11;
    PKCS11_SLOT *slots;
    unsigned n_slots;
    PKCS11_SLOT *slot;            /* the chosen slot, inside slots */
    void *module_handle;          /* dlopen reference on libp11's module instance */
    CK_FUNCTION_LIST *fn;
    CK_SLOT_ID slot_id;
    EVP_PKEY *key;
    X509 *cert;
    STACK_OF(X509) *chain;        /* never NULL once opened */
    unsigned char key_id[AGENT_IDENTITY_KEY_ID_MAX]; /* CKA_ID of key */
    size_t key_id_len;            /* 0: no key resolved, or its id is unknown */
    char uri_redacted[512];
    char token_label[33];
    char key_name[160];
};

/* The CKR value libp11 queued last, or CKR_OK; consumes the error queue. */
CK_RV agent_identity_drain_ckr(void);
/* "object=<label>;id=<hex>", the key_name format, for messages. */
void agent_identity_describe(const unsigned char *id, size_t id_len, const char *label,
                             char *out, size_t out_len);

#endif
