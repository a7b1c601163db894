/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 operation rules through the C_* entry points, with the fake
 * chip: operations end on errors, calls before C_Initialize, C_CopyObject,
 * C_WaitForSlotEvent and token removal, CKA_DERIVE of key pairs,
 * configuration refusals and the log format, C_DeriveKey's template
 * check, and verify-after-sign.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "fake_chip.h"
#include "p11_fixture.h"
#include "p11_test_util.h"

#define SO_PIN "so-secret"
#define USER_PIN "123456"

struct fixture {
    char *dir;
    char *conf;
};

static void write_conf(struct fixture *f, const char *interface, const char *store, const char *extra)
{
    char text[1024];
    char store_path[512];
    if (store == NULL)
        snprintf(store_path, sizeof(store_path), "%s/token0", f->dir);
    else
        snprintf(store_path, sizeof(store_path), "%s", store);
    snprintf(text, sizeof(text),
             "{\"tokens\":[{\"label\":\"trustlink\",\"interface\":\"%s\",\"key_slots\":[0],"
             "\"free_slots\":[2,3],\"store\":\"%s\"}],\"log_level\":\"error\","
             "\"pin_kdf_iterations\":1000%s}",
             interface, store_path, extra);
    free(f->conf);
    f->conf = p11t_write_file(f->dir, "pkcs11.json", text);
    setenv("TRUSTLINK_PKCS11_CONF", f->conf, 1);
}

static int setup_raw(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = p11t_mkdtemp();
    write_conf(f, "fake:chip0", NULL, "");
    *state = f;
    return 0;
}

static int setup_with(void **state, const char *interface, const char *extra)
{
    struct fixture *f;
    setup_raw(state);
    f = *state;
    write_conf(f, interface, NULL, extra);
    if (C_Initialize(NULL) != CKR_OK)
        return -1;
    p11t_init_token(SO_PIN, USER_PIN);
    return 0;
}

static int setup(void **state) { return setup_with(state, "fake:chip0", ""); }
static int setup_hot(void **state) { return setup_with(state, "fake:hot", ""); }
static int setup_no_verify(void **state) { return setup_with(state, "fake:chip0", ",\"verify_signatures\":false"); }

