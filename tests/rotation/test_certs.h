/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates for the rotation unit tests, made with OpenSSL in memory.
 * Validity is relative to NOW, a fixed time, never the wall clock.
 */
#ifndef TRUSTLINK_TESTS_ROTATION_TEST_CERTS_H
#define TRUSTLINK_TESTS_ROTATION_TEST_CERTS_H

#include <time.h>

#include <openssl/x509.h>

#define NOW ((time_t)1700000000)

/* A fresh P-256 key (fails the test if OpenSSL cannot make one). */
EVP_PKEY *new_key(void);
/* A certificate for key named cn, signed by issuer (NULL: self-signed),
 * valid [NOW+nb, NOW+na]; eku/ku NULL for none. */
X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long nb,
                long na, int is_ca, const char *eku, const char *ku);
/* PEM of a then b (b may be NULL), NUL-terminated; free() it. */
char *pem_of(X509 *a, X509 *b);

#endif
