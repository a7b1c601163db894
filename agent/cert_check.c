/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate answer validation (see cert_check.h).
 * Owns: every X509, stack, store and BIO it creates, freed on every path.
 * Must never: add a trust anchor other than the configured CA file.
 */
#include "cert_check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "err_text.h"

const char *agent_cert_check_name(enum agent_cert_check result)
{
    switch (result) {
    case AGENT_CERT_OK: return "ok";
    case AGENT_CERT_EMPTY: return "empty";
    case AGENT_CERT_PARSE: return "unparsable";
    case AGENT_CERT_KEY_MISMATCH: return "key-mismatch";
    case AGENT_CERT_CA_FILE: return "ca-file";
    case AGENT_CERT_UNTRUSTED: return "untrusted";
    case AGENT_CERT_NOT_YET_VALID: return "not-yet-valid";
    case AGENT_CERT_EXPIRED: return "expired";
    case AGENT_CERT_USAGE: return "usage";
    case AGENT_CERT_OTHER_DEVICE: return "other-device";
    case AGENT_CERT_INTERNAL: return "internal";
    }
    return "unknown";
}

/* Public-key equality, for libp11 keys (public half only) and plain
 * public keys alike. EVP_PKEY_eq, not a DER comparison: serialising makes
 * OpenSSL load and keep its whole encoder table (~50 kB of heap for the
 * daemon's life). */
static int same_public_key(EVP_PKEY *a, EVP_PKEY *b)
{
    int same = EVP_PKEY_eq(a, b) == 1;

    ERR_clear_error(); /* a mismatch of key types leaves an error queued */
    return same;
}

static void subject_of(X509 *x, char *buf, size_t len)
{
    X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len);
}

/* Parses every PEM block of the answer as a certificate. */
static enum agent_cert_check parse_answer(const char *pem, size_t len, STACK_OF(X509) **out,
                                          char *err, size_t err_len)
{
    STACK_OF(X509) *certs = NULL;
    BIO *bio = NULL;
    X509 *x = NULL;
    enum agent_cert_check rc = AGENT_CERT_INTERNAL;

    *out = NULL;
    if (!pem || len == 0 || len > 1024 * 1024) {
        tl_set_err(err, err_len, len ? "certificate answer: larger than 1 MiB"
                                  : "certificate answer: empty");
        return len ? AGENT_CERT_PARSE : AGENT_CERT_EMPTY;
    }
    certs = sk_X509_new_null();
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!certs || !bio) {
        tl_set_err(err, err_len, "certificate answer: out of memory");
        goto out;
    }
    for (;;) {
        ERR_clear_error();
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                break; /* no further block */
            char why[200];
            ERR_error_string_n(e, why, sizeof(why));
            tl_set_err(err, err_len, "certificate answer: PEM block %d is not a certificate: %s",
                    sk_X509_num(certs) + 1, why);
            rc = AGENT_CERT_PARSE;
            goto out;
        }
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            tl_set_err(err, err_len, "certificate answer: out of memory");
            goto out;
        }
    }
    ERR_clear_error();
    if (sk_X509_num(certs) == 0) {
        /* Distinguish "nothing at all" from "text that is not PEM". */
        size_t i;
        for (i = 0; i < len && (pem[i] == ' ' || pem[i] == '\n' || pem[i] == '\r' ||
                                pem[i] == '\t'); i++)
            ;
        if (i == len) {
            tl_set_err(err, err_len, "certificate answer: empty");
            rc = AGENT_CERT_EMPTY;
        } else {
            tl_set_err(err, err_len, "certificate answer: no PEM certificate in %zu bytes", len);
            rc = AGENT_CERT_PARSE;
        }
        goto out;
    }
    *out = certs;
    certs = NULL;
    rc = AGENT_CERT_OK;
