/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Object classes: rule tables, defaults, certificate parsing, key objects.
 * See object.h. Uses OpenSSL only to parse certificates and check points.
 */
#include "object.h"

#include <string.h>

#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

const uint8_t p11_p256_oid_der[10] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* SubjectPublicKeyInfo of a P-256 key, up to the BIT STRING's contents. */
static const uint8_t p256_spki_prefix[26] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};

#define RO (P11_AF_RO_CREATE | P11_AF_RO_GEN)
#define MOD P11_AF_MODIFIABLE

#define COMMON_RULES                                                  \
    {CKA_CLASS, P11_K_ULONG, P11_AF_REQ_CREATE},                      \
    {CKA_TOKEN, P11_K_BOOL, 0},                                       \
    {CKA_PRIVATE, P11_K_BOOL, 0},                                     \
    {CKA_MODIFIABLE, P11_K_BOOL, 0},                                  \
    {CKA_COPYABLE, P11_K_BOOL, 0},                                    \
    {CKA_DESTROYABLE, P11_K_BOOL, 0},                                 \
    {CKA_LABEL, P11_K_BYTES, MOD},                                    \
    {CKA_TRUSTLINK_CHIP_SLOT, P11_K_ULONG, RO}

#define KEY_RULES                                                     \
    {CKA_KEY_TYPE, P11_K_ULONG, P11_AF_REQ_CREATE},                   \
    {CKA_ID, P11_K_BYTES, MOD},                                       \
    {CKA_START_DATE, P11_K_DATE, MOD},                                \
    {CKA_END_DATE, P11_K_DATE, MOD},                                  \
    {CKA_DERIVE, P11_K_BOOL, MOD},                                    \
    {CKA_LOCAL, P11_K_BOOL, RO},                                      \
    {CKA_KEY_GEN_MECHANISM, P11_K_ULONG, RO},                         \
    {CKA_SUBJECT, P11_K_BYTES, MOD},                                  \
    {CKA_PUBLIC_KEY_INFO, P11_K_BYTES, RO}

static const struct p11_attr_rule data_rules[] = {
    COMMON_RULES,
    {CKA_APPLICATION, P11_K_BYTES, MOD},
    {CKA_OBJECT_ID, P11_K_BYTES, MOD},
    {CKA_VALUE, P11_K_BYTES, MOD},
};

static const struct p11_attr_rule cert_rules[] = {
    COMMON_RULES,
    {CKA_CERTIFICATE_TYPE, P11_K_ULONG, P11_AF_REQ_CREATE},
    {CKA_TRUSTED, P11_K_BOOL, RO},
    {CKA_CERTIFICATE_CATEGORY, P11_K_ULONG, 0},
    {CKA_CHECK_VALUE, P11_K_BYTES, 0},
    {CKA_START_DATE, P11_K_DATE, MOD},
    {CKA_END_DATE, P11_K_DATE, MOD},
    {CKA_PUBLIC_KEY_INFO, P11_K_BYTES, 0},
    {CKA_SUBJECT, P11_K_BYTES, 0},
    {CKA_ID, P11_K_BYTES, MOD},
    {CKA_ISSUER, P11_K_BYTES, MOD},
    {CKA_SERIAL_NUMBER, P11_K_BYTES, MOD},
    {CKA_VALUE, P11_K_BYTES, P11_AF_REQ_CREATE},
    {CKA_URL, P11_K_BYTES, 0},
    {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, P11_K_BYTES, 0},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, P11_K_BYTES, 0},
    {CKA_JAVA_MIDP_SECURITY_DOMAIN, P11_K_ULONG, 0},
    {CKA_NAME_HASH_ALGORITHM, P11_K_ULONG, 0},
};

static const struct p11_attr_rule pub_rules[] = {
    COMMON_RULES,
    KEY_RULES,
    {CKA_ENCRYPT, P11_K_BOOL, MOD},
    {CKA_VERIFY, P11_K_BOOL, MOD},
    {CKA_VERIFY_RECOVER, P11_K_BOOL, MOD},
    {CKA_WRAP, P11_K_BOOL, MOD},
    {CKA_TRUSTED, P11_K_BOOL, RO},
    {CKA_EC_PARAMS, P11_K_BYTES, P11_AF_REQ_CREATE | P11_AF_REQ_GEN},
    {CKA_EC_POINT, P11_K_BYTES, P11_AF_REQ_CREATE | P11_AF_RO_GEN},
};

