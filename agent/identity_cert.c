/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity's certificate (see identity_internal.h): read from the key's
 * token by a pkcs11: URI or from a PEM file, and checked against the key.
 * Must never: accept a certificate whose public key is not the key's.
 */
#include "identity_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "log.h"
#include "uri.h"

enum agent_identity_status identity_load_token_certificate(struct agent_identity *id,
                                                           CK_SESSION_HANDLE s,
                                                           const char *cert_uri_text, char *err,
                                                           size_t err_len)
{
    P11KitUri *uri = NULL;
    struct identity_object found[IDENTITY_MAX_CANDIDATES];
    CK_TOKEN_INFO info;
    CK_ATTRIBUTE value = {CKA_VALUE, NULL, 0};
    unsigned char *der = NULL;
    const unsigned char *p;
    enum agent_identity_status status = AGENT_IDENTITY_CERTIFICATE;
    char shown[512];
    CK_RV rv = CKR_OK;
    int n;

    agent_uri_redact(cert_uri_text, shown, sizeof(shown));
    uri = agent_uri_parse("identity.certificate", cert_uri_text, err, err_len);
    if (!uri) {
        status = AGENT_IDENTITY_CONFIG;
        goto cleanup;
    }
    if (id->fn->C_GetTokenInfo(id->slot_id, &info) != CKR_OK ||
        p11_kit_uri_match_token_info(uri, &info) != 1) {
        snprintf(err, err_len,
                 "identity.certificate %s does not name the key's token \"%s\": the certificate "
                 "must be on the same token",
                 shown, id->token_label);
        status = AGENT_IDENTITY_CONFIG;
        goto cleanup;
    }
    n = identity_find_objects(id->fn, s, uri, CKO_CERTIFICATE, found, IDENTITY_MAX_CANDIDATES, &rv);
    if (n < 0) {
        snprintf(err, err_len, "cannot search token \"%s\" for certificates (CKR 0x%lx)",
                 id->token_label, (unsigned long)rv);
        status = identity_status_of_rv(rv);
        goto cleanup;
    }
    if (n != 1) {
        char list[600];

        identity_list_candidates(found, n, list, sizeof(list));
        snprintf(err, err_len, "%s: identity.certificate %s matches %d certificates on token "
                               "\"%s\"%s%s%s",
                 n == 0 ? "object not found" : "ambiguous", shown, n, id->token_label,
                 n ? " (" : "", list, n ? "): make the URI name exactly one" : "");
        status = n == 0 ? AGENT_IDENTITY_OBJECT_NOT_FOUND : AGENT_IDENTITY_AMBIGUOUS;
        goto cleanup;
    }
    rv = id->fn->C_GetAttributeValue(s, found[0].handle, &value, 1);
    if (rv == CKR_OK && value.ulValueLen != CK_UNAVAILABLE_INFORMATION &&
        value.ulValueLen <= 64 * 1024) {
        der = malloc(value.ulValueLen ? value.ulValueLen : 1);
        value.pValue = der;
        rv = der ? id->fn->C_GetAttributeValue(s, found[0].handle, &value, 1) : CKR_HOST_MEMORY;
    }
    if (rv != CKR_OK || !der) {
        snprintf(err, err_len, "cannot read certificate %s from token \"%s\" (CKR 0x%lx)", shown,
                 id->token_label, (unsigned long)rv);
        status = identity_status_of_rv(rv);
        goto cleanup;
    }
    p = der;
    id->cert = d2i_X509(NULL, &p, (long)value.ulValueLen);
    if (!id->cert) {
        snprintf(err, err_len, "certificate %s on token \"%s\" is not valid DER X.509", shown,
                 id->token_label);
        goto cleanup;
    }
    status = AGENT_IDENTITY_OK;
cleanup:
    free(der);
    p11_kit_uri_free(uri);
    return status;
}

/* Appends every certificate of a PEM file to chain (the first one to
 * *leaf when leaf is not NULL). */
int identity_read_pem_certificates(const char *path, X509 **leaf, STACK_OF(X509) *chain,
                                   char *err, size_t err_len)
{
    FILE *f = fopen(path, "re");
    X509 *x;
    int count = 0;

    if (!f) {
        snprintf(err, err_len, "cannot open certificate file %s: %m", path);
        return -1;
    }
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (leaf && !*leaf) {
            *leaf = x;
        } else if (!sk_X509_push(chain, x)) {
            X509_free(x);
            fclose(f);
            snprintf(err, err_len, "out of memory reading %s", path);
            return -1;
        }
        count++;
    }
    fclose(f);
    ERR_clear_error();  /* end of file shows up as a PEM "no start line" error */
    if (count == 0) {
        snprintf(err, err_len, "%s holds no PEM certificate", path);
        return -1;
    }
    return 0;
}

enum agent_identity_status identity_check_certificate(struct agent_identity *id, char *err,
                                                      size_t err_len)
{
    char subject[256];

    X509_NAME_oneline(X509_get_subject_name(id->cert), subject, sizeof(subject));
    if (X509_check_private_key(id->cert, id->key) != 1) {
        ERR_clear_error();
        snprintf(err, err_len,
                 "the certificate (subject %s) does not match key %s on token \"%s\": issue a "
                 "certificate for this key or point identity.certificate at the right one",
                 subject, id->key_name, id->token_label);
        return AGENT_IDENTITY_CERTIFICATE;
    }
    if (X509_cmp_current_time(X509_get0_notBefore(id->cert)) > 0)
        agent_warn("clock problem: the certificate %s is not valid yet (notBefore is in the "
                   "future): check the system clock (NTP); brokers will refuse it",
                   subject);
    else if (X509_cmp_current_time(X509_get0_notAfter(id->cert)) < 0)
        agent_warn("the certificate %s has expired: brokers will refuse it", subject);
    return AGENT_IDENTITY_OK;
}
