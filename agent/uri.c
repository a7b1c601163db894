/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11: URI helpers (see uri.h).
 * Must never: let a pin-value or pin-source through agent_uri_redact.
 */
#include "uri.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#define UNPARSEABLE "pkcs11:(not shown: not a valid pkcs11 URI)"

/* Parsed by p11-kit (which drops whitespace and decodes percent-escapes
 * as it does when it logs in), then written out again without pin-value
 * and pin-source: whatever spelling the PIN had, it cannot survive. A URI
 * p11-kit rejects is not shown at all: there is no safe way to tell its
 * PIN from the rest. */
void agent_uri_redact(const char *uri, char *out, size_t out_len)
{
    P11KitUri *parsed = NULL;
    char *formatted = NULL;

    if (out_len == 0)
        return;
    out[0] = '\0';
    parsed = p11_kit_uri_new();
    if (!parsed || !uri || p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, parsed) != P11_KIT_URI_OK) {
        snprintf(out, out_len, "%s", UNPARSEABLE);
        goto cleanup;
    }
    p11_kit_uri_set_pin_value(parsed, NULL);
    p11_kit_uri_set_pin_source(parsed, NULL);
    if (p11_kit_uri_format(parsed, P11_KIT_URI_FOR_ANY, &formatted) != P11_KIT_URI_OK) {
        snprintf(out, out_len, "%s", UNPARSEABLE);
        goto cleanup;
    }
    snprintf(out, out_len, "%s", formatted);
cleanup:
    free(formatted);
    if (parsed)
        p11_kit_uri_free(parsed);
}

int agent_uri_refuse_pin_value(const char *uri, char *err, size_t err_len)
{
    P11KitUri *parsed = p11_kit_uri_new();
    int rc = 0;

    if (!parsed) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    /* A URI p11-kit rejects is refused when the identity loads; it never
     * reaches C_Login, so it cannot carry a PIN there. */
    if (p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, parsed) == P11_KIT_URI_OK &&
        p11_kit_uri_get_pin_value(parsed) != NULL) {
        snprintf(err, err_len, "a pin-value in the URI is refused (the config is read by more "
                               "than the agent: backups, support bundles); put the PIN in "
                               "identity.pin_file or identity.pin_credential");
        rc = -1;
    }
    p11_kit_uri_free(parsed);
    return rc;
}

P11KitUri *agent_uri_parse(const char *what, const char *uri, char *err, size_t err_len)
{
    P11KitUri *parsed = p11_kit_uri_new();
    char shown[512];
    int rc;

    if (!parsed) {
        snprintf(err, err_len, "%s: out of memory", what);
        return NULL;
    }
    rc = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, parsed);
    if (rc != P11_KIT_URI_OK) {
        agent_uri_redact(uri, shown, sizeof(shown));
        snprintf(err, err_len, "%s: not a valid pkcs11 URI (RFC 7512): %s: %s", what,
                 p11_kit_uri_message(rc), shown);
        p11_kit_uri_free(parsed);
        return NULL;
    }
    return parsed;
}
