/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11: URI helpers (see uri.h).
 * Must never: copy a pin-value anywhere but into the caller's PIN buffer.
 */
#include "uri.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/uri.h>

#define REDACTED "REDACTED"

void agent_uri_redact(const char *uri, char *out, size_t out_len)
{
    size_t used = 0;
    const char *p = uri;
    bool at_attribute_start = true;

    if (out_len == 0)
        return;
    while (*p && used + 1 < out_len) {
        if (at_attribute_start && strncmp(p, "pin-value=", 10) == 0) {
            const char *end = p + 10;
            size_t room = out_len - 1 - used;
            size_t n;

            while (*end && *end != ';' && *end != '&' && *end != '?')
                end++;
            n = snprintf(out + used, room + 1, "pin-value=" REDACTED);
            used += n < room ? n : room;
            p = end;
            at_attribute_start = false;
            continue;
        }
        /* Attributes start after the scheme, ';' in the path, '?' and '&'. */
        at_attribute_start = *p == ':' || *p == ';' || *p == '?' || *p == '&';
        out[used++] = *p++;
    }
    out[used] = '\0';
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
