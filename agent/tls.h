/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's own TLS client context, handed to libmosquitto through
 * MOSQ_OPT_SSL_CTX (with MOSQ_OPT_SSL_CTX_WITH_DEFAULTS = 0, so
 * libmosquitto leaves it alone; integration-facts.md 2).
 *
 * Owns: the SSL_CTX (one reference; libmosquitto takes its own), the
 * broker verification settings (CA, SSL_VERIFY_PEER, host name or IP
 * check, minimum protocol), the client certificate, chain and token key,
 * the one remembered TLS session (memory only, an SSL_SESSION_dup copy;
 * integration-facts.md 3) and the record of why the last handshake failed.
 * Must never: write the session anywhere (a ticket is a bearer
 * credential); be reused with another identity (a new identity gets a new
 * agent_tls, so sessions never cross keys); outlive the identity whose
 * key it holds (teardown: mosquitto client, then this, then identity).
 *
 * Signature counter: counts CertificateVerify messages this client sent.
 * Each is exactly one private-key signature on the token (the only use of
 * the key in TLS); resumed handshakes send none. Signing attempts that fail
 * on the token are not counted (they show up as token faults).
 */
#ifndef TRUSTLINK_AGENT_TLS_H
#define TRUSTLINK_AGENT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config.h"

struct agent_identity;

/* Counters owned by the caller (they outlive each agent_tls). */
struct agent_tls_counters {
    uint64_t signatures;          /* CertificateVerify messages sent */
    uint64_t full_handshakes;
    uint64_t resumed_handshakes;
    uint64_t failed_handshakes;
};

/* Why the last handshake failed, as far as the client can tell. */
struct agent_tls_failure {
    bool failed;                  /* a handshake ended in error since the last take */
    int verify_error;             /* X509_V_OK if our verification did not fail */
    char verify_detail[256];      /* "certificate has expired (depth 0, /CN=...)" */
    int alert;                    /* fatal alert received from the peer, or -1 */
    int sent_alert;               /* fatal alert we sent (we ended the handshake), or -1 */
    bool token_fault;             /* the signature failed on the token */
    char ssl_error[256];          /* first OpenSSL error text, if any */
};

struct agent_tls;

struct agent_tls *agent_tls_new(const struct agent_broker_config *broker,
                                const struct agent_identity *identity,
                                struct agent_tls_counters *counters, char *err, size_t err_len);
/* The same for a key and certificate that are not (yet) the identity's:
 * a rotation's new pair. key_name is for messages; chain may be NULL. */
struct agent_tls *agent_tls_new_for_key(const struct agent_broker_config *broker, X509 *cert,
                                        STACK_OF(X509) *chain, EVP_PKEY *key,
                                        const char *key_name,
                                        struct agent_tls_counters *counters, char *err,
                                        size_t err_len);
void agent_tls_free(struct agent_tls *tls);

SSL_CTX *agent_tls_ctx(const struct agent_tls *tls);
/* Drops the remembered session (next handshake is a full one). */
void agent_tls_forget_session(struct agent_tls *tls);
bool agent_tls_has_session(const struct agent_tls *tls);
/* Copies the failure record into out and resets it. */
void agent_tls_take_failure(struct agent_tls *tls, struct agent_tls_failure *out);

#endif
