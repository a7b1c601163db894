/* SPDX-License-Identifier: Apache-2.0 */
/* The module's C_* API end to end over the real chip adapter and driver,
 * against the in-process ATECC608 emulator (emu_harness.h): token info
 * from the chip, login, key generation into free chip slots, signatures
 * and ECDH checked with OpenSSL, random, PIN counters, and several
 * threads signing at once with the module lock free during chip calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <p11-kit/pkcs11.h>

#include "chip_atecc.h"
#include "emu_harness.h"
#include "p11_fixture.h"
#include "object.h"
#include "p11_test_util.h"

#define SO_PIN "so-secret"
#define USER_PIN "123456"
#define P(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)}};
    CK_OBJECT_HANDLE out[2];
    CK_ULONG n = 0;
    assert_int_equal(C_FindObjectsInit(h, t, 2), CKR_OK);
    assert_int_equal(C_FindObjects(h, out, 2, &n), CKR_OK);
    assert_int_equal(C_FindObjectsFinal(h), CKR_OK);
    assert_int_equal(n, 1);
    return out[0];
}

/* X || Y of a public key object (CKA_EC_POINT, DER OCTET STRING). */
static void ec_point_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, uint8_t xy[64])
{
    uint8_t der[P11_EC_POINT_DER_LEN];
    CK_ATTRIBUTE t = {CKA_EC_POINT, der, sizeof(der)};
    assert_int_equal(C_GetAttributeValue(h, pub, &t, 1), CKR_OK);
    assert_int_equal(t.ulValueLen, P11_EC_POINT_DER_LEN);
    assert_int_equal(der[0], 0x04);
    assert_int_equal(der[1], 0x41);
    assert_int_equal(der[2], 0x04);
    memcpy(xy, der + 3, 64);
}

static CK_ULONG chip_slot_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv)
{
    CK_ULONG slot = 99;
    CK_ATTRIBUTE t = {CKA_TRUSTLINK_CHIP_SLOT, &slot, sizeof(slot)};
    assert_int_equal(C_GetAttributeValue(h, priv, &t, 1), CKR_OK);
    return slot;
}

static void sign_digest(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv, const uint8_t digest[32], uint8_t sig[64])
{
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_ULONG len = 64;
    assert_int_equal(C_SignInit(h, &mech, priv), CKR_OK);
    assert_int_equal(C_Sign(h, (CK_BYTE_PTR)digest, 32, sig, &len), CKR_OK);
    assert_int_equal(len, 64);
}

static void keygen(CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv, CK_RV want)
{
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},
                         {CKA_EC_PARAMS, (void *)p11_p256_oid_der, sizeof(p11_p256_oid_der)},
                         {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)}};
    CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &yes, 1}, {CKA_SIGN, &yes, 1}, {CKA_DERIVE, &yes, 1},
                         {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)}};
    assert_int_equal(C_GenerateKeyPair(h, &mech, pt, 3, kt, 4, pub, priv), want);
}

/* ---------------- token info ---------------- */

static void test_token_info_carries_chip_serial_model_and_revision(void **state)
{
    struct p11_emu_fixture *f = *state;
    struct atecc_device *dev = p11_emu_open_device(f->emu);
    uint8_t serial[ATECC_SERIAL_SIZE], rev[4];
    char hex[17];
    CK_TOKEN_INFO ti;
    CK_SLOT_INFO si;

    assert_non_null(dev);
    assert_int_equal(atecc_serial(dev, serial), ATECC_OK);
    assert_int_equal(atecc_info_revision(dev, rev), ATECC_OK);
    atecc_close(dev);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02X", serial[i + 1]);

    assert_int_equal(C_GetSlotInfo(0, &si), CKR_OK);
    assert_true(si.flags & CKF_TOKEN_PRESENT);
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_OK);
    assert_memory_equal(ti.serialNumber, hex, 16);
    assert_memory_equal(ti.model, "ATECC608B       ", 16);
    assert_int_equal(ti.firmwareVersion.major, rev[2]);
    assert_int_equal(ti.firmwareVersion.minor, rev[3]);
    assert_int_equal(ti.flags & (CKF_RNG | CKF_LOGIN_REQUIRED), CKF_RNG | CKF_LOGIN_REQUIRED);
    assert_false(ti.flags & (CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED));
    p11t_init_token(SO_PIN, USER_PIN);
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_OK);
    assert_int_equal(ti.flags & (CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED),
                     CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED);
    assert_memory_equal(ti.label, "trustlink                       ", 32);
}