static const struct p11_attr_rule priv_rules[] = {
    COMMON_RULES,
    KEY_RULES,
    {CKA_SENSITIVE, P11_K_BOOL, MOD},
    {CKA_DECRYPT, P11_K_BOOL, MOD},
    {CKA_SIGN, P11_K_BOOL, MOD},
    {CKA_SIGN_RECOVER, P11_K_BOOL, MOD},
    {CKA_UNWRAP, P11_K_BOOL, MOD},
    {CKA_EXTRACTABLE, P11_K_BOOL, MOD},
    {CKA_ALWAYS_SENSITIVE, P11_K_BOOL, RO},
    {CKA_NEVER_EXTRACTABLE, P11_K_BOOL, RO},
    {CKA_WRAP_WITH_TRUSTED, P11_K_BOOL, 0},
    {CKA_ALWAYS_AUTHENTICATE, P11_K_BOOL, 0},
    {CKA_EC_PARAMS, P11_K_BYTES, 0},
};

/* Secret keys exist only as ECDH results (C_DeriveKey, session objects). */
static const struct p11_attr_rule secret_rules[] = {
    COMMON_RULES,
    KEY_RULES,
    {CKA_SENSITIVE, P11_K_BOOL, MOD},
    {CKA_ENCRYPT, P11_K_BOOL, MOD},
    {CKA_DECRYPT, P11_K_BOOL, MOD},
    {CKA_SIGN, P11_K_BOOL, MOD},
    {CKA_VERIFY, P11_K_BOOL, MOD},
    {CKA_WRAP, P11_K_BOOL, MOD},
    {CKA_UNWRAP, P11_K_BOOL, MOD},
    {CKA_EXTRACTABLE, P11_K_BOOL, MOD},
    {CKA_ALWAYS_SENSITIVE, P11_K_BOOL, RO},
    {CKA_NEVER_EXTRACTABLE, P11_K_BOOL, RO},
    {CKA_CHECK_VALUE, P11_K_BYTES, RO},
    {CKA_WRAP_WITH_TRUSTED, P11_K_BOOL, 0},
    {CKA_TRUSTED, P11_K_BOOL, RO},
    {CKA_VALUE, P11_K_BYTES, RO},
    {CKA_VALUE_LEN, P11_K_ULONG, 0},
};

#define NRULES(r) (sizeof(r) / sizeof((r)[0]))

static void rules_for(CK_OBJECT_CLASS cls, const struct p11_attr_rule **rules, size_t *n)
{
    switch (cls) {
    case CKO_DATA: *rules = data_rules; *n = NRULES(data_rules); break;
    case CKO_CERTIFICATE: *rules = cert_rules; *n = NRULES(cert_rules); break;
    case CKO_PUBLIC_KEY: *rules = pub_rules; *n = NRULES(pub_rules); break;
    case CKO_PRIVATE_KEY: *rules = priv_rules; *n = NRULES(priv_rules); break;
    case CKO_SECRET_KEY: *rules = secret_rules; *n = NRULES(secret_rules); break;
    default: *rules = NULL; *n = 0; break;
    }
}

CK_OBJECT_CLASS p11_object_class(const p11_attrs *obj)
{
    CK_ULONG c = CK_UNAVAILABLE_INFORMATION;
    (void)p11_attrs_get_ulong(obj, CKA_CLASS, &c);
    return c;
}

bool p11_object_is_token(const p11_attrs *obj)
{
    return p11_attrs_bool(obj, CKA_TOKEN, false);
}

bool p11_object_is_private(const p11_attrs *obj)
{
    return p11_attrs_bool(obj, CKA_PRIVATE, p11_object_class(obj) == CKO_PRIVATE_KEY);
}

int p11_object_chip_slot(const p11_attrs *obj)
{
    CK_ULONG s;
    if (p11_object_class(obj) != CKO_PRIVATE_KEY || !p11_attrs_get_ulong(obj, CKA_TRUSTLINK_CHIP_SLOT, &s) ||
        s > 15)
        return -1;
    return (int)s;
}

bool p11_object_is_sensitive(const p11_attrs *obj, CK_ATTRIBUTE_TYPE type)
{
    CK_OBJECT_CLASS cls = p11_object_class(obj);
    if (type != CKA_VALUE)
        return false;
    if (cls == CKO_PRIVATE_KEY)
        return true;
    /* Derived secrets (ECDH) follow their own flags. */
    return cls == CKO_SECRET_KEY &&
           (p11_attrs_bool(obj, CKA_SENSITIVE, false) || !p11_attrs_bool(obj, CKA_EXTRACTABLE, true));
}

