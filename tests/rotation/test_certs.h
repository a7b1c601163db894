/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates for the rotation unit tests, made with OpenSSL in memory:
 * one factory for every test that needs a CA, an intermediate or a leaf.
 * Validity is relative to NOW, a fixed time, never the wall clock, unless
 * an absolute notAfter is asked for (dates past 2038, "99991231235959Z").
 */
#ifndef TRUSTLINK_TESTS_ROTATION_TEST_CERTS_H
#define TRUSTLINK_TESTS_ROTATION_TEST_CERTS_H

#include <time.h>

#include <openssl/x509.h>

#define NOW ((time_t)1700000000)

/* What test_cert makes. Zero fields mean "none" / "self-signed". */
struct test_cert_spec {
    EVP_PKEY *key;            /* the certified key (required) */
    const char *subject;      /* "CN=device-001" or "CN=device-001,O=Example" */
    const char *san;          /* subjectAltName as OpenSSL config: "DNS:a,URI:urn:b" */
    X509 *issuer;             /* NULL: self-signed */
    EVP_PKEY *issuer_key;
    long not_before;          /* seconds relative to NOW */
    long not_after;           /* seconds relative to NOW ... */
    const char *not_after_at; /* ... unless this absolute time ("20400101000000Z") is set */
    int is_ca;
    const char *eku;          /* extendedKeyUsage value, e.g. "clientAuth" */
    const char *ku;           /* keyUsage value, e.g. "critical,digitalSignature" */
};

/* A fresh P-256 key (fails the test if OpenSSL cannot make one). */
EVP_PKEY *new_key(void);
/* The certificate spec describes, signed by its issuer (SHA-256); fails the
 * test if OpenSSL refuses any part of it. */
X509 *test_cert(const struct test_cert_spec *spec);
/* Shorthand: subject CN=cn, no SAN, valid [NOW+nb, NOW+na]. */
X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long nb,
                long na, int is_ca, const char *eku, const char *ku);
/* Writes cert as PEM to a new file named after path, a mkstemp template
 * ("/tmp/name-XXXXXX") completed in place; the caller unlinks it. */
void write_cert_file(X509 *cert, char *path);
/* PEM of a then b (b may be NULL), NUL-terminated; free() it. */
char *pem_of(X509 *a, X509 *b);

#endif
