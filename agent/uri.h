/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkcs11: URI helpers of the agent (RFC 7512), on top of p11-kit's parser.
 *
 * Owns: redacting pin-value for anything printed, and describing a URI
 * parse error in words.
 * Must never: keep or print a pin-value; parse URIs by hand beyond the
 * redaction (which must also work on URIs p11-kit rejects, because those
 * end up in error messages).
 */
#ifndef TRUSTLINK_AGENT_URI_H
#define TRUSTLINK_AGENT_URI_H

#include <stddef.h>

struct p11_kit_uri;

/* Copies uri into out with the value of every pin-value attribute (path
 * or query) replaced by "REDACTED". Always NUL-terminates; truncates. */
void agent_uri_redact(const char *uri, char *out, size_t out_len);

/* Parses a pkcs11: URI with p11-kit. NULL with err set (the URI in the
 * message is redacted). Free with p11_kit_uri_free. */
struct p11_kit_uri *agent_uri_parse(const char *what, const char *uri, char *err, size_t err_len);

#endif