out:
    BIO_free(bio);
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static enum agent_cert_check load_ca(const char *ca_file, X509_STORE **out, char *err,
                                     size_t err_len)
{
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509_INFO) *infos = NULL;
    BIO *bio = NULL;
    int n = 0;
    enum agent_cert_check rc = AGENT_CERT_CA_FILE;

    *out = NULL;
    if (!store) {
        tl_set_err(err, err_len, "CA file: out of memory");
        return AGENT_CERT_INTERNAL;
    }
    bio = ca_file ? BIO_new_file(ca_file, "r") : NULL;
    if (!bio) {
        tl_set_err(err, err_len, "CA file %s: cannot be read", ca_file ? ca_file : "(none)");
        goto out;
    }
    infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (info->x509) {
            if (!X509_STORE_add_cert(store, info->x509)) {
                tl_set_err(err, err_len, "CA file %s: certificate %d not accepted", ca_file, i);
                goto out;
            }
            n++;
        }
    }
    if (n == 0) {
        tl_set_err(err, err_len, "CA file %s: no certificate in it", ca_file);
        goto out;
    }
    *out = store;
    store = NULL;
    rc = AGENT_CERT_OK;
out:
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    BIO_free(bio);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

static enum agent_cert_check check_usage(X509 *leaf, const char *subj, char *err,
                                         size_t err_len)
{
    uint32_t flags = X509_get_extension_flags(leaf);

    if (flags & EXFLAG_INVALID) {
        tl_set_err(err, err_len, "certificate %s: malformed extensions", subj);
        return AGENT_CERT_PARSE;
    }
    if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT)) {
        tl_set_err(err, err_len, "certificate %s: extendedKeyUsage does not allow TLS client "
                "authentication (clientAuth missing)", subj);
        return AGENT_CERT_USAGE;
    }
    if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE)) {
        tl_set_err(err, err_len, "certificate %s: keyUsage lacks digitalSignature, needed for "
                "TLS client authentication with an EC key", subj);
        return AGENT_CERT_USAGE;
    }
    return AGENT_CERT_OK;
}

/* ---- identity rule ------------------------------------------------------ */

/* Entry `index` of name as UTF-8 (OPENSSL_free it); length or -1. */
static int entry_utf8(const X509_NAME *name, int index, unsigned char **out)
{
    const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, index);

    *out = NULL;
    return e ? ASN1_STRING_to_UTF8(out, X509_NAME_ENTRY_get_data(e)) : -1;
}

/* True when a and b have the same commonName values in the same order,
 * byte for byte (an embedded NUL or a case change is another name). */
static bool same_common_names(const X509_NAME *a, const X509_NAME *b)
{
    int ia = -1, ib = -1;

    for (;;) {
        unsigned char *va = NULL, *vb = NULL;
        int la, lb;
        bool same;

        ia = X509_NAME_get_index_by_NID(a, NID_commonName, ia);
        ib = X509_NAME_get_index_by_NID(b, NID_commonName, ib);
        if (ia < 0 || ib < 0)
            return ia < 0 && ib < 0;
        la = entry_utf8(a, ia, &va);
        lb = entry_utf8(b, ib, &vb);
        same = la >= 0 && la == lb && memcmp(va, vb, (size_t)la) == 0;
        OPENSSL_free(va);
        OPENSSL_free(vb);
        if (!same)
            return false;
    }
}

static bool is_aws_subject(const X509_NAME *name)
{
    static const char aws[] = AGENT_CERT_AWS_SUBJECT_CN;
    const X509_NAME_ENTRY *e;
    unsigned char *v = NULL;
    int len;
    bool same;

    if (X509_NAME_entry_count(name) != 1)
        return false;
    e = X509_NAME_get_entry(name, 0);
    if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != NID_commonName)
        return false;
    len = entry_utf8(name, 0, &v);
    same = len == (int)strlen(aws) && memcmp(v, aws, strlen(aws)) == 0;
    OPENSSL_free(v);
    return same;
}

/* "DNS:device-002.example" for messages; bytes outside printable ASCII
 * become '?' (the name comes from the network). */