/* ---------------- keys and signatures ---------------- */

static void test_device_key_signs_and_openssl_verifies(void **state)
{
    struct p11_emu_fixture *f = *state;
    struct atecc_device *dev = p11_emu_open_device(f->emu);
    CK_MECHANISM mech = {CKM_ECDSA_SHA256, NULL, 0};
    static const CK_BYTE msg[] = "signed on the emulated chip";
    uint8_t chip_pub[64], xy[64], digest[32], sig[64];
    CK_OBJECT_HANDLE priv, pub;
    CK_SESSION_HANDLE h;
    CK_ULONG len = sizeof(sig);

    assert_non_null(dev);
    assert_int_equal(atecc_pubkey(dev, 0, chip_pub), ATECC_OK);
    atecc_close(dev);
    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    priv = find_one(h, CKO_PRIVATE_KEY, "device");
    pub = find_one(h, CKO_PUBLIC_KEY, "device");
    assert_int_equal(chip_slot_of(h, priv), 0);
    ec_point_of(h, pub, xy);
    assert_memory_equal(xy, chip_pub, 64);
    assert_int_equal(C_SignInit(h, &mech, priv), CKR_OK);
    assert_int_equal(C_Sign(h, (CK_BYTE_PTR)msg, sizeof(msg), sig, &len), CKR_OK);
    SHA256(msg, sizeof(msg), digest);
    assert_true(p11_emu_p256_verify(xy, digest, sig));
    digest[0] ^= 1;
    assert_false(p11_emu_p256_verify(xy, digest, sig));
}

/* ---------------- verify after sign ---------------- */

/* Adds an emulator fault rule; returns the chip's injected-fault count. */
static uint64_t add_fault(struct p11_emu *e, const char *spec)
{
    struct emu_stats stats;
    char err[128] = "";

    pthread_mutex_lock(&e->bus_mutex);
    if (spec != NULL)
        assert_int_equal(emu_fault_add(e->chip, spec, err, sizeof(err)), 0);
    emu_stats_get(e->chip, &stats);
    pthread_mutex_unlock(&e->bus_mutex);
    return stats.faults_injected;
}

/* Signs msg with the device key; *xy gets the key's CKA_EC_POINT. */
static CK_RV sign_message_with_device_key(CK_SESSION_HANDLE h, const CK_BYTE *msg, CK_ULONG msg_len,
                                          uint8_t sig[64], uint8_t xy[64])
{
    CK_MECHANISM mech = {CKM_ECDSA_SHA256, NULL, 0};
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY, "device");
    CK_ULONG len = 64;
    CK_RV rv;

    ec_point_of(h, find_one(h, CKO_PUBLIC_KEY, "device"), xy);
    if ((rv = C_SignInit(h, &mech, priv)) != CKR_OK)
        return rv;
    rv = C_Sign(h, (CK_BYTE_PTR)msg, msg_len, sig, &len);
    if (rv == CKR_OK)
        assert_int_equal(len, 64);
    return rv;
}

/* A response bit flipped on the bus with a matching CRC (the emulator's
 * "flip" fault, what a corrupting bus proxy does): the module checks the
 * signature against the key, retries once, and returns only a good one. */
static void test_signature_corrupted_on_the_bus_is_retried_and_verifies(void **state)
{
    struct p11_emu_fixture *f = *state;
    static const CK_BYTE msg[] = "flipped once on the way back";
    uint8_t xy[64], digest[32], sig[64];
    uint64_t before;
    CK_SESSION_HANDLE h;

    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    before = add_fault(f->emu, "flip@1");
    assert_int_equal(sign_message_with_device_key(h, msg, sizeof(msg), sig, xy), CKR_OK);
    assert_int_equal(add_fault(f->emu, NULL), before + 1); /* the flip happened */
    SHA256(msg, sizeof(msg), digest);
    assert_true(p11_emu_p256_verify(xy, digest, sig));
}

/* Every signature corrupted: two bad ones in a row are a device error,
 * never CKR_OK with a wrong signature; the operation has ended. */
