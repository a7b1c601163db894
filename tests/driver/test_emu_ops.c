/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every driver operation against the in-process emulator, over the
 * inproc transport with a virtual clock shared by driver and emulator
 * (timing and watchdog deterministic and instant).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "atecc608/crc.h"
#include "harness.h"

struct fixture {
    struct harness *h;
    struct atecc_device *dev;
};

static int setup_tng(void **state)
{
    static struct fixture fx;

    fx.h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    fx.dev = harness_open(fx.h, 0x35);
    *state = &fx;
    return 0;
}

static int setup_blank(void **state)
{
    static struct fixture fx;

    fx.h = harness_new(EMU_PROFILE_BLANK, 0);
    fx.dev = harness_open(fx.h, 0x60);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    atecc_close(fx->dev);
    harness_free(fx->h);
    return 0;
}

static void digest_of(unsigned n, uint8_t d[32])
{
    for (unsigned i = 0; i < 32; i++)
        d[i] = (uint8_t)(n * 31 + i * 7 + 1);
}

static void test_open_reads_model_and_leaves_chip_idle(void **state)
{
    struct fixture *fx = *state;
    uint8_t rev[4];

    assert_int_equal(atecc_model(fx->dev), ATECC_MODEL_608B);
    assert_int_equal(atecc_wake_state(fx->dev, NULL), ATECC_IDLE);
    assert_int_equal(atecc_info_revision(fx->dev, rev), ATECC_OK);
    assert_int_equal(rev[2], 0x60);
    assert_int_equal(rev[3], 0x03);
}

static void test_open_detects_608a_from_info_revision(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, ATECC_REVISION_608A);
    struct atecc_device *dev = harness_open(h, 0x35);

    (void)state;
    assert_int_equal(atecc_model(dev), ATECC_MODEL_608A);
    atecc_close(dev);
    harness_free(h);
}

static void test_wrong_address_reports_no_device(void **state)
{
    struct fixture *fx = *state;
    struct atecc_options o = harness_options(fx->h);
    struct atecc_device *dev = NULL;
    char detail[512] = "";

    assert_int_equal(atecc_open("inproc:@0x36", &o, &dev, detail, sizeof(detail)), ATECC_E_NO_DEVICE);
    assert_null(dev);
    assert_non_null(strstr(detail, "no ATECC608 answered at inproc:@0x36"));
}

static void test_serial_and_random(void **state)
{
    struct fixture *fx = *state;
    uint8_t sn[ATECC_SERIAL_SIZE];
    uint8_t a[32];
    uint8_t b[32];

    assert_int_equal(atecc_serial(fx->dev, sn), ATECC_OK);
    assert_int_equal(sn[0], 0x01);
    assert_int_equal(sn[1], 0x23);
    assert_int_equal(atecc_random(fx->dev, a), ATECC_OK);
    assert_int_equal(atecc_random(fx->dev, b), ATECC_OK);
    assert_memory_not_equal(a, b, 32);
}

static void test_config_zone_matches_trust_and_go_table(void **state)
{
    struct fixture *fx = *state;
    uint8_t cfg[ATECC_CONFIG_SIZE];
    static const uint16_t slot_cfg[16] = { 0x0085, 0x0082, 0x2085, 0x2085, 0x2085, 0x8F0F,
                                           0x0F8F, 0x8F8F, 0x0F0F, 0x0F8F, 0x8F0F, 0x8F0F,
                                           0x8F0F, 0x8F8F, 0x8F8F, 0x8F8F };

    assert_int_equal(atecc_read_config(fx->dev, cfg), ATECC_OK);
    assert_int_equal(cfg[ATECC_CFG_I2C_ADDRESS], 0x6A);
    assert_int_equal(cfg[ATECC_CFG_LOCK_CONFIG], 0x00);
    assert_int_equal(cfg[ATECC_CFG_LOCK_VALUE], 0x00);
    for (unsigned s = 0; s < 16; s++)
        assert_int_equal(cfg[20 + 2 * s] | cfg[21 + 2 * s] << 8, slot_cfg[s]);
}

static void test_chip_signature_verifies_with_openssl(void **state)
{
    struct fixture *fx = *state;
    uint8_t pub[64];
    uint8_t d[32];
    uint8_t sig[64];

    assert_int_equal(atecc_pubkey(fx->dev, 0, pub), ATECC_OK);
    for (unsigned i = 0; i < 5; i++) {
        digest_of(i, d);
        assert_int_equal(atecc_sign(fx->dev, 0, d, sig), ATECC_OK);
        assert_true(harness_p256_verify(pub, d, sig));
        d[0] ^= 1;
        assert_false(harness_p256_verify(pub, d, sig));
    }
}

