/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-tool formatting: hex, P-256 public keys as PEM
 * SubjectPublicKeyInfo, ECDSA signatures between R||S and DER, and the
 * decoded config-zone dump. Must never touch the chip.
 */
#include "tool.h"

#include <ctype.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

void fmt_hex(FILE *out, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(out, "%02x", buf[i]);
}

bool fmt_parse_hex(const char *s, uint8_t *out, size_t len)
{
    if (strlen(s) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned v = 0;

        if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]))
            return false;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

int fmt_pubkey_pem(FILE *out, const uint8_t pubkey[ATECC_P256_PUBKEY_SIZE])
{
    uint8_t point[1 + ATECC_P256_PUBKEY_SIZE];
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = -1;

    /* Uncompressed point: 0x04 || X || Y. */
    point[0] = 0x04;
    memcpy(point + 1, pubkey, ATECC_P256_PUBKEY_SIZE);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
        goto cleanup;
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto cleanup;
    if (PEM_write_PUBKEY(out, pkey) != 1)
        goto cleanup;
    rc = 0;
cleanup:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

/* The 64-byte X||Y of a P-256 public key; -1 for any other key. */
static int pubkey_bytes(EVP_PKEY *pkey, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE])
{
    uint8_t point[1 + ATECC_P256_PUBKEY_SIZE + 8];
    char group[64] = "";
    size_t len = 0;

    if (pkey == NULL ||
        !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        NULL) ||
        strcmp(group, "prime256v1") != 0)
        return -1;
    if (!EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                        "uncompressed") ||
        !EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len) ||
        len != 1 + ATECC_P256_PUBKEY_SIZE || point[0] != 0x04)
        return -1;
    memcpy(pubkey, point + 1, ATECC_P256_PUBKEY_SIZE);
    return 0;
}

int fmt_pubkey_from_pem(const char *path, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE])
{
    FILE *f = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = -1;

    f = fopen(path, "r");
    if (f == NULL)
        goto cleanup;
    pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    rc = pubkey_bytes(pkey, pubkey);
cleanup:
    EVP_PKEY_free(pkey);
    if (f != NULL)
        fclose(f);
    return rc;
}

int fmt_cert_pubkey_from_pem(const char *path, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE], char *subject,
                             size_t subject_len)
{
    FILE *f = fopen(path, "r");
    X509 *cert = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = -1;

    if (f == NULL)
        return -1;
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (cert == NULL)
        return -1;
    X509_NAME_oneline(X509_get_subject_name(cert), subject, (int)subject_len);
    pkey = X509_get_pubkey(cert);
    rc = pkey != NULL && pubkey_bytes(pkey, pubkey) == 0 ? 0 : -2;
    EVP_PKEY_free(pkey);
    X509_free(cert);
    return rc;
}

int fmt_sig_to_der(const uint8_t sig[ATECC_P256_SIGNATURE_SIZE], uint8_t **der, size_t *der_len)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL;
    BIGNUM *s = NULL;
    int n;
    int rc = -1;

    *der = NULL;
    *der_len = 0;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto cleanup;
    r = NULL; /* owned by es now */
    s = NULL;
    n = i2d_ECDSA_SIG(es, der);
    if (n <= 0)
        goto cleanup;
    *der_len = (size_t)n;
    rc = 0;
cleanup:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rc;
}

int fmt_sig_from_der(const uint8_t *der, size_t der_len, uint8_t sig[ATECC_P256_SIGNATURE_SIZE])
{
    const uint8_t *p = der;
    ECDSA_SIG *es = NULL;
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    int rc = -1;

    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (es == NULL || p != der + der_len)
        goto cleanup;
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
        goto cleanup;
    rc = 0;
cleanup:
    ECDSA_SIG_free(es);
    return rc;
}

static uint16_t u16(const uint8_t *c, unsigned off)
{
    return (uint16_t)(c[off] | c[off + 1] << 8);
}

static const char *key_type_name(unsigned t)
{
    switch (t) {
    case ATECC_KEYTYPE_P256: return "P-256";
    case ATECC_KEYTYPE_AES: return "AES";
    case ATECC_KEYTYPE_DATA: return "SHA/data";
    default: return "reserved";
    }
}

static const char *lock_word(uint8_t v)
{
    return v == ATECC_LOCK_STATE_UNLOCKED ? "unlocked (0x55)"
           : v == ATECC_LOCK_STATE_LOCKED ? "locked (0x00)" : "locked (non-standard value)";
}

