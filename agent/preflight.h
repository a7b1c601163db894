/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preflight of an agent configuration, shared by `trustlinkctl check`.
 *
 * Runs, in order, and reports one line per check ("PASS name: detail" or
 * "FAIL name: detail") to out: the config file is valid; the files, URIs,
 * topics and PIN source it names pass --check-config's checks
 * (config_check.h); the identity URI
 * resolves to exactly one private key that is sensitive and not
 * extractable; the certificate matches the key (and its days to expiry);
 * CKM_ECDSA is available; a test signature over a random digest verifies
 * with the certificate's public key; the broker is reachable with a full
 * mutual-TLS handshake. Later checks that depend on a failed one are
 * reported as "SKIP".
 * Must never: print a PIN or pin-value, or change token contents.
 */
#ifndef TRUSTLINK_AGENT_PREFLIGHT_H
#define TRUSTLINK_AGENT_PREFLIGHT_H

#include <stdio.h>

enum agent_preflight_result {
    AGENT_PREFLIGHT_PASS = 0,      /* every check passed */
    AGENT_PREFLIGHT_FAIL = 1,      /* at least one check failed */
    AGENT_PREFLIGHT_CONFIG = 2,    /* the config itself could not be loaded */
};

/* Where the unit's LoadCredential= takes credentials from: outside the
 * service ($CREDENTIALS_DIRECTORY unset), identity.pin_credential NAME is
 * read from AGENT_CREDENTIAL_SOURCE_DIR/NAME when the caller can read it. */
#define AGENT_CREDENTIAL_SOURCE_DIR "/etc/trustlink"

/* pin_file: if not NULL, the PIN is read from it instead of
 * identity.pin_file / identity.pin_credential ("/dev/stdin" works). */
enum agent_preflight_result agent_preflight(const char *config_path, const char *pin_file,
                                            FILE *out);

#endif
