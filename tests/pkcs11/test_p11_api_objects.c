/* SPDX-License-Identifier: Apache-2.0 */
/* The module through its C_* entry points, with the fake chip (second half
 * of test_p11_api): objects, search, sign/verify/digest, key generation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include <p11-kit/pkcs11.h>

#include "object.h"
#include "p11_fixture.h"
#include "p11_test_util.h"
#include "test_p11_api.h"

/* ---------------- objects ---------------- */

static CK_ULONG find(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE buf[16];
    CK_ULONG n = 0;
    assert_int_equal(C_FindObjectsInit(h, t, 1), CKR_OK);
    assert_int_equal(C_FindObjects(h, buf, 16, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    if (n > 0 && out != NULL)
        *out = buf[0];
    return n;
}

void test_provisioned_key_private_only_after_login(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    char label[16];
    CK_BYTE id_pub[32], id_priv[32];
    CK_ATTRIBUTE lt[] = {{CKA_LABEL, label, sizeof(label)}};
    CK_ATTRIBUTE it_pub[] = {{CKA_ID, id_pub, sizeof(id_pub)}};
    CK_ATTRIBUTE it_priv[] = {{CKA_ID, id_priv, sizeof(id_priv)}};
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    assert_int_equal(find(h, CKO_PUBLIC_KEY, &pub), 1);
    assert_int_equal(find(h, CKO_PRIVATE_KEY, NULL), 0);
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(find(h, CKO_PRIVATE_KEY, &priv), 1);
    assert_int_equal(C_GetAttributeValue(h, priv, lt, 1), CKR_OK);
    assert_int_equal(lt[0].ulValueLen, 6);
    assert_memory_equal(label, "device", 6);
    /* libp11 pairs them by CKA_ID. */
    assert_int_equal(C_GetAttributeValue(h, pub, it_pub, 1), CKR_OK);
    assert_int_equal(C_GetAttributeValue(h, priv, it_priv, 1), CKR_OK);
    assert_int_equal(it_pub[0].ulValueLen, it_priv[0].ulValueLen);
    assert_memory_equal(id_pub, id_priv, it_pub[0].ulValueLen);
    assert_int_equal(C_Logout(h), CKR_OK);
    CK_ATTRIBUTE q[] = {{CKA_LABEL, NULL, 0}};
    assert_int_equal(C_GetAttributeValue(h, priv, q, 1), CKR_OBJECT_HANDLE_INVALID);
}

void test_find_objects_state_errors(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE o;
    CK_ULONG n;
    (void)state;
    h = open_ro();
    assert_int_equal(C_FindObjects(h, &o, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_FindObjectsInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_FindObjectsInit(h, NULL, 0), CKR_OK);
    assert_int_equal(C_FindObjectsInit(h, NULL, 0), CKR_OPERATION_ACTIVE);
    assert_int_equal(C_FindObjects(h, NULL, 1, &n), CKR_ARGUMENTS_BAD);
}

void test_token_object_in_read_only_session_is_refused(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_TOKEN, &yes, 1}, {CKA_LABEL, "d", 1}};
    (void)state;
    h = open_ro();
    assert_int_equal(C_CreateObject(h, t, 3, &o), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_CreateObject(h, t, 1, &o), CKR_OK); /* a session object is fine */
}

void test_private_object_needs_user_login(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_PRIVATE, &yes, 1}};
    (void)state;
    h = open_rw();
    assert_int_equal(C_CreateObject(h, t, 2, &o), CKR_USER_NOT_LOGGED_IN);
}

void test_token_object_persists_and_destroy_removes_it(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE o;
    char buf[8];
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_TOKEN, &yes, 1}, {CKA_VALUE, "hello", 5}};
    CK_ATTRIBUTE q[] = {{CKA_VALUE, buf, sizeof(buf)}};
    (void)state;
    h = open_rw();
    assert_int_equal(C_CreateObject(h, t, 3, &o), CKR_OK);
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    h = open_rw();
    assert_int_equal(find(h, CKO_DATA, &o), 1);
    assert_int_equal(C_GetAttributeValue(h, o, q, 1), CKR_OK);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(C_DestroyObject(h, o), CKR_OK);
    assert_int_equal(find(h, CKO_DATA, NULL), 0);
    assert_int_equal(C_DestroyObject(h, o), CKR_OBJECT_HANDLE_INVALID);
}