CK_RV p11_object_get(const p11_attrs *obj, CK_ATTRIBUTE *t, CK_ULONG n)
{
    return p11_attrs_copy_out(obj, t, n, p11_object_is_sensitive);
}

/* Copies every template entry into out (the template was validated). */
static CK_RV take_template(p11_attrs *out, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++) {
        CK_RV rv = p11_attrs_set(out, t[i].type, t[i].pValue, t[i].ulValueLen);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

static CK_RV common_defaults(p11_attrs *a, bool private_default)
{
    CK_RV rv = CKR_OK;
    if ((rv = p11_attrs_default_bool(a, CKA_TOKEN, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_PRIVATE, private_default)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_MODIFIABLE, true)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_COPYABLE, true)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_DESTROYABLE, true)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_LABEL, NULL, 0)) != CKR_OK)
        return rv;
    return CKR_OK;
}

static CK_RV set_der(p11_attrs *a, CK_ATTRIBUTE_TYPE type, const void *obj,
                     int (*i2d)(const void *, unsigned char **))
{
    unsigned char *der = NULL;
    int len = i2d(obj, &der);
    CK_RV rv;
    if (len <= 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    rv = p11_attrs_set(a, type, der, (CK_ULONG)len);
    OPENSSL_free(der);
    return rv;
}

static int i2d_name(const void *o, unsigned char **p) { return i2d_X509_NAME((const X509_NAME *)o, p); }
static int i2d_int(const void *o, unsigned char **p) { return i2d_ASN1_INTEGER((const ASN1_INTEGER *)o, p); }
static int i2d_spki(const void *o, unsigned char **p) { return i2d_X509_PUBKEY((const X509_PUBKEY *)o, p); }

/* A derived attribute the caller also gave must equal ours. */
static CK_RV derive_checked(p11_attrs *a, const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type,
                            const void *obj, int (*i2d)(const void *, unsigned char **))
{
    const CK_ATTRIBUTE *given = p11_tmpl_find(t, n, type);
    const CK_ATTRIBUTE *ours;
    CK_RV rv = set_der(a, type, obj, i2d);
    if (rv != CKR_OK)
        return rv;
    ours = p11_attrs_find(a, type);
    if (given != NULL && (given->ulValueLen != ours->ulValueLen ||
                          memcmp(given->pValue, ours->pValue, ours->ulValueLen) != 0))
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

static CK_RV build_certificate(const CK_ATTRIBUTE *t, CK_ULONG n, p11_attrs *a)
{
    const CK_ATTRIBUTE *value = p11_tmpl_find(t, n, CKA_VALUE);
    const CK_ATTRIBUTE *given_check = p11_tmpl_find(t, n, CKA_CHECK_VALUE);
    const unsigned char *p;
    unsigned char sha[SHA_DIGEST_LENGTH];
    CK_ULONG type = 0;
    X509 *x = NULL;
    CK_RV rv;

    if (!p11_tmpl_get_ulong(t, n, CKA_CERTIFICATE_TYPE, &type) || type != CKC_X_509)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    p = value->pValue;
    if (value->ulValueLen == 0 || value->ulValueLen > 65536 ||
        (x = d2i_X509(NULL, &p, (long)value->ulValueLen)) == NULL ||
        p != (const unsigned char *)value->pValue + value->ulValueLen) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto cleanup;
    }
    if ((rv = take_template(a, t, n)) != CKR_OK ||
        (rv = derive_checked(a, t, n, CKA_SUBJECT, X509_get_subject_name(x), i2d_name)) != CKR_OK ||
        (rv = derive_checked(a, t, n, CKA_ISSUER, X509_get_issuer_name(x), i2d_name)) != CKR_OK ||
        (rv = derive_checked(a, t, n, CKA_SERIAL_NUMBER, X509_get0_serialNumber(x), i2d_int)) != CKR_OK ||
        (rv = derive_checked(a, t, n, CKA_PUBLIC_KEY_INFO, X509_get_X509_PUBKEY(x), i2d_spki)) != CKR_OK)
        goto cleanup;
    /* CKA_CHECK_VALUE: the first three bytes of the SHA-1 of CKA_VALUE. */
    SHA1(value->pValue, value->ulValueLen, sha);
    if (given_check != NULL && (given_check->ulValueLen != 3 || memcmp(given_check->pValue, sha, 3) != 0)) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto cleanup;
    }
    if ((rv = p11_attrs_set(a, CKA_CHECK_VALUE, sha, 3)) != CKR_OK ||
        (rv = common_defaults(a, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_TRUSTED, false)) != CKR_OK ||
        (rv = p11_attrs_default_ulong(a, CKA_CERTIFICATE_CATEGORY, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_START_DATE, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_END_DATE, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_ID, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_URL, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_HASH_OF_SUBJECT_PUBLIC_KEY, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_HASH_OF_ISSUER_PUBLIC_KEY, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default_ulong(a, CKA_JAVA_MIDP_SECURITY_DOMAIN, 0)) != CKR_OK ||
        (rv = p11_attrs_default_ulong(a, CKA_NAME_HASH_ALGORITHM, CKM_SHA_1)) != CKR_OK)
        goto cleanup;
cleanup:
    X509_free(x);
    return rv;
}

bool p11_ec_point_parse(const uint8_t *p, size_t len, uint8_t xy[64])
{
    EC_GROUP *g = NULL;
    EC_POINT *pt = NULL;
    bool ok = false;

    if (len == P11_EC_POINT_DER_LEN && p[0] == 0x04 && p[1] == 0x41) {
        p += 2;
        len -= 2;
    }
    if (len != 65 || p[0] != 0x04)
        return false;
    if ((g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL || (pt = EC_POINT_new(g)) == NULL)
        goto cleanup;
    if (EC_POINT_oct2point(g, pt, p, len, NULL) != 1 || EC_POINT_is_on_curve(g, pt, NULL) != 1)
        goto cleanup;
    memcpy(xy, p + 1, 64);
    ok = true;
cleanup:
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return ok;
}

static bool is_p256_params(const CK_ATTRIBUTE *at)
{
    return at != NULL && at->ulValueLen == sizeof(p11_p256_oid_der) &&
           memcmp(at->pValue, p11_p256_oid_der, sizeof(p11_p256_oid_der)) == 0;
}

static CK_RV set_ec_public(p11_attrs *a, const uint8_t xy[64])
{
    uint8_t der[P11_EC_POINT_DER_LEN] = {0x04, 0x41, 0x04};
    uint8_t spki[sizeof(p256_spki_prefix) + 65];
    CK_RV rv;

    memcpy(der + 3, xy, 64);
    memcpy(spki, p256_spki_prefix, sizeof(p256_spki_prefix));
    spki[sizeof(p256_spki_prefix)] = 0x04;
    memcpy(spki + sizeof(p256_spki_prefix) + 1, xy, 64);
    if ((rv = p11_attrs_set(a, CKA_EC_POINT, der, sizeof(der))) != CKR_OK)
        return rv;
    return p11_attrs_set(a, CKA_PUBLIC_KEY_INFO, spki, sizeof(spki));
}

static CK_RV key_defaults(p11_attrs *a, bool private_default)
{
    CK_RV rv;
    if ((rv = common_defaults(a, private_default)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_ID, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_START_DATE, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_END_DATE, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_SUBJECT, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_LOCAL, false)) != CKR_OK ||
        (rv = p11_attrs_default_ulong(a, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION)) != CKR_OK ||
        (rv = p11_attrs_set(a, CKA_EC_PARAMS, p11_p256_oid_der, sizeof(p11_p256_oid_der))) != CKR_OK ||
        (rv = p11_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_EC)) != CKR_OK)
        return rv;
    return CKR_OK;
}