static void test_genkey_makes_a_new_key_that_signs(void **state)
{
    struct fixture *fx = *state;
    uint8_t pub1[64];
    uint8_t pub2[64];
    uint8_t again[64];
    uint8_t d[32];
    uint8_t sig[64];

    assert_int_equal(atecc_genkey(fx->dev, 2, pub1), ATECC_OK);
    assert_int_equal(atecc_genkey(fx->dev, 2, pub2), ATECC_OK);
    assert_memory_not_equal(pub1, pub2, 64);
    assert_int_equal(atecc_pubkey(fx->dev, 2, again), ATECC_OK);
    assert_memory_equal(pub2, again, 64);
    digest_of(9, d);
    assert_int_equal(atecc_sign(fx->dev, 2, d, sig), ATECC_OK);
    assert_true(harness_p256_verify(pub2, d, sig));
}

static void test_verify_extern_on_chip_accepts_good_rejects_bad(void **state)
{
    struct fixture *fx = *state;
    uint8_t pub[64];
    uint8_t d[32];
    uint8_t sig[64];
    bool valid = false;

    assert_int_equal(atecc_pubkey(fx->dev, 0, pub), ATECC_OK);
    digest_of(3, d);
    assert_int_equal(atecc_sign(fx->dev, 0, d, sig), ATECC_OK);
    assert_int_equal(atecc_verify_extern(fx->dev, d, sig, pub, &valid), ATECC_OK);
    assert_true(valid);
    sig[10] ^= 0x40;
    assert_int_equal(atecc_verify_extern(fx->dev, d, sig, pub, &valid), ATECC_OK);
    assert_false(valid);
}

/* Peer key pair from OpenSSL; returns its X||Y and derives the shared X
 * with the chip's public key. */
static void openssl_ecdh(const uint8_t chip_pub[64], uint8_t peer_pub[64], uint8_t shared[32])
{
    EVP_PKEY *peer = EVP_EC_gen("prime256v1");
    EVP_PKEY *chip = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY_CTX *dctx = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    uint8_t point[65];
    size_t len = sizeof(point);

    assert_non_null(peer);
    assert_true(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len));
    assert_int_equal(len, 65);
    memcpy(peer_pub, point + 1, 64);
    point[0] = 0x04;
    memcpy(point + 1, chip_pub, 64);
    assert_true(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0));
    assert_true(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 65));
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    assert_true(EVP_PKEY_fromdata_init(pctx) > 0);
    assert_true(EVP_PKEY_fromdata(pctx, &chip, EVP_PKEY_PUBLIC_KEY, params) > 0);
    dctx = EVP_PKEY_CTX_new(peer, NULL);
    assert_true(EVP_PKEY_derive_init(dctx) > 0);
    assert_true(EVP_PKEY_derive_set_peer(dctx, chip) > 0);
    len = 32;
    assert_true(EVP_PKEY_derive(dctx, shared, &len) > 0);
    assert_int_equal(len, 32);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_free(chip);
    EVP_PKEY_free(peer);
}

static void test_ecdh_matches_openssl(void **state)
{
    struct fixture *fx = *state;
    uint8_t pub[64];
    uint8_t peer[64];
    uint8_t expect[32];
    uint8_t shared[32];

    assert_int_equal(atecc_pubkey(fx->dev, 0, pub), ATECC_OK);
    openssl_ecdh(pub, peer, expect);
    assert_int_equal(atecc_ecdh(fx->dev, 0, peer, shared), ATECC_OK);
    assert_memory_equal(shared, expect, 32);
}

static void test_ecdh_on_internal_sign_slot_is_policy(void **state)
{
    struct fixture *fx = *state;
    uint8_t pub[64];
    uint8_t peer[64];
    uint8_t expect[32];
    uint8_t shared[32];

    assert_int_equal(atecc_pubkey(fx->dev, 1, pub), ATECC_OK);
    openssl_ecdh(pub, peer, expect);
    assert_int_equal(atecc_ecdh(fx->dev, 1, peer, shared), ATECC_E_SLOT_POLICY);
}