void test_session_object_dies_with_its_session(void **state)
{
    CK_SESSION_HANDLE a, b;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_OBJECT_HANDLE o;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    (void)state;
    a = open_ro();
    b = open_ro();
    assert_int_equal(C_CreateObject(a, t, 1, &o), CKR_OK);
    assert_int_equal(find(b, CKO_DATA, NULL), 1);
    assert_int_equal(C_CloseSession(a), CKR_OK);
    assert_int_equal(find(b, CKO_DATA, NULL), 0);
}

/* ---------------- mechanisms ---------------- */

static void login_user(CK_SESSION_HANDLE h)
{
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_OK);
}

void test_sign_two_call_and_verify_round_trip(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE priv, pub;
    CK_MECHANISM mech = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BYTE sig[64], small[10];
    CK_ULONG len = 0;
    static CK_BYTE msg[] = "hello trustlink";
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    login_user(h);
    assert_int_equal(find(h, CKO_PRIVATE_KEY, &priv), 1);
    assert_int_equal(find(h, CKO_PUBLIC_KEY, &pub), 1);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), NULL, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_SignInit(h, &mech, priv), CKR_OK);
    assert_int_equal(C_SignInit(h, &mech, priv), CKR_OPERATION_ACTIVE);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), NULL, &len), CKR_OK);
    assert_int_equal(len, 64);
    len = sizeof(small);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), small, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 64);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OK);
    assert_int_equal(C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_int_equal(C_VerifyInit(h, &mech, pub), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof(msg), sig, 64), CKR_OK);
    sig[10] ^= 1;
    assert_int_equal(C_VerifyInit(h, &mech, pub), CKR_OK);
    assert_int_equal(C_Verify(h, msg, sizeof(msg), sig, 64), CKR_SIGNATURE_INVALID);
}

void test_multipart_sign_equals_raw_ecdsa_over_sha256(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE priv, pub;
    CK_MECHANISM m256 = {CKM_ECDSA_SHA256, NULL, 0}, raw = {CKM_ECDSA, NULL, 0};
    CK_BYTE sig[64], digest[32];
    CK_ULONG len = sizeof(sig);
    static CK_BYTE part1[] = "hello ", part2[] = "world";
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    login_user(h);
    assert_int_equal(find(h, CKO_PRIVATE_KEY, &priv), 1);
    assert_int_equal(find(h, CKO_PUBLIC_KEY, &pub), 1);
    assert_int_equal(C_SignInit(h, &m256, priv), CKR_OK);
    assert_int_equal(C_SignUpdate(h, part1, 6), CKR_OK);
    assert_int_equal(C_SignUpdate(h, part2, 5), CKR_OK);
    assert_int_equal(C_SignFinal(h, sig, &len), CKR_OK);
    SHA256((const unsigned char *)"hello world", 11, digest);
    assert_int_equal(C_VerifyInit(h, &raw, pub), CKR_OK);
    assert_int_equal(C_Verify(h, digest, 32, sig, 64), CKR_OK);
}

void test_sign_without_login_is_user_not_logged_in(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE priv;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    login_user(h);
    assert_int_equal(find(h, CKO_PRIVATE_KEY, &priv), 1);
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_SignInit(h, &mech, priv), CKR_KEY_HANDLE_INVALID);
}

void test_digest_sha256_known_answer(void **state)
{
    CK_SESSION_HANDLE h;
    CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
    CK_BYTE out[32];
    CK_ULONG len = 0;
    static const CK_BYTE abc_sha256[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                           0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                           0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    (void)state;
    h = open_ro();
    assert_int_equal(C_DigestInit(h, &mech), CKR_OK);
    assert_int_equal(C_Digest(h, (CK_BYTE_PTR) "abc", 3, NULL, &len), CKR_OK);
    assert_int_equal(len, 32);
    assert_int_equal(C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &len), CKR_OK);
    assert_memory_equal(out, abc_sha256, 32);
    assert_int_equal(C_DigestInit(h, &mech), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, (CK_BYTE_PTR) "a", 1), CKR_OK);
    assert_int_equal(C_DigestUpdate(h, (CK_BYTE_PTR) "bc", 2), CKR_OK);
    len = sizeof(out);
    assert_int_equal(C_DigestFinal(h, out, &len), CKR_OK);
    assert_memory_equal(out, abc_sha256, 32);
}