static CK_RV pub_defaults(p11_attrs *a)
{
    CK_RV rv;
    if ((rv = key_defaults(a, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_DERIVE, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_ENCRYPT, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_VERIFY, true)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_VERIFY_RECOVER, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_WRAP, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(a, CKA_TRUSTED, false)) != CKR_OK)
        return rv;
    return CKR_OK;
}

static CK_RV build_public_key(const CK_ATTRIBUTE *t, CK_ULONG n, p11_attrs *a)
{
    const CK_ATTRIBUTE *point = p11_tmpl_find(t, n, CKA_EC_POINT);
    uint8_t xy[64];
    CK_ULONG kt = 0;
    CK_RV rv;

    if (!p11_tmpl_get_ulong(t, n, CKA_KEY_TYPE, &kt) || kt != CKK_EC)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (!is_p256_params(p11_tmpl_find(t, n, CKA_EC_PARAMS)))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (!p11_ec_point_parse(point->pValue, point->ulValueLen, xy))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if ((rv = take_template(a, t, n)) != CKR_OK || (rv = set_ec_public(a, xy)) != CKR_OK)
        return rv;
    return pub_defaults(a);
}

static CK_RV build_data(const CK_ATTRIBUTE *t, CK_ULONG n, p11_attrs *a)
{
    CK_RV rv;
    if ((rv = take_template(a, t, n)) != CKR_OK || (rv = common_defaults(a, false)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_APPLICATION, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_OBJECT_ID, NULL, 0)) != CKR_OK ||
        (rv = p11_attrs_default(a, CKA_VALUE, NULL, 0)) != CKR_OK)
        return rv;
    return CKR_OK;
}

