/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator cryptography: NIST P-256 keys, ECDSA over a 32-byte digest in
 * the chip's raw R||S form, ECDH, SHA-256 and the RNG, all through OpenSSL
 * 3 (EVP and the non-deprecated EC_POINT/ECDSA_SIG helpers).
 *
 * Owns no state. Private scalars arrive as 32-byte buffers owned by the
 * caller; every temporary copy made here is cleansed before it is freed.
 * Must never print or log key material.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "emu_internal.h"

enum { EMU_P256_POINT_SIZE = 65 }; /* 0x04 || X || Y */

static const char emu_group_name[] = "prime256v1";

void emu_cleanse(void *ptr, size_t len)
{
    if (ptr != NULL && len > 0)
        OPENSSL_cleanse(ptr, len);
}

int emu_random_bytes(uint8_t *out, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return -1;
    return RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

int emu_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned int out_len = 0;

    if (EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) != 1 || out_len != 32)
        return -1;
    return 0;
}

/* pub[64] = priv x G, computed with the group arithmetic. */
int emu_p256_public(const uint8_t priv[32], uint8_t pub[64])
{
    int rc = -1;
    EC_GROUP *group = NULL;
    EC_POINT *point = NULL;
    BIGNUM *scalar = NULL;
    BN_CTX *bn_ctx = NULL;
    uint8_t encoded[EMU_P256_POINT_SIZE];

    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    bn_ctx = BN_CTX_secure_new();
    scalar = BN_secure_new();
    if (group == NULL || bn_ctx == NULL || scalar == NULL)
        goto cleanup;
    if (BN_bin2bn(priv, 32, scalar) == NULL || BN_is_zero(scalar))
        goto cleanup;
    point = EC_POINT_new(group);
    if (point == NULL || EC_POINT_mul(group, point, scalar, NULL, NULL, bn_ctx) != 1)
        goto cleanup;
    if (EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, encoded,
                           sizeof(encoded), bn_ctx) != sizeof(encoded))
        goto cleanup;
    memcpy(pub, encoded + 1, 64);
    rc = 0;
cleanup:
    BN_clear_free(scalar);
    BN_CTX_free(bn_ctx);
    EC_POINT_free(point);
    EC_GROUP_free(group);
    return rc;
}

/* An EVP_PKEY for pub (and priv when non-NULL); NULL if not a curve point. */
static EVP_PKEY *emu_pkey_build(const uint8_t *priv, const uint8_t pub[64])
{
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *scalar = NULL;
    uint8_t encoded[EMU_P256_POINT_SIZE];

    encoded[0] = 0x04;
    memcpy(encoded + 1, pub, 64);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        goto cleanup;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, emu_group_name, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, encoded,
                                         sizeof(encoded)) != 1)
        goto cleanup;
    if (priv != NULL) {
        scalar = BN_secure_new();
        if (scalar == NULL || BN_bin2bn(priv, 32, scalar) == NULL ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, scalar) != 1)
            goto cleanup;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
        goto cleanup;
    if (EVP_PKEY_fromdata(ctx, &pkey, priv != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params) != 1) {
        pkey = NULL;
        goto cleanup;
    }
cleanup:
    /* The scalar sits in the params' secure block, which this clears. */
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(scalar);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

int emu_p256_keygen(uint8_t priv[32], uint8_t pub[64])
{
    int rc = -1;
    EVP_PKEY *pkey = NULL;
    BIGNUM *scalar = NULL;

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", emu_group_name);
    if (pkey == NULL)
        goto cleanup;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &scalar) != 1)
        goto cleanup;
    if (BN_bn2binpad(scalar, priv, 32) != 32)
        goto cleanup;
    if (emu_p256_public(priv, pub) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (rc != 0)
        emu_cleanse(priv, 32);
    BN_clear_free(scalar);
    EVP_PKEY_free(pkey);
    return rc;
}

int emu_p256_sign(const uint8_t priv[32], const uint8_t digest[32], uint8_t sig[64])
{
    int rc = -1;
    uint8_t pub[64];
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    ECDSA_SIG *parsed = NULL;
    uint8_t der[80]; /* DER ECDSA-Sig-Value of P-256: at most 72 bytes */
    size_t der_len = sizeof(der);
    const unsigned char *cursor = der;
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;

    if (emu_p256_public(priv, pub) != 0)
        goto cleanup;
    pkey = emu_pkey_build(priv, pub);
    if (pkey == NULL)
        goto cleanup;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    /* No digest set: the 32 input bytes are signed as the message digest. */
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
        EVP_PKEY_sign(ctx, der, &der_len, digest, 32) != 1)
        goto cleanup;
    if (der_len > sizeof(der))
        goto cleanup;
    parsed = d2i_ECDSA_SIG(NULL, &cursor, (long)der_len);
    if (parsed == NULL)
        goto cleanup;
    ECDSA_SIG_get0(parsed, &r, &s);
    if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
        goto cleanup;
    rc = 0;
cleanup:
    ECDSA_SIG_free(parsed);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

int emu_p256_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
    int rc = -1;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    ECDSA_SIG *parsed = NULL;
    BIGNUM *r = NULL;
    BIGNUM *s = NULL;
    unsigned char *der = NULL;
    int der_len;

    pkey = emu_pkey_build(NULL, pub);
    if (pkey == NULL)
        goto cleanup; /* not a point on P-256 */
    parsed = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (parsed == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(parsed, r, s) != 1)
        goto cleanup;
    r = NULL; /* owned by parsed now */
    s = NULL;
    der_len = i2d_ECDSA_SIG(parsed, &der);
    if (der_len <= 0)
        goto cleanup;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1)
        goto cleanup;
    /* 1 valid; 0 or a negative value (R or S out of range) invalid. */
    rc = EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, 32) == 1 ? 1 : 0;
cleanup:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(parsed);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

int emu_p256_ecdh(const uint8_t priv[32], const uint8_t peer[64], uint8_t shared[32])
{
    int rc = -1;
    uint8_t pub[64];
    EVP_PKEY *own = NULL;
    EVP_PKEY *other = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    size_t shared_len = 32;

    other = emu_pkey_build(NULL, peer);
    if (other == NULL)
        goto cleanup;
    if (emu_p256_public(priv, pub) != 0)
        goto cleanup;
    own = emu_pkey_build(priv, pub);
    if (own == NULL)
        goto cleanup;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, other) != 1)
        goto cleanup;
    if (EVP_PKEY_derive(ctx, shared, &shared_len) != 1 || shared_len != 32)
        goto cleanup;
    rc = 0;
cleanup:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(own);
    EVP_PKEY_free(other);
    return rc;
}
