/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The inside of struct agent_identity, shared by identity.c (loading),
 * identity_lookup.c (objects by URI), identity_cert.c (the certificate) and
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
#include <p11-kit/uri.h>

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

/* Candidates named in an "ambiguous" or "not found" message. */
#define IDENTITY_MAX_CANDIDATES 8

/* What one object looked like, for matching and for messages. */
struct identity_object {
    CK_OBJECT_HANDLE handle;
    unsigned char id[AGENT_IDENTITY_KEY_ID_MAX];
    CK_ULONG id_len;
    char label[96];
    CK_ULONG label_len;
};

/* identity_lookup.c: the objects of klass on session s matching uri.
 * Returns the number found (up to max kept in found), or -1 with *rv_out
 * set. */
int identity_find_objects(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, P11KitUri *uri,
                          CK_OBJECT_CLASS klass, struct identity_object *found, int max,
                          CK_RV *rv_out);
/* "object=<label>;id=<hex>" of one object / a list of them, for messages. */
void identity_object_describe(const struct identity_object *o, char *out, size_t out_len);
void identity_list_candidates(const struct identity_object *c, int n, char *out,
                              size_t out_len);
/* TOKEN_FAULT for return values a reload may cure, CONFIG otherwise. */
enum agent_identity_status identity_status_of_rv(CK_RV rv);

/* identity_cert.c: the certificate named by cert_uri_text on the key's
 * token into id->cert. */
enum agent_identity_status identity_load_token_certificate(struct agent_identity *id,
                                                           CK_SESSION_HANDLE s,
                                                           const char *cert_uri_text, char *err,
                                                           size_t err_len);
/* Appends every certificate of a PEM file to chain (the first one to
 * *leaf when leaf is not NULL). 0, or -1 with err. */
int identity_read_pem_certificates(const char *path, X509 **leaf, STACK_OF(X509) *chain,
                                   char *err, size_t err_len);
/* The certificate's public key must be the key's; warns about validity. */
enum agent_identity_status identity_check_certificate(struct agent_identity *id, char *err,
                                                      size_t err_len);

/* The CKR value libp11 queued last, or CKR_OK; consumes the error queue. */
CK_RV agent_identity_drain_ckr(void);
/* "object=<label>;id=<hex>", the key_name format, for messages. */
void agent_identity_describe(const unsigned char *id, size_t id_len, const char *label,
                             char *out, size_t out_len);

#endif
