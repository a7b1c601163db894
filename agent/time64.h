/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate dates as 64-bit seconds since the epoch.
 *
 * time_t is 32 bits on 32-bit ARM (Debian armhf): timegm() and gmtime_r()
 * fail for anything after 2038-01-19, yet device certificates routinely
 * expire later, up to 99991231235959Z for "no well-defined expiry"
 * (RFC 5280 4.1.2.5). These helpers never go through time_t.
 */
#ifndef TRUSTLINK_TIME64_H
#define TRUSTLINK_TIME64_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1.h>

/* Seconds from 1970-01-01T00:00:00Z to `t` (negative before).
 * Returns 0, or -1 for a malformed time (*epoch_out left unchanged). */
int time64_from_asn1(const ASN1_TIME *t, int64_t *epoch_out);

/* `t` as "YYYY-MM-DDTHH:MM:SSZ"; an empty string when t <= 0 or it lies
 * outside years 1970..9999. */
void time64_iso(int64_t t, char *out, size_t out_len);

/* Whole days from `now` until `not_after`, truncated toward zero
 * (negative once expired). */
int64_t time64_days_left(int64_t not_after, int64_t now);

#endif
