/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a CA's answer to a rotation CSR, as the agent reads it
 * (rotation_wire_answer in agent/rotation_wire.c), then the certificate
 * check (agent_cert_check in agent/cert_check.c) on the certificate it
 * yields, against a fixed issuing CA and new key at a fixed time.
 *
 * Input: first byte = mode, the rest = the payload.
 *   bit 0: profile (0 trustlink, 1 AWS)
 *   bit 1: the topic (0 rejected, 1 accepted)
 *   bit 2: the payload is the PEM answer itself, straight to agent_cert_check
 * The outstanding request id is "req-1"; the CSR asked for CN=device-001
 * (the AWS profile also allows AWS IoT's fixed subject). Checks: every answer class comes
 * with what it promises (a certificate text, or a message), a rejected
 * topic never yields a certificate, the check result is a known value with
 * outputs only on success. Corpus: tests/fuzz/ca_answer/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "cert_check.h"
#include "fuzz_target.h"
#include "rotation_wire.h"

/* The issuing CA (the only trust anchor) and the new key's public half:
 * fixed test material, so seeds in the corpus can pass every check. */
static const char issuing_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgjCCASigAwIBAgIBATAKBggqhkjOPQQDAjAXMRUwEwYDVQQDDAxmdXp6IHJv\n"
    "b3QgQ0EwIBcNMjYxMjAzMTUwNzI4WhgPMjEyNjExMDkxNTA3MjhaMBcxFTATBgNV\n"
    "BAMMDGZ1enogcm9vdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEIykNVg\n"
    "14OchCLVePFo3r2UlvXmuIZfbMe6uXrATazd2wkMfEaQxCFh4DI6iFkhHGN7ysqT\n"
    "D5nbieVgeBBKdgajYzBhMB0GA1UdDgQWBBSkrj/rtaOjFTe2COvqzh3M9cXtPjAf\n"
    "BgNVHSMEGDAWgBSkrj/rtaOjFTe2COvqzh3M9cXtPjAPBgNVHRMBAf8EBTADAQH/\n"
    "MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNIADBFAiEA2gbUTkwfjF25x3Dx\n"
    "5pAcZ1JT0tTTdO3VcW4g7AvkdRsCIGbwvvBcbyEa24/Qjx7cgaqpI1SXZXRNmFOy\n"
    "uBl6yEEM\n"
    "-----END CERTIFICATE-----\n";

static const char new_key_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAESXAA0sc9NFs4PgKSuFm+UG4ON1Ya\n"
    "HJbJ7SzQ6nnkY2WLIH1wdtvYtE43Q4A35jzJ8x2CkqEdlT5JA38xOzY3rQ==\n"
    "-----END PUBLIC KEY-----\n";

/* 2030-01-01T00:00:00Z: inside the seeds' validity, after the expired one's. */
#define FUZZ_NOW ((time_t)1893456000)

struct ca_answer_fixture {
    char ca_path[64];
    EVP_PKEY *expected;
    X509_NAME *subject;                   /* the seeds' subject: CN=device-001 */
    struct agent_cert_identity identity;  /* no current certificate: no SAN allowed */
};

/* Built once per process (libFuzzer calls the target many times); the
 * file is removed at exit. */
static struct ca_answer_fixture fixture;

static void remove_ca_file(void)
{
    unlink(fixture.ca_path);
    EVP_PKEY_free(fixture.expected);
    X509_NAME_free(fixture.subject);
}

static void fixture_init(void)
{
    BIO *bio;
    FILE *f = NULL;
    int fd;

    if (fixture.expected != NULL)
        return;
    snprintf(fixture.ca_path, sizeof(fixture.ca_path), "/tmp/trustlink-fuzz-ca-XXXXXX");
    fd = mkstemp(fixture.ca_path);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
        fail_msg("cannot create the CA file in /tmp");
    if (fwrite(issuing_ca_pem, 1, sizeof(issuing_ca_pem) - 1, f) != sizeof(issuing_ca_pem) - 1 ||
        fclose(f) != 0)
        fail_msg("cannot write the CA file %s", fixture.ca_path);
    bio = BIO_new_mem_buf(new_key_pub_pem, -1);
    fixture.expected = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (fixture.expected == NULL)
        fail_msg("cannot read the fixed public key");
    fixture.subject = X509_NAME_new();
    if (fixture.subject == NULL ||
        X509_NAME_add_entry_by_txt(fixture.subject, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)"device-001", -1, -1, 0) != 1)
        fail_msg("cannot make the expected subject");
    fixture.identity.subject = fixture.subject;
    atexit(remove_ca_file);
}

static void check_certificate(const char *pem, size_t len, bool aws)
{
    struct agent_cert_identity identity = fixture.identity;
    X509 *leaf = NULL;
    STACK_OF(X509) *chain = NULL;
    char err[512];
    enum agent_cert_check rc;

    err[0] = '\0';
    identity.aws_subject = aws;
    rc = agent_cert_check(pem, len, fixture.expected, &identity, fixture.ca_path, FUZZ_NOW,
                          &leaf, &chain, err, sizeof(err));
    if (rc < AGENT_CERT_OK || rc > AGENT_CERT_INTERNAL)
        fail_msg("agent_cert_check returned %d", (int)rc);
    if (agent_cert_check_name(rc) == NULL || agent_cert_check_name(rc)[0] == '\0')
        fail_msg("no name for check result %d", (int)rc);
    if (rc == AGENT_CERT_OK) {
        if (leaf == NULL || chain == NULL)
            fail_msg("accepted without the leaf or the chain");
        if (EVP_PKEY_eq(X509_get0_pubkey(leaf), fixture.expected) != 1)
            fail_msg("accepted a leaf for another key");
    } else {
        if (leaf != NULL || chain != NULL)
            fail_msg("check %s failed but left outputs set", agent_cert_check_name(rc));
        if (err[0] == '\0')
            fail_msg("check %s failed without a message", agent_cert_check_name(rc));
    }
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum agent_rotation_profile profile;
    enum rotation_answer answer;
    bool accepted;
    char *pem = NULL;
    char err[512];

    if (size == 0)
        return 0;
    fixture_init();
    profile = (data[0] & 1) ? AGENT_ROTATION_AWS : AGENT_ROTATION_TRUSTLINK;
    accepted = (data[0] & 2) != 0;
    if (data[0] & 4) {
        check_certificate((const char *)data + 1, size - 1, profile == AGENT_ROTATION_AWS);
        return 0;
    }
    err[0] = '\0';
    answer = rotation_wire_answer(profile, accepted, "req-1", data + 1, size - 1, &pem, err,
                                  sizeof(err));
    switch (answer) {
    case ROTATION_ANSWER_CERTIFICATE:
        if (!accepted)
            fail_msg("a certificate from the rejected topic");
        if (pem == NULL)
            fail_msg("a certificate answer without the certificate");
        check_certificate(pem, strlen(pem), profile == AGENT_ROTATION_AWS);
        break;
    case ROTATION_ANSWER_REJECTED:
    case ROTATION_ANSWER_MALFORMED:
        if (err[0] == '\0')
            fail_msg("answer class %d without a message", (int)answer);
        /* fall through */
    case ROTATION_ANSWER_IGNORE:
        if (pem != NULL)
            fail_msg("answer class %d left a certificate", (int)answer);
        break;
    default:
        fail_msg("unknown answer class %d", (int)answer);
    }
    free(pem);
    return 0;
}
