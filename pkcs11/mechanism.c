/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mechanism implementations. See mechanism.h.
 */
#include "mechanism.h"

#include <string.h>

#include <openssl/evp.h>

#include "object.h"

static const CK_MECHANISM_TYPE mechs[] = {CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKM_ECDSA_SHA256, CKM_SHA256,
                                          CKM_ECDH1_DERIVE};

CK_RV p11_mech_list(CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    CK_ULONG n = sizeof(mechs) / sizeof(mechs[0]);
    if (list == NULL) {
        *count = n;
        return CKR_OK;
    }
    if (*count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(list, mechs, sizeof(mechs));
    *count = n;
    return CKR_OK;
}

CK_RV p11_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
    info->ulMinKeySize = 256;
    info->ulMaxKeySize = 256;
    switch (type) {
    case CKM_EC_KEY_PAIR_GEN:
        info->flags = CKF_HW | CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
        return CKR_OK;
    case CKM_ECDSA:
    case CKM_ECDSA_SHA256:
        info->flags = CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
        return CKR_OK;
    case CKM_ECDH1_DERIVE:
        info->flags = CKF_HW | CKF_DERIVE | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
        return CKR_OK;
    case CKM_SHA256:
        info->ulMinKeySize = 0;
        info->ulMaxKeySize = 0;
        info->flags = CKF_DIGEST;
        return CKR_OK;
    default:
        return CKR_MECHANISM_INVALID;
    }
}

static CK_RV start(struct p11_op *op, const CK_MECHANISM *mech, bool hashing)
{
    memset(op, 0, sizeof(*op));
    op->mech = mech->mechanism;
    op->raw = !hashing;
    if (hashing) {
        if ((op->md = EVP_MD_CTX_new()) == NULL)
            return CKR_HOST_MEMORY;
        if (EVP_DigestInit_ex(op->md, EVP_sha256(), NULL) != 1) {
            p11_op_reset(op);
            return CKR_FUNCTION_FAILED;
        }
    }
    op->active = true;
    return CKR_OK;
}

