/* SPDX-License-Identifier: Apache-2.0 */
/*
 * First enrollment: CSR from the token key, certificate installed after
 * the key-match check (see enroll.h).
 * Owns: the config, identity, X509 objects and files it opens, freed on
 * every path.
 */
#include "enroll.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "cert_check.h"
#include "config.h"
#include "csr.h"
#include "err_text.h"
#include "hex.h"
#include "identity.h"
#include "token.h"
#include "rotation_chain.h"
#include "uri.h"

/* Config + opened identity with its key resolved (no certificate needed). */
static enum agent_enroll_result open_key(const char *config_path, struct agent_config *cfg,
                                         struct agent_identity **id, char *err, size_t err_len)
{
    char why[1024];
    enum agent_identity_status st;

    if (agent_config_load(config_path, cfg, why, sizeof(why)) != 0) {
        tl_set_err(err, err_len, "%s", why);
        return AGENT_ENROLL_CONFIG;
    }
    st = agent_identity_open(&cfg->identity, id, why, sizeof(why));
    if (st == AGENT_IDENTITY_OK)
        st = agent_identity_resolve_key(*id, &cfg->identity, why, sizeof(why));
    if (st != AGENT_IDENTITY_OK) {
        tl_set_err(err, err_len, "identity key (%s): %s", agent_identity_status_name(st), why);
        return st == AGENT_IDENTITY_CONFIG ? AGENT_ENROLL_CONFIG : AGENT_ENROLL_TOKEN;
    }
    return AGENT_ENROLL_OK;
}

enum agent_enroll_result agent_enroll_csr(const char *config_path, const char *subject,
                                          const char *out_path, FILE *out, char *err,
                                          size_t err_len)
{
    struct agent_config cfg;
    struct agent_identity *id = NULL;
    X509_NAME *name = NULL;
    char *pem = NULL;
    char why[1024];
    FILE *f = NULL;
    enum agent_enroll_result rc;

    memset(&cfg, 0, sizeof(cfg));
    if (agent_csr_parse_subject(subject, &name, why, sizeof(why)) != 0) {
        tl_set_err(err, err_len, "--subject \"%s\": %s", subject, why);
        return AGENT_ENROLL_CONFIG;
    }
    rc = open_key(config_path, &cfg, &id, err, err_len);
    if (rc != AGENT_ENROLL_OK)
        goto cleanup;
    if (agent_csr_build(agent_identity_key(id), name, &pem, why, sizeof(why)) != 0) {
        tl_set_err(err, err_len, "signing the CSR with %s: %s", agent_identity_key_name(id), why);
        rc = AGENT_ENROLL_TOKEN;
        goto cleanup;
    }
    if (out_path != NULL) {
        f = fopen(out_path, "w");
        if (f == NULL || fputs(pem, f) < 0 || fclose(f) != 0) {
            f = NULL;
            tl_set_err(err, err_len, "cannot write the CSR to %s: %s", out_path, strerror(errno));
            rc = AGENT_ENROLL_CONFIG;
            goto cleanup;
        }
        f = NULL;
        fprintf(out, "CSR for %s, signed by token key %s, written to %s\n", subject,
                agent_identity_key_name(id), out_path);
    } else {
        fputs(pem, out);
    }
    rc = AGENT_ENROLL_OK;
cleanup:
    if (f != NULL)
        fclose(f);
    free(pem);
    X509_NAME_free(name);
    agent_identity_free(id);
    agent_config_free(&cfg);
    return rc;
}

/* Appends every certificate of a PEM file; the count read, or -1. */
static int read_certificates(const char *path, STACK_OF(X509) *into, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    X509 *x;
    int n = 0;

    if (f == NULL) {
        tl_set_err(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(into, x)) {
            X509_free(x);
            n = -1;
            break;
        }
        n++;
    }
    fclose(f);
    ERR_clear_error(); /* the read that ends the loop leaves "no start line" */
    if (n == 0)
        tl_set_err(err, err_len, "%s holds no PEM certificate", path);
    else if (n < 0)
        tl_set_err(err, err_len, "out of memory reading %s", path);
    return n > 0 ? n : -1;
}

