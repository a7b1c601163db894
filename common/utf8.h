/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8-aware truncation for messages that quote outside text.
 *
 * Owns: finding where a string may be cut without splitting a character.
 * Must never: return a cut inside a multibyte sequence (a reply or log
 * line would then carry invalid UTF-8 that JSON encoders and terminals
 * mangle).
 */
#ifndef TRUSTLINK_COMMON_UTF8_H
#define TRUSTLINK_COMMON_UTF8_H

#include <stddef.h>

/* The length of the longest prefix of s (a C string) that has at most
 * max_bytes bytes and does not end inside a UTF-8 sequence. Use it as
 * printf("%.*s", (int)tl_utf8_prefix_len(s, 64), s). Bytes that are not
 * valid UTF-8 count as one character each. */
size_t tl_utf8_prefix_len(const char *s, size_t max_bytes);

/* len, less an incomplete UTF-8 sequence at the end of s (what a
 * byte-counted snprintf leaves when it cuts a character). Use it to mend
 * a message that was already cut: s[tl_utf8_complete_len(s, len)] = 0. */
size_t tl_utf8_complete_len(const char *s, size_t len);

#endif
