/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlink-ca-responder: certificate issuing (leaf certificates for the
 * CSRs, and the ephemeral CA of the other-ca mode) and the PEM files it
 * reads. See ca_responder.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca_responder.h"

char *pem_of_cert_chain(X509 *leaf, const char *chain)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long len;

    if (!bio || !PEM_write_bio_X509(bio, leaf))
        goto out;
    if (chain && BIO_puts(bio, chain) < 0)
        goto out;
    len = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)len + 1);
    if (out) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
out:
    BIO_free(bio);
    return out;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return 0;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* The certificate both kinds share: version 3, a random positive serial,
 * validity [now+nb, now + na_days days + na seconds], the extensions
 * (NID, value) pairs of exts, signed by sign_key. issuer NULL: self-signed
 * (the issuer is the certificate itself). */
struct ext_spec {
    int nid;
    const char *value;
};

static X509 *make_cert(X509_NAME *subject, EVP_PKEY *pubkey, X509 *issuer, EVP_PKEY *sign_key,
                       long nb, long na_days, long na, const struct ext_spec *exts,
                       size_t n_exts)
{
    X509 *x = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    time_t now = time(NULL);

    if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
        !X509_set_subject_name(x, subject) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : subject) ||
        !X509_set_pubkey(x, pubkey) || !X509_time_adj_ex(X509_getm_notBefore(x), 0, nb, &now) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), na_days, na, &now))
        goto fail;
    for (size_t i = 0; i < n_exts; i++)
        if (!add_ext(x, issuer ? issuer : x, exts[i].nid, exts[i].value))
            goto fail;
    if (X509_sign(x, sign_key, EVP_sha256()) <= 0)
        goto fail;
    BN_free(bn);
    return x;
fail:
    BN_free(bn);
    X509_free(x);
    return NULL;
}

/* Issues a certificate for (subject, pubkey) valid [now+nb, now+na]. */
X509 *issue(X509_NAME *subject, EVP_PKEY *pubkey, X509 *issuer, EVP_PKEY *issuer_key,
                   long nb, long na_days, long na)
{
    static const struct ext_spec leaf[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "clientAuth"},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid"},
    };

    return make_cert(subject, pubkey, issuer, issuer_key, nb, na_days, na, leaf,
                     sizeof(leaf) / sizeof(leaf[0]));
}

X509 *self_signed_ca(EVP_PKEY *key, X509_NAME *name)
{
    static const struct ext_spec ca[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"},
    };

    return make_cert(name, key, NULL, key, -3600, 0, 86400L * 30, ca, sizeof(ca) / sizeof(ca[0]));
}

/* ---- files ------------------------------------------------------------------ */

EVP_PKEY *read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

    if (f)
        fclose(f);
    return k;
}

X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f)
        fclose(f);
    return x;
}

char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 1024 * 1024 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}
