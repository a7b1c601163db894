/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identity's certificate (see identity_internal.h): read from a PEM
 * file (a certificate on the token is the gateway's, token_key.c), and
 * checked against the key.
 * Must never: accept a certificate whose public key is not the key's.
 */
#include "identity_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "log.h"

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
                 subject, id->key_name, agent_token_label(id->token));
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
