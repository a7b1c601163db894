/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device identity on a PKCS#11 token: module, token, private key and
 * certificate (plus chain), resolved from the config's pkcs11 URIs.
 *
 * Owns: the token gateway it opened (token.h: the only code that talks
 * PKCS#11), the private key EVP_PKEY (a libp11 key: every use is a
 * PKCS#11 call) and the certificate and chain.
 * Must never: print a PIN or pin-value; use the key in a forked child;
 * be freed while an SSL_CTX still holds the key (teardown order: mosquitto
 * client, SSL_CTX, identity; integration-facts.md 1); log in
 * without checking the token is present (libp11 0.4.12 hangs otherwise).
 *
 * Recovery from token faults is a full reload: agent_identity_free and
 * agent_identity_load again (the caller paces it with its own backoff: 1 s, 2 s, then every 4 s).
 *
 * Two phases, for key rotation: agent_identity_open reaches the token
 * (module, token, login) and agent_identity_resolve finds the key and
 * certificate; an opened identity whose key cannot be resolved still
 * serves the token operations of token.h through agent_identity_token
 * (e.g. to finish an interrupted rotation). agent_identity_load is both phases.
 */
#ifndef TRUSTLINK_AGENT_IDENTITY_H
#define TRUSTLINK_AGENT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct agent_identity_config;

enum agent_identity_status {
    AGENT_IDENTITY_OK = 0,
    AGENT_IDENTITY_CONFIG,           /* bad URI, PIN source unreadable, ... */
    AGENT_IDENTITY_MODULE,           /* module not loadable */
    AGENT_IDENTITY_TOKEN_NOT_FOUND,  /* no token matches (may appear later) */
    AGENT_IDENTITY_OBJECT_NOT_FOUND, /* token found, no matching key/cert */
    AGENT_IDENTITY_AMBIGUOUS,        /* URI matches several keys/tokens */
    AGENT_IDENTITY_UNSAFE_KEY,       /* extractable or not sensitive */
    AGENT_IDENTITY_PIN_INCORRECT,
    AGENT_IDENTITY_PIN_LOCKED,
    AGENT_IDENTITY_CERTIFICATE,      /* unreadable, or does not match the key */
    AGENT_IDENTITY_TOKEN_FAULT,      /* device error, removed, ...: retry */
};

struct agent_identity;
struct agent_token;

/* Loads everything (open + resolve). On failure returns the status, *out
 * is NULL and err says what happened and what to do. */
enum agent_identity_status agent_identity_load(const struct agent_identity_config *cfg,
                                               struct agent_identity **out,
                                               char *err, size_t err_len);
/* Phase 1: module, token (by the key URI's token attributes), login. No
 * key yet. On failure *out is NULL. */
enum agent_identity_status agent_identity_open(const struct agent_identity_config *cfg,
                                               struct agent_identity **out,
                                               char *err, size_t err_len);
/* Phase 2: key + certificate (+chain) per cfg, with every check of
 * agent_identity_load. Replaces what an earlier resolve found. On failure
 * the identity stays open (usable for agent_token_* calls) with no key or
 * certificate. */
enum agent_identity_status agent_identity_resolve(struct agent_identity *id,
                                                  const struct agent_identity_config *cfg,
                                                  char *err, size_t err_len);
/* Phase 2 without the certificate: only the key of identity.key, with
 * every key check of agent_identity_resolve (exactly one match, sensitive,
 * not extractable). For first enrollment, before any certificate exists.
 * On failure the identity stays open with no key. */
enum agent_identity_status agent_identity_resolve_key(struct agent_identity *id,
                                                      const struct agent_identity_config *cfg,
                                                      char *err, size_t err_len);
/* After a rotation switched to a new key: takes ownership of key (one
 * EVP_PKEY reference, normally from agent_token_key_by_id), cert and chain
 * (NULL = empty), frees the previous ones (SSL_CTXs hold their own
 * references) and re-reads key_name and the key id from the token. A key
 * not obtained from agent_token_key_by_id has no known id: key_name says
 * so and agent_identity_key_id answers OBJECT_NOT_FOUND. */
void agent_identity_adopt(struct agent_identity *id, EVP_PKEY *key, X509 *cert,
                          STACK_OF(X509) *chain);
/* Replaces the intermediates sent after the leaf; takes ownership of
 * chain (NULL = empty). */
void agent_identity_replace_chain(struct agent_identity *id, STACK_OF(X509) *chain);
void agent_identity_free(struct agent_identity *id);

/* A short name for a status ("pin-incorrect", ...), for status output. */
const char *agent_identity_status_name(enum agent_identity_status status);
/* True for statuses worth retrying later without a config change. */
bool agent_identity_status_retryable(enum agent_identity_status status);

/* The identity's token gateway (token.h), for rotation's token steps. */
struct agent_token *agent_identity_token(const struct agent_identity *id);
/* CKA_ID of the resolved (or adopted) key, for the journal. *len: the
 * capacity of out on entry, the id's length on return. OBJECT_NOT_FOUND
 * when no key is resolved or its id is unknown; CONFIG when out is too
 * small. */
enum agent_identity_status agent_identity_key_id(const struct agent_identity *id,
                                                 unsigned char *out, size_t *len);
EVP_PKEY *agent_identity_key(const struct agent_identity *id);
X509 *agent_identity_certificate(const struct agent_identity *id);
/* Intermediates to send after the leaf; may be empty, never NULL. */
STACK_OF(X509) *agent_identity_chain(const struct agent_identity *id);
/* The key URI as configured, pin-value redacted. */
const char *agent_identity_uri(const struct agent_identity *id);
/* Token label / "label (id hex)" of the key, for messages. */
const char *agent_identity_token_label(const struct agent_identity *id);
/* The PKCS#11 slot id of the identity's token (the rotation journal
 * records it; recovery acts on that token only). */
unsigned long agent_identity_slot_id(const struct agent_identity *id);
const char *agent_identity_key_name(const struct agent_identity *id);
/* Whether the token's slot lists the mechanism (e.g. CKM_ECDSA). */
bool agent_identity_has_mechanism(const struct agent_identity *id, unsigned long mechanism);

/* True when an OpenSSL error code is a PKCS#11 token fault that only a
 * reload can cure: libp11's CKR library, classed TOKEN_FAULT by the
 * gateway's one table (token.h agent_token_status_of_rv). */
bool agent_identity_is_token_fault(unsigned long openssl_error);
/* Scans (without consuming) the thread's OpenSSL error queue for one. */
bool agent_identity_error_queue_has_token_fault(void);

#endif