static CK_RV check_ec_mech(const CK_MECHANISM *mech)
{
    if (mech->mechanism != CKM_ECDSA && mech->mechanism != CKM_ECDSA_SHA256)
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

CK_RV p11_sign_init(struct p11_op *op, const CK_MECHANISM *mech, const p11_attrs *key)
{
    CK_ULONG kt = 0;
    CK_RV rv = check_ec_mech(mech);
    int slot;

    if (rv != CKR_OK)
        return rv;
    if (p11_object_class(key) != CKO_PRIVATE_KEY || !p11_attrs_get_ulong(key, CKA_KEY_TYPE, &kt) || kt != CKK_EC ||
        (slot = p11_object_chip_slot(key)) < 0)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!p11_attrs_bool(key, CKA_SIGN, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    if ((rv = start(op, mech, mech->mechanism == CKM_ECDSA_SHA256)) != CKR_OK)
        return rv;
    op->chip_slot = slot;
    /* The public half, for verify-after-sign. */
    op->have_pub = p11_object_private_key_public(key, op->pub);
    return CKR_OK;
}

CK_RV p11_verify_init(struct p11_op *op, const CK_MECHANISM *mech, const p11_attrs *key)
{
    CK_RV rv = check_ec_mech(mech);
    uint8_t xy[64];

    if (rv != CKR_OK)
        return rv;
    if (!p11_object_ec_point(key, xy))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!p11_attrs_bool(key, CKA_VERIFY, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    if ((rv = start(op, mech, mech->mechanism == CKM_ECDSA_SHA256)) != CKR_OK)
        return rv;
    memcpy(op->pub, xy, 64);
    return CKR_OK;
}

CK_RV p11_digest_init(struct p11_op *op, const CK_MECHANISM *mech)
{
    if (mech->mechanism != CKM_SHA256)
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter != NULL || mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    return start(op, mech, true);
}

CK_RV p11_op_update(struct p11_op *op, const CK_BYTE *data, CK_ULONG len)
{
    op->multi = true;
    if (op->md != NULL)
        return EVP_DigestUpdate(op->md, data, len) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
    if (len > sizeof(op->buf) - op->buf_len)
        return CKR_DATA_LEN_RANGE;
    memcpy(op->buf + op->buf_len, data, len);
    op->buf_len += len;
    return CKR_OK;
}

/* The 32-byte value the chip signs: SHA-256 of the input, or for raw
 * ECDSA the caller's hash, left-truncated / left-padded to 256 bits. */
static CK_RV final_digest(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single, uint8_t out[32])
{
    unsigned int n = 0;
    CK_RV rv;

    if (single) {
        if (op->multi)
            return CKR_OPERATION_ACTIVE;
        if ((rv = p11_op_update(op, data, len)) != CKR_OK)
            return rv;
    }
    if (op->md != NULL) {
        EVP_MD_CTX *copy = EVP_MD_CTX_new();
        bool ok = copy != NULL && EVP_MD_CTX_copy_ex(copy, op->md) == 1 && EVP_DigestFinal_ex(copy, out, &n) == 1;
        EVP_MD_CTX_free(copy);
        return ok && n == 32 ? CKR_OK : CKR_FUNCTION_FAILED;
    }
    if (op->buf_len == 0)
        return CKR_DATA_LEN_RANGE;
    memset(out, 0, 32);
    if (op->buf_len >= 32)
        memcpy(out, op->buf, 32);
    else
        memcpy(out + 32 - op->buf_len, op->buf, op->buf_len);
    return CKR_OK;
}

CK_RV p11_sign_prepare(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single,
                       const CK_BYTE *sig, CK_ULONG *sig_len, struct p11_sign_job *job)
{
    CK_RV rv;

    memset(job, 0, sizeof(*job));
    /* C_Sign after C_SignUpdate: refused, and like every error but a
     * length answer it ends the operation (PKCS#11 v2.40 §5.2). */
    if (single && op->multi) {
        p11_op_reset(op);
        return CKR_OPERATION_ACTIVE;
    }
    if (sig == NULL || *sig_len < 64) {
        rv = sig == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *sig_len = 64;
        return rv;
    }
    rv = final_digest(op, data, len, single, job->digest);
    if (rv == CKR_OK) {
        job->chip_slot = (unsigned)op->chip_slot;
        job->have_pub = op->have_pub;
        memcpy(job->pub, op->pub, sizeof(job->pub));
        job->ready = true;
    } else {
        OPENSSL_cleanse(job, sizeof(*job));
    }
    p11_op_reset(op);
    return rv;
}

CK_RV p11_verify_final(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single,
                       const CK_BYTE *sig, CK_ULONG sig_len)
{
    uint8_t digest[32];
    CK_RV rv;

    /* Every outcome ends the operation: C_Verify* have no length query. */
    if (single && op->multi)
        rv = CKR_OPERATION_ACTIVE;
    else if ((rv = final_digest(op, data, len, single, digest)) == CKR_OK)
        rv = sig_len != 64 ? CKR_SIGNATURE_LEN_RANGE : p11_ecdsa_verify_digest(op->pub, digest, sig);
    p11_op_reset(op);
    return rv;
}

CK_RV p11_digest_final(struct p11_op *op, const CK_BYTE *data, CK_ULONG len, bool single,
                       CK_BYTE *out, CK_ULONG *out_len)
{
    uint8_t d[32];
    CK_RV rv;

    /* C_Digest after C_DigestUpdate: refused, and the operation ends. */
    if (single && op->multi) {
        p11_op_reset(op);
        return CKR_OPERATION_ACTIVE;
    }
    if (out == NULL || *out_len < 32) {
        rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *out_len = 32;
        return rv;
    }
    rv = final_digest(op, data, len, single, d);
    if (rv == CKR_OK) {
        memcpy(out, d, 32);
        *out_len = 32;
    }
    p11_op_reset(op);
    return rv;
}

CK_RV p11_ecdh_prepare(const CK_MECHANISM *mech, const p11_attrs *key, unsigned *chip_slot,
                       uint8_t peer[64])
{
    const CK_ECDH1_DERIVE_PARAMS *p;
    int slot;

    if (mech->mechanism != CKM_ECDH1_DERIVE)
        return CKR_MECHANISM_INVALID;
    if (mech->pParameter == NULL || mech->ulParameterLen != sizeof(CK_ECDH1_DERIVE_PARAMS))
        return CKR_MECHANISM_PARAM_INVALID;
    p = mech->pParameter;
    if (p->kdf != CKD_NULL || p->ulSharedDataLen != 0 || p->pPublicData == NULL ||
        !p11_ec_point_parse(p->pPublicData, p->ulPublicDataLen, peer))
        return CKR_MECHANISM_PARAM_INVALID;
    if (p11_object_class(key) != CKO_PRIVATE_KEY || (slot = p11_object_chip_slot(key)) < 0)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!p11_attrs_bool(key, CKA_DERIVE, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    *chip_slot = (unsigned)slot;
    return CKR_OK;
}
