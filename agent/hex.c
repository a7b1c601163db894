/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hex encoding (see hex.h).
 */
#include "hex.h"

#include <string.h>

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void agent_hex_encode(const unsigned char *bytes, size_t len, char *out, size_t out_len)
{
    static const char digits[] = "0123456789abcdef";
    size_t used = 0;

    if (out_len == 0)
        return;
    for (size_t i = 0; i < len && used + 3 <= out_len; i++) {
        out[used++] = digits[bytes[i] >> 4];
        out[used++] = digits[bytes[i] & 0x0f];
    }
    out[used] = '\0';
}

int agent_hex_decode(const char *hex, unsigned char *out, size_t max, size_t *len)
{
    size_t n = strlen(hex);

    if (n == 0 || n % 2 != 0 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nibble(hex[2 * i]);
        int lo = nibble(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}