static void fmt_slot(FILE *out, const uint8_t *c, unsigned slot)
{
    uint16_t sc = u16(c, ATECC_CFG_SLOT_CONFIG + 2 * slot);
    uint16_t kc = u16(c, ATECC_CFG_KEY_CONFIG + 2 * slot);
    unsigned type = (kc & ATECC_KEYCFG_KEYTYPE_MASK) >> ATECC_KEYCFG_KEYTYPE_SHIFT;
    bool priv = (kc & ATECC_KEYCFG_PRIVATE) != 0;
    bool locked = (u16(c, ATECC_CFG_SLOT_LOCKED) & (1u << slot)) == 0;

    fprintf(out, "slot %2u (%u bytes)%s\n", slot, atecc_slot_size(slot), locked ? "  [slot locked]" : "");
    fprintf(out, "  SlotConfig 0x%04x: ReadKey %u, WriteKey %u, WriteConfig 0x%x%s%s%s%s\n", sc,
            sc & ATECC_SLOTCFG_READKEY_MASK, (sc >> ATECC_SLOTCFG_WRITEKEY_SHIFT) & 0xF,
            (sc >> ATECC_SLOTCFG_WRITECONFIG_SHIFT) & 0xF,
            (sc & ATECC_SLOTCFG_IS_SECRET) ? ", secret (never readable)" : ", readable",
            (sc & ATECC_SLOTCFG_ENCRYPT_READ) ? ", encrypted read" : "",
            (sc & ATECC_SLOTCFG_LIMITED_USE) ? ", limited use" : "",
            (sc & ATECC_SLOTCFG_NO_MAC) ? ", no MAC" : "");
    if (priv && type == ATECC_KEYTYPE_P256)
        fprintf(out, "    private key: external sign %s, internal sign %s, ECDH %s%s, GenKey %s, "
                     "PrivWrite %s\n",
                (sc & ATECC_SLOTCFG_EXT_SIGN) ? "yes" : "no",
                (sc & ATECC_SLOTCFG_INT_SIGN) ? "yes" : "no", (sc & ATECC_SLOTCFG_ECDH) ? "yes" : "no",
                (sc & ATECC_SLOTCFG_ECDH_TO_NEXT) ? " (legacy result to next slot)" : "",
                (sc & ATECC_SLOTCFG_GENKEY_ALLOWED) ? "may create keys" : "no (key permanent)",
                (sc & ATECC_SLOTCFG_PRIVWRITE_ALLOWED) ? "encrypted allowed" : "no");
    fprintf(out, "  KeyConfig  0x%04x: %s %s key%s%s%s%s, AuthKey %u%s, X509id %u\n", kc,
            priv ? "private" : "public/data", key_type_name(type),
            (kc & ATECC_KEYCFG_PUBINFO) ? ", PubInfo" : "",
            (kc & ATECC_KEYCFG_LOCKABLE) ? ", lockable" : "",
            (kc & ATECC_KEYCFG_REQ_RANDOM) ? ", ReqRandom" : "",
            (kc & ATECC_KEYCFG_REQ_AUTH) ? ", ReqAuth" : "", (kc >> 8) & 0xF,
            (kc & ATECC_KEYCFG_PERSISTENT_DISABLE) ? ", PersistentDisable" : "", (kc >> 14) & 3);
}

void fmt_config(FILE *out, const uint8_t config[ATECC_CONFIG_SIZE])
{
    uint8_t cm = config[ATECC_CFG_CHIP_MODE];
    uint16_t co = u16(config, ATECC_CFG_CHIP_OPTIONS);
    static const char *const dividers[] = { "M0", "M1", "M2" };

    fprintf(out, "serial number      ");
    fmt_hex(out, config + ATECC_CFG_SN0, 4);
    fmt_hex(out, config + ATECC_CFG_SN4, 5);
    fprintf(out, "\nrevision (cfg 4-7) ");
    fmt_hex(out, config + ATECC_CFG_REVISION, 4);
    fprintf(out, "\nI2C address        0x%02x (7-bit 0x%02x)\n", config[ATECC_CFG_I2C_ADDRESS],
            config[ATECC_CFG_I2C_ADDRESS] >> 1);
    fprintf(out, "ChipMode           0x%02x: %s, %s inputs, %s watchdog, clock divider %s\n", cm,
            (cm & ATECC_CHIPMODE_USER_EXTRA_ADD) ? "address from UserExtraAdd" : "address from byte 16",
            (cm & ATECC_CHIPMODE_TTL_ENABLE) ? "VCC-referenced" : "fixed-reference",
            (cm & ATECC_CHIPMODE_LONG_WATCHDOG) ? "long (~13 s)" : "short (0.7-1.7 s)",
            dividers[atecc_clock_divider_from_chipmode(cm)]);
    fprintf(out, "ChipOptions        0x%04x: power-on self-test %s, IO protection key %s (slot %u), "
                 "KDF AES %s, ECDH protection %u, KDF protection %u\n", co,
            (co & 0x0001) ? "on" : "off", (co & 0x0002) ? "on" : "off", (co >> 12) & 0xF,
            (co & 0x0004) ? "on" : "off", (co >> 8) & 3, (co >> 10) & 3);
    fprintf(out, "UserExtra 0x%02x, UserExtraAdd 0x%02x, CountMatch 0x%02x, UseLock 0x%02x, "
                 "VolatileKeyPermission 0x%02x, SecureBoot 0x%04x\n",
            config[ATECC_CFG_USER_EXTRA], config[ATECC_CFG_USER_EXTRA_ADD],
            config[ATECC_CFG_COUNT_MATCH], config[ATECC_CFG_USE_LOCK],
            config[ATECC_CFG_VOLATILE_KEY_PERMISSION], u16(config, ATECC_CFG_SECURE_BOOT));
    fprintf(out, "config zone        %s\n", lock_word(config[ATECC_CFG_LOCK_CONFIG]));
    fprintf(out, "data/OTP zones     %s\n", lock_word(config[ATECC_CFG_LOCK_VALUE]));
    fprintf(out, "SlotLocked         0x%04x (bit N clear = slot N locked)\n",
            u16(config, ATECC_CFG_SLOT_LOCKED));
    for (unsigned slot = 0; slot < ATECC_SLOT_COUNT; slot++)
        fmt_slot(out, config, slot);
}