/* The label (object=) and optional id (id=) identity.certificate names. */
static enum agent_enroll_result certificate_target(const struct agent_config *cfg, char *label,
                                                   size_t label_len, unsigned char *want_id,
                                                   size_t *want_id_len, char *err, size_t err_len)
{
    struct p11_kit_uri *uri = NULL;
    CK_ATTRIBUTE *a;
    char why[600];
    enum agent_enroll_result rc = AGENT_ENROLL_CONFIG;

    *want_id_len = 0;
    if (strncmp(cfg->identity.certificate, "pkcs11:", 7) != 0) {
        tl_set_err(err, err_len, "identity.certificate is the file %s, not a pkcs11: URI: install-cert "
                "stores certificates on the token; copy the certificate to that file instead, or "
                "set identity.certificate to a pkcs11: URI (e.g. pkcs11:token=...;object=device;"
                "type=cert)", cfg->identity.certificate);
        return AGENT_ENROLL_CONFIG;
    }
    uri = agent_uri_parse("identity.certificate", cfg->identity.certificate, why, sizeof(why));
    if (uri == NULL) {
        tl_set_err(err, err_len, "%s", why);
        return AGENT_ENROLL_CONFIG;
    }
    a = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    if (a == NULL || a->ulValueLen == 0 || a->ulValueLen > AGENT_TOKEN_LABEL_MAX || a->ulValueLen >= label_len) {
        tl_set_err(err, err_len, "identity.certificate %s names no object label (object=...) of 1-%d "
                "bytes: install-cert needs one to label the certificate", cfg->identity.certificate,
                AGENT_TOKEN_LABEL_MAX);
        goto cleanup;
    }
    memcpy(label, a->pValue, a->ulValueLen);
    label[a->ulValueLen] = '\0';
    a = p11_kit_uri_get_attribute(uri, CKA_ID);
    if (a != NULL && a->ulValueLen > 0 && a->ulValueLen <= AGENT_TOKEN_ID_MAX) {
        memcpy(want_id, a->pValue, a->ulValueLen);
        *want_id_len = a->ulValueLen;
    }
    rc = AGENT_ENROLL_OK;
cleanup:
    p11_kit_uri_free(uri);
    return rc;
}

/* Each chain certificate must have issued the one before it. */
static enum agent_enroll_result check_chain_order(X509 *leaf, STACK_OF(X509) *chain, char *err,
                                                  size_t err_len)
{
    X509 *child = leaf;
    char subj[256];

    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *issuer = sk_X509_value(chain, i);
        if (X509_check_issued(issuer, child) != X509_V_OK) {
            X509_NAME_oneline(X509_get_subject_name(issuer), subj, sizeof(subj));
            tl_set_err(err, err_len, "chain certificate %d (%s) did not issue the certificate before it: "
                    "give the intermediates in order, leaf's issuer first", i + 1, subj);
            return AGENT_ENROLL_REFUSED;
        }
        child = issuer;
    }
    return AGENT_ENROLL_OK;
}

/* The token must not already hold a certificate with this label or id. */
static enum agent_enroll_result check_free(struct agent_identity *id, const char *label,
                                           const unsigned char *key_id, size_t key_id_len,
                                           const char *key_id_hex, char *err, size_t err_len)
{
    struct agent_token_object objs[8];
    char why[600];
    int n;

    n = agent_token_find_label(agent_identity_token(id), label, objs, 8, why, sizeof(why));
    for (int pass = 0; pass < 2; pass++) {
        if (n < 0) {
            tl_set_err(err, err_len, "searching the token: %s", why);
            return AGENT_ENROLL_TOKEN;
        }
        for (int i = 0; i < n && i < 8; i++) {
            if (objs[i].klass == CKO_CERTIFICATE) {
                tl_set_err(err, err_len, "token \"%s\" already holds a certificate %s \"%s\": install-cert "
                        "only installs the first one (renewal is a key rotation: trustlinkctl "
                        "rotate); nothing was changed",
                        agent_identity_token_label(id), pass == 0 ? "labelled" : "with the key's id",
                        pass == 0 ? label : key_id_hex);
                return AGENT_ENROLL_CONFIG;
            }
        }
        if (pass == 0)
            n = agent_token_find_id(agent_identity_token(id), key_id, key_id_len, objs, 8, why, sizeof(why));
    }
    return AGENT_ENROLL_OK;
}

static void describe(FILE *out, X509 *cert)
{
    char subj[256], issuer[256];
    BIO *b = BIO_new_fp(out, BIO_NOCLOSE);

    X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
    X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof(issuer));
    fprintf(out, "  subject  %s\n  issuer   %s\n  notAfter ", subj, issuer);
    if (b != NULL) {
        ASN1_TIME_print(b, X509_get0_notAfter(cert));
        BIO_free(b);
    }
    fprintf(out, "\n");
}