static int teardown(void **state)
{
    struct fixture *f = *state;
    (void)C_Finalize(NULL);
    fake_chip_set_present("fake:hot", true);
    fake_chip_corrupt_next_signatures(0);
    fake_chip_fail_next_calls(0);
    free(f->conf);
    p11t_rmtree(f->dir);
    free(f);
    return 0;
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    assert_int_equal(C_FindObjectsInit(h, t, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, &o, 1, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
    return o;
}

static bool get_bool(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE t = {type, &b, sizeof(b)};
    assert_int_equal(C_GetAttributeValue(h, o, &t, 1), CKR_OK);
    return b == CK_TRUE;
}

static CK_MECHANISM sha256_mech = {CKM_SHA256, NULL, 0};
static CK_MECHANISM ecdsa_sha256 = {CKM_ECDSA_SHA256, NULL, 0};
static CK_BYTE msg[] = "operation rules";

/* ---------------- operations end on errors ---------------- */

static void test_digest_null_length_pointer_ends_the_operation(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_BYTE out[32];
    CK_ULONG len = sizeof(out);
    (void)state;
    assert_int_equal(C_DigestInit(h, &sha256_mech), CKR_OK);
    assert_int_equal(C_Digest(h, msg, sizeof(msg), out, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_Digest(h, msg, sizeof(msg), out, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_DigestInit(h, &sha256_mech), CKR_OK);
    assert_int_equal(C_DigestFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_DigestInit(h, &sha256_mech), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, NULL, 5), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OPERATION_NOT_INITIALIZED);
}

static void test_digest_after_digest_update_ends_the_operation(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_BYTE out[32];
    CK_ULONG len = sizeof(out);
    (void)state;
    assert_int_equal(C_DigestInit(h, &sha256_mech), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, msg, 3), CKR_OK);
    assert_int_equal(C_Digest(h, msg, sizeof(msg), out, &len), CKR_OPERATION_ACTIVE);
    assert_int_equal(C_DigestUpdate(h, msg, 3), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OPERATION_NOT_INITIALIZED);
    /* A new operation can start at once. */
    assert_int_equal(C_DigestInit(h, &sha256_mech), CKR_OK);
}

static void test_sign_errors_end_the_operation(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY);
    CK_BYTE sig[64];
    CK_ULONG len = sizeof(sig);
    (void)state;
    assert_int_equal(C_SignInit(h, &ecdsa_sha256, priv), CKR_OK);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OPERATION_NOT_INITIALIZED);

    assert_int_equal(C_SignInit(h, &ecdsa_sha256, priv), CKR_OK);
    assert_int_equal(C_SignFinal(h, sig, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_SignFinal(h, sig, &len), CKR_OPERATION_NOT_INITIALIZED);

    assert_int_equal(C_SignInit(h, &ecdsa_sha256, priv), CKR_OK);
    assert_int_equal(C_SignUpdate(h, NULL, 4), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_SignFinal(h, sig, &len), CKR_OPERATION_NOT_INITIALIZED);

    assert_int_equal(C_SignInit(h, &ecdsa_sha256, priv), CKR_OK);
    assert_int_equal(C_SignUpdate(h, msg, 4), CKR_OK);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OPERATION_ACTIVE);
    assert_int_equal(C_SignFinal(h, sig, &len), CKR_OPERATION_NOT_INITIALIZED);

    /* A chip fault ends it too. */
    assert_int_equal(C_SignInit(h, &ecdsa_sha256, priv), CKR_OK);
    fake_chip_fail_next_calls(1);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, &len), CKR_DEVICE_ERROR);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OPERATION_NOT_INITIALIZED);
}

static void test_verify_errors_end_the_operation(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY);
    CK_BYTE sig[64] = {1};
    (void)state;
    assert_int_equal(C_VerifyInit(h, &ecdsa_sha256, pub), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof(msg), NULL, 64), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_Verify(h, msg, sizeof(msg), sig, 64), CKR_OPERATION_NOT_INITIALIZED);

    assert_int_equal(C_VerifyInit(h, &ecdsa_sha256, pub), CKR_OK);
    assert_int_equal(C_VerifyFinal(h, NULL, 64), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_VerifyFinal(h, sig, 64), CKR_OPERATION_NOT_INITIALIZED);

    assert_int_equal(C_VerifyInit(h, &ecdsa_sha256, pub), CKR_OK);
    assert_int_equal(C_VerifyUpdate(h, msg, 3), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof(msg), sig, 64), CKR_OPERATION_ACTIVE);
    assert_int_equal(C_VerifyFinal(h, sig, 64), CKR_OPERATION_NOT_INITIALIZED);
}

/* The two-call convention: a length answer keeps the operation and the
 * data given with it counts in the real call. */
static void test_length_query_keeps_the_operation_and_its_data(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), pub = find_one(h, CKO_PUBLIC_KEY);
    CK_BYTE out[32], want[32], sig[64], small[8];
    CK_ULONG len = 0;
    (void)state;
    SHA256(msg, sizeof(msg), want);
    assert_int_equal(C_DigestInit(h, &sha256_mech), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, msg, 5), CKR_OK);
    assert_int_equal(C_DigestFinal(h, NULL, &len), CKR_OK);
    assert_int_equal(len, 32);
    len = sizeof(small);
    assert_int_equal(C_DigestFinal(h, small, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(C_DigestUpdate(h, msg + 5, sizeof(msg) - 5), CKR_OK);
    len = sizeof(out);
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OK);
    assert_memory_equal(out, want, 32);

    assert_int_equal(C_SignInit(h, &ecdsa_sha256, priv), CKR_OK);
    assert_int_equal(C_SignUpdate(h, msg, 5), CKR_OK);
    len = 0;
    assert_int_equal(C_SignFinal(h, NULL, &len), CKR_OK);
    assert_int_equal(len, 64);
    assert_int_equal(C_SignUpdate(h, msg + 5, sizeof(msg) - 5), CKR_OK);
    assert_int_equal(C_SignFinal(h, sig, &len), CKR_OK);
    assert_int_equal(C_VerifyInit(h, &ecdsa_sha256, pub), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof(msg), sig, 64), CKR_OK);
}

