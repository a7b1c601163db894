/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of agent_cert_check: certificates made here with OpenSSL,
 * one per failure the CA's answer can have. "now" is a fixed parameter,
 * never the wall clock, so nothing depends on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert_check.h"
#include "test_certs.h"

#define DAY 86400

struct fixture {
    EVP_PKEY *ca_key, *other_ca_key, *inter_key, *dev_key, *other_key;
    X509 *ca, *other_ca, *inter;
    X509 *current;            /* the certificate being replaced (with SANs) */
    X509_NAME *asked;         /* the subject the CSR asked for: CN=device-001 */
    struct agent_cert_identity identity;   /* trustlink profile */
    char ca_file[64];
};

#define CURRENT_SAN "DNS:device-001.example,URI:urn:example:device:001"

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->ca_key = new_key();
    f->other_ca_key = new_key();
    f->inter_key = new_key();
    f->dev_key = new_key();
    f->other_key = new_key();
    f->ca = make_cert(f->ca_key, "test CA", NULL, NULL, -10 * DAY, 3650L * DAY, 1, NULL, NULL);
    f->other_ca = make_cert(f->other_ca_key, "test CA", NULL, NULL, -10 * DAY, 3650L * DAY, 1,
                            NULL, NULL);
    f->inter = make_cert(f->inter_key, "intermediate", f->ca, f->ca_key, -10 * DAY, 365L * DAY, 1,
                         NULL, NULL);
    f->current = test_cert(&(struct test_cert_spec){
        .key = f->other_key, .subject = "CN=device-001,O=Example", .san = CURRENT_SAN,
        .issuer = f->ca, .issuer_key = f->ca_key, .not_before = -300 * DAY,
        .not_after = 65L * DAY});
    f->asked = X509_NAME_dup(X509_get_subject_name(f->current));
    assert_non_null(f->asked);
    f->identity.subject = f->asked;
    f->identity.current = f->current;
    strcpy(f->ca_file, "/tmp/rotation-ca-XXXXXX");
    write_cert_file(f->ca, f->ca_file);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->ca_file);
    X509_free(f->ca);
    X509_free(f->other_ca);
    X509_free(f->inter);
    X509_free(f->current);
    X509_NAME_free(f->asked);
    EVP_PKEY_free(f->ca_key);
    EVP_PKEY_free(f->other_ca_key);
    EVP_PKEY_free(f->inter_key);
    EVP_PKEY_free(f->dev_key);
    EVP_PKEY_free(f->other_key);
    free(f);
    return 0;
}

/* Checks a leaf (plus optional intermediate) against the fixture's CA, the
 * device key and `who` (NULL: the fixture's trustlink-profile identity);
 * returns the result, err in errbuf. */
static enum agent_cert_check run_as(struct fixture *f, const struct agent_cert_identity *who,
                                    X509 *leaf, X509 *inter, char *errbuf, size_t n)
{
    char *pem = pem_of(leaf, inter);
    enum agent_cert_check rc;
    X509 *got = NULL;
    STACK_OF(X509) *chain = NULL;

    errbuf[0] = '\0';
    rc = agent_cert_check(pem, strlen(pem), f->dev_key, who ? who : &f->identity, f->ca_file, NOW,
                          &got, &chain, errbuf, n);
    if (rc == AGENT_CERT_OK) {
        assert_non_null(got);
        assert_int_equal(X509_cmp(got, leaf), 0);
        assert_non_null(chain);
        assert_int_equal(sk_X509_num(chain), inter ? 1 : 0);
    } else {
        assert_null(got);
        assert_null(chain);
        assert_true(strlen(errbuf) > 0);
    }
    X509_free(got);
    sk_X509_pop_free(chain, X509_free);
    free(pem);
    return rc;
}

static enum agent_cert_check run(struct fixture *f, X509 *leaf, X509 *inter, char *errbuf,
                                 size_t n)
{
    return run_as(f, NULL, leaf, inter, errbuf, n);
}