static void test_signature_corrupted_twice_is_a_device_error(void **state)
{
    struct p11_emu_fixture *f = *state;
    static const CK_BYTE msg[] = "flipped every time";
    uint8_t xy[64], sig[64];
    CK_ULONG len = sizeof(sig);
    CK_SESSION_HANDLE h;

    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    (void)add_fault(f->emu, "flip:p=1");
    assert_int_equal(sign_message_with_device_key(h, msg, sizeof(msg), sig, xy), CKR_DEVICE_ERROR);
    assert_int_equal(C_Sign(h, (CK_BYTE_PTR)msg, sizeof(msg), sig, &len), CKR_OPERATION_NOT_INITIALIZED);
    (void)add_fault(f->emu, "clear");
}

/* With verify_signatures off the same corruption comes back as CKR_OK:
 * the check above is what stands between the bus and the caller. */
static void test_without_verification_a_corrupted_signature_is_returned(void **state)
{
    struct p11_emu_fixture *f = *state;
    static const CK_BYTE msg[] = "nobody checks";
    uint8_t xy[64], digest[32], sig[64];
    char text[1024];
    CK_SESSION_HANDLE h;

    assert_int_equal(C_Finalize(NULL), CKR_OK);
    snprintf(text, sizeof(text),
             "{\"tokens\":[{\"label\":\"trustlink\",\"interface\":\"%s\",\"key_slots\":[0],"
             "\"free_slots\":[2,3],\"store\":\"%s\"}],\"log_level\":\"error\","
             "\"pin_kdf_iterations\":1000,\"verify_signatures\":false}",
             p11_emu_interface(), f->store_dir);
    free(f->conf);
    f->conf = p11t_write_file(f->dir, "pkcs11.json", text);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    (void)add_fault(f->emu, "flip@1");
    assert_int_equal(sign_message_with_device_key(h, msg, sizeof(msg), sig, xy), CKR_OK);
    SHA256(msg, sizeof(msg), digest);
    assert_false(p11_emu_p256_verify(xy, digest, sig));
}

static void test_keypair_fills_free_slots_and_destroy_frees_one(void **state)
{
    CK_OBJECT_HANDLE pub1, priv1, pub2, priv2, pub3, priv3;
    CK_SESSION_HANDLE h;
    uint8_t xy[64], digest[32], sig[64];
    CK_ULONG s1, s2;
    (void)state;

    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    keygen(h, "k1", &pub1, &priv1, CKR_OK);
    keygen(h, "k2", &pub2, &priv2, CKR_OK);
    keygen(h, "k3", &pub3, &priv3, CKR_DEVICE_MEMORY);
    s1 = chip_slot_of(h, priv1);
    s2 = chip_slot_of(h, priv2);
    assert_true((s1 == 2 && s2 == 3) || (s1 == 3 && s2 == 2));
    /* The new key signs, and OpenSSL accepts it under the returned point. */
    ec_point_of(h, pub2, xy);
    memset(digest, 0xA5, sizeof(digest));
    sign_digest(h, priv2, digest, sig);
    assert_true(p11_emu_p256_verify(xy, digest, sig));
    /* Destroying the first key frees its chip slot for the next one. */
    assert_int_equal(C_DestroyObject(h, priv1), CKR_OK);
    assert_int_equal(C_DestroyObject(h, pub1), CKR_OK);
    keygen(h, "k3", &pub3, &priv3, CKR_OK);
    assert_int_equal(chip_slot_of(h, priv3), s1);
    ec_point_of(h, pub3, xy);
    sign_digest(h, priv3, digest, sig);
    assert_true(p11_emu_p256_verify(xy, digest, sig));
}

/* ---------------- ECDH ---------------- */

static EVP_PKEY *openssl_p256(uint8_t point[65])
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    size_t n = 0;
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, point, 65, &n), 1);
    assert_int_equal(n, 65);
    return k;
}

