/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interface-string parser (see interface.h). Pure: no I/O.
 */
#include "interface.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *prefix;
    enum atecc_scheme scheme;
} atecc_schemes[] = {
    { "i2c:", ATECC_SCHEME_I2C },
    { "emu:", ATECC_SCHEME_EMU },
    { "inproc:", ATECC_SCHEME_INPROC },
};

/* "0x35" (hex) or "53" (decimal); anything else fails. */
static int parse_number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
    char buf[24];
    char *end = NULL;
    int base = 10;
    size_t skip = 0;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
        base = 16;
        skip = 2;
    }
    for (size_t i = skip; i < len; i++)
        if (base == 16 ? !isxdigit((unsigned char)buf[i]) : !isdigit((unsigned char)buf[i]))
            return -1;
    *out = strtoul(buf + skip, &end, base);
    if (end == NULL || *end != '\0' || *out > max)
        return -1;
    return 0;
}

static atecc_err parse_query(const char *text, const char *query, struct atecc_iface *out,
                             char *detail, size_t detail_len)
{
    static const char key[] = "bus_hz=";
    unsigned long hz = 0;

    if (out->scheme != ATECC_SCHEME_I2C) {
        snprintf(detail, detail_len,
                 "interface '%s': options after '?' apply to i2c: only (the emulator "
                 "reports its own bus speed)", text);
        return ATECC_E_INTERFACE;
    }
    if (strncmp(query, key, sizeof(key) - 1) != 0) {
        snprintf(detail, detail_len,
                 "interface '%s': unknown option '%s' (the only option is bus_hz=HZ)", text, query);
        return ATECC_E_INTERFACE;
    }
    query += sizeof(key) - 1;
    if (parse_number(query, strlen(query), 100000000ul, &hz) < 0 || hz < ATECC_IFACE_BUS_HZ_MIN ||
        hz > ATECC_IFACE_BUS_HZ_MAX) {
        snprintf(detail, detail_len,
                 "interface '%s': bus_hz '%s' is not a number from %d to %d (Hz)", text, query,
                 ATECC_IFACE_BUS_HZ_MIN, ATECC_IFACE_BUS_HZ_MAX);
        return ATECC_E_INTERFACE;
    }
    out->bus_hz = (uint32_t)hz;
    return ATECC_OK;
}

atecc_err atecc_iface_parse(const char *text, struct atecc_iface *out, char *detail,
                            size_t detail_len)
{
    const char *rest = NULL;
    const char *query = NULL;
    const char *at = NULL;
    size_t body_len;
    size_t path_len;
    unsigned long addr = ATECC_IFACE_DEFAULT_ADDR;
    atecc_err rc = ATECC_E_INTERFACE;

    if (out == NULL || text == NULL) {
        snprintf(detail, detail_len, "no interface given");
        return text == NULL ? ATECC_E_INTERFACE : ATECC_E_ARGUMENT;
    }
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(atecc_schemes) / sizeof(atecc_schemes[0]); i++) {
        size_t n = strlen(atecc_schemes[i].prefix);

        if (strncmp(text, atecc_schemes[i].prefix, n) == 0) {
            out->scheme = atecc_schemes[i].scheme;
            rest = text + n;
            break;
        }
    }
    if (rest == NULL) {
        snprintf(detail, detail_len,
                 "interface '%s': unknown scheme; valid forms are i2c:/dev/i2c-N@0xADDR"
                 "[?bus_hz=HZ] and emu:/path/to/socket[@0xADDR]", text);
        goto cleanup;
    }
    query = strchr(rest, '?');
    body_len = query != NULL ? (size_t)(query - rest) : strlen(rest);
    for (size_t i = body_len; i > 0; i--) {
        if (rest[i - 1] == '@') {
            at = rest + i - 1;
            break;
        }
    }
    path_len = at != NULL ? (size_t)(at - rest) : body_len;
    if (out->scheme != ATECC_SCHEME_INPROC && path_len == 0) {
        snprintf(detail, detail_len, "interface '%s' has no path (e.g. %s)", text,
                 out->scheme == ATECC_SCHEME_I2C ? "i2c:/dev/i2c-1@0x35"
                                                 : "emu:/run/trustlink/atecc608.sock");
        goto cleanup;
    }
    if (out->scheme == ATECC_SCHEME_INPROC && path_len != 0) {
        snprintf(detail, detail_len, "interface '%s': inproc: takes no path", text);
        goto cleanup;
    }
    if (path_len >= sizeof(out->path)) {
        snprintf(detail, detail_len, "interface '%s': path longer than %zu bytes", text,
                 sizeof(out->path) - 1);
        goto cleanup;
    }
    memcpy(out->path, rest, path_len);
    out->path[path_len] = '\0';
    if (at == NULL && out->scheme == ATECC_SCHEME_I2C) {
        snprintf(detail, detail_len,
                 "interface '%s' has no '@ADDRESS' (the chip's 7-bit I2C address, e.g. "
                 "%s@0x35 for Trust&GO, @0x36 TrustFLEX, @0x60 unconfigured)", text, out->path);
        goto cleanup;
    }
    if (at != NULL) {
        size_t alen = body_len - path_len - 1;

        if (parse_number(at + 1, alen, 0xFFFF, &addr) < 0 || addr < ATECC_IFACE_ADDR_MIN ||
            addr > ATECC_IFACE_ADDR_MAX) {
            snprintf(detail, detail_len,
                     "interface '%s': address '%.*s' is not a 7-bit I2C address from 0x%02x to "
                     "0x%02x (write 0x35, not the 8-bit form 0x6a)", text, (int)alen, at + 1,
                     ATECC_IFACE_ADDR_MIN, ATECC_IFACE_ADDR_MAX);
            goto cleanup;
        }
    }
    out->addr7 = (uint8_t)addr;
    if (out->scheme == ATECC_SCHEME_I2C)
        out->bus_hz = ATECC_IFACE_DEFAULT_BUS_HZ;
    if (query != NULL) {
        rc = parse_query(text, query + 1, out, detail, detail_len);
        if (rc != ATECC_OK)
            goto cleanup;
    }
    rc = ATECC_OK;
cleanup:
    return rc;
}