static void test_sign_with_internal_only_slot_is_policy(void **state)
{
    struct fixture *fx = *state;
    uint8_t d[32] = { 0 };
    uint8_t sig[64];

    assert_int_equal(atecc_sign(fx->dev, 1, d, sig), ATECC_E_SLOT_POLICY);
    assert_non_null(strstr(atecc_error_detail(), "slot 1"));
}

static void test_read_of_secret_slot_is_not_readable(void **state)
{
    struct fixture *fx = *state;
    uint8_t buf[32];

    assert_int_equal(atecc_read(fx->dev, ATECC_ZONE_DATA, 0, 0, 0, buf, 32), ATECC_E_SLOT_NOT_READABLE);
    assert_non_null(strstr(atecc_error_detail(), "slot 0 is secret"));
    assert_int_equal(atecc_read(fx->dev, ATECC_ZONE_DATA, 6, 0, 0, buf, 32), ATECC_E_SLOT_NOT_READABLE);
}

static void test_read_and_write_clear_data_slot(void **state)
{
    struct fixture *fx = *state;
    uint8_t w[32];
    uint8_t r[32];

    for (unsigned i = 0; i < 32; i++)
        w[i] = (uint8_t)(0xA0 + i);
    assert_int_equal(atecc_write(fx->dev, ATECC_ZONE_DATA, 8, 2, 0, w, 32), ATECC_OK);
    assert_int_equal(atecc_read(fx->dev, ATECC_ZONE_DATA, 8, 2, 0, r, 32), ATECC_OK);
    assert_memory_equal(w, r, 32);
    assert_int_equal(atecc_write(fx->dev, ATECC_ZONE_DATA, 8, 12, 7, w, 4), ATECC_OK);
    assert_int_equal(atecc_read(fx->dev, ATECC_ZONE_DATA, 8, 12, 7, r, 4), ATECC_OK);
    assert_memory_equal(w, r, 4);
}

static void test_write_to_locked_config_zone_is_zone_locked(void **state)
{
    struct fixture *fx = *state;
    uint8_t w[4] = { 0, 0, 0, 0 };

    assert_int_equal(atecc_write(fx->dev, ATECC_ZONE_CONFIG, 0, 0, 5, w, 4), ATECC_E_ZONE_LOCKED);
}

static void test_write_to_private_key_slot_is_policy(void **state)
{
    struct fixture *fx = *state;
    uint8_t w[32] = { 0 };

    assert_int_equal(atecc_write(fx->dev, ATECC_ZONE_DATA, 0, 0, 0, w, 32), ATECC_E_SLOT_POLICY);
}

static void test_lock_of_locked_zones_is_zone_locked(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(atecc_lock_config(fx->dev, NULL), ATECC_E_ZONE_LOCKED);
    assert_int_equal(atecc_lock_data(fx->dev, NULL), ATECC_E_ZONE_LOCKED);
}

static void test_slot_lock_then_genkey_is_slot_locked(void **state)
{
    struct fixture *fx = *state;
    uint8_t pub[64];
    uint8_t cfg[ATECC_CONFIG_SIZE];

    assert_int_equal(atecc_genkey(fx->dev, 4, pub), ATECC_OK);
    assert_int_equal(atecc_lock_slot(fx->dev, 4), ATECC_OK);
    assert_int_equal(atecc_read_config(fx->dev, cfg), ATECC_OK);
    assert_int_equal((cfg[88] | cfg[89] << 8) & (1u << 4), 0);
    assert_int_equal(atecc_genkey(fx->dev, 4, pub), ATECC_E_SLOT_LOCKED);
    assert_int_equal(atecc_lock_slot(fx->dev, 4), ATECC_E_SLOT_LOCKED);
    /* Slot 0 is not lockable (KeyConfig Lockable = 0). */
    assert_int_equal(atecc_lock_slot(fx->dev, 0), ATECC_E_SLOT_POLICY);
}

static void test_genkey_on_permanent_key_is_policy(void **state)
{
    struct fixture *fx = *state;
    uint8_t pub[64];

    assert_int_equal(atecc_genkey(fx->dev, 0, pub), ATECC_E_SLOT_POLICY);
}

static void test_selftest_passes(void **state)
{
    struct fixture *fx = *state;
    uint8_t result = 0xAA;

    assert_int_equal(atecc_selftest(fx->dev, ATECC_SELFTEST_ALL, &result), ATECC_OK);
    assert_int_equal(result, 0);
}