enum agent_enroll_result agent_enroll_install(const char *config_path, const char *cert_path,
                                              const char *chain_path, FILE *out, char *err,
                                              size_t err_len)
{
    struct agent_config cfg;
    struct agent_identity *id = NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    STACK_OF(X509) *chain = NULL;
    X509 *leaf = NULL;
    unsigned char key_id[AGENT_TOKEN_ID_MAX], want_id[AGENT_TOKEN_ID_MAX];
    size_t key_id_len = sizeof(key_id), want_id_len = 0;
    char key_id_hex[2 * AGENT_TOKEN_ID_MAX + 1];
    char label[AGENT_TOKEN_LABEL_MAX + 1];
    char why[1024];
    enum agent_enroll_result rc = AGENT_ENROLL_CONFIG;

    memset(&cfg, 0, sizeof(cfg));
    if (certs == NULL) {
        tl_set_err(err, err_len, "out of memory");
        goto cleanup;
    }
    /* Files first: a bad file is reported before the token is touched. */
    if (read_certificates(cert_path, certs, err, err_len) < 0 ||
        (chain_path != NULL && read_certificates(chain_path, certs, err, err_len) < 0))
        goto cleanup;
    leaf = sk_X509_shift(certs);
    chain = certs;
    certs = NULL;
    rc = open_key(config_path, &cfg, &id, err, err_len);
    if (rc != AGENT_ENROLL_OK)
        goto cleanup;
    rc = certificate_target(&cfg, label, sizeof(label), want_id, &want_id_len, err, err_len);
    if (rc != AGENT_ENROLL_OK)
        goto cleanup;
    if (agent_identity_key_id(id, key_id, &key_id_len) != AGENT_IDENTITY_OK || key_id_len == 0) {
        tl_set_err(err, err_len, "the key %s has no CKA_ID: the certificate could not be tied to it",
                agent_identity_key_name(id));
        rc = AGENT_ENROLL_TOKEN;
        goto cleanup;
    }
    agent_hex_encode(key_id, key_id_len, key_id_hex, sizeof(key_id_hex));
    if (want_id_len != 0 && (want_id_len != key_id_len || memcmp(want_id, key_id, key_id_len) != 0)) {
        tl_set_err(err, err_len, "identity.certificate names id= other than the key's id %s: the agent "
                "would not find the certificate; fix the URI", key_id_hex);
        rc = AGENT_ENROLL_CONFIG;
        goto cleanup;
    }
    if (agent_cert_check_leaf(leaf, agent_identity_key(id), time(NULL), why, sizeof(why)) != AGENT_CERT_OK) {
        tl_set_err(err, err_len, "refusing %s: %s (token key %s); nothing was changed", cert_path, why,
                agent_identity_key_name(id));
        rc = AGENT_ENROLL_REFUSED;
        goto cleanup;
    }
    rc = check_chain_order(leaf, chain, err, err_len);
    if (rc != AGENT_ENROLL_OK)
        goto cleanup;
    rc = check_free(id, label, key_id, key_id_len, key_id_hex, err, err_len);
    if (rc != AGENT_ENROLL_OK)
        goto cleanup;
    /* The chain before the certificate: a failure here leaves the token
     * as it was; a chain file without its certificate is never used
     * (trustlinkd loads it only when it continues the leaf). */
    if (sk_X509_num(chain) > 0 &&
        rotation_chain_save(cfg.rotation.state_dir, key_id_hex, chain, why, sizeof(why)) != 0) {
        tl_set_err(err, err_len, "saving the chain in %s: %s; nothing was installed", cfg.rotation.state_dir,
                why);
        rc = AGENT_ENROLL_CONFIG;
        goto cleanup;
    }
    if (agent_token_store_enrolled_certificate(agent_identity_token(id), leaf, key_id, key_id_len, label, why, sizeof(why)) !=
        AGENT_IDENTITY_OK) {
        tl_set_err(err, err_len, "storing the certificate on token \"%s\": %s", agent_identity_token_label(id),
                why);
        rc = AGENT_ENROLL_TOKEN;
        goto cleanup;
    }
    fprintf(out, "installed the certificate on token \"%s\" as \"%s\" (id %s), for key %s:\n",
            agent_identity_token_label(id), label, key_id_hex, agent_identity_key_name(id));
    describe(out, leaf);
    if (sk_X509_num(chain) > 0)
        fprintf(out, "  chain    %d certificate(s) saved in %s\n", sk_X509_num(chain), cfg.rotation.state_dir);
    rc = AGENT_ENROLL_OK;
cleanup:
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    agent_identity_free(id);
    agent_config_free(&cfg);
    return rc;
}
