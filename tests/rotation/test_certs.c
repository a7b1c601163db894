/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates for the rotation unit tests (see test_certs.h).
 */
#include "test_certs.h"

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

EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

/* Adds "attr=value,attr=value" to name; values must not contain commas. */
static void add_subject(X509_NAME *name, const char *subject)
{
    char *copy = strdup(subject), *save = NULL;

    assert_non_null(copy);
    for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');

        assert_non_null(eq);
        *eq = '\0';
        assert_int_equal(X509_NAME_add_entry_by_txt(name, part, MBSTRING_UTF8,
                                                    (const unsigned char *)eq + 1, -1, -1, 0),
                         1);
    }
    free(copy);
}

X509 *test_cert(const struct test_cert_spec *s)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    static long serial = 1;

    assert_non_null(x);
    assert_non_null(name);
    assert_non_null(s->key);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    if (s->subject)
        add_subject(name, s->subject);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : name);
    X509_NAME_free(name);
    X509_time_adj_ex(X509_getm_notBefore(x), 0, s->not_before, &(time_t){NOW});
    if (s->not_after_at)
        assert_int_equal(ASN1_TIME_set_string_X509(X509_getm_notAfter(x), s->not_after_at), 1);
    else
        X509_time_adj_ex(X509_getm_notAfter(x), 0, s->not_after, &(time_t){NOW});
    X509_set_pubkey(x, s->key);
    if (s->is_ca) {
        add_ext(x, s->issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, s->issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    if (s->san)
        add_ext(x, s->issuer, NID_subject_alt_name, s->san);
    if (s->eku)
        add_ext(x, s->issuer, NID_ext_key_usage, s->eku);
    if (s->ku)
        add_ext(x, s->issuer, NID_key_usage, s->ku);
    assert_true(X509_sign(x, s->issuer_key ? s->issuer_key : s->key, EVP_sha256()) > 0);
    return x;
}

X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long nb,
                long na, int is_ca, const char *eku, const char *ku)
{
    char subject[256];

    snprintf(subject, sizeof(subject), "CN=%s", cn);
    return test_cert(&(struct test_cert_spec){
        .key = key, .subject = subject, .issuer = issuer, .issuer_key = issuer_key,
        .not_before = nb, .not_after = na, .is_ca = is_ca, .eku = eku, .ku = ku});
}

char *pem_of(X509 *a, X509 *b)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long len;

    PEM_write_bio_X509(bio, a);
    if (b)
        PEM_write_bio_X509(bio, b);
    len = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)len + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    BIO_free(bio);
    return out;
}

void write_cert_file(X509 *cert, char *path)
{
    int fd = mkstemp(path);
    FILE *fp;

    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_X509(fp, cert), 1);
    assert_int_equal(fclose(fp), 0);
}
