/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11: URI helpers of the agent (RFC 7512), on top of p11-kit's parser.
 *
 * Owns: redacting PIN attributes for anything printed, refusing a
 * pin-value in the config, and describing a URI parse error in words.
 * Must never: keep or print a pin-value; parse URIs by hand (p11-kit's
 * reading is the one that logs in, so it is the one that redacts).
 */
#ifndef TRUSTLINK_AGENT_URI_H
#define TRUSTLINK_AGENT_URI_H

#include <stddef.h>

struct p11_kit_uri;

/* uri as p11-kit understands it, re-serialised without pin-value and
 * pin-source; a URI p11-kit rejects becomes a fixed placeholder. Always
 * NUL-terminates; truncates. */
void agent_uri_redact(const char *uri, char *out, size_t out_len);

/* -1 with err when uri carries a pin-value (as p11-kit reads it: any
 * whitespace or percent-encoding); the config refuses those. */
int agent_uri_refuse_pin_value(const char *uri, char *err, size_t err_len);

/* Parses a pkcs11: URI with p11-kit. NULL with err set (the URI in the
 * message is redacted). Free with p11_kit_uri_free. */
struct p11_kit_uri *agent_uri_parse(const char *what, const char *uri, char *err, size_t err_len);

#endif
