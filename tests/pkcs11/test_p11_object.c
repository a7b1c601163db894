/* SPDX-License-Identifier: Apache-2.0 */
/* Object model: certificate attributes parsed from a DER made here with
 * OpenSSL, public keys, data objects, key pairs, set rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "object.h"

struct cert {
    unsigned char *der;
    int der_len;
    unsigned char *subject, *issuer, *serial;
    int subject_len, issuer_len, serial_len;
    uint8_t xy[64];
};

static void make_cert(struct cert *c)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *subj = X509_NAME_new(), *iss = X509_NAME_new();
    unsigned char pt[65];
    size_t ptlen = 0;

    assert_non_null(key);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234567);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)"device-001", -1, -1, 0);
    X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC, (const unsigned char *)"Test CA", -1, -1, 0);
    X509_set_subject_name(x, subj);
    X509_set_issuer_name(x, iss);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    c->der = NULL;
    c->der_len = i2d_X509(x, &c->der);
    c->subject = c->issuer = c->serial = NULL;
    c->subject_len = i2d_X509_NAME(subj, &c->subject);
    c->issuer_len = i2d_X509_NAME(iss, &c->issuer);
    c->serial_len = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &c->serial);
    assert_int_equal(EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", pt, sizeof(pt), &ptlen), 1);
    assert_int_equal(ptlen, 65);
    memcpy(c->xy, pt + 1, 64);
    X509_NAME_free(subj);
    X509_NAME_free(iss);
    X509_free(x);
    EVP_PKEY_free(key);
}

static void free_cert(struct cert *c)
{
    OPENSSL_free(c->der);
    OPENSSL_free(c->subject);
    OPENSSL_free(c->issuer);
    OPENSSL_free(c->serial);
}

static CK_OBJECT_CLASS cls_cert = CKO_CERTIFICATE, cls_pub = CKO_PUBLIC_KEY, cls_priv = CKO_PRIVATE_KEY,
                       cls_data = CKO_DATA, cls_secret = CKO_SECRET_KEY;
static CK_CERTIFICATE_TYPE x509 = CKC_X_509;
static CK_KEY_TYPE kt_ec = CKK_EC;
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static void assert_attr(const p11_attrs *a, CK_ATTRIBUTE_TYPE type, const void *v, size_t len)
{
    const CK_ATTRIBUTE *at = p11_attrs_find(a, type);
    assert_non_null(at);
    assert_int_equal(at->ulValueLen, len);
    if (len)
        assert_memory_equal(at->pValue, v, len);
}

static void test_certificate_subject_issuer_serial_come_from_the_der(void **state)
{
    struct cert c;
    p11_attrs a;
    unsigned char sha[20];
    (void)state;
    make_cert(&c);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_cert, sizeof(cls_cert)}, {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
                        {CKA_TOKEN, &yes, 1}, {CKA_LABEL, "device", 6}, {CKA_ID, "\x01", 1},
                        {CKA_VALUE, c.der, (CK_ULONG)c.der_len}};
    assert_int_equal(p11_object_create(t, 6, &a), CKR_OK);
    assert_attr(&a, CKA_SUBJECT, c.subject, (size_t)c.subject_len);
    assert_attr(&a, CKA_ISSUER, c.issuer, (size_t)c.issuer_len);
    assert_attr(&a, CKA_SERIAL_NUMBER, c.serial, (size_t)c.serial_len);
    assert_attr(&a, CKA_VALUE, c.der, (size_t)c.der_len);
    SHA1(c.der, (size_t)c.der_len, sha);
    assert_attr(&a, CKA_CHECK_VALUE, sha, 3);
    assert_true(p11_object_is_token(&a));
    assert_false(p11_object_is_private(&a));
    assert_int_equal(p11_object_class(&a), CKO_CERTIFICATE);
    CK_ULONG cat = 99;
    assert_true(p11_attrs_get_ulong(&a, CKA_CERTIFICATE_CATEGORY, &cat));
    assert_int_equal(cat, 0);
    p11_attrs_free(&a);
    free_cert(&c);
}

static void test_certificate_two_call_get_of_subject(void **state)
{
    struct cert c;
    p11_attrs a;
    unsigned char buf[256];
    (void)state;
    make_cert(&c);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_cert, sizeof(cls_cert)}, {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
                        {CKA_VALUE, c.der, (CK_ULONG)c.der_len}};
    assert_int_equal(p11_object_create(t, 3, &a), CKR_OK);
    CK_ATTRIBUTE q[] = {{CKA_SUBJECT, NULL, 0}};
    assert_int_equal(p11_object_get(&a, q, 1), CKR_OK);
    assert_int_equal(q[0].ulValueLen, c.subject_len);
    q[0].pValue = buf;
    assert_int_equal(p11_object_get(&a, q, 1), CKR_OK);
    assert_memory_equal(buf, c.subject, (size_t)c.subject_len);
    p11_attrs_free(&a);
    free_cert(&c);
}

static void test_certificate_contradicting_subject_is_inconsistent(void **state)
{
    struct cert c;
    p11_attrs a;
    (void)state;
    make_cert(&c);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_cert, sizeof(cls_cert)}, {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
                        {CKA_SUBJECT, c.issuer, (CK_ULONG)c.issuer_len}, {CKA_VALUE, c.der, (CK_ULONG)c.der_len}};
    assert_int_equal(p11_object_create(t, 4, &a), CKR_TEMPLATE_INCONSISTENT);
    t[2].pValue = c.subject;
    t[2].ulValueLen = (CK_ULONG)c.subject_len;
    assert_int_equal(p11_object_create(t, 4, &a), CKR_OK);
    p11_attrs_free(&a);
    free_cert(&c);
}

static void test_certificate_with_garbage_value_is_value_invalid(void **state)
{
    p11_attrs a;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_cert, sizeof(cls_cert)}, {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
                        {CKA_VALUE, "\x30\x03\x02\x01\x01", 5}};
    (void)state;
    assert_int_equal(p11_object_create(t, 3, &a), CKR_ATTRIBUTE_VALUE_INVALID);
}

static void test_certificate_without_value_is_incomplete(void **state)
{
    p11_attrs a;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_cert, sizeof(cls_cert)}, {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)}};
    (void)state;
    assert_int_equal(p11_object_create(t, 2, &a), CKR_TEMPLATE_INCOMPLETE);
}

static void test_create_without_class_is_incomplete(void **state)
{
    p11_attrs a;
    CK_ATTRIBUTE t[] = {{CKA_LABEL, "x", 1}};
    (void)state;
    assert_int_equal(p11_object_create(t, 1, &a), CKR_TEMPLATE_INCOMPLETE);
}

static void test_private_and_secret_key_import_is_refused(void **state)
{
    p11_attrs a;
    CK_ATTRIBUTE priv[] = {{CKA_CLASS, &cls_priv, sizeof(cls_priv)}, {CKA_KEY_TYPE, &kt_ec, sizeof(kt_ec)},
                           {CKA_VALUE, "0123456789abcdef0123456789abcdef", 32}};
    CK_ATTRIBUTE sec[] = {{CKA_CLASS, &cls_secret, sizeof(cls_secret)}};
    (void)state;
    assert_int_equal(p11_object_create(priv, 3, &a), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_object_create(sec, 1, &a), CKR_ATTRIBUTE_VALUE_INVALID);
}

static void test_public_key_point_is_stored_as_der_octet_string(void **state)
{
    struct cert c;
    p11_attrs a;
    uint8_t raw[65], der[67], xy[64];
    (void)state;
    make_cert(&c);
    raw[0] = 0x04;
    memcpy(raw + 1, c.xy, 64);
    der[0] = 0x04;
    der[1] = 0x41;
    memcpy(der + 2, raw, 65);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_pub, sizeof(cls_pub)}, {CKA_KEY_TYPE, &kt_ec, sizeof(kt_ec)},
                        {CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)},
                        {CKA_EC_POINT, raw, sizeof(raw)}};
    assert_int_equal(p11_object_create(t, 4, &a), CKR_OK);
    assert_attr(&a, CKA_EC_POINT, der, sizeof(der));
    assert_true(p11_attrs_bool(&a, CKA_VERIFY, false));
    assert_true(p11_object_ec_point(&a, xy));
    assert_memory_equal(xy, c.xy, 64);
    p11_attrs_free(&a);
    free_cert(&c);
}

static void test_public_key_off_curve_point_or_other_curve_is_value_invalid(void **state)
{
    p11_attrs a;
    uint8_t raw[65] = {0x04, 1, 2, 3};
    static const uint8_t p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_pub, sizeof(cls_pub)}, {CKA_KEY_TYPE, &kt_ec, sizeof(kt_ec)},
                        {CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)},
                        {CKA_EC_POINT, raw, sizeof(raw)}};
    (void)state;
    assert_int_equal(p11_object_create(t, 4, &a), CKR_ATTRIBUTE_VALUE_INVALID);
    t[2].pValue = (void *)p384;
    t[2].ulValueLen = sizeof(p384);
    assert_int_equal(p11_object_create(t, 4, &a), CKR_ATTRIBUTE_VALUE_INVALID);
}

static void test_data_object_defaults(void **state)
{
    p11_attrs a;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)}, {CKA_APPLICATION, "app", 3},
                        {CKA_VALUE, "hello", 5}, {CKA_PRIVATE, &yes, 1}};
    (void)state;
    assert_int_equal(p11_object_create(t, 4, &a), CKR_OK);
    assert_attr(&a, CKA_OBJECT_ID, NULL, 0);
    assert_attr(&a, CKA_VALUE, "hello", 5);
    assert_true(p11_object_is_private(&a));
    assert_false(p11_object_is_token(&a));
    p11_attrs_free(&a);
}

static void test_create_with_token_computed_attribute_is_read_only(void **state)
{
    p11_attrs a;
    CK_ULONG slot = 3;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)}, {CKA_TRUSTLINK_CHIP_SLOT, &slot, sizeof(slot)}};
    (void)state;
    assert_int_equal(p11_object_create(t, 2, &a), CKR_ATTRIBUTE_READ_ONLY);
}

static void make_pair(bool local, p11_attrs *pub, p11_attrs *priv, uint8_t xy[64])
{
    struct cert c;
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)},
                         {CKA_TOKEN, &yes, 1}, {CKA_LABEL, "device", 6}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &yes, 1}, {CKA_SIGN, &yes, 1}, {CKA_ID, "\x42", 1}};
    make_cert(&c);
    memcpy(xy, c.xy, 64);
    assert_int_equal(p11_object_check_keygen(pt, 3, kt, 3), CKR_OK);
    assert_int_equal(p11_object_keypair(pt, 3, kt, 3, 5, c.xy, local, pub, priv), CKR_OK);
    free_cert(&c);
}

static void test_keypair_private_key_attributes(void **state)
{
    p11_attrs pub, priv;
    uint8_t xy[64];
    CK_ULONG v;
    (void)state;
    make_pair(true, &pub, &priv, xy);
    assert_int_equal(p11_object_class(&priv), CKO_PRIVATE_KEY);
    assert_true(p11_attrs_bool(&priv, CKA_SENSITIVE, false));
    assert_true(p11_attrs_bool(&priv, CKA_ALWAYS_SENSITIVE, false));
    assert_false(p11_attrs_bool(&priv, CKA_EXTRACTABLE, true));
    assert_true(p11_attrs_bool(&priv, CKA_NEVER_EXTRACTABLE, false));
    assert_true(p11_attrs_bool(&priv, CKA_LOCAL, false));
    assert_true(p11_attrs_bool(&priv, CKA_SIGN, false));
    assert_true(p11_attrs_bool(&priv, CKA_DERIVE, false));
    assert_false(p11_attrs_bool(&priv, CKA_ALWAYS_AUTHENTICATE, true));
    assert_true(p11_object_is_private(&priv));
    assert_true(p11_attrs_get_ulong(&priv, CKA_KEY_TYPE, &v));
    assert_int_equal(v, CKK_EC);
    assert_true(p11_attrs_get_ulong(&priv, CKA_KEY_GEN_MECHANISM, &v));
    assert_int_equal(v, CKM_EC_KEY_PAIR_GEN);
    assert_attr(&priv, CKA_EC_PARAMS, p11_p256_oid_der, sizeof(p11_p256_oid_der));
    assert_int_equal(p11_object_chip_slot(&priv), 5);
    /* Label and ID shared between the two halves. */
    assert_attr(&priv, CKA_LABEL, "device", 6);
    assert_attr(&pub, CKA_ID, "\x42", 1);
    p11_attrs_free(&pub);
    p11_attrs_free(&priv);
}