static void test_raw_execute_info_and_parse_error(void **state)
{
    struct fixture *fx = *state;
    uint8_t rsp[64];
    size_t len = 0;

    assert_int_equal(atecc_execute(fx->dev, ATECC_OP_INFO, 0, 0, NULL, 0, rsp, sizeof(rsp), &len), ATECC_OK);
    assert_int_equal(len, 4);
    assert_int_equal(rsp[2], 0x60);
    /* Read of zone 3 does not exist: the chip's parse error. */
    assert_int_equal(atecc_execute(fx->dev, ATECC_OP_READ, 3, 0, NULL, 0, rsp, sizeof(rsp), &len),
                     ATECC_E_PARSE);
}

static void test_nonce_then_raw_sign_in_same_wake_window(void **state)
{
    struct fixture *fx = *state;
    uint8_t pub[64];
    uint8_t d[32];
    uint8_t sig[64];
    size_t len = 0;

    assert_int_equal(atecc_pubkey(fx->dev, 0, pub), ATECC_OK);
    digest_of(11, d);
    assert_int_equal(atecc_nonce_passthrough(fx->dev, ATECC_NONCE_PASSTHROUGH, d), ATECC_OK);
    assert_int_equal(atecc_wake_state(fx->dev, NULL), ATECC_AWAKE);
    assert_int_equal(atecc_execute(fx->dev, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, sig,
                                   sizeof(sig), &len), ATECC_OK);
    assert_int_equal(len, 64);
    assert_true(harness_p256_verify(pub, d, sig));
    assert_int_equal(atecc_wake_state(fx->dev, NULL), ATECC_IDLE);
}

static void test_idle_and_sleep_track_wake_state(void **state)
{
    struct fixture *fx = *state;
    struct emu_stats es;
    uint8_t d[32] = { 0 };
    uint64_t awake = 0;

    assert_int_equal(atecc_nonce_passthrough(fx->dev, ATECC_NONCE_PASSTHROUGH, d), ATECC_OK);
    assert_int_equal(atecc_wake_state(fx->dev, &awake), ATECC_AWAKE);
    assert_true(awake > 0);
    assert_int_equal(atecc_idle(fx->dev), ATECC_OK);
    assert_int_equal(atecc_wake_state(fx->dev, NULL), ATECC_IDLE);
    assert_int_equal(atecc_sleep(fx->dev), ATECC_OK);
    assert_int_equal(atecc_wake_state(fx->dev, NULL), ATECC_ASLEEP);
    es = harness_emu_stats(fx->h);
    assert_true(es.sleeps >= 1);
    assert_int_equal(es.ignored_wakes, 0);
}

static void test_wake_is_not_sent_to_awake_chip(void **state)
{
    struct fixture *fx = *state;
    struct atecc_stats st;
    struct emu_stats es;
    uint8_t d[4][32];
    uint8_t sig[4][64];
    size_t done = 0;

    for (unsigned i = 0; i < 4; i++)
        digest_of(i, d[i]);
    assert_int_equal(atecc_sign_batch(fx->dev, 0, 4, (const uint8_t (*)[32])d, sig, &done), ATECC_OK);
    assert_int_equal(done, 4);
    atecc_stats_get(fx->dev, &st);
    es = harness_emu_stats(fx->h);
    assert_int_equal(es.ignored_wakes, 0);
    assert_int_equal(st.wake_pulses, es.wakes);
    /* open (1 window) + one window for four signatures */
    assert_int_equal(es.wakes, 2);
}

static void test_commands_longer_than_watchdog_still_succeed(void **state)
{
    struct fixture *fx = *state;
    enum { N = 40 };
    static uint8_t d[N][32];
    static uint8_t sig[N][64];
    uint8_t pub[64];
    struct atecc_stats st;
    struct emu_stats es;
    size_t done = 0;
    uint64_t t0 = fx->h->clock.now_us(fx->h);

    assert_int_equal(atecc_pubkey(fx->dev, 0, pub), ATECC_OK);
    for (unsigned i = 0; i < N; i++)
        digest_of(100 + i, d[i]);
    assert_int_equal(atecc_sign_batch(fx->dev, 0, N, (const uint8_t (*)[32])d, sig, &done), ATECC_OK);
    /* 40 signatures take far longer than the 0.7 s watchdog minimum. */
    assert_true(fx->h->clock.now_us(fx->h) - t0 > 2000000);
    for (unsigned i = 0; i < N; i++)
        assert_true(harness_p256_verify(pub, d[i], sig[i]));
    atecc_stats_get(fx->dev, &st);
    es = harness_emu_stats(fx->h);
    assert_true(st.watchdog_avoided >= 2);
    assert_int_equal(es.watchdog_expiries, 0);
    assert_int_equal(es.ignored_wakes, 0);
}