/* ---------------- before C_Initialize ---------------- */

static void test_every_function_is_not_initialized_before_initialize(void **state)
{
    CK_FUNCTION_LIST_PTR p = NULL;
    CK_SLOT_ID slot;
    CK_ULONG n = 0;
    CK_BYTE b[8];
    CK_OBJECT_HANDLE o;
    CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
    (void)state;
    assert_int_equal(C_GetFunctionList(&p), CKR_OK);
    assert_int_equal(p->C_EncryptInit(1, &mech, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_Encrypt(1, b, 1, b, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_DecryptInit(1, &mech, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_DecryptFinal(1, b, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_DigestKey(1, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_SignRecoverInit(1, &mech, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_VerifyRecover(1, b, 1, b, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_DigestEncryptUpdate(1, b, 1, b, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_GenerateKey(1, &mech, NULL, 0, &o), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_WrapKey(1, &mech, 1, 1, b, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_UnwrapKey(1, &mech, 1, b, 1, NULL, 0, &o), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_GetOperationState(1, b, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_SetOperationState(1, b, 1, 0, 0), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_GetFunctionStatus(1), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_CancelFunction(1), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_int_equal(p->C_CopyObject(1, 1, NULL, 0, &o), CKR_CRYPTOKI_NOT_INITIALIZED);
    /* And after C_Finalize, once the library was initialised. */
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    assert_int_equal(p->C_EncryptInit(1, &mech, 1), CKR_FUNCTION_NOT_SUPPORTED);
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(p->C_EncryptInit(1, &mech, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
}

/* ---------------- C_CopyObject ---------------- */

static unsigned char *make_cert_der(int *len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    unsigned char *der = NULL;
    X509_NAME *name;
    assert_non_null(k);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"copy test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    *len = i2d_X509(x, &der);
    assert_true(*len > 0);
    X509_free(x);
    EVP_PKEY_free(k);
    return der;
}

static void test_copy_object_copies_certificate_data_and_public_key(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_CLASS cert_cls = CKO_CERTIFICATE, data_cls = CKO_DATA;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    int der_len = 0;
    unsigned char *der = make_cert_der(&der_len);
    CK_ATTRIBUTE cert_t[] = {{CKA_CLASS, &cert_cls, sizeof(cert_cls)},
                             {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
                             {CKA_TOKEN, &no, 1},
                             {CKA_VALUE, der, (CK_ULONG)der_len}};
    CK_ATTRIBUTE data_t[] = {{CKA_CLASS, &data_cls, sizeof(data_cls)}, {CKA_VALUE, "abc", 3}};
    CK_ATTRIBUTE to_token[] = {{CKA_TOKEN, &yes, 1}, {CKA_LABEL, "copied", 6}};
    CK_OBJECT_HANDLE cert, data, pub, copy;
    char label[16] = {0};
    CK_BYTE value[2048];
    CK_ATTRIBUTE read[] = {{CKA_LABEL, label, sizeof(label)}, {CKA_VALUE, value, sizeof(value)}};
    (void)state;

    assert_int_equal(C_CreateObject(h, cert_t, 4, &cert), CKR_OK);
    assert_int_equal(C_CopyObject(h, cert, to_token, 2, &copy), CKR_OK);
    assert_true(copy != cert);
    assert_true(get_bool(h, copy, CKA_TOKEN));
    assert_int_equal(C_GetAttributeValue(h, copy, read, 2), CKR_OK);
    assert_memory_equal(label, "copied", 6);
    assert_int_equal(read[1].ulValueLen, (CK_ULONG)der_len);
    assert_memory_equal(value, der, (size_t)der_len);

    assert_int_equal(C_CreateObject(h, data_t, 2, &data), CKR_OK);
    assert_int_equal(C_CopyObject(h, data, NULL, 0, &copy), CKR_OK);
    read[0].ulValueLen = sizeof(label);
    read[1].ulValueLen = sizeof(value);
    assert_int_equal(C_GetAttributeValue(h, copy, &read[1], 1), CKR_OK);
    assert_int_equal(read[1].ulValueLen, 3);

    pub = find_one(h, CKO_PUBLIC_KEY);
    /* The provisioned public key (a token object): the copy is one too. */
    assert_int_equal(C_CopyObject(h, pub, NULL, 0, &copy), CKR_OK);
    assert_true(get_bool(h, copy, CKA_TOKEN));
    assert_true(get_bool(h, copy, CKA_VERIFY));

    /* The template follows the class rules: a certificate's value is not
     * modifiable, an unknown attribute is invalid, a copy made
     * uncopyable stays so. */
    CK_ATTRIBUTE bad_value[] = {{CKA_VALUE, "x", 1}};
    CK_ATTRIBUTE bad_type[] = {{CKA_MODULUS, "x", 1}};
    CK_ATTRIBUTE no_copy[] = {{CKA_COPYABLE, &no, 1}};
    CK_ATTRIBUTE yes_copy[] = {{CKA_COPYABLE, &yes, 1}};
    assert_int_equal(C_CopyObject(h, cert, bad_value, 1, &copy), CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(C_CopyObject(h, cert, bad_type, 1, &copy), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(C_CopyObject(h, data, no_copy, 1, &copy), CKR_OK);
    assert_false(get_bool(h, copy, CKA_COPYABLE));
    assert_int_equal(C_CopyObject(h, copy, yes_copy, 1, &data), CKR_ACTION_PROHIBITED);
    OPENSSL_free(der);
}

static void test_copy_object_refuses_chip_private_key(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), copy = CK_INVALID_HANDLE;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE all[8];
    CK_ULONG n = 0;
    (void)state;
    assert_false(get_bool(h, priv, CKA_COPYABLE));
    assert_int_equal(C_CopyObject(h, priv, NULL, 0, &copy), CKR_ACTION_PROHIBITED);
    assert_int_equal(C_FindObjectsInit(h, t, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, all, 8, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
}

/* ---------------- CKA_DERIVE of key pairs ---------------- */

static void test_public_key_derive_matches_private_key(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p256, sizeof(p256)}, {CKA_TOKEN, &yes, 1}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &yes, 1}};
    CK_ATTRIBUTE kt_no[] = {{CKA_TOKEN, &yes, 1}, {CKA_DERIVE, &no, 1}};
    CK_OBJECT_HANDLE pub, priv;
    (void)state;
    /* Provisioned pair (slot 0). */
    pub = find_one(h, CKO_PUBLIC_KEY);
    priv = find_one(h, CKO_PRIVATE_KEY);
    assert_int_equal(get_bool(h, pub, CKA_DERIVE), get_bool(h, priv, CKA_DERIVE));
    assert_true(get_bool(h, priv, CKA_DERIVE));
    /* Generated pairs. */
    assert_int_equal(C_GenerateKeyPair(h, &gen, pt, 2, kt, 1, &pub, &priv), CKR_OK);
    assert_true(get_bool(h, priv, CKA_DERIVE));
    assert_true(get_bool(h, pub, CKA_DERIVE));
    assert_int_equal(C_GenerateKeyPair(h, &gen, pt, 2, kt_no, 2, &pub, &priv), CKR_OK);
    assert_false(get_bool(h, priv, CKA_DERIVE));
    assert_false(get_bool(h, pub, CKA_DERIVE));
}

/* ---------------- C_DeriveKey template ---------------- */

static void test_derive_checks_the_whole_template_before_the_chip(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), out;
    EVP_PKEY *peer = EVP_EC_gen("P-256");
    CK_BYTE point[65];
    size_t plen = 0;
    CK_BBOOL bad_bool = 7;
    CK_ULONG len16 = 16;
    (void)state;
    assert_int_equal(EVP_PKEY_get_octet_string_param(peer, "encoded-pub-key", point, sizeof(point), &plen), 1);
    CK_ECDH1_DERIVE_PARAMS params = {CKD_NULL, 0, NULL, (CK_ULONG)plen, point};
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &params, sizeof(params)};
    struct {
        CK_ATTRIBUTE t[2];
        CK_ULONG n;
        CK_RV want;
    } cases[] = {
        {{{CKA_MODULUS, "x", 1}}, 1, CKR_ATTRIBUTE_TYPE_INVALID},
        {{{CKA_SENSITIVE, &bad_bool, 1}}, 1, CKR_ATTRIBUTE_VALUE_INVALID},
        {{{CKA_VALUE, "0123456789abcdef", 16}}, 1, CKR_ATTRIBUTE_READ_ONLY},
        {{{CKA_LOCAL, &bad_bool, 1}}, 1, CKR_ATTRIBUTE_VALUE_INVALID},
        {{{CKA_VALUE_LEN, &len16, 3}}, 1, CKR_ATTRIBUTE_VALUE_INVALID},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned before = fake_chip_ecdh_calls();
        CK_RV rv = C_DeriveKey(h, &mech, priv, cases[i].t, cases[i].n, &out);
        if (rv != cases[i].want)
            fail_msg("case %zu: got 0x%lx, want 0x%lx", i, rv, cases[i].want);
        if (fake_chip_ecdh_calls() != before)
            fail_msg("case %zu: the chip ran ECDH for a refused template", i);
    }
    CK_ATTRIBUTE good[] = {{CKA_VALUE_LEN, &len16, sizeof(len16)}};
    assert_int_equal(C_DeriveKey(h, &mech, priv, good, 1, &out), CKR_OK);
    EVP_PKEY_free(peer);
}

/* ---------------- slot events and removal ---------------- */

static CK_FLAGS slot_flags(void)
{
    CK_SLOT_INFO si;
    assert_int_equal(C_GetSlotInfo(0, &si), CKR_OK);
    return si.flags;
}

static void test_removed_chip_marks_token_absent_and_is_an_event(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN), h2;
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY);
    CK_SESSION_INFO info;
    CK_BYTE sig[64];
    CK_ULONG len = sizeof(sig);
    CK_SLOT_ID slot = 99;
    (void)state;
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);
    assert_true(slot_flags() & CKF_TOKEN_PRESENT);

    fake_chip_set_present("fake:hot", false);
    assert_int_equal(C_SignInit(h, &ecdsa_sha256, priv), CKR_OK);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, &len), CKR_DEVICE_REMOVED);
    /* Really removed: no present flag, sessions closed, an event. */
    assert_false(slot_flags() & CKF_TOKEN_PRESENT);
    assert_int_equal(C_GetSessionInfo(h, &info), CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h2), CKR_TOKEN_NOT_PRESENT);
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_OK);
    assert_int_equal(slot, 0);
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);

    fake_chip_set_present("fake:hot", true);
    assert_true(slot_flags() & CKF_TOKEN_PRESENT);
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_OK);
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h2), CKR_OK);
}

static void test_transient_fault_is_device_error_and_token_stays(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_SESSION_INFO info;
    CK_BYTE rnd[8];
    CK_SLOT_ID slot;
    (void)state;
    fake_chip_fail_next_calls(1);
    assert_int_equal(C_GenerateRandom(h, rnd, sizeof(rnd)), CKR_DEVICE_ERROR);
    assert_int_equal(C_GetSessionInfo(h, &info), CKR_OK);
    assert_true(slot_flags() & CKF_TOKEN_PRESENT);
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);
    assert_int_equal(C_GenerateRandom(h, rnd, sizeof(rnd)), CKR_OK);
}

