/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 64-bit certificate dates (see time64.h). OpenSSL does the calendar
 * arithmetic on its own day counts (ASN1_TIME_diff, OPENSSL_gmtime_adj),
 * which are ints of days, not time_t seconds, so 9999 fits everywhere.
 */
#include "time64.h"

#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

enum { SECONDS_PER_DAY = 86400 };

int time64_from_asn1(const ASN1_TIME *t, int64_t *epoch_out)
{
    /* ASN1_TIME_diff measures between two times: start at the epoch. */
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int days = 0, secs = 0;
    int rc = -1;

    if (!epoch || !t || ASN1_TIME_check(t) != 1 || ASN1_TIME_diff(&days, &secs, epoch, t) != 1)
        goto cleanup;
    *epoch_out = (int64_t)days * SECONDS_PER_DAY + secs;
    rc = 0;
cleanup:
    ASN1_TIME_free(epoch);
    return rc;
}

void time64_iso(int64_t t, char *out, size_t out_len)
{
    struct tm tm;
    int64_t days = t / SECONDS_PER_DAY;

    if (out_len == 0)
        return;
    out[0] = '\0';
    /* 2932897 days: 10000-01-01, past the last date an X.509 time can hold. */
    if (t <= 0 || days >= 2932897)
        return;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 70;
    tm.tm_mday = 1;
    if (OPENSSL_gmtime_adj(&tm, (int)days, (long)(t % SECONDS_PER_DAY)) != 1)
        return;
    if (strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

int64_t time64_days_left(int64_t not_after, int64_t now)
{
    return (not_after - now) / SECONDS_PER_DAY;
}
