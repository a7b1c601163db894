/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate signing requests for key rotation, signed on the token.
 *
 * Owns: building an X509_REQ (subject, public key, SHA-256 signature) for a
 * given EVP_PKEY and encoding it as PEM; parsing a subject string; reading
 * the subject back out of a CSR it built.
 * Must never: read, export or copy private key bytes (the EVP_PKEY is a
 * libp11 key: X509_REQ_sign reaches C_Sign on the token); take ownership
 * of the caller's key, subject or certificate; add extensions the CA did
 * not ask for (the CA decides usages; see tests/rotation/README.md).
 */
#ifndef TRUSTLINK_AGENT_CSR_H
#define TRUSTLINK_AGENT_CSR_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Parses "/CN=device-001/O=Example" or "CN=device-001,O=Example" into a
 * new X509_NAME (UTF-8 values; '\' escapes the next character). Returns 0,
 * or -1 with err set (unknown attribute, empty value, no attribute). */
int agent_csr_parse_subject(const char *text, X509_NAME **out, char *err, size_t err_len);

/* Builds a CSR for `key` (its public half goes into the request; the
 * signature is made through `key`, i.e. on the token) with `subject`, and
 * checks the result against the key's public half. On success returns 0
 * and *pem_out is a NUL-terminated PEM string the caller frees with
 * free(). On failure returns -1, *pem_out is NULL, err says why (including
 * the OpenSSL/PKCS#11 reason). */
int agent_csr_build(EVP_PKEY *key, const X509_NAME *subject, char **pem_out, char *err,
                    size_t err_len);

/* The subject of the PEM CSR csr_pem (a new X509_NAME the caller frees),
 * or NULL with err set. The rotation checks the CA's certificate against
 * what its own CSR asked for (cert_check.h, identity rule). */
X509_NAME *agent_csr_subject_of(const char *csr_pem, char *err, size_t err_len);

#endif