static void good(void **state)
{
    struct fixture *f = *state;
    char err[512];
    X509 *leaf = make_cert(f->dev_key, "device-001", f->ca, f->ca_key, -60, DAY, 0,
                           "clientAuth", "critical,digitalSignature");

    assert_int_equal(run(f, leaf, NULL, err, sizeof(err)), AGENT_CERT_OK);
    X509_free(leaf);
}

static void good_without_extensions_and_with_intermediate(void **state)
{
    struct fixture *f = *state;
    char err[512];
    X509 *leaf = make_cert(f->dev_key, "device-001", f->inter, f->inter_key, -60, DAY, 0, NULL,
                           NULL);

    assert_int_equal(run(f, leaf, f->inter, err, sizeof(err)), AGENT_CERT_OK);
    /* Without the intermediate in the answer it cannot chain. */
    assert_int_equal(run(f, leaf, NULL, err, sizeof(err)), AGENT_CERT_UNTRUSTED);
    X509_free(leaf);
}

static void other_key(void **state)
{
    struct fixture *f = *state;
    char err[512];
    X509 *leaf = make_cert(f->other_key, "device-001", f->ca, f->ca_key, -60, DAY, 0,
                           "clientAuth", NULL);

    assert_int_equal(run(f, leaf, NULL, err, sizeof(err)), AGENT_CERT_KEY_MISMATCH);
    assert_non_null(strstr(err, "another key"));
    X509_free(leaf);
}

static void other_ca(void **state)
{
    struct fixture *f = *state;
    char err[512];
    /* Same issuer name as the real CA, different key: only the signature differs. */
    X509 *leaf = make_cert(f->dev_key, "device-001", f->other_ca, f->other_ca_key, -60, DAY, 0,
                           "clientAuth", NULL);

    assert_int_equal(run(f, leaf, NULL, err, sizeof(err)), AGENT_CERT_UNTRUSTED);
    assert_non_null(strstr(err, f->ca_file));
    X509_free(leaf);
}

static void expired(void **state)
{
    struct fixture *f = *state;
    char err[512];
    X509 *leaf = make_cert(f->dev_key, "device-001", f->ca, f->ca_key, -2 * DAY, -1, 0,
                           "clientAuth", NULL);

    assert_int_equal(run(f, leaf, NULL, err, sizeof(err)), AGENT_CERT_EXPIRED);
    assert_non_null(strstr(err, "expired"));
    X509_free(leaf);
}

static void not_yet_valid(void **state)
{
    struct fixture *f = *state;
    char err[512];
    X509 *leaf = make_cert(f->dev_key, "device-001", f->ca, f->ca_key, 3600, DAY, 0,
                           "clientAuth", NULL);

    assert_int_equal(run(f, leaf, NULL, err, sizeof(err)), AGENT_CERT_NOT_YET_VALID);
    X509_free(leaf);
}

static void expired_intermediate(void **state)
{
    struct fixture *f = *state;
    char err[512];
    X509 *inter = make_cert(f->inter_key, "intermediate", f->ca, f->ca_key, -10 * DAY, -DAY, 1,
                            NULL, NULL);
    X509 *leaf = make_cert(f->dev_key, "device-001", inter, f->inter_key, -60, DAY, 0, NULL,
                           NULL);

    assert_int_equal(run(f, leaf, inter, err, sizeof(err)), AGENT_CERT_EXPIRED);
    X509_free(leaf);
    X509_free(inter);
}

static void server_auth_only(void **state)
{
    struct fixture *f = *state;
    char err[512];
    X509 *leaf = make_cert(f->dev_key, "device-001", f->ca, f->ca_key, -60, DAY, 0,
                           "serverAuth", NULL);

    assert_int_equal(run(f, leaf, NULL, err, sizeof(err)), AGENT_CERT_USAGE);
    assert_non_null(strstr(err, "clientAuth"));
    X509_free(leaf);
}

static void key_usage_without_digital_signature(void **state)
{
    struct fixture *f = *state;
    char err[512];
    X509 *leaf = make_cert(f->dev_key, "device-001", f->ca, f->ca_key, -60, DAY, 0,
                           "clientAuth", "critical,keyEncipherment");

    assert_int_equal(run(f, leaf, NULL, err, sizeof(err)), AGENT_CERT_USAGE);
    X509_free(leaf);
}