static void describe_general_name(GENERAL_NAME *gn, char *buf, size_t len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;
    size_t i;

    buf[0] = '\0';
    if (bio && GENERAL_NAME_print(bio, gn) > 0)
        n = BIO_get_mem_data(bio, &data);
    for (i = 0; data && i < (size_t)n && i + 1 < len; i++)
        buf[i] = data[i] >= 0x20 && data[i] < 0x7f ? data[i] : '?';
    if (len > 0)
        buf[i < len ? i : len - 1] = '\0';
    BIO_free(bio);
}

/* Every subjectAltName entry of leaf is one of current's. */
static enum agent_cert_check check_alt_names(X509 *leaf, X509 *current, const char *subj,
                                             char *err, size_t err_len)
{
    GENERAL_NAMES *names, *known = NULL;
    enum agent_cert_check rc = AGENT_CERT_OK;
    int crit = 0;

    names = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
    if (!names) {
        if (crit == -1)
            return AGENT_CERT_OK; /* no subjectAltName: nothing more to name */
        tl_set_err(err, err_len, "certificate %s: subjectAltName is malformed or repeated", subj);
        return AGENT_CERT_PARSE;
    }
    if (current)
        known = X509_get_ext_d2i(current, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && rc == AGENT_CERT_OK; i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        bool found = false;

        for (int j = 0; !found && j < sk_GENERAL_NAME_num(known); j++)
            found = GENERAL_NAME_cmp(gn, sk_GENERAL_NAME_value(known, j)) == 0;
        if (!found) {
            char what[160];

            describe_general_name(gn, what, sizeof(what));
            tl_set_err(err, err_len, "certificate %s: subjectAltName %s is not a name of this device "
                    "(the current certificate does not have it): certificate for another device",
                    subj, what);
            rc = AGENT_CERT_OTHER_DEVICE;
        }
    }
    GENERAL_NAMES_free(names);
    GENERAL_NAMES_free(known);
    ERR_clear_error();
    return rc;
}

enum agent_cert_check agent_cert_check_identity(X509 *leaf,
                                                const struct agent_cert_identity *identity,
                                                char *err, size_t err_len)
{
    const X509_NAME *got;
    char subj[256], asked[256];
    bool name_ok;

    if (!leaf || !identity || !identity->subject) {
        tl_set_err(err, err_len, "certificate check: no certificate or no expected subject");
        return AGENT_CERT_INTERNAL;
    }
    got = X509_get_subject_name(leaf);
    subject_of(leaf, subj, sizeof(subj));
    if (X509_NAME_get_index_by_NID(identity->subject, NID_commonName, -1) >= 0)
        name_ok = same_common_names(got, identity->subject);
    else
        name_ok = X509_NAME_cmp(got, identity->subject) == 0;
    if (!name_ok && identity->aws_subject)
        name_ok = is_aws_subject(got);
    if (!name_ok) {
        X509_NAME_oneline(identity->subject, asked, (int)sizeof(asked));
        tl_set_err(err, err_len, "certificate %s: its subject does not name this device (asked for "
                "%s%s): certificate for another device", subj, asked,
                identity->aws_subject ? " or /CN=" AGENT_CERT_AWS_SUBJECT_CN : "");
        return AGENT_CERT_OTHER_DEVICE;
    }
    return check_alt_names(leaf, identity->current, subj, err, err_len);
}

enum agent_cert_check agent_cert_check_leaf(X509 *leaf, EVP_PKEY *expected, time_t now, char *err,
                                            size_t err_len)
{
    EVP_PKEY *leaf_key;
    char subj[256];
    time_t t = now;

    if (!leaf || !expected) {
        tl_set_err(err, err_len, "certificate check: no certificate or no expected key");
        return AGENT_CERT_INTERNAL;
    }
    subject_of(leaf, subj, sizeof(subj));
    leaf_key = X509_get0_pubkey(leaf);
    if (!leaf_key || !same_public_key(leaf_key, expected)) {
        tl_set_err(err, err_len, "certificate %s: its public key is not the new key "
                "(certificate for another key)", subj);
        return AGENT_CERT_KEY_MISMATCH;
    }
    if (X509_cmp_time(X509_get0_notBefore(leaf), &t) > 0) {
        tl_set_err(err, err_len, "certificate %s: not valid yet (notBefore in the future)", subj);
        return AGENT_CERT_NOT_YET_VALID;
    }
    if (X509_cmp_time(X509_get0_notAfter(leaf), &t) < 0) {
        tl_set_err(err, err_len, "certificate %s: expired (notAfter in the past)", subj);
        return AGENT_CERT_EXPIRED;
    }
    return check_usage(leaf, subj, err, err_len);
}

