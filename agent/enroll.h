/* SPDX-License-Identifier: Apache-2.0 */
/*
 * First enrollment without a cloud API (trustlinkctl csr / install-cert):
 * a CSR signed by the token key that identity.key names, and the
 * certificate a CA issued for it installed on the token as the identity
 * certificate.
 *
 * Owns: loading the agent config and an identity for one command, the
 * checks before anything is stored, and what the commands print.
 * Must never: change the token or the state directory before every check
 * passed (key match, validity, chain order, label and id free); replace a
 * certificate already on the token (rotation does that); print a PIN.
 * Reuses csr.c (the request), cert_check.c (the key match),
 * identity.c and the token gateway token.h (the token) and rotation_chain.c (the
 * chain in the state directory, found again by trustlinkd at start).
 */
#ifndef TRUSTLINK_AGENT_ENROLL_H
#define TRUSTLINK_AGENT_ENROLL_H

#include <stddef.h>
#include <stdio.h>

enum agent_enroll_result {
    AGENT_ENROLL_OK = 0,
    AGENT_ENROLL_CONFIG,   /* config unreadable, bad subject, label/id in use, files */
    AGENT_ENROLL_TOKEN,    /* module, token, login or key not usable */
    AGENT_ENROLL_REFUSED,  /* the certificate (or chain) does not fit the token key */
};

/* Writes a PEM CSR for subject (e.g. "/CN=device-001") signed by the
 * identity key to out_path and a line saying so to out, or (out_path
 * NULL) the PEM to out. err says why on failure. */
enum agent_enroll_result agent_enroll_csr(const char *config_path, const char *subject,
                                          const char *out_path, FILE *out, char *err,
                                          size_t err_len);

/* Installs the first certificate of cert_path (more certificates in it,
 * then those of chain_path if given, form the chain) on the token with
 * the key's CKA_ID and the label identity.certificate names, and the
 * chain in rotation.state_dir. Prints what it did to out. */
enum agent_enroll_result agent_enroll_install(const char *config_path, const char *cert_path,
                                              const char *chain_path, FILE *out, char *err,
                                              size_t err_len);

#endif
