/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8-aware truncation (see utf8.h).
 */
#include "utf8.h"

/* Length of the well-formed UTF-8 sequence starting at s, or 1 for a byte
 * that does not start one (so invalid input still advances). */
static size_t sequence_len(const unsigned char *s)
{
    size_t need;
    size_t i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        need = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        need = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        need = 4;
    else
        return 1;
    for (i = 1; i < need; i++)
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 1;
    return need;
}

size_t tl_utf8_prefix_len(const char *s, size_t max_bytes)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t used = 0;

    while (u[used] != '\0') {
        size_t n = sequence_len(u + used);

        if (used + n > max_bytes)
            break;
        used += n;
    }
    return used;
}

size_t tl_utf8_complete_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t back;

    /* A sequence is at most 4 bytes: look at the last 3 for its lead. */
    for (back = 1; back <= 3 && back <= len; back++) {
        unsigned char b = u[len - back];
        size_t need;

        if ((b & 0xc0) == 0x80)
            continue; /* a continuation byte: the lead is further back */
        if (b >= 0xc2 && b <= 0xdf)
            need = 2;
        else if (b >= 0xe0 && b <= 0xef)
            need = 3;
        else if (b >= 0xf0 && b <= 0xf4)
            need = 4;
        else
            return len; /* ASCII or invalid: nothing was cut */
        return need > back ? len - back : len;
    }
    return len;
}