struct waiter {
    CK_RV rv;
    CK_SLOT_ID slot;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    w->rv = C_WaitForSlotEvent(0, &w->slot, NULL);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_blocking_wait_returns_on_event(void **state)
{
    struct waiter w = {CKR_GENERAL_ERROR, 99};
    pthread_t t;
    (void)state;
    assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
    sleep_ms(100);
    /* The chip goes: found by the waiter's probe of ... a present token is
     * not probed, so make a call find it gone. */
    fake_chip_set_present("fake:hot", false);
    CK_SESSION_HANDLE h;
    CK_BYTE rnd[4];
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    assert_int_equal(C_GenerateRandom(h, rnd, sizeof(rnd)), CKR_DEVICE_REMOVED);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rv, CKR_OK);
    assert_int_equal(w.slot, 0);
    /* It comes back: the blocked waiter's own probe finds it. */
    w.rv = CKR_GENERAL_ERROR;
    assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
    sleep_ms(50);
    fake_chip_set_present("fake:hot", true);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rv, CKR_OK);
    assert_true(slot_flags() & CKF_TOKEN_PRESENT);
}

static void test_blocking_wait_ends_with_finalize(void **state)
{
    struct waiter w = {CKR_GENERAL_ERROR, 99};
    pthread_t t;
    (void)state;
    assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
    sleep_ms(100);
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rv, CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_wait_for_slot_event_arguments(void **state)
{
    CK_SLOT_ID slot;
    (void)state;
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, (void *)1), CKR_ARGUMENTS_BAD);
}

