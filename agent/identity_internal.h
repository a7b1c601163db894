/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The inside of struct agent_identity, shared by identity.c (loading,
 * adopting) and identity_cert.c (PEM certificates, the key check). Nothing
 * else may include this header.
 *
 * Owns: nothing beyond the struct definition and the helpers both files
 * need. The token itself is the gateway's (token.h).
 * Must never: grow fields that hold a PIN, a libp11 object or a function
 * list.
 */
#ifndef TRUSTLINK_AGENT_IDENTITY_INTERNAL_H
#define TRUSTLINK_AGENT_IDENTITY_INTERNAL_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "identity.h"
#include "token.h"

struct agent_identity {
    struct agent_token *token;
    EVP_PKEY *key;
    X509 *cert;
    STACK_OF(X509) *chain;        /* never NULL once opened */
    unsigned char key_id[AGENT_TOKEN_ID_MAX]; /* CKA_ID of key */
    size_t key_id_len;            /* 0: no key resolved, or its id is unknown */
    char uri_redacted[512];
    char key_name[160];
};

/* identity_cert.c: appends every certificate of a PEM file to chain (the
 * first one to *leaf when leaf is not NULL). 0, or -1 with err. */
int identity_read_pem_certificates(const char *path, X509 **leaf, STACK_OF(X509) *chain,
                                   char *err, size_t err_len);
/* The certificate's public key must be the key's; warns about validity. */
enum agent_identity_status identity_check_certificate(struct agent_identity *id, char *err,
                                                      size_t err_len);

#endif
