/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of agent_csr with a software key (the token path is tested
 * by csr_token.sh with SoftHSMv2 and our module on the emulator).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include "csr.h"

static void builds_verifiable_csr(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509_NAME *subj = NULL;
    X509_REQ *req;
    BIO *bio;
    char err[256], *pem = NULL, cn[64];
    (void)state;

    assert_int_equal(agent_csr_parse_subject("/CN=device-001/O=Example\\/Org", &subj, err,
                                             sizeof(err)), 0);
    assert_int_equal(agent_csr_build(key, subj, &pem, err, sizeof(err)), 0);
    assert_non_null(strstr(pem, "BEGIN CERTIFICATE REQUEST"));
    bio = BIO_new_mem_buf(pem, -1);
    req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    assert_non_null(req);
    assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
    assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key), 1);
    assert_int_equal(X509_NAME_cmp(X509_REQ_get_subject_name(req), subj), 0);
    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_organizationName, cn,
                              sizeof(cn));
    assert_string_equal(cn, "Example/Org");
    X509_REQ_free(req);
    BIO_free(bio);
    free(pem);
    X509_NAME_free(subj);
    EVP_PKEY_free(key);
}

static void subject_forms(void **state)
{
    X509_NAME *n = NULL;
    char err[256], buf[128];
    (void)state;

    assert_int_equal(agent_csr_parse_subject("CN=a b,O=x", &n, err, sizeof(err)), 0);
    X509_NAME_oneline(n, buf, sizeof(buf));
    assert_string_equal(buf, "/CN=a b/O=x");
    X509_NAME_free(n);
    static const char *const bad[] = {"", "/", "/CN", "/CN=", "/XX=1", "CN=a,,O=b", "=a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = NULL;
        err[0] = '\0';
        if (agent_csr_parse_subject(bad[i], &n, err, sizeof(err)) != -1)
            fail_msg("subject \"%s\" accepted", bad[i]);
        assert_null(n);
        assert_true(strlen(err) > 0);
    }
}

static void refuses_non_ec_and_missing_args(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(1024);
    X509_NAME *subj = NULL;
    char err[256], *pem = (char *)"x";
    (void)state;

    assert_int_equal(agent_csr_parse_subject("/CN=d", &subj, err, sizeof(err)), 0);
    assert_int_equal(agent_csr_build(rsa, subj, &pem, err, sizeof(err)), -1);
    assert_null(pem);
    assert_non_null(strstr(err, "not an EC key"));
    assert_int_equal(agent_csr_build(NULL, subj, &pem, err, sizeof(err)), -1);
    X509_NAME_free(subj);
    EVP_PKEY_free(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builds_verifiable_csr),
        cmocka_unit_test(subject_forms),
        cmocka_unit_test(refuses_non_ec_and_missing_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