/* ---------------- configuration refusals and log lines ---------------- */

/* Runs C_Initialize with stderr captured; returns what it printed. */
static char *initialize_capturing(CK_RV *rv, const char *dir)
{
    char path[512];
    int saved = dup(2), fd;
    snprintf(path, sizeof(path), "%s/stderr.txt", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    fflush(stderr);
    dup2(fd, 2);
    *rv = C_Initialize(NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    return p11t_read_file(path);
}

static void test_relative_store_path_is_refused_with_a_log_line(void **state)
{
    struct fixture *f = *state;
    CK_RV rv;
    char *err;
    write_conf(f, "fake:chip0", "var/token0", "");
    err = initialize_capturing(&rv, f->dir);
    assert_int_equal(rv, CKR_GENERAL_ERROR);
    assert_non_null(strstr(err, "<3>trustlink-pkcs11: error: "));
    assert_non_null(strstr(err, "tokens[0].store"));
    assert_non_null(strstr(err, "absolute"));
    free(err);
}

static void test_unknown_interface_scheme_is_refused_with_a_log_line(void **state)
{
    struct fixture *f = *state;
    CK_RV rv;
    char *err;
    write_conf(f, "emx:/run/trustlink/atecc608.sock", NULL, "");
    err = initialize_capturing(&rv, f->dir);
    assert_int_equal(rv, CKR_GENERAL_ERROR);
    assert_non_null(strstr(err, "<3>trustlink-pkcs11: error: "));
    assert_non_null(strstr(err, "unknown interface scheme"));
    free(err);
}

static void test_log_lines_carry_syslog_priorities(void **state)
{
    struct fixture *f = *state;
    CK_RV rv;
    char *err;
    /* A warning ("token not present") at log_level warning. */
    free(f->conf);
    f->conf = p11t_write_file(f->dir, "pkcs11.json",
                              "{\"tokens\":[{\"label\":\"t\",\"interface\":\"fake:absent\",\"key_slots\":[0],"
                              "\"free_slots\":[],\"store\":\"/nonexistent/t\"}],\"log_level\":\"warning\"}");
    setenv("TRUSTLINK_PKCS11_CONF", f->conf, 1);
    err = initialize_capturing(&rv, f->dir);
    assert_int_equal(rv, CKR_OK);
    assert_non_null(strstr(err, "<4>trustlink-pkcs11: warning: "));
    /* Every line starts with a priority. */
    for (char *line = err; *line != '\0';) {
        char *nl = strchr(line, '\n');
        assert_true(line[0] == '<' && line[2] == '>');
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    free(err);
}

/* ---------------- verify-after-sign ---------------- */

static void sign_once(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv, CK_BYTE sig[64], CK_RV want)
{
    CK_ULONG len = 64;
    assert_int_equal(C_SignInit(h, &ecdsa_sha256, priv), CKR_OK);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, &len), want);
}

static void test_bad_chip_signature_is_retried_once(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), pub = find_one(h, CKO_PUBLIC_KEY);
    CK_BYTE sig[64];
    unsigned before = fake_chip_sign_calls();
    (void)state;
    fake_chip_corrupt_next_signatures(1);
    sign_once(h, priv, sig, CKR_OK);
    assert_int_equal(fake_chip_sign_calls() - before, 2);
    assert_int_equal(C_VerifyInit(h, &ecdsa_sha256, pub), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof(msg), sig, 64), CKR_OK);
}