CK_RV p11_object_create(const CK_ATTRIBUTE *t, CK_ULONG n, p11_attrs *out)
{
    const struct p11_attr_rule *rules;
    size_t nrules;
    CK_ULONG cls;
    p11_attrs a;
    CK_RV rv;

    p11_attrs_init(&a);
    if (n > 0 && t == NULL)
        return CKR_ARGUMENTS_BAD;
    if (p11_tmpl_find(t, n, CKA_CLASS) == NULL)
        return CKR_TEMPLATE_INCOMPLETE;
    if (!p11_tmpl_get_ulong(t, n, CKA_CLASS, &cls))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    /* Keys are made on the chip only: no private or secret key import. */
    if (cls != CKO_DATA && cls != CKO_CERTIFICATE && cls != CKO_PUBLIC_KEY)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    rules_for(cls, &rules, &nrules);
    rv = p11_template_check(rules, nrules, t, n, P11_TMPL_CREATE);
    if (rv != CKR_OK)
        return rv;
    switch (cls) {
    case CKO_CERTIFICATE: rv = build_certificate(t, n, &a); break;
    case CKO_PUBLIC_KEY: rv = build_public_key(t, n, &a); break;
    default: rv = build_data(t, n, &a); break;
    }
    if (rv != CKR_OK)
        goto cleanup;
    *out = a;
    p11_attrs_init(&a);
cleanup:
    p11_attrs_free(&a);
    return rv;
}