static EVP_PKEY *p256_from_xy(const uint8_t xy[64])
{
    uint8_t pt[65];
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    pt[0] = 4;
    memcpy(pt + 1, xy, 64);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
    params[2] = OSSL_PARAM_construct_end();
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

static void test_ecdh_derive_matches_openssl(void **state)
{
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE priv, pub, secret;
    uint8_t peer_point[65], xy[64], token_secret[32], ossl_secret[32];
    CK_ECDH1_DERIVE_PARAMS params = {CKD_NULL, 0, NULL, sizeof(peer_point), peer_point};
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &params, sizeof(params)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
    CK_ATTRIBUTE val = {CKA_VALUE, token_secret, sizeof(token_secret)};
    EVP_PKEY *peer, *tokpub;
    EVP_PKEY_CTX *dctx;
    size_t n = sizeof(ossl_secret);
    (void)state;

    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);
    keygen(h, "dh", &pub, &priv, CKR_OK);
    ec_point_of(h, pub, xy);
    peer = openssl_p256(peer_point);
    assert_int_equal(C_DeriveKey(h, &mech, priv, t, 2, &secret), CKR_OK);
    assert_int_equal(C_GetAttributeValue(h, secret, &val, 1), CKR_OK);
    assert_int_equal(val.ulValueLen, 32);
    tokpub = p256_from_xy(xy);
    dctx = EVP_PKEY_CTX_new(peer, NULL);
    assert_non_null(dctx);
    assert_int_equal(EVP_PKEY_derive_init(dctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(dctx, tokpub), 1);
    assert_int_equal(EVP_PKEY_derive(dctx, ossl_secret, &n), 1);
    assert_int_equal(n, 32);
    assert_memory_equal(token_secret, ossl_secret, 32);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(tokpub);
    EVP_PKEY_free(peer);
}

/* ---------------- random ---------------- */

static void test_random_comes_from_the_chip(void **state)
{
    struct p11_emu_fixture *f = *state;
    CK_SESSION_HANDLE h;
    uint8_t a[100], b[100];
    uint64_t before;

    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    before = p11_emu_commands(f->emu);
    assert_int_equal(C_GenerateRandom(h, a, sizeof(a)), CKR_OK);
    /* 100 bytes = 4 Random commands of 32 bytes. */
    assert_int_equal(p11_emu_commands(f->emu) - before, 4);
    assert_int_equal(C_GenerateRandom(h, b, sizeof(b)), CKR_OK);
    assert_memory_not_equal(a, b, sizeof(a));
}

/* ---------------- PIN counters ---------------- */

static void test_pin_counters_flags_and_lockout_persist(void **state)
{
    CK_SESSION_HANDLE h;
    CK_TOKEN_INFO ti;
    (void)state;

    p11t_init_token(SO_PIN, USER_PIN);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    assert_int_equal(C_Login(h, CKU_USER, P("wrong-pin")), CKR_PIN_INCORRECT);
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_COUNT_LOW);
    /* A good PIN resets the counter. */
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_OK);
    assert_int_equal(C_Logout(h), CKR_OK);
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_OK);
    assert_false(ti.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED));
    for (unsigned i = 0; i < 10; i++) {
        CK_RV rv = C_Login(h, CKU_USER, P("wrong-pin"));
        assert_true(rv == CKR_PIN_INCORRECT || (i == 9 && rv == CKR_PIN_LOCKED));
    }
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
    /* The lock-out is in the store, not in this process. */
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(C_Initialize(NULL), CKR_OK);
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_OK);
    assert_true(ti.flags & CKF_USER_PIN_LOCKED);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    assert_int_equal(C_Login(h, CKU_USER, P(USER_PIN)), CKR_PIN_LOCKED);
}

/* ---------------- threads ---------------- */

#define N_THREADS 6
#define N_SIGS 20

struct signer {
    CK_OBJECT_HANDLE priv;
    uint8_t pub[64];
    unsigned id;
    unsigned valid;
    CK_RV first_error;
};

static void *signer_main(void *arg)
{
    struct signer *w = arg;
    CK_SESSION_HANDLE h;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_RV rv;

    /* Its own session: the login is the token's, shared by all. */
    if ((rv = C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h)) != CKR_OK) {
        w->first_error = rv;
        return NULL;
    }
    for (unsigned i = 0; i < N_SIGS; i++) {
        uint8_t digest[32], sig[64];
        CK_ULONG len = sizeof(sig);
        memset(digest, (int)(w->id * 37 + i), sizeof(digest));
        digest[0] = (uint8_t)w->id;
        if ((rv = C_SignInit(h, &mech, w->priv)) != CKR_OK || (rv = C_Sign(h, digest, 32, sig, &len)) != CKR_OK) {
            if (w->first_error == CKR_OK)
                w->first_error = rv;
            continue;
        }
        if (len == 64 && p11_emu_p256_verify(w->pub, digest, sig))
            w->valid++;
    }
    (void)C_CloseSession(h);
    return NULL;
}

