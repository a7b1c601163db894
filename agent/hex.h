/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lowercase hex for CKA_IDs and request ids (messages, the rotation
 * journal). Owns nothing; pure.
 */
#ifndef TRUSTLINK_AGENT_HEX_H
#define TRUSTLINK_AGENT_HEX_H

#include <stddef.h>

/* Writes len bytes as lowercase hex; always NUL-terminates, truncating to
 * whole bytes when out is short. */
void agent_hex_encode(const unsigned char *bytes, size_t len, char *out, size_t out_len);
/* Reads even-length hex (either case) of at most max bytes into out.
 * 0 and *len, or -1 for empty, odd, non-hex or too long text. */
int agent_hex_decode(const char *hex, unsigned char *out, size_t max, size_t *len);

#endif
