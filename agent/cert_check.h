/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation of a CA's answer to a rotation CSR, before anything of it is
 * stored on the token.
 *
 * Owns: parsing the PEM answer (leaf first, then optional intermediates),
 * and the checks: leaf public key == the new key, the leaf still names
 * this device (the identity rule below), chain verifies to the configured
 * issuing CA (the only trust anchor), validity covers `now`, clientAuth
 * allowed when extendedKeyUsage/keyUsage are present.
 * Must never: trust anything but the configured CA file (no default
 * paths, no intermediate from the answer as an anchor); read the clock
 * itself (the caller passes `now`); touch the token.
 */
#ifndef TRUSTLINK_AGENT_CERT_CHECK_H
#define TRUSTLINK_AGENT_CERT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum agent_cert_check {
    AGENT_CERT_OK = 0,
    AGENT_CERT_EMPTY,          /* no certificate in the answer */
    AGENT_CERT_PARSE,          /* not PEM, or a PEM block that is no certificate */
    AGENT_CERT_KEY_MISMATCH,   /* leaf is for another key */
    AGENT_CERT_CA_FILE,        /* the configured CA file is unreadable/empty */
    AGENT_CERT_UNTRUSTED,      /* does not chain to the configured CA */
    AGENT_CERT_NOT_YET_VALID,  /* notBefore after now */
    AGENT_CERT_EXPIRED,        /* notAfter before now */
    AGENT_CERT_USAGE,          /* EKU/keyUsage present and forbid TLS client auth */
    AGENT_CERT_OTHER_DEVICE,   /* subject or subjectAltName names someone else */
    AGENT_CERT_INTERNAL,       /* out of memory, ... */
};

/* The subject AWS IoT gives every certificate it issues, whatever the CSR
 * asked for: it names no device (AWS binds certificate and thing by
 * attachment, not by name). */
#define AGENT_CERT_AWS_SUBJECT_CN "AWS IoT Certificate"

/* Who a new certificate must name (docs/rotation.md, "identity rule"):
 * - its subject commonName values equal, in order, those of `subject`
 *   (the subject the CSR asked for); a `subject` without commonName must
 *   equal the leaf's whole subject;
 * - or, when aws_subject is set, its subject is exactly
 *   CN=AGENT_CERT_AWS_SUBJECT_CN;
 * - and every subjectAltName entry it has is also one of `current`'s (the
 *   certificate being replaced; NULL: none allowed): a CA may drop a name,
 *   never add one. */
struct agent_cert_identity {
    const X509_NAME *subject;
    X509 *current;
    bool aws_subject;
};

/* A short stable name ("key-mismatch", ...) for status and logs. */
const char *agent_cert_check_name(enum agent_cert_check result);

/* Checks the answer `pem` (len bytes, need not be NUL-terminated).
 * `expected` holds (at least) the new key's public half; `identity` says
 * whom the leaf must name (required: NULL is AGENT_CERT_INTERNAL); `ca_file` is the
 * issuing CA bundle; `now` the time to check validity against.
 * On AGENT_CERT_OK, if leaf_out / chain_out are non-NULL they receive the
 * leaf and the intermediates (caller frees: X509_free,
 * sk_X509_pop_free(.., X509_free)). On failure they are left NULL and err holds a
 * message naming the check and the certificate subject. */
enum agent_cert_check agent_cert_check(const char *pem, size_t len, EVP_PKEY *expected,
                                       const struct agent_cert_identity *identity,
                                       const char *ca_file, time_t now, X509 **leaf_out,
                                       STACK_OF(X509) **chain_out, char *err, size_t err_len);

/* The leaf-only checks of agent_cert_check, for a certificate installed
 * by hand (no CA answer to verify against): leaf public key == expected,
 * validity covers now, clientAuth allowed. err names the check and the
 * certificate subject. */
enum agent_cert_check agent_cert_check_leaf(X509 *leaf, EVP_PKEY *expected, time_t now, char *err,
                                            size_t err_len);

/* The identity rule alone (see struct agent_cert_identity):
 * AGENT_CERT_OK, AGENT_CERT_OTHER_DEVICE (err names the offending name) or
 * AGENT_CERT_PARSE / AGENT_CERT_INTERNAL. */
enum agent_cert_check agent_cert_check_identity(X509 *leaf,
                                                const struct agent_cert_identity *identity,
                                                char *err, size_t err_len);

#endif