static void test_response_is_polled_after_typical_time_not_maximum(void **state)
{
    struct fixture *fx = *state;
    struct atecc_stats before;
    struct atecc_stats after;
    uint8_t d[32] = { 5 };
    uint8_t sig[64];
    uint64_t t0;
    uint64_t spent;

    atecc_stats_get(fx->dev, &before);
    t0 = fx->h->clock.now_us(fx->h);
    assert_int_equal(atecc_sign(fx->dev, 0, d, sig), ATECC_OK);
    spent = fx->h->clock.now_us(fx->h) - t0;
    atecc_stats_get(fx->dev, &after);
    /* Wake 1.5 ms + Nonce + Sign; maxima would be 20 + 115 ms. */
    assert_true(spent < 1500 + 20000 + 115000);
    assert_true(after.polls > before.polls);
}

static void test_blank_chip_write_lock_config_and_data(void **state)
{
    struct fixture *fx = *state;
    uint8_t cfg[ATECC_CONFIG_SIZE];
    uint8_t w[4] = { 0x11, 0x22, 0x33, 0x44 };
    uint8_t r[4];
    uint16_t crc;
    uint16_t wrong;

    assert_int_equal(atecc_read_config(fx->dev, cfg), ATECC_OK);
    assert_int_equal(cfg[ATECC_CFG_LOCK_CONFIG], ATECC_LOCK_STATE_UNLOCKED);
    /* Config bytes 92-95 (X509format) are writable before the lock. */
    assert_int_equal(atecc_write(fx->dev, ATECC_ZONE_CONFIG, 0, 2, 7, w, 4), ATECC_OK);
    assert_int_equal(atecc_read(fx->dev, ATECC_ZONE_CONFIG, 0, 2, 7, r, 4), ATECC_OK);
    assert_memory_equal(w, r, 4);
    /* Data and OTP need the config zone locked first. */
    assert_int_equal(atecc_lock_data(fx->dev, NULL), ATECC_E_ZONE_UNLOCKED);
    assert_int_equal(atecc_read_config(fx->dev, cfg), ATECC_OK);
    crc = atecc_crc16(cfg, sizeof(cfg));
    wrong = (uint16_t)(crc ^ 1);
    assert_int_equal(atecc_lock_config(fx->dev, &wrong), ATECC_E_EXECUTION);
    assert_int_equal(atecc_lock_config(fx->dev, &crc), ATECC_OK);
    assert_int_equal(atecc_write(fx->dev, ATECC_ZONE_CONFIG, 0, 2, 7, w, 4), ATECC_E_ZONE_LOCKED);
    assert_int_equal(atecc_lock_config(fx->dev, NULL), ATECC_E_ZONE_LOCKED);
    assert_int_equal(atecc_lock_data(fx->dev, NULL), ATECC_OK);
    assert_int_equal(atecc_lock_data(fx->dev, NULL), ATECC_E_ZONE_LOCKED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_reads_model_and_leaves_chip_idle, setup_tng, teardown),
        cmocka_unit_test(test_open_detects_608a_from_info_revision),
        cmocka_unit_test_setup_teardown(test_wrong_address_reports_no_device, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_serial_and_random, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_config_zone_matches_trust_and_go_table, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_chip_signature_verifies_with_openssl, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_genkey_makes_a_new_key_that_signs, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_verify_extern_on_chip_accepts_good_rejects_bad, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_ecdh_matches_openssl, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_ecdh_on_internal_sign_slot_is_policy, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_sign_with_internal_only_slot_is_policy, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_read_of_secret_slot_is_not_readable, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_read_and_write_clear_data_slot, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_write_to_locked_config_zone_is_zone_locked, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_write_to_private_key_slot_is_policy, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_lock_of_locked_zones_is_zone_locked, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_slot_lock_then_genkey_is_slot_locked, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_genkey_on_permanent_key_is_policy, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_selftest_passes, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_raw_execute_info_and_parse_error, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_then_raw_sign_in_same_wake_window, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_idle_and_sleep_track_wake_state, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_wake_is_not_sent_to_awake_chip, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_commands_longer_than_watchdog_still_succeed, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_response_is_polled_after_typical_time_not_maximum, setup_tng, teardown),
        cmocka_unit_test_setup_teardown(test_blank_chip_write_lock_config_and_data, setup_blank, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