static void garbage_and_empty(void **state)
{
    struct fixture *f = *state;
    char err[512];
    const char *garbage = "this is not a certificate";
    const char *bad_pem = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    X509 *leaf = NULL;

    assert_int_equal(agent_cert_check(garbage, strlen(garbage), f->dev_key, &f->identity,
                                      f->ca_file, NOW, &leaf, NULL, err, sizeof(err)),
                     AGENT_CERT_PARSE);
    assert_null(leaf);
    assert_int_equal(agent_cert_check(bad_pem, strlen(bad_pem), f->dev_key, &f->identity,
                                      f->ca_file, NOW, NULL, NULL, err, sizeof(err)),
                     AGENT_CERT_PARSE);
    assert_int_equal(agent_cert_check("", 0, f->dev_key, &f->identity, f->ca_file, NOW, NULL,
                                      NULL, err, sizeof(err)), AGENT_CERT_EMPTY);
    assert_int_equal(agent_cert_check(" \n", 2, f->dev_key, &f->identity, f->ca_file, NOW, NULL,
                                      NULL, err, sizeof(err)), AGENT_CERT_EMPTY);
    assert_int_equal(agent_cert_check(NULL, 0, f->dev_key, &f->identity, f->ca_file, NOW, NULL,
                                      NULL, err, sizeof(err)), AGENT_CERT_EMPTY);
}

static void good_leaf_then_garbage_block(void **state)
{
    struct fixture *f = *state;
    char err[512], *pem, *both;
    X509 *leaf = make_cert(f->dev_key, "device-001", f->ca, f->ca_key, -60, DAY, 0, NULL, NULL);
    const char *bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    pem = pem_of(leaf, NULL);
    both = malloc(strlen(pem) + strlen(bad) + 1);
    strcpy(both, pem);
    strcat(both, bad);
    assert_int_equal(agent_cert_check(both, strlen(both), f->dev_key, &f->identity, f->ca_file,
                                      NOW, NULL, NULL, err, sizeof(err)), AGENT_CERT_PARSE);
    assert_non_null(strstr(err, "block 2"));
    free(both);
    free(pem);
    X509_free(leaf);
}

static void unreadable_ca_file(void **state)
{
    struct fixture *f = *state;
    char err[512], *pem;
    X509 *leaf = make_cert(f->dev_key, "device-001", f->ca, f->ca_key, -60, DAY, 0, NULL, NULL);

    pem = pem_of(leaf, NULL);
    assert_int_equal(agent_cert_check(pem, strlen(pem), f->dev_key, &f->identity,
                                      "/nonexistent/ca.pem", NOW, NULL, NULL, err, sizeof(err)),
                     AGENT_CERT_CA_FILE);
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    free(pem);
    X509_free(leaf);
}

/* ---- identity rule: the new certificate still names this device ------- */

/* A leaf for the device key from the fixture's CA, valid now. */
static X509 *leaf_named(struct fixture *f, const char *subject, const char *san)
{
    return test_cert(&(struct test_cert_spec){
        .key = f->dev_key, .subject = subject, .san = san, .issuer = f->ca,
        .issuer_key = f->ca_key, .not_before = -60, .not_after = DAY, .eku = "clientAuth"});
}

static enum agent_cert_check check_named(struct fixture *f, const struct agent_cert_identity *who,
                                         const char *subject, const char *san, char *err,
                                         size_t n)
{
    X509 *leaf = leaf_named(f, subject, san);
    enum agent_cert_check rc = run_as(f, who, leaf, NULL, err, n);

    X509_free(leaf);
    return rc;
}