enum agent_cert_check agent_cert_check(const char *pem, size_t len, EVP_PKEY *expected,
                                       const struct agent_cert_identity *identity,
                                       const char *ca_file, time_t now, X509 **leaf_out,
                                       STACK_OF(X509) **chain_out, char *err, size_t err_len)
{
    STACK_OF(X509) *certs = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *vctx = NULL;
    X509 *leaf;
    char subj[256];
    enum agent_cert_check rc;

    if (leaf_out)
        *leaf_out = NULL;
    if (chain_out)
        *chain_out = NULL;
    if (!expected || !identity) {
        tl_set_err(err, err_len, "certificate check: no expected key or identity");
        return AGENT_CERT_INTERNAL;
    }
    rc = parse_answer(pem, len, &certs, err, err_len);
    if (rc != AGENT_CERT_OK)
        goto out;
    leaf = sk_X509_value(certs, 0);
    rc = agent_cert_check_leaf(leaf, expected, now, err, err_len);
    if (rc != AGENT_CERT_OK)
        goto out;
    rc = agent_cert_check_identity(leaf, identity, err, err_len);
    if (rc != AGENT_CERT_OK)
        goto out;

    rc = load_ca(ca_file, &store, err, err_len);
    if (rc != AGENT_CERT_OK)
        goto out;
    vctx = X509_STORE_CTX_new();
    if (!vctx) {
        tl_set_err(err, err_len, "certificate check: out of memory");
        rc = AGENT_CERT_INTERNAL;
        goto out;
    }
    {
        STACK_OF(X509) *untrusted = sk_X509_dup(certs);
        int ok;

        if (!untrusted) {
            tl_set_err(err, err_len, "certificate check: out of memory");
            rc = AGENT_CERT_INTERNAL;
            goto out;
        }
        (void)sk_X509_shift(untrusted); /* intermediates only; the stack borrows */
        if (!X509_STORE_CTX_init(vctx, store, leaf, untrusted)) {
            sk_X509_free(untrusted);
            tl_set_err(err, err_len, "certificate check: verify context failed");
            rc = AGENT_CERT_INTERNAL;
            goto out;
        }
        X509_STORE_CTX_set_time(vctx, 0, now);
        ok = X509_verify_cert(vctx);
        sk_X509_free(untrusted);
        if (ok != 1) {
            int e = X509_STORE_CTX_get_error(vctx);
            int depth = X509_STORE_CTX_get_error_depth(vctx);
            if (e == X509_V_ERR_CERT_HAS_EXPIRED)
                rc = AGENT_CERT_EXPIRED;
            else if (e == X509_V_ERR_CERT_NOT_YET_VALID)
                rc = AGENT_CERT_NOT_YET_VALID;
            else
                rc = AGENT_CERT_UNTRUSTED;
            subject_of(leaf, subj, sizeof(subj));
            tl_set_err(err, err_len, "certificate %s: does not verify against CA file %s: %s "
                    "(at chain depth %d)", subj, ca_file, X509_verify_cert_error_string(e),
                    depth);
            goto out;
        }
    }
    if (leaf_out) {
        X509_up_ref(leaf);
        *leaf_out = leaf;
    }
    if (chain_out) {
        X509_free(sk_X509_shift(certs));
        *chain_out = certs;
        certs = NULL;
    }
    rc = AGENT_CERT_OK;
out:
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    sk_X509_pop_free(certs, X509_free);
    ERR_clear_error();
    return rc;
}