static void test_threads_on_own_sessions_all_signatures_verify(void **state)
{
    struct signer w[N_THREADS];
    pthread_t th[N_THREADS];
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE priv, pub;
    uint8_t xy[64];
    (void)state;

    p11t_init_token(SO_PIN, USER_PIN);
    h = p11t_open_user_rw(USER_PIN);   /* stays open: keeps the user logged in */
    priv = find_one(h, CKO_PRIVATE_KEY, "device");
    pub = find_one(h, CKO_PUBLIC_KEY, "device");
    ec_point_of(h, pub, xy);
    for (unsigned i = 0; i < N_THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].priv = priv;
        w[i].id = i;
        memcpy(w[i].pub, xy, 64);
        assert_int_equal(pthread_create(&th[i], NULL, signer_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (unsigned i = 0; i < N_THREADS; i++) {
        if (w[i].first_error != CKR_OK)
            fail_msg("thread %u: first error 0x%lx", i, w[i].first_error);
        assert_int_equal(w[i].valid, N_SIGS);
    }
}

struct held_call {
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE priv;
    CK_RV rv;
};

static void *held_sign_main(void *arg)
{
    struct held_call *c = arg;
    uint8_t digest[32] = {1}, sig[64];
    CK_ULONG len = sizeof(sig);
    c->rv = C_Sign(c->h, digest, sizeof(digest), sig, &len);
    return NULL;
}

/* While one thread's signature is inside the chip, the module lock is
 * free: other sessions work, and the signing session can be closed (the
 * signer then gets CKR_SESSION_CLOSED and nothing is freed twice). */
static void test_close_session_while_its_signature_is_on_the_chip(void **state)
{
    struct p11_emu_fixture *f = *state;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    struct held_call c;
    CK_SESSION_HANDLE keep, other;
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;
    pthread_t th;

    p11t_init_token(SO_PIN, USER_PIN);
    keep = p11t_open_user_rw(USER_PIN);
    c.priv = find_one(keep, CKO_PRIVATE_KEY, "device");
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &c.h), CKR_OK);
    assert_int_equal(C_SignInit(c.h, &mech, c.priv), CKR_OK);
    c.rv = CKR_GENERAL_ERROR;
    p11_emu_gate_arm(f->emu);
    assert_int_equal(pthread_create(&th, NULL, held_sign_main, &c), 0);
    if (!p11_emu_gate_wait_held(f->emu)) {
        p11_emu_gate_release(f->emu);
        fail_msg("the signing thread never reached the chip");
    }
    /* These would deadlock if the module lock were held across the call. */
    assert_int_equal(C_GetTokenInfo(0, &ti), CKR_OK);
    assert_int_equal(C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &other), CKR_OK);
    assert_int_equal(C_GetSessionInfo(other, &si), CKR_OK);
    /* The operation was handed to the chip: the session has none now. */
    {
        uint8_t d[32] = {2}, sig[64];
        CK_ULONG len = sizeof(sig);
        assert_int_equal(C_Sign(c.h, d, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
    }
    assert_int_equal(C_CloseSession(c.h), CKR_OK);
    assert_int_equal(C_GetSessionInfo(c.h, &si), CKR_SESSION_HANDLE_INVALID);
    p11_emu_gate_release(f->emu);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(c.rv, CKR_SESSION_CLOSED);
    assert_int_equal(C_CloseSession(other), CKR_OK);
}

static void *finalize_main(void *arg)
{
    CK_RV *rv = arg;
    *rv = C_Finalize(NULL);
    return NULL;
}

/* C_Finalize waits for a chip call in progress instead of freeing the
 * chip and session under it. */
static void test_finalize_waits_for_a_signature_on_the_chip(void **state)
{
    struct p11_emu_fixture *f = *state;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    struct held_call c;
    CK_SESSION_HANDLE keep;
    pthread_t th, fin;
    CK_RV frv = CKR_GENERAL_ERROR;

    p11t_init_token(SO_PIN, USER_PIN);
    keep = p11t_open_user_rw(USER_PIN);
    c.priv = find_one(keep, CKO_PRIVATE_KEY, "device");
    c.h = keep;
    assert_int_equal(C_SignInit(c.h, &mech, c.priv), CKR_OK);
    p11_emu_gate_arm(f->emu);
    assert_int_equal(pthread_create(&th, NULL, held_sign_main, &c), 0);
    if (!p11_emu_gate_wait_held(f->emu)) {
        p11_emu_gate_release(f->emu);
        fail_msg("the signing thread never reached the chip");
    }
    assert_int_equal(pthread_create(&fin, NULL, finalize_main, &frv), 0);
    /* Once C_Finalize has begun, new calls are refused; wait for that
     * (bounded), while the signature is still held on the chip. */
    {
        CK_INFO info;
        unsigned tries = 0;
        while (C_GetInfo(&info) == CKR_OK && tries++ < 30000)
            usleep(1000);
        if (tries >= 30000) {
            p11_emu_gate_release(f->emu);
            fail_msg("C_Finalize never started");
        }
    }
    p11_emu_gate_release(f->emu);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(pthread_join(fin, NULL), 0);
    assert_int_equal(frv, CKR_OK);
    /* The signature started before C_Finalize and was allowed to finish. */
    assert_int_equal(c.rv, CKR_OK);
    assert_int_equal(C_Initialize(NULL), CKR_OK);   /* teardown finalizes */
}

/* ---------------- library threads ---------------- */

static unsigned thread_count(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void sign_with_device_key(void)
{
    CK_SESSION_HANDLE h = p11t_open_user_rw(USER_PIN);
    CK_OBJECT_HANDLE priv = find_one(h, CKO_PRIVATE_KEY, "device");
    CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY, "device");
    uint8_t digest[32], sig[64], xy[64];

    memset(digest, 0x5C, sizeof(digest));
    ec_point_of(h, pub, xy);
    sign_digest(h, priv, digest, sig);
    assert_true(p11_emu_p256_verify(xy, digest, sig));
    assert_int_equal(C_CloseSession(h), CKR_OK);
}

/* The tuned sign path drains its queue on a worker thread: the first
 * signature adds one thread to the process (this is what the next test's
 * assertion would catch). */
static void test_default_sign_path_runs_a_worker_thread(void **state)
{
    unsigned before;

    (void)state;
    p11t_init_token(SO_PIN, USER_PIN);
    before = thread_count();
    sign_with_device_key();
    assert_int_equal(thread_count(), before + 1);
}

static void test_cant_create_os_threads_signs_without_a_library_thread(void **state)
{
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK };
    unsigned before;

    (void)state;
    assert_int_equal(C_Finalize(NULL), CKR_OK);
    assert_int_equal(C_Initialize(&args), CKR_OK);
    p11t_init_token(SO_PIN, USER_PIN);
    before = thread_count();
    sign_with_device_key();
    sign_with_device_key();
    assert_int_equal(thread_count(), before);
}