static CK_RV check_class_and_type(const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_CLASS want)
{
    CK_ULONG v;
    if (p11_tmpl_find(t, n, CKA_CLASS) != NULL && (!p11_tmpl_get_ulong(t, n, CKA_CLASS, &v) || v != want))
        return CKR_TEMPLATE_INCONSISTENT;
    if (p11_tmpl_find(t, n, CKA_KEY_TYPE) != NULL && (!p11_tmpl_get_ulong(t, n, CKA_KEY_TYPE, &v) || v != CKK_EC))
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

CK_RV p11_object_check_keygen(const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                              CK_ULONG npriv)
{
    const CK_ATTRIBUTE *params;
    bool b;
    CK_RV rv;

    if ((npub > 0 && pub == NULL) || (npriv > 0 && priv == NULL))
        return CKR_ARGUMENTS_BAD;
    if ((rv = p11_template_check(pub_rules, NRULES(pub_rules), pub, npub, P11_TMPL_GENERATE)) != CKR_OK ||
        (rv = p11_template_check(priv_rules, NRULES(priv_rules), priv, npriv, P11_TMPL_GENERATE)) != CKR_OK ||
        (rv = check_class_and_type(pub, npub, CKO_PUBLIC_KEY)) != CKR_OK ||
        (rv = check_class_and_type(priv, npriv, CKO_PRIVATE_KEY)) != CKR_OK)
        return rv;
    if (!is_p256_params(p11_tmpl_find(pub, npub, CKA_EC_PARAMS)))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    params = p11_tmpl_find(priv, npriv, CKA_EC_PARAMS);
    if (params != NULL && !is_p256_params(params))
        return CKR_TEMPLATE_INCONSISTENT;
    if ((p11_tmpl_get_bool(priv, npriv, CKA_SENSITIVE, &b) && !b) ||
        (p11_tmpl_get_bool(priv, npriv, CKA_EXTRACTABLE, &b) && b) ||
        (p11_tmpl_get_bool(priv, npriv, CKA_ALWAYS_AUTHENTICATE, &b) && b) ||
        (p11_tmpl_get_bool(priv, npriv, CKA_COPYABLE, &b) && b) ||
        (p11_tmpl_get_bool(priv, npriv, CKA_TOKEN, &b) && !b))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

/* Label and ID are shared: one given on either template names both. */
static CK_RV share_attr(const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                        CK_ATTRIBUTE_TYPE type, p11_attrs *pa, p11_attrs *ka)
{
    const CK_ATTRIBUTE *p = p11_tmpl_find(pub, npub, type), *k = p11_tmpl_find(priv, npriv, type);
    CK_RV rv;
    if (p == NULL && k != NULL && (rv = p11_attrs_set(pa, type, k->pValue, k->ulValueLen)) != CKR_OK)
        return rv;
    if (k == NULL && p != NULL && (rv = p11_attrs_set(ka, type, p->pValue, p->ulValueLen)) != CKR_OK)
        return rv;
    return CKR_OK;
}

CK_RV p11_object_keypair(const CK_ATTRIBUTE *pub, CK_ULONG npub, const CK_ATTRIBUTE *priv,
                         CK_ULONG npriv, unsigned chip_slot, const uint8_t pubkey[64], bool local,
                         p11_attrs *pub_out, p11_attrs *priv_out)
{
    p11_attrs pa, ka;
    uint8_t point[65], id[SHA_DIGEST_LENGTH];
    CK_RV rv;

    p11_attrs_init(&pa);
    p11_attrs_init(&ka);
    if ((rv = take_template(&pa, pub, npub)) != CKR_OK || (rv = take_template(&ka, priv, npriv)) != CKR_OK ||
        (rv = share_attr(pub, npub, priv, npriv, CKA_LABEL, &pa, &ka)) != CKR_OK ||
        (rv = share_attr(pub, npub, priv, npriv, CKA_ID, &pa, &ka)) != CKR_OK)
        goto cleanup;
    if (p11_attrs_find(&pa, CKA_ID) == NULL) {
        /* No ID given: the SHA-1 of the public point, as most tools do. */
        point[0] = 0x04;
        memcpy(point + 1, pubkey, 64);
        SHA1(point, sizeof(point), id);
        if ((rv = p11_attrs_set(&pa, CKA_ID, id, sizeof(id))) != CKR_OK ||
            (rv = p11_attrs_set(&ka, CKA_ID, id, sizeof(id))) != CKR_OK)
            goto cleanup;
    }
    if ((rv = p11_attrs_set_ulong(&pa, CKA_CLASS, CKO_PUBLIC_KEY)) != CKR_OK ||
        (rv = p11_attrs_set_ulong(&ka, CKA_CLASS, CKO_PRIVATE_KEY)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&pa, CKA_LOCAL, local)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&ka, CKA_LOCAL, local)) != CKR_OK ||
        (rv = p11_attrs_set_ulong(&pa, CKA_KEY_GEN_MECHANISM,
                                  local ? CKM_EC_KEY_PAIR_GEN : CK_UNAVAILABLE_INFORMATION)) != CKR_OK ||
        (rv = p11_attrs_set_ulong(&ka, CKA_KEY_GEN_MECHANISM,
                                  local ? CKM_EC_KEY_PAIR_GEN : CK_UNAVAILABLE_INFORMATION)) != CKR_OK ||
        (rv = set_ec_public(&pa, pubkey)) != CKR_OK || (rv = pub_defaults(&pa)) != CKR_OK)
        goto cleanup;
    /* The private key: on the chip, so always sensitive, never extractable. */
    if ((rv = set_ec_public(&ka, pubkey)) != CKR_OK)
        goto cleanup;
    p11_attrs_remove(&ka, CKA_EC_POINT); /* not a private-key attribute */
    if ((rv = p11_attrs_set_bool(&ka, CKA_TOKEN, true)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&ka, CKA_SENSITIVE, true)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&ka, CKA_EXTRACTABLE, false)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&ka, CKA_ALWAYS_SENSITIVE, true)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&ka, CKA_NEVER_EXTRACTABLE, true)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&ka, CKA_ALWAYS_AUTHENTICATE, false)) != CKR_OK ||
        (rv = p11_attrs_set_ulong(&ka, CKA_TRUSTLINK_CHIP_SLOT, chip_slot)) != CKR_OK ||
        /* A copy would be a second object naming the same chip slot. */
        (rv = p11_attrs_set_bool(&ka, CKA_COPYABLE, false)) != CKR_OK ||
        (rv = key_defaults(&ka, true)) != CKR_OK ||
        (rv = p11_attrs_default_bool(&ka, CKA_SIGN, true)) != CKR_OK ||
        (rv = p11_attrs_default_bool(&ka, CKA_DERIVE, true)) != CKR_OK ||
        (rv = p11_attrs_default_bool(&ka, CKA_DECRYPT, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(&ka, CKA_SIGN_RECOVER, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(&ka, CKA_UNWRAP, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(&ka, CKA_WRAP_WITH_TRUSTED, false)) != CKR_OK)
        goto cleanup;
    /* Both halves of a pair say the same about key agreement: clients
     * that pair keys by their usage flags expect it. */
    if (p11_tmpl_find(pub, npub, CKA_DERIVE) == NULL &&
        (rv = p11_attrs_set_bool(&pa, CKA_DERIVE, p11_attrs_bool(&ka, CKA_DERIVE, false))) != CKR_OK)
        goto cleanup;
    *pub_out = pa;
    *priv_out = ka;
    p11_attrs_init(&pa);
    p11_attrs_init(&ka);
cleanup:
    p11_attrs_free(&pa);
    p11_attrs_free(&ka);
    return rv;
}

bool p11_object_ec_point(const p11_attrs *obj, uint8_t xy[64])
{
    const CK_ATTRIBUTE *at = p11_attrs_find(obj, CKA_EC_POINT);
    if (p11_object_class(obj) != CKO_PUBLIC_KEY || at == NULL)
        return false;
    return p11_ec_point_parse(at->pValue, at->ulValueLen, xy);
}

CK_RV p11_object_set(p11_attrs *obj, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    const struct p11_attr_rule *rules;
    size_t nrules;
    p11_attrs copy;
    bool b;
    CK_RV rv;

    if (n > 0 && t == NULL)
        return CKR_ARGUMENTS_BAD;
    if (!p11_attrs_bool(obj, CKA_MODIFIABLE, true))
        return CKR_ACTION_PROHIBITED;
    rules_for(p11_object_class(obj), &rules, &nrules);
    if ((rv = p11_template_check(rules, nrules, t, n, P11_TMPL_SET)) != CKR_OK)
        return rv;
    /* One-way attributes (PKCS#11 §4.9): sensitive only to true,
     * extractable only to false. */
    if ((p11_tmpl_get_bool(t, n, CKA_SENSITIVE, &b) && !b && p11_attrs_bool(obj, CKA_SENSITIVE, false)) ||
        (p11_tmpl_get_bool(t, n, CKA_EXTRACTABLE, &b) && b && !p11_attrs_bool(obj, CKA_EXTRACTABLE, false)))
        return CKR_ATTRIBUTE_READ_ONLY;
    if ((rv = p11_attrs_dup(&copy, obj)) != CKR_OK)
        return rv;
    if ((rv = take_template(&copy, t, n)) != CKR_OK) {
        p11_attrs_free(&copy);
        return rv;
    }
    p11_attrs_free(obj);
    *obj = copy;
    return CKR_OK;
}

bool p11_object_private_key_public(const p11_attrs *obj, uint8_t xy[64])
{
    const CK_ATTRIBUTE *at = p11_attrs_find(obj, CKA_PUBLIC_KEY_INFO);
    const uint8_t *p;

    if (at == NULL || at->ulValueLen != sizeof(p256_spki_prefix) + 65)
        return false;
    p = at->pValue;
    if (memcmp(p, p256_spki_prefix, sizeof(p256_spki_prefix)) != 0)
        return false;
    return p11_ec_point_parse(p + sizeof(p256_spki_prefix), 65, xy);
}

/* Attributes C_CopyObject may change besides the modifiable ones
 * (PKCS#11 v2.40 §5.7: CKA_TOKEN and CKA_PRIVATE; v3.0: CKA_COPYABLE,
 * to false only). */
static bool copy_may_set(CK_ATTRIBUTE_TYPE type)
{
    return type == CKA_TOKEN || type == CKA_PRIVATE || type == CKA_COPYABLE;
}

CK_RV p11_object_copy(const p11_attrs *src, const CK_ATTRIBUTE *t, CK_ULONG n, p11_attrs *out)
{
    struct p11_attr_rule rules[64];
    const struct p11_attr_rule *base;
    size_t nrules;
    p11_attrs copy;
    bool b;
    CK_RV rv;

    if (n > 0 && t == NULL)
        return CKR_ARGUMENTS_BAD;
    /* A private key names a chip slot: a copy could not be destroyed
     * or regenerated on its own. */
    if (p11_object_class(src) == CKO_PRIVATE_KEY || !p11_attrs_bool(src, CKA_COPYABLE, true))
        return CKR_ACTION_PROHIBITED;
    rules_for(p11_object_class(src), &base, &nrules);
    if (base == NULL || nrules > sizeof(rules) / sizeof(rules[0]))
        return CKR_ACTION_PROHIBITED;
    memcpy(rules, base, nrules * sizeof(rules[0]));
    for (size_t i = 0; i < nrules; i++)
        if (copy_may_set(rules[i].type))
            rules[i].flags |= MOD;
    if ((rv = p11_template_check(rules, nrules, t, n, P11_TMPL_SET)) != CKR_OK)
        return rv;
    /* The one-way attributes stay one-way in a copy. */
    if ((p11_tmpl_get_bool(t, n, CKA_COPYABLE, &b) && b && !p11_attrs_bool(src, CKA_COPYABLE, true)) ||
        (p11_tmpl_get_bool(t, n, CKA_SENSITIVE, &b) && !b && p11_attrs_bool(src, CKA_SENSITIVE, false)) ||
        (p11_tmpl_get_bool(t, n, CKA_EXTRACTABLE, &b) && b && !p11_attrs_bool(src, CKA_EXTRACTABLE, true)))
        return CKR_ATTRIBUTE_READ_ONLY;
    if ((rv = p11_attrs_dup(&copy, src)) != CKR_OK)
        return rv;
    if ((rv = take_template(&copy, t, n)) != CKR_OK) {
        p11_attrs_free(&copy);
        return rv;
    }
    *out = copy;
    return CKR_OK;
}

CK_RV p11_object_check_derive(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ULONG *value_len)
{
    CK_ULONG v;
    bool b;
    CK_RV rv;

    if (n > 0 && t == NULL)
        return CKR_ARGUMENTS_BAD;
    if ((rv = p11_template_check(secret_rules, NRULES(secret_rules), t, n, P11_TMPL_GENERATE)) != CKR_OK)
        return rv;
    /* The result is a session CKK_GENERIC_SECRET of at most 32 bytes. */
    if ((p11_tmpl_get_ulong(t, n, CKA_CLASS, &v) && v != CKO_SECRET_KEY) ||
        (p11_tmpl_get_ulong(t, n, CKA_KEY_TYPE, &v) && v != CKK_GENERIC_SECRET) ||
        (p11_tmpl_get_bool(t, n, CKA_TOKEN, &b) && b))
        return CKR_TEMPLATE_INCONSISTENT;
    *value_len = 32;
    if (p11_tmpl_get_ulong(t, n, CKA_VALUE_LEN, &v)) {
        if (v == 0 || v > 32)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        *value_len = v;
    }
    return CKR_OK;
}

CK_RV p11_object_derived_secret(const CK_ATTRIBUTE *t, CK_ULONG n, const uint8_t *value, CK_ULONG value_len,
                                p11_attrs *out)
{
    p11_attrs a;
    CK_RV rv;

    p11_attrs_init(&a);
    if ((rv = take_template(&a, t, n)) != CKR_OK ||
        (rv = p11_attrs_set_ulong(&a, CKA_CLASS, CKO_SECRET_KEY)) != CKR_OK ||
        (rv = p11_attrs_set_ulong(&a, CKA_KEY_TYPE, CKK_GENERIC_SECRET)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&a, CKA_TOKEN, false)) != CKR_OK ||
        (rv = p11_attrs_set(&a, CKA_VALUE, value, value_len)) != CKR_OK ||
        (rv = p11_attrs_set_ulong(&a, CKA_VALUE_LEN, value_len)) != CKR_OK ||
        (rv = p11_attrs_default_bool(&a, CKA_SENSITIVE, false)) != CKR_OK ||
        (rv = p11_attrs_default_bool(&a, CKA_EXTRACTABLE, true)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&a, CKA_LOCAL, false)) != CKR_OK ||
        (rv = p11_attrs_set_bool(&a, CKA_ALWAYS_SENSITIVE, p11_attrs_bool(&a, CKA_SENSITIVE, false))) != CKR_OK ||
        (rv = p11_attrs_set_bool(&a, CKA_NEVER_EXTRACTABLE, !p11_attrs_bool(&a, CKA_EXTRACTABLE, true))) != CKR_OK) {
        p11_attrs_free(&a);
        return rv;
    }
    *out = a;
    return CKR_OK;
}
