/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's token gateway: the only agent code that holds libp11
 * objects (PKCS11_CTX, slots, keys) or the module's CK_FUNCTION_LIST.
 * Everything else reaches the token through this interface, which is
 * narrow enough to move behind a process boundary later (the model is
 * OpenSSH's ssh-pkcs11-helper): plain values in and out, no handles.
 *
 * Files: token.c (module, token, login, sessions, searches, the one
 * attribute reader), token_key.c (keys for TLS, certificates),
 * token_mutate.c (rotation's changes), token_fault.c (the one CKR ->
 * failure-class table).
 *
 * Owns: the libp11 context and slots, a second handle on the same module
 * instance (dlopen RTLD_NOLOAD, for what libp11 does not offer), every
 * session (one per call, never kept: handles do not survive a reload).
 * Must never: log or print a PIN; decide "token fault?" anywhere but in
 * agent_token_status_of_rv; hand out a key other than the one it checked;
 * change the token for a rotation without the journal step on disk.
 *
 * The EVP_PKEYs it hands out are libp11 keys: every use is a PKCS#11 call
 * into this gateway's module instance, so they must be freed before
 * agent_token_close. Not thread-safe: one thread (the agent loop) uses it.
 */
#ifndef TRUSTLINK_AGENT_TOKEN_H
#define TRUSTLINK_AGENT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "identity.h"

struct agent_token;
struct p11_kit_uri;
struct rotation_proof;

#define AGENT_TOKEN_ID_MAX 64
#define AGENT_TOKEN_LABEL_MAX 64
/* Candidates named in an "ambiguous" or "not found" message. */
#define AGENT_TOKEN_MAX_CANDIDATES 8

/* What one object looks like to the rest of the agent: no handle. */
struct agent_token_object {
    unsigned long klass;                   /* CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE */
    unsigned char id[AGENT_TOKEN_ID_MAX];
    size_t id_len;                         /* 0 when the object has no (or an oversized) CKA_ID */
    char label[AGENT_TOKEN_LABEL_MAX + 1]; /* "" when none (or oversized) */
};

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


/* "object=<label>;id=<hex>" (the key_name format), for messages. */
void agent_token_describe(const unsigned char *id, size_t id_len, const char *label, char *out,
                          size_t out_len);

/* ---- module, token, login (token.c) ----------------------------------- */

/* Loads the module (libp11) and picks exactly one token by the URI's
 * library-* and token attributes (uri_shown: the URI for messages, PIN
 * redacted). MODULE, TOKEN_NOT_FOUND, AMBIGUOUS, TOKEN_FAULT, or OK with
 * *out set. */
enum agent_identity_status agent_token_open(const char *module, struct p11_kit_uri *uri,
                                            const char *uri_shown, struct agent_token **out,
                                            char *err, size_t err_len);
/* Frees the gateway. Every EVP_PKEY it handed out must be freed first
 * (libp11 reads its slot on free). NULL is fine. */
void agent_token_close(struct agent_token *tok);
const char *agent_token_label(const struct agent_token *tok);
/* The PKCS#11 slot id the token sits in (recorded by the rotation journal). */
unsigned long agent_token_slot_id(const struct agent_token *tok);
/* The token's serialNumber (C_GetTokenInfo; blank padding removed, bytes
 * outside printable ASCII as '?'), e.g. for AWS RegisterThing's {serial}.
 * OK, or TOKEN_FAULT with err. */
enum agent_identity_status agent_token_serial(struct agent_token *tok, char *out, size_t out_len,
                                              char *err, size_t err_len);
/* Whether uri's token attributes name this gateway's token. */
bool agent_token_matches(struct agent_token *tok, struct p11_kit_uri *uri);
/* Presence check first (libp11 0.4.12 hangs logging in to an absent
 * token), then: *need_pin false when logged in or no login needed;
 * PIN_LOCKED when the user PIN is locked; TOKEN_FAULT when absent. */
enum agent_identity_status agent_token_login_state(struct agent_token *tok, bool *need_pin,
                                                   char *err, size_t err_len);
/* C_Login through libp11 (which keeps its own copy for fork re-login).
 * pin_source names where the PIN came from, for messages. */
enum agent_identity_status agent_token_login(struct agent_token *tok, const char *pin,
                                             const char *pin_source, char *err, size_t err_len);
/* Whether the token's slot lists the mechanism with CKF_SIGN. */
bool agent_token_has_mechanism(struct agent_token *tok, unsigned long mechanism);

/* ---- keys and certificates (token_key.c) -------------------------------- */

/* The one private key uri names, as a libp11 EVP_PKEY for TLS and CSRs (a
 * new reference), with its description in *info (may be NULL). Refuses:
 * a URI that names another class or several keys (AMBIGUOUS), a key whose
 * CKA_ID another private key also carries (AMBIGUOUS: libp11 could hand
 * TLS the other one), a key that is not sensitive or is extractable
 * (UNSAFE_KEY); and re-checks that libp11's key has the public key of the
 * one checked. */
enum agent_identity_status agent_token_private_key(struct agent_token *tok,
                                                   struct p11_kit_uri *uri, const char *uri_shown,
                                                   EVP_PKEY **out, struct agent_token_object *info,
                                                   char *err, size_t err_len);
/* The same for the private key with CKA_ID = key_id (including keys
 * created after the gateway was opened). */
enum agent_identity_status agent_token_key_by_id(struct agent_token *tok,
                                                 const unsigned char *key_id, size_t id_len,
                                                 EVP_PKEY **out, char *err, size_t err_len);
/* The CKA_ID recorded on a key this gateway handed out. 0, or -1 when
 * the key carries none (*len is the capacity of out on entry). */
int agent_token_key_id_of(const EVP_PKEY *key, unsigned char *out, size_t *len);
/* The one certificate uri names on this token: exactly one DER X.509
 * value, nothing after it. CERTIFICATE for bad DER, CONFIG when uri names
 * another token. */
enum agent_identity_status agent_token_certificate(struct agent_token *tok,
                                                   struct p11_kit_uri *uri, const char *uri_shown,
                                                   X509 **out, char *err, size_t err_len);

/* ---- rotation's token steps (token_mutate.c) ---------------------------- */

/* Each validates its arguments (key id 1-64 bytes, label 1-64 bytes) and
 * returns OK, TOKEN_FAULT (retry after a reload), OBJECT_NOT_FOUND, or
 * CONFIG (anything else, bad arguments included); err names the token
 * label and the object's id (hex) and label. Only private keys, public
 * keys and certificates are ever touched; CKA_TOKEN is true everywhere.
 *
 * Every change takes the proof (rotation_proof.h) that the journal step it
 * belongs to is durably on disk, and refuses (CONFIG) unless it is:
 * generate needs step key-generated and store step cert-stored, each
 * naming key_id as the new key; destroying the new key needs a step the
 * journal rolls back from; relabelling the old or new key, or destroying
 * any other, needs a step it completes from (probe-ok on). */

/* New P-256 pair ON the token (CKM_EC_KEY_PAIR_GEN). Private: CKA_TOKEN,
 * CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN true, CKA_EXTRACTABLE false.
 * Public: CKA_TOKEN, CKA_VERIFY, CKA_EC_PARAMS P-256. Both CKA_ID=key_id,
 * CKA_LABEL=label. Refuses a key_id already carried by a managed object;
 * no room on the token (CKR_DEVICE_MEMORY) is CONFIG, said so in err. */
enum agent_identity_status agent_token_generate_p256(struct agent_token *tok,
                                                     const struct rotation_proof *proof,
                                                     const unsigned char *key_id, size_t id_len,
                                                     const char *label, char *err,
                                                     size_t err_len);
/* Certificate object: CKO_CERTIFICATE, CKC_X_509, CKA_TOKEN, CKA_VALUE
 * (DER), CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_ID=key_id,
 * CKA_LABEL=label. */
enum agent_identity_status agent_token_store_certificate(struct agent_token *tok,
                                                         const struct rotation_proof *proof,
                                                         X509 *cert, const unsigned char *key_id,
                                                         size_t id_len, const char *label,
                                                         char *err, size_t err_len);
/* First enrollment (no rotation, no journal): the same object, only added
 * where no certificate carries key_id yet (CONFIG otherwise): it never
 * replaces anything. */
enum agent_identity_status agent_token_store_enrolled_certificate(struct agent_token *tok,
                                                                  X509 *cert,
                                                                  const unsigned char *key_id,
                                                                  size_t id_len, const char *label,
                                                                  char *err, size_t err_len);
/* CKA_LABEL := label on every managed object with CKA_ID = key_id.
 * *count = objects changed (already so labelled: not counted), so a re-run
 * after a crash is harmless. */
enum agent_identity_status agent_token_relabel(struct agent_token *tok,
                                               const struct rotation_proof *proof,
                                               const unsigned char *key_id, size_t id_len,
                                               const char *label, unsigned *count, char *err,
                                               size_t err_len);
/* Destroys every managed object with CKA_ID = key_id (certificates and
 * public keys first, the private key last). *count = objects destroyed;
 * 0 is not an error (idempotent). */
enum agent_identity_status agent_token_destroy_id(struct agent_token *tok,
                                                  const struct rotation_proof *proof,
                                                  const unsigned char *key_id, size_t id_len,
                                                  unsigned *count, char *err, size_t err_len);
/* Managed objects whose CKA_LABEL == label. Returns how many there are
 * (may exceed max; only max are filled, out may be NULL when max is 0),
 * or -1 with err. */
int agent_token_find_label(struct agent_token *tok, const char *label,
                           struct agent_token_object *out, size_t max, char *err,
                           size_t err_len);
/* The same for CKA_ID == key_id. */
int agent_token_find_id(struct agent_token *tok, const unsigned char *key_id, size_t id_len,
                        struct agent_token_object *out, size_t max, char *err, size_t err_len);

#endif