void test_generate_key_pair_uses_free_slots_until_full(void **state)
{
    CK_SESSION_HANDLE h;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE pub[3], priv[3];
    CK_ULONG slot = 0;
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)},
                         {CKA_TOKEN, &yes, 1}, {CKA_LABEL, "new", 3}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &yes, 1}, {CKA_SIGN, &yes, 1}};
    CK_ATTRIBUTE q[] = {{CKA_TRUSTLINK_CHIP_SLOT, &slot, sizeof(slot)}};
    CK_BBOOL local = CK_FALSE;
    CK_ATTRIBUTE ql[] = {{CKA_LOCAL, &local, 1}};
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_ro();
    login_user(h);
    assert_int_equal(C_GenerateKeyPair(h, &mech, pt, 3, kt, 2, &pub[0], &priv[0]), CKR_SESSION_READ_ONLY);
    assert_int_equal(C_CloseSession(h), CKR_OK);
    h = open_rw();
    login_user(h);
    assert_int_equal(C_GenerateKeyPair(h, &mech, pt, 3, kt, 2, &pub[0], &priv[0]), CKR_OK);
    assert_int_equal(C_GetAttributeValue(h, priv[0], q, 1), CKR_OK);
    assert_int_equal(slot, 2);
    assert_int_equal(C_GetAttributeValue(h, priv[0], ql, 1), CKR_OK);
    assert_int_equal(local, CK_TRUE);
    assert_int_equal(C_GenerateKeyPair(h, &mech, pt, 3, kt, 2, &pub[1], &priv[1]), CKR_OK);
    assert_int_equal(C_GenerateKeyPair(h, &mech, pt, 3, kt, 2, &pub[2], &priv[2]), CKR_DEVICE_MEMORY);
    /* Destroying a generated key frees its slot. */
    assert_int_equal(C_DestroyObject(h, priv[0]), CKR_OK);
    assert_int_equal(C_GenerateKeyPair(h, &mech, pt, 3, kt, 2, &pub[2], &priv[2]), CKR_OK);
    assert_int_equal(C_GetAttributeValue(h, priv[2], q, 1), CKR_OK);
    assert_int_equal(slot, 2);
}

void test_generated_key_signs_and_verifies(void **state)
{
    CK_SESSION_HANDLE h;
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0}, mech = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE pub, priv;
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)}};
    CK_ATTRIBUTE kt[] = {{CKA_SIGN, &yes, 1}};
    CK_BYTE sig[64];
    CK_ULONG len = sizeof(sig);
    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    h = open_rw();
    login_user(h);
    assert_int_equal(C_GenerateKeyPair(h, &gen, pt, 1, kt, 1, &pub, &priv), CKR_OK);
    assert_int_equal(C_SignInit(h, &mech, priv), CKR_OK);
    assert_int_equal(C_Sign(h, (CK_BYTE_PTR) "x", 1, sig, &len), CKR_OK);
    assert_int_equal(C_VerifyInit(h, &mech, pub), CKR_OK);
    assert_int_equal(C_Verify(h, (CK_BYTE_PTR) "x", 1, sig, len), CKR_OK);
}

void test_generate_random_fills_any_length(void **state)
{
    CK_SESSION_HANDLE h;
    CK_BYTE buf[100], zero[100];
    (void)state;
    memset(buf, 0, sizeof(buf));
    memset(zero, 0, sizeof(zero));
    h = open_ro();
    assert_int_equal(C_GenerateRandom(h, NULL, 5), CKR_ARGUMENTS_BAD);
    assert_int_equal(C_GenerateRandom(h, buf, sizeof(buf)), CKR_OK);
    assert_memory_not_equal(buf + 68, zero, 32);
    assert_int_equal(C_SeedRandom(h, buf, 4), CKR_RANDOM_SEED_NOT_SUPPORTED);
}
