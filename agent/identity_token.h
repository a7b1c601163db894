/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token operations for key rotation, on an opened identity (identity.h):
 * generate a P-256 pair on the token, get a libp11 key by CKA_ID, store a
 * certificate, relabel, destroy and find objects.
 *
 * Owns: one short PKCS#11 session per call, opened read/write on the
 * identity's raw function list (same module instance as libp11, so the
 * login is shared) and closed before returning.
 * Must never: log or print a PIN; create session objects (CKA_TOKEN is
 * true everywhere); accept a key that is extractable or not sensitive;
 * touch objects other than private keys, public keys and certificates.
 *
 * Every call validates its arguments (key id 1-64 bytes, label 1-64 bytes)
 * and returns AGENT_IDENTITY_OK, AGENT_IDENTITY_TOKEN_FAULT (device error
 * or removed, session lost, token not present: retry after a reload),
 * AGENT_IDENTITY_OBJECT_NOT_FOUND, or AGENT_IDENTITY_CONFIG (anything else,
 * bad arguments included); err names the token label and the object's id
 * (hex) and label.
 */
#ifndef TRUSTLINK_AGENT_IDENTITY_TOKEN_H
#define TRUSTLINK_AGENT_IDENTITY_TOKEN_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "identity.h"

#define AGENT_TOKEN_ID_MAX 64
#define AGENT_TOKEN_LABEL_MAX 64

struct agent_token_object {
    unsigned long klass;                 /* CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE */
    unsigned char id[AGENT_TOKEN_ID_MAX];
    size_t id_len;                       /* 0 when the object has no (or an oversized) CKA_ID */
    char label[AGENT_TOKEN_LABEL_MAX + 1]; /* "" when none (or oversized) */
};

/* CKA_ID of the resolved (or adopted) key, for the journal. *len: the
 * capacity of out on entry, the id's length on return. OBJECT_NOT_FOUND
 * when no key is resolved or its id is unknown; CONFIG when out is too
 * small. */
enum agent_identity_status agent_identity_key_id(const struct agent_identity *id,
                                                 unsigned char *out, size_t *len);

/* New P-256 pair ON the token (C_GenerateKeyPair, CKM_EC_KEY_PAIR_GEN).
 * Private: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN true,
 * CKA_EXTRACTABLE false. Public: CKA_TOKEN, CKA_VERIFY, CKA_EC_PARAMS
 * P-256. Both CKA_ID=key_id, CKA_LABEL=label. Refuses (CONFIG) a key_id
 * already carried by a key or certificate. Our module picks a free chip
 * slot itself; none free (CKR_DEVICE_MEMORY) is CONFIG, said so in err. */
enum agent_identity_status agent_token_generate_p256(struct agent_identity *id,
                                                     const unsigned char *key_id, size_t id_len,
                                                     const char *label, char *err,
                                                     size_t err_len);

/* libp11 EVP_PKEY (a new reference: the caller frees it) for the one
 * private key with CKA_ID=key_id, including keys created after the
 * identity was opened. UNSAFE_KEY if it is not sensitive or extractable,
 * AMBIGUOUS if several private keys carry the id. */
enum agent_identity_status agent_token_key_by_id(struct agent_identity *id,
                                                 const unsigned char *key_id, size_t id_len,
                                                 EVP_PKEY **out, char *err, size_t err_len);

/* Certificate object: CKO_CERTIFICATE, CKC_X_509, CKA_TOKEN, CKA_VALUE
 * (DER), CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_ID=key_id,
 * CKA_LABEL=label. */
enum agent_identity_status agent_token_store_certificate(struct agent_identity *id, X509 *cert,
                                                         const unsigned char *key_id,
                                                         size_t id_len, const char *label,
                                                         char *err, size_t err_len);

/* CKA_LABEL := label on every private key, public key and certificate with
 * CKA_ID = key_id. *count = objects changed (those already so labelled are
 * not counted); 0 is not an error, so re-runs after a crash are harmless. */
enum agent_identity_status agent_token_relabel(struct agent_identity *id,
                                               const unsigned char *key_id, size_t id_len,
                                               const char *label, unsigned *count, char *err,
                                               size_t err_len);

/* Destroys every private key, public key and certificate with CKA_ID =
 * key_id (certificates and public keys first, the private key last).
 * *count = objects destroyed; 0 is not an error (idempotent). */
enum agent_identity_status agent_token_destroy_id(struct agent_identity *id,
                                                  const unsigned char *key_id, size_t id_len,
                                                  unsigned *count, char *err, size_t err_len);

/* Private keys, public keys and certificates whose CKA_LABEL == label.
 * Returns how many there are (may exceed max; only max are filled, out
 * may be NULL when max is 0), or -1 with err (bad arguments or a token
 * error; err carries the CKR). */
int agent_token_find_label(struct agent_identity *id, const char *label,
                           struct agent_token_object *out, size_t max, char *err,
                           size_t err_len);
/* The same for CKA_ID == key_id. */
int agent_token_find_id(struct agent_identity *id, const unsigned char *key_id, size_t id_len,
                        struct agent_token_object *out, size_t max, char *err, size_t err_len);

#endif
