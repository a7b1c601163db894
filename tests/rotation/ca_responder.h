/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trustlink-ca-responder's parts (tests and demo only): issuing in
 * ca_responder_issue.c, the faithful AWS IoT mode in ca_responder_aws.c,
 * options, MQTT and the answers in ca_responder.c.
 */
#ifndef TRUSTLINK_CA_RESPONDER_H
#define TRUSTLINK_CA_RESPONDER_H

#include <stdbool.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* PEM of leaf followed by chain (may be NULL); malloc'ed, NULL on failure. */
char *pem_of_cert_chain(X509 *leaf, const char *chain);
/* A leaf for (subject, pubkey) valid [now+nb, now+na_days*86400+na]. */
X509 *issue(X509_NAME *subject, EVP_PKEY *pubkey, X509 *issuer, EVP_PKEY *issuer_key, long nb,
            long na_days, long na);
X509 *self_signed_ca(EVP_PKEY *key, X509_NAME *name);
/* PEM files: NULL when unreadable; read_text caps at 1 MiB, malloc'ed. */
EVP_PKEY *read_key(const char *path);
X509 *read_cert(const char *path);
char *read_text(const char *path);

/* ---- faithful AWS IoT mode (ca_responder_aws.c) ----
 * Certificates from CreateCertificateFromCsr start PENDING_ACTIVATION: the
 * responder lists their serials in a CRL it signs with the issuing CA and
 * SIGHUPs the broker (mosquitto re-reads crlfile then), so the broker
 * refuses them. RegisterThing on $aws/provisioning-templates/<template>/
 * provision/json with the matching, unexpired, unused ownership token and
 * the template's parameters activates the certificate (drops it from the
 * CRL). Errors answer AWS's shape {statusCode, errorCode, errorMessage}. */
#define AWS_MAX_PARAMS 8

struct aws_faithful_options {
    const char *template_name;       /* default "trustlink" */
    const char *crl_path;            /* required */
    pid_t broker_pid;                /* 0: no SIGHUP (the caller reloads) */
    long token_lifetime;             /* seconds, default 3600 */
    const char *param_names[AWS_MAX_PARAMS];  /* required parameters */
    const char *param_values[AWS_MAX_PARAMS]; /* NULL: any non-empty value */
    int n_params;
    long drop_answers;               /* RegisterThing answers to drop (handled, unsent) */
};

struct aws_faithful;

/* Loads nothing but takes references to the CA; writes the first (empty)
 * CRL. NULL (logged) on failure. */
struct aws_faithful *aws_faithful_new(const struct aws_faithful_options *o, X509 *ca_cert,
                                      EVP_PKEY *ca_key);
void aws_faithful_free(struct aws_faithful *f);
/* The RegisterThing request topic (subscribe to it). */
const char *aws_faithful_provision_topic(const struct aws_faithful *f);
/* A certificate was issued with this ownership token: pending until
 * registered. 0, or -1 when the CRL could not be written (answer rejected). */
int aws_faithful_issued(struct aws_faithful *f, X509 *cert, const char *token);
/* Handles one RegisterThing request; *topic and *json (malloc'ed) are the
 * answer to publish (NULL on out of memory). */
void aws_faithful_register(struct aws_faithful *f, const char *payload, int len, char **topic,
                           char **json);

#endif