static void test_two_bad_chip_signatures_are_device_error(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY);
    CK_BYTE sig[64];
    unsigned before = fake_chip_sign_calls();
    (void)state;
    fake_chip_corrupt_next_signatures(2);
    sign_once(h, priv, sig, CKR_DEVICE_ERROR);
    assert_int_equal(fake_chip_sign_calls() - before, 2);
    /* The token is fine afterwards. */
    sign_once(h, priv, sig, CKR_OK);
}

static void test_verify_signatures_false_turns_the_check_off(void **state)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY), pub = find_one(h, CKO_PUBLIC_KEY);
    CK_BYTE sig[64];
    unsigned before = fake_chip_sign_calls();
    (void)state;
    fake_chip_corrupt_next_signatures(1);
    sign_once(h, priv, sig, CKR_OK);
    assert_int_equal(fake_chip_sign_calls() - before, 1);
    assert_int_equal(C_VerifyInit(h, &ecdsa_sha256, pub), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof(msg), sig, 64), CKR_SIGNATURE_INVALID);
}

static void test_verify_signatures_must_be_a_boolean(void **state)
{
    struct fixture *f = *state;
    CK_RV rv;
    char *err;
    write_conf(f, "fake:chip0", NULL, ",\"verify_signatures\":\"no\"");
    err = initialize_capturing(&rv, f->dir);
    assert_int_equal(rv, CKR_GENERAL_ERROR);
    assert_non_null(strstr(err, "verify_signatures: expected true or false"));
    free(err);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TRAW(name) cmocka_unit_test_setup_teardown(name, setup_raw, teardown)
#define THOT(name) cmocka_unit_test_setup_teardown(name, setup_hot, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_digest_null_length_pointer_ends_the_operation),
        T(test_digest_after_digest_update_ends_the_operation),
        T(test_sign_errors_end_the_operation),
        T(test_verify_errors_end_the_operation),
        T(test_length_query_keeps_the_operation_and_its_data),
        TRAW(test_every_function_is_not_initialized_before_initialize),
        T(test_copy_object_copies_certificate_data_and_public_key),
        T(test_copy_object_refuses_chip_private_key),
        T(test_public_key_derive_matches_private_key),
        T(test_derive_checks_the_whole_template_before_the_chip),
        THOT(test_removed_chip_marks_token_absent_and_is_an_event),
        THOT(test_transient_fault_is_device_error_and_token_stays),
        THOT(test_blocking_wait_returns_on_event),
        THOT(test_blocking_wait_ends_with_finalize),
        T(test_wait_for_slot_event_arguments),
        TRAW(test_relative_store_path_is_refused_with_a_log_line),
        TRAW(test_unknown_interface_scheme_is_refused_with_a_log_line),
        TRAW(test_log_lines_carry_syslog_priorities),
        T(test_bad_chip_signature_is_retried_once),
        T(test_two_bad_chip_signatures_are_device_error),
        cmocka_unit_test_setup_teardown(test_verify_signatures_false_turns_the_check_off, setup_no_verify,
                                        teardown),
        TRAW(test_verify_signatures_must_be_a_boolean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