/* CKR_DEVICE_REMOVED means removed: only "nothing answers" is; a bad
 * interface, an unopenable bus and transient faults are device errors,
 * and so is a chip execution error 0x0F (seen under load). */
static void test_driver_errors_map_to_spec_ckr(void **state)
{
    (void)state;
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_NO_DEVICE), CKR_DEVICE_REMOVED);
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_EXECUTION), CKR_DEVICE_ERROR);
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_INTERFACE), CKR_DEVICE_ERROR);
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_OPEN), CKR_DEVICE_ERROR);
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_BUS), CKR_DEVICE_ERROR);
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_CRC), CKR_DEVICE_ERROR);
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_TIMEOUT), CKR_DEVICE_ERROR);
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_BUS_LOCK), CKR_DEVICE_ERROR);
    assert_int_equal(p11_ckr_from_atecc(ATECC_E_SLOT_POLICY), CKR_FUNCTION_REJECTED);
    assert_int_equal(p11_ckr_from_atecc(ATECC_OK), CKR_OK);
}

#define T(name) cmocka_unit_test_setup_teardown(name, p11_emu_fixture_setup, p11_emu_fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_driver_errors_map_to_spec_ckr),
        T(test_token_info_carries_chip_serial_model_and_revision),
        T(test_device_key_signs_and_openssl_verifies),
        T(test_signature_corrupted_on_the_bus_is_retried_and_verifies),
        T(test_signature_corrupted_twice_is_a_device_error),
        T(test_without_verification_a_corrupted_signature_is_returned),
        T(test_keypair_fills_free_slots_and_destroy_frees_one),
        T(test_ecdh_derive_matches_openssl),
        T(test_random_comes_from_the_chip),
        T(test_pin_counters_flags_and_lockout_persist),
        T(test_threads_on_own_sessions_all_signatures_verify),
        T(test_close_session_while_its_signature_is_on_the_chip),
        T(test_finalize_waits_for_a_signature_on_the_chip),
        T(test_default_sign_path_runs_a_worker_thread),
        T(test_cant_create_os_threads_signs_without_a_library_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