static void other_device_subject_refused(void **state)
{
    struct fixture *f = *state;
    char err[512];

    assert_int_equal(check_named(f, NULL, "CN=device-002,O=Example", NULL, err, sizeof(err)),
                     AGENT_CERT_OTHER_DEVICE);
    assert_non_null(strstr(err, "another device"));
    assert_non_null(strstr(err, "device-002"));
    /* A second commonName, a case change, no commonName at all: other names. */
    assert_int_equal(check_named(f, NULL, "CN=device-001,CN=device-002", NULL, err, sizeof(err)),
                     AGENT_CERT_OTHER_DEVICE);
    assert_int_equal(check_named(f, NULL, "CN=Device-001", NULL, err, sizeof(err)),
                     AGENT_CERT_OTHER_DEVICE);
    assert_int_equal(check_named(f, NULL, "O=Example", NULL, err, sizeof(err)),
                     AGENT_CERT_OTHER_DEVICE);
    assert_string_equal(agent_cert_check_name(AGENT_CERT_OTHER_DEVICE), "other-device");
}

static void same_common_name_other_attributes_accepted(void **state)
{
    struct fixture *f = *state;
    char err[512];

    /* The CA may rewrite the organisation; the commonName names the device. */
    assert_int_equal(check_named(f, NULL, "CN=device-001", NULL, err, sizeof(err)), AGENT_CERT_OK);
    assert_int_equal(check_named(f, NULL, "C=DE,O=Other Org,CN=device-001", NULL, err,
                                 sizeof(err)), AGENT_CERT_OK);
}

static void alt_names_of_the_current_certificate_accepted(void **state)
{
    struct fixture *f = *state;
    char err[512];

    assert_int_equal(check_named(f, NULL, "CN=device-001", CURRENT_SAN, err, sizeof(err)),
                     AGENT_CERT_OK);
    /* Dropping a name is fine. */
    assert_int_equal(check_named(f, NULL, "CN=device-001", "URI:urn:example:device:001", err,
                                 sizeof(err)), AGENT_CERT_OK);
}

static void alt_name_of_another_device_refused(void **state)
{
    struct fixture *f = *state;
    struct agent_cert_identity no_current = {.subject = f->asked};
    char err[512];

    assert_int_equal(check_named(f, NULL, "CN=device-001",
                                 "DNS:device-001.example,DNS:device-002.example", err, sizeof(err)),
                     AGENT_CERT_OTHER_DEVICE);
    assert_non_null(strstr(err, "DNS:device-002.example"));
    assert_int_equal(check_named(f, NULL, "CN=device-001", "URI:urn:example:device:002", err,
                                 sizeof(err)), AGENT_CERT_OTHER_DEVICE);
    /* Same text, other type: another name. */
    assert_int_equal(check_named(f, NULL, "CN=device-001", "email:device-001.example", err,
                                 sizeof(err)), AGENT_CERT_OTHER_DEVICE);
    /* No current certificate known: no alternative name can be ours. */
    assert_int_equal(check_named(f, &no_current, "CN=device-001", "DNS:device-001.example", err,
                                 sizeof(err)), AGENT_CERT_OTHER_DEVICE);
    assert_int_equal(check_named(f, &no_current, "CN=device-001", NULL, err, sizeof(err)),
                     AGENT_CERT_OK);
}

