/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CSR building through an EVP_PKEY (see csr.h).
 * Owns: the X509_REQ and BIO it creates, freed on every path.
 * Must never: touch private key material; it only calls X509_REQ_sign,
 * which for a libp11 key is one C_SignInit + C_Sign on the token.
 */
#include "csr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "err_text.h"

/* The last OpenSSL error as text ("no details" when the queue is empty). */
static const char *ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        return "no details";
    ERR_error_string_n(e, buf, len);
    return buf;
}

int agent_csr_parse_subject(const char *text, X509_NAME **out, char *err, size_t err_len)
{
    X509_NAME *name = NULL;
    char *buf = NULL;
    size_t n, i, o;
    int rc = -1;
    char sep;
    const char *p;

    *out = NULL;
    if (!text || !*text) {
        tl_set_err(err, err_len, "subject: empty");
        return -1;
    }
    n = strlen(text);
    buf = malloc(n + 1);
    name = X509_NAME_new();
    if (!buf || !name) {
        tl_set_err(err, err_len, "subject: out of memory");
        goto out;
    }
    sep = text[0] == '/' ? '/' : ',';
    p = text[0] == '/' ? text + 1 : text;
    while (*p) {
        char *eq;
        /* Copy one "attr=value" component, unescaping. */
        for (i = 0, o = 0; p[i] && p[i] != sep; i++) {
            if (p[i] == '\\' && p[i + 1])
                i++;
            buf[o++] = p[i];
        }
        buf[o] = '\0';
        p += i;
        if (*p == sep)
            p++;
        {
            char *s = buf;
            while (*s == ' ')
                s++;
            if (*s == '\0') {
                if (*p == '\0' && X509_NAME_entry_count(name) > 0)
                    break;
                tl_set_err(err, err_len, "subject \"%s\": empty component", text);
                goto out;
            }
            eq = strchr(s, '=');
            if (!eq || eq == s || eq[1] == '\0') {
                tl_set_err(err, err_len, "subject \"%s\": component \"%s\" is not attribute=value",
                        text, s);
                goto out;
            }
            *eq = '\0';
            if (OBJ_txt2nid(s) == NID_undef) {
                tl_set_err(err, err_len, "subject \"%s\": unknown attribute \"%s\"", text, s);
                goto out;
            }
            if (!X509_NAME_add_entry_by_txt(name, s, MBSTRING_UTF8,
                                            (const unsigned char *)(eq + 1), -1, -1, 0)) {
                tl_set_err(err, err_len, "subject \"%s\": value of \"%s\" rejected", text, s);
                goto out;
            }
        }
    }
    if (X509_NAME_entry_count(name) == 0) {
        tl_set_err(err, err_len, "subject \"%s\": no attribute", text);
        goto out;
    }
    *out = name;
    name = NULL;
    rc = 0;
out:
    X509_NAME_free(name);
    free(buf);
    return rc;
}

int agent_csr_build(EVP_PKEY *key, const X509_NAME *subject, char **pem_out, char *err,
                    size_t err_len)
{
    X509_REQ *req = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    char *data;
    long len;
    char why[256];
    int rc = -1;

    *pem_out = NULL;
    if (!key || !subject) {
        tl_set_err(err, err_len, "CSR: no key or no subject");
        return -1;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
        tl_set_err(err, err_len, "CSR: the new key is not an EC key (type %d)",
                EVP_PKEY_get_base_id(key));
        return -1;
    }
    ERR_clear_error();
    req = X509_REQ_new();
    if (!req || !X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, subject)) {
        tl_set_err(err, err_len, "CSR: cannot set version/subject: %s",
                ossl_reason(why, sizeof(why)));
        goto out;
    }
    if (!X509_REQ_set_pubkey(req, key)) {
        tl_set_err(err, err_len, "CSR: cannot set the public key (is the public point on the "
                "token?): %s", ossl_reason(why, sizeof(why)));
        goto out;
    }
    if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        tl_set_err(err, err_len, "CSR: signing through the token failed: %s",
                ossl_reason(why, sizeof(why)));
        goto out;
    }
    /* Proof that the token signed with the key whose public half we sent. */
    if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
        tl_set_err(err, err_len, "CSR: the token's signature does not verify with the key's "
                "public half: %s", ossl_reason(why, sizeof(why)));
        goto out;
    }
    bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_X509_REQ(bio, req)) {
        tl_set_err(err, err_len, "CSR: PEM encoding failed: %s", ossl_reason(why, sizeof(why)));
        goto out;
    }
    len = BIO_get_mem_data(bio, &data);
    pem = malloc((size_t)len + 1);
    if (!pem) {
        tl_set_err(err, err_len, "CSR: out of memory");
        goto out;
    }
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';
    *pem_out = pem;
    rc = 0;
out:
    BIO_free(bio);
    X509_REQ_free(req);
    if (rc == 0)
        ERR_clear_error();
    return rc;
}

X509_NAME *agent_csr_subject_of(const char *csr_pem, char *err, size_t err_len)
{
    BIO *bio = csr_pem ? BIO_new_mem_buf(csr_pem, -1) : NULL;
    X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    X509_NAME *name = req ? X509_NAME_dup(X509_REQ_get_subject_name(req)) : NULL;

    if (!name)
        tl_set_err(err, err_len, "CSR: cannot read its subject back");
    X509_REQ_free(req);
    BIO_free(bio);
    ERR_clear_error();
    return name;
}