static void test_keypair_private_value_is_sensitive(void **state)
{
    p11_attrs pub, priv;
    uint8_t xy[64], buf[32];
    CK_ATTRIBUTE q[] = {{CKA_VALUE, buf, sizeof(buf)}, {CKA_LABEL, NULL, 0}};
    (void)state;
    make_pair(true, &pub, &priv, xy);
    assert_int_equal(p11_object_get(&priv, q, 2), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(q[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(q[1].ulValueLen, 6);
    p11_attrs_free(&pub);
    p11_attrs_free(&priv);
}

static void test_keypair_not_local_for_provisioned_keys(void **state)
{
    p11_attrs pub, priv;
    uint8_t xy[64];
    CK_ULONG v;
    (void)state;
    make_pair(false, &pub, &priv, xy);
    assert_false(p11_attrs_bool(&priv, CKA_LOCAL, true));
    assert_true(p11_attrs_get_ulong(&priv, CKA_KEY_GEN_MECHANISM, &v));
    assert_int_equal(v, CK_UNAVAILABLE_INFORMATION);
    assert_true(p11_attrs_bool(&priv, CKA_NEVER_EXTRACTABLE, false));
    p11_attrs_free(&pub);
    p11_attrs_free(&priv);
}

static void test_keygen_templates_refuse_what_the_chip_cannot_do(void **state)
{
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)}};
    CK_ATTRIBUTE no_params[] = {{CKA_TOKEN, &yes, 1}};
    CK_ATTRIBUTE not_sensitive[] = {{CKA_SENSITIVE, &no, 1}};
    CK_ATTRIBUTE extractable[] = {{CKA_EXTRACTABLE, &yes, 1}};
    CK_ATTRIBUTE session_key[] = {{CKA_TOKEN, &no, 1}};
    CK_ATTRIBUTE wrong_class[] = {{CKA_CLASS, &cls_pub, sizeof(cls_pub)}};
    CK_ATTRIBUTE point_given[] = {{CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)},
                                  {CKA_EC_POINT, "x", 1}};
    (void)state;
    assert_int_equal(p11_object_check_keygen(no_params, 1, NULL, 0), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(p11_object_check_keygen(pt, 1, not_sensitive, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_object_check_keygen(pt, 1, extractable, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_object_check_keygen(pt, 1, session_key, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_object_check_keygen(pt, 1, wrong_class, 1), CKR_TEMPLATE_INCONSISTENT);
    assert_int_equal(p11_object_check_keygen(point_given, 2, NULL, 0), CKR_ATTRIBUTE_READ_ONLY);
}

static void test_set_label_works_and_one_way_attributes_hold(void **state)
{
    p11_attrs pub, priv;
    uint8_t xy[64];
    CK_ATTRIBUTE label[] = {{CKA_LABEL, "rotated", 7}};
    CK_ATTRIBUTE unsens[] = {{CKA_SENSITIVE, &no, 1}};
    CK_ATTRIBUTE extract[] = {{CKA_EXTRACTABLE, &yes, 1}};
    CK_ATTRIBUTE slot[] = {{CKA_TRUSTLINK_CHIP_SLOT, "x", 1}};
    CK_ATTRIBUTE cls[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)}};
    CK_ATTRIBUTE unknown[] = {{CKA_MODULUS, "x", 1}};
    (void)state;
    make_pair(true, &pub, &priv, xy);
    assert_int_equal(p11_object_set(&priv, label, 1), CKR_OK);
    assert_attr(&priv, CKA_LABEL, "rotated", 7);
    assert_int_equal(p11_object_set(&priv, unsens, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(p11_object_set(&priv, extract, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(p11_object_set(&priv, slot, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(p11_object_set(&priv, cls, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(p11_object_set(&priv, unknown, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    p11_attrs_free(&pub);
    p11_attrs_free(&priv);
}

static void test_set_on_unmodifiable_object_is_action_prohibited(void **state)
{
    p11_attrs a;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls_data, sizeof(cls_data)}, {CKA_MODIFIABLE, &no, 1}};
    CK_ATTRIBUTE label[] = {{CKA_LABEL, "x", 1}};
    (void)state;
    assert_int_equal(p11_object_create(t, 2, &a), CKR_OK);
    assert_int_equal(p11_object_set(&a, label, 1), CKR_ACTION_PROHIBITED);
    p11_attrs_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certificate_subject_issuer_serial_come_from_the_der),
        cmocka_unit_test(test_certificate_two_call_get_of_subject),
        cmocka_unit_test(test_certificate_contradicting_subject_is_inconsistent),
        cmocka_unit_test(test_certificate_with_garbage_value_is_value_invalid),
        cmocka_unit_test(test_certificate_without_value_is_incomplete),
        cmocka_unit_test(test_create_without_class_is_incomplete),
        cmocka_unit_test(test_private_and_secret_key_import_is_refused),
        cmocka_unit_test(test_public_key_point_is_stored_as_der_octet_string),
        cmocka_unit_test(test_public_key_off_curve_point_or_other_curve_is_value_invalid),
        cmocka_unit_test(test_data_object_defaults),
        cmocka_unit_test(test_create_with_token_computed_attribute_is_read_only),
        cmocka_unit_test(test_keypair_private_key_attributes),
        cmocka_unit_test(test_keypair_private_value_is_sensitive),
        cmocka_unit_test(test_keypair_not_local_for_provisioned_keys),
        cmocka_unit_test(test_keygen_templates_refuse_what_the_chip_cannot_do),
        cmocka_unit_test(test_set_label_works_and_one_way_attributes_hold),
        cmocka_unit_test(test_set_on_unmodifiable_object_is_action_prohibited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