static void subject_without_common_name_compared_whole(void **state)
{
    struct fixture *f = *state;
    X509_NAME *asked = X509_NAME_new();
    struct agent_cert_identity who = {.subject = asked, .current = f->current};
    char err[512];

    X509_NAME_add_entry_by_txt(asked, "O", MBSTRING_UTF8, (const unsigned char *)"Example", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(asked, "serialNumber", MBSTRING_UTF8,
                               (const unsigned char *)"0123", -1, -1, 0);
    assert_int_equal(check_named(f, &who, "O=Example,serialNumber=0123", NULL, err, sizeof(err)),
                     AGENT_CERT_OK);
    assert_int_equal(check_named(f, &who, "O=Example,serialNumber=0124", NULL, err, sizeof(err)),
                     AGENT_CERT_OTHER_DEVICE);
    assert_int_equal(check_named(f, &who, "O=Example,serialNumber=0123,CN=device-002", NULL, err,
                                 sizeof(err)), AGENT_CERT_OTHER_DEVICE);
    X509_NAME_free(asked);
}

/* AWS IoT issues every certificate as CN=AWS IoT Certificate: accepted on
 * the aws profile only, and only exactly that subject. */
static void aws_fixed_subject(void **state)
{
    struct fixture *f = *state;
    struct agent_cert_identity aws = f->identity;
    char err[512];

    aws.aws_subject = true;
    assert_int_equal(check_named(f, &aws, "CN=AWS IoT Certificate", NULL, err, sizeof(err)),
                     AGENT_CERT_OK);
    assert_int_equal(check_named(f, NULL, "CN=AWS IoT Certificate", NULL, err, sizeof(err)),
                     AGENT_CERT_OTHER_DEVICE);
    /* What the CSR asked for is fine on aws too (a certificate provider). */
    assert_int_equal(check_named(f, &aws, "CN=device-001", NULL, err, sizeof(err)), AGENT_CERT_OK);
    assert_int_equal(check_named(f, &aws, "CN=device-002", NULL, err, sizeof(err)),
                     AGENT_CERT_OTHER_DEVICE);
    assert_non_null(strstr(err, "AWS IoT Certificate"));
    assert_int_equal(check_named(f, &aws, "CN=AWS IoT Certificate,O=device-002", NULL, err,
                                 sizeof(err)), AGENT_CERT_OTHER_DEVICE);
    assert_int_equal(check_named(f, &aws, "CN=AWS IoT Certificate", "DNS:device-002.example", err,
                                 sizeof(err)), AGENT_CERT_OTHER_DEVICE);
    /* Rotating again: the current certificate is AWS's, so is the CSR subject. */
    {
        X509 *current = leaf_named(f, "CN=AWS IoT Certificate", NULL);
        struct agent_cert_identity again = {.subject = X509_get_subject_name(current),
                                            .current = current, .aws_subject = true};

        assert_int_equal(check_named(f, &again, "CN=AWS IoT Certificate", NULL, err, sizeof(err)),
                         AGENT_CERT_OK);
        assert_int_equal(check_named(f, &again, "CN=device-002", NULL, err, sizeof(err)),
                         AGENT_CERT_OTHER_DEVICE);
        X509_free(current);
    }
}

static void identity_is_required(void **state)
{
    struct fixture *f = *state;
    X509 *leaf = leaf_named(f, "CN=device-001", NULL);
    char err[512], *pem = pem_of(leaf, NULL);

    assert_int_equal(agent_cert_check(pem, strlen(pem), f->dev_key, NULL, f->ca_file, NOW, NULL,
                                      NULL, err, sizeof(err)), AGENT_CERT_INTERNAL);
    free(pem);
    X509_free(leaf);
}

static void names_are_distinct(void **state)
{
    (void)state;
    for (int a = AGENT_CERT_OK; a <= AGENT_CERT_INTERNAL; a++)
        for (int b = a + 1; b <= AGENT_CERT_INTERNAL; b++)
            assert_string_not_equal(agent_cert_check_name(a), agent_cert_check_name(b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good),
        cmocka_unit_test(good_without_extensions_and_with_intermediate),
        cmocka_unit_test(other_key),
        cmocka_unit_test(other_ca),
        cmocka_unit_test(expired),
        cmocka_unit_test(not_yet_valid),
        cmocka_unit_test(expired_intermediate),
        cmocka_unit_test(server_auth_only),
        cmocka_unit_test(key_usage_without_digital_signature),
        cmocka_unit_test(garbage_and_empty),
        cmocka_unit_test(good_leaf_then_garbage_block),
        cmocka_unit_test(unreadable_ca_file),
        cmocka_unit_test(other_device_subject_refused),
        cmocka_unit_test(same_common_name_other_attributes_accepted),
        cmocka_unit_test(alt_names_of_the_current_certificate_accepted),
        cmocka_unit_test(alt_name_of_another_device_refused),
        cmocka_unit_test(subject_without_common_name_compared_whole),
        cmocka_unit_test(aws_fixed_subject),
        cmocka_unit_test(identity_is_required),
        cmocka_unit_test(names_are_distinct),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
