/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator commands: each command's success and error paths through the
 * chip's byte protocol, on the Trust&GO profile unless a test says blank.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "emu_test_util.h"

static const uint8_t digest[32] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB,
                                    0xCC, 0xDD, 0xEE, 0xFF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                    0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10 };

static int setup_tng(void **state)
{
    static struct t_chip t;

    t_open_profile(&t, EMU_PROFILE_TRUSTANDGO);
    assert_true(t_wake(&t));
    *state = &t;
    return 0;
}

static int setup_blank(void **state)
{
    static struct t_chip t;

    t_open_profile(&t, EMU_PROFILE_BLANK);
    assert_true(t_wake(&t));
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    t_close(*state);
    return 0;
}

/* Info */

static void test_info_revision_returns_00_00_60_03_by_default(void **state)
{
    uint8_t out[4];
    static const uint8_t expected[4] = { 0x00, 0x00, 0x60, 0x03 };

    t_output(*state, ATECC_OP_INFO, ATECC_INFO_REVISION, 0, NULL, 0, out, 4);
    assert_memory_equal(out, expected, 4);
}

static void test_info_revision_follows_the_revision_option(void **state)
{
    struct t_chip t;
    struct t_open_args args = { .profile = EMU_PROFILE_TRUSTANDGO, .revision = ATECC_REVISION_608A };
    uint8_t out[4];

    (void)state;
    t_open(&t, &args);
    assert_true(t_wake(&t));
    t_output(&t, ATECC_OP_INFO, ATECC_INFO_REVISION, 0, NULL, 0, out, 4);
    assert_int_equal(out[3], 0x02);
    t_close(&t);
}

static void test_info_unmodelled_mode_is_parse_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_INFO, 0x02, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
}

static void test_unknown_opcode_is_parse_error(void **state)
{
    assert_int_equal(t_status(*state, 0x99, 0, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
}

/* Random */

static void test_random_returns_32_fresh_bytes_after_config_lock(void **state)
{
    uint8_t a[32];
    uint8_t b[32];

    t_output(*state, ATECC_OP_RANDOM, 0, 0, NULL, 0, a, 32);
    t_output(*state, ATECC_OP_RANDOM, 0, 0, NULL, 0, b, 32);
    assert_memory_not_equal(a, b, 32);
}

static void test_random_returns_ff_ff_00_00_pattern_before_config_lock(void **state)
{
    uint8_t out[32];

    t_output(*state, ATECC_OP_RANDOM, 0, 0, NULL, 0, out, 32);
    for (unsigned i = 0; i < 32; i += 4) {
        assert_int_equal(out[i], 0xFF);
        assert_int_equal(out[i + 1], 0xFF);
        assert_int_equal(out[i + 2], 0x00);
        assert_int_equal(out[i + 3], 0x00);
    }
}

static void test_random_with_bad_mode_is_parse_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_RANDOM, 0x02, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
}

/* Nonce */

static void test_nonce_passthrough_modes_accept_their_lengths(void **state)
{
    uint8_t msg64[64] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x03, 0, msg64, 32), ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x43, 0, msg64, 32), ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x83, 0, msg64, 32), ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x23, 0, msg64, 64), ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x63, 0, msg64, 64), ATECC_STATUS_SUCCESS);
}

static void test_nonce_passthrough_with_wrong_length_is_parse_error(void **state)
{
    uint8_t msg64[64] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x03, 0, msg64, 64), ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x23, 0, msg64, 32), ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x03, 1, msg64, 32), ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0xC3, 0, msg64, 32), ATECC_STATUS_PARSE_ERROR);
}

static void test_nonce_random_sets_tempkey_to_sha256_of_randout_numin_and_params(void **state)
{
    struct t_chip *t = *state;
    uint8_t num_in[20];
    uint8_t rand_out[32];
    uint8_t msg[55];
    uint8_t tempkey[32];
    uint8_t pub[64];
    uint8_t sig[64];

    memset(num_in, 0x5C, sizeof(num_in));
    t_output(t, ATECC_OP_NONCE, 0x00, 0, num_in, 20, rand_out, 32);
    memcpy(msg, rand_out, 32);
    memcpy(msg + 32, num_in, 20);
    msg[52] = ATECC_OP_NONCE;
    msg[53] = 0x00;
    msg[54] = 0x00;
    t_sha256(msg, sizeof(msg), tempkey);
    t_output(t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, sig, 64);
    t_pubkey(t, 0, pub);
    assert_true(t_openssl_verify(pub, tempkey, sig));
}

static void test_nonce_random_needs_20_bytes(void **state)
{
    uint8_t num_in[32] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_NONCE, 0x01, 0, num_in, 32), ATECC_STATUS_PARSE_ERROR);
}

/* GenKey */

static void test_genkey_creates_key_in_renewable_slot_and_reports_it(void **state)
{
    uint8_t created[64];
    uint8_t reported[64];

    t_genkey(*state, 2, created);
    t_pubkey(*state, 2, reported);
    assert_memory_equal(created, reported, 64);
}

static void test_genkey_public_of_empty_slot_is_execution_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_GENKEY, ATECC_GENKEY_PUBLIC, 3, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_genkey_create_refused_without_writeconfig_bit13(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_genkey_create_refused_on_data_slot(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, 8, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_genkey_digest_modes_and_bad_slot_are_parse_errors(void **state)
{
    uint8_t other[3] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_GENKEY, ATECC_GENKEY_PUBKEY_DIGEST, 11, other, 3),
                     ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, 16, NULL, 0),
                     ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, 0xFFFF, NULL, 0),
                     ATECC_STATUS_PARSE_ERROR);
}

static void test_genkey_before_config_lock_is_execution_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

/* Sign */

static void test_sign_external_tempkey_verifies_with_openssl(void **state)
{
    uint8_t pub[64];
    uint8_t sig[64];

    t_pubkey(*state, 0, pub);
    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH, digest, 32);
    t_output(*state, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, sig, 64);
    assert_true(t_openssl_verify(pub, digest, sig));
}

static void test_sign_external_msgdigest_with_new_key_verifies_with_openssl(void **state)
{
    uint8_t pub[64];
    uint8_t sig[64];

    t_genkey(*state, 4, pub);
    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH_MSGDIG, digest, 32);
    t_output(*state, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL_MSGDIG, 4, NULL, 0, sig, 64);
    assert_true(t_openssl_verify(pub, digest, sig));
}

static void test_sign_without_message_is_execution_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_sign_invalidates_the_buffer_it_used(void **state)
{
    uint8_t sig[64];

    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH_MSGDIG, digest, 32);
    t_output(*state, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL_MSGDIG, 0, NULL, 0, sig, 64);
    assert_int_equal(t_status(*state, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL_MSGDIG, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_sign_external_refused_without_readkey_bit0(void **state)
{
    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH, digest, 32);
    assert_int_equal(t_status(*state, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 1, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_sign_with_empty_key_slot_is_execution_error(void **state)
{
    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH, digest, 32);
    assert_int_equal(t_status(*state, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 3, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_sign_internal_is_execution_error_and_bad_mode_parse_error(void **state)
{
    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH, digest, 32);
    assert_int_equal(t_status(*state, ATECC_OP_SIGN, ATECC_SIGN_INTERNAL, 1, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_SIGN, 0x81, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
}

/* Verify */

static void test_verify_external_accepts_chip_signature_and_rejects_tampered(void **state)
{
    uint8_t data[128];

    t_pubkey(*state, 0, data + 64);
    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH, digest, 32);
    t_output(*state, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, data, 64);
    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH_MSGDIG, digest, 32);
    assert_int_equal(t_status(*state, ATECC_OP_VERIFY, ATECC_VERIFY_EXTERNAL | ATECC_VERIFY_MSGDIG,
                              ATECC_VERIFY_KEY_P256, data, 128),
                     ATECC_STATUS_SUCCESS);
    data[10] ^= 0x01;
    assert_int_equal(t_status(*state, ATECC_OP_VERIFY, ATECC_VERIFY_EXTERNAL | ATECC_VERIFY_MSGDIG,
                              ATECC_VERIFY_KEY_P256, data, 128),
                     ATECC_STATUS_MISCOMPARE);
}

static void test_verify_external_with_wrong_param2_or_length_is_parse_error(void **state)
{
    uint8_t data[128] = { 0 };

    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH, digest, 32);
    assert_int_equal(t_status(*state, ATECC_OP_VERIFY, ATECC_VERIFY_EXTERNAL, 0x0000, data, 128),
                     ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_VERIFY, ATECC_VERIFY_EXTERNAL, ATECC_VERIFY_KEY_P256, data, 64),
                     ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_VERIFY, 0x82, ATECC_VERIFY_KEY_P256, data, 128),
                     ATECC_STATUS_PARSE_ERROR);
}

static void test_verify_external_without_message_is_execution_error(void **state)
{
    uint8_t data[128];

    t_pubkey(*state, 0, data + 64);
    memset(data, 0x01, 64);
    assert_int_equal(t_status(*state, ATECC_OP_VERIFY, ATECC_VERIFY_EXTERNAL, ATECC_VERIFY_KEY_P256, data, 128),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_verify_external_with_key_off_the_curve_is_execution_error(void **state)
{
    uint8_t data[128];

    memset(data, 0x01, sizeof(data));
    t_nonce_passthrough(*state, ATECC_NONCE_PASSTHROUGH, digest, 32);
    assert_int_equal(t_status(*state, ATECC_OP_VERIFY, ATECC_VERIFY_EXTERNAL, ATECC_VERIFY_KEY_P256, data, 128),
                     ATECC_STATUS_EXECUTION_ERROR);
}

/* ECDH */

static void test_ecdh_clear_output_matches_openssl_shared_secret(void **state)
{
    uint8_t chip_pub[64];
    uint8_t peer_pub[64];
    uint8_t expected[32];
    uint8_t shared[32];

    t_pubkey(*state, 0, chip_pub);
    t_openssl_ecdh_peer(chip_pub, peer_pub, expected);
    t_output(*state, ATECC_OP_ECDH, ATECC_ECDH_OUTPUT_CLEAR, 0, peer_pub, 64, shared, 32);
    assert_memory_equal(shared, expected, 32);
}

static void test_ecdh_legacy_mode_outputs_in_clear_when_readkey_bit3_clear(void **state)
{
    uint8_t chip_pub[64];
    uint8_t peer_pub[64];
    uint8_t expected[32];
    uint8_t shared[32];

    t_pubkey(*state, 0, chip_pub);
    t_openssl_ecdh_peer(chip_pub, peer_pub, expected);
    t_output(*state, ATECC_OP_ECDH, ATECC_ECDH_SLOT_LEGACY, 0, peer_pub, 64, shared, 32);
    assert_memory_equal(shared, expected, 32);
}

static void test_ecdh_to_tempkey_returns_status_only(void **state)
{
    uint8_t chip_pub[64];
    uint8_t peer_pub[64];
    uint8_t expected[32];

    t_pubkey(*state, 0, chip_pub);
    t_openssl_ecdh_peer(chip_pub, peer_pub, expected);
    assert_int_equal(t_status(*state, ATECC_OP_ECDH, ATECC_ECDH_TO_TEMPKEY, 0, peer_pub, 64),
                     ATECC_STATUS_SUCCESS);
}

static void test_ecdh_refused_without_readkey_bit2(void **state)
{
    uint8_t chip_pub[64];
    uint8_t peer_pub[64];
    uint8_t expected[32];

    t_pubkey(*state, 0, chip_pub);
    t_openssl_ecdh_peer(chip_pub, peer_pub, expected);
    assert_int_equal(t_status(*state, ATECC_OP_ECDH, ATECC_ECDH_OUTPUT_CLEAR, 1, peer_pub, 64),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_ecdh_with_peer_off_the_curve_is_execution_error(void **state)
{
    uint8_t peer[64];

    memset(peer, 0x01, sizeof(peer));
    assert_int_equal(t_status(*state, ATECC_OP_ECDH, ATECC_ECDH_OUTPUT_CLEAR, 0, peer, 64),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_ecdh_bad_length_or_encrypted_mode_is_parse_error(void **state)
{
    uint8_t peer[64] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_ECDH, ATECC_ECDH_OUTPUT_CLEAR, 0, peer, 32),
                     ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_ECDH, ATECC_ECDH_OUTPUT_ENCRYPTED, 0, peer, 64),
                     ATECC_STATUS_PARSE_ERROR);
}

/* SelfTest, UpdateExtra */

static void test_selftest_all_returns_result_zero(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_SELFTEST, ATECC_SELFTEST_ALL, 0, NULL, 0), 0x00);
    assert_int_equal(t_status(*state, ATECC_OP_SELFTEST, 0x01, 0, NULL, 0), 0x00);
}

static void test_selftest_with_unknown_mode_bits_is_parse_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_SELFTEST, 0x40, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_SELFTEST, 0x00, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
}

static void test_update_extra_writes_byte_84_once(void **state)
{
    uint8_t config[128];

    assert_int_equal(t_status(*state, ATECC_OP_UPDATEEXTRA, 0x00, 0x5A, NULL, 0), ATECC_STATUS_SUCCESS);
    t_read_config(*state, config);
    assert_int_equal(config[ATECC_CFG_USER_EXTRA], 0x5A);
    assert_int_equal(t_status(*state, ATECC_OP_UPDATEEXTRA, 0x00, 0x11, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_update_extra_before_config_lock_is_execution_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_UPDATEEXTRA, 0x01, 0x70, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_update_extra_address_takes_effect_after_sleep(void **state)
{
    struct t_chip *t = *state;

    /* TNG ChipMode bit 0 is set: UserExtraAdd (8-bit 0x70) becomes the
     * address from the next sleep on. */
    assert_int_equal(t_status(t, ATECC_OP_UPDATEEXTRA, 0x01, 0x70, NULL, 0), ATECC_STATUS_SUCCESS);
    assert_int_equal(emu_chip_address(t->chip), ATECC_ADDR_TRUSTANDGO);
    assert_int_equal(t_word(t, ATECC_WORD_SLEEP), EMU_BUS_ACK);
    assert_int_equal(emu_chip_address(t->chip), 0x38);
    t->addr = 0x38;
    assert_true(t_wake(t));
}

#define TNG(name) cmocka_unit_test_setup_teardown(name, setup_tng, teardown)
#define BLANK(name) cmocka_unit_test_setup_teardown(name, setup_blank, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TNG(test_info_revision_returns_00_00_60_03_by_default),
        cmocka_unit_test(test_info_revision_follows_the_revision_option),
        TNG(test_info_unmodelled_mode_is_parse_error),
        TNG(test_unknown_opcode_is_parse_error),
        TNG(test_random_returns_32_fresh_bytes_after_config_lock),
        BLANK(test_random_returns_ff_ff_00_00_pattern_before_config_lock),
        TNG(test_random_with_bad_mode_is_parse_error),
        TNG(test_nonce_passthrough_modes_accept_their_lengths),
        TNG(test_nonce_passthrough_with_wrong_length_is_parse_error),
        TNG(test_nonce_random_sets_tempkey_to_sha256_of_randout_numin_and_params),
        TNG(test_nonce_random_needs_20_bytes),
        TNG(test_genkey_creates_key_in_renewable_slot_and_reports_it),
        TNG(test_genkey_public_of_empty_slot_is_execution_error),
        TNG(test_genkey_create_refused_without_writeconfig_bit13),
        TNG(test_genkey_create_refused_on_data_slot),
        TNG(test_genkey_digest_modes_and_bad_slot_are_parse_errors),
        BLANK(test_genkey_before_config_lock_is_execution_error),
        TNG(test_sign_external_tempkey_verifies_with_openssl),
        TNG(test_sign_external_msgdigest_with_new_key_verifies_with_openssl),
        TNG(test_sign_without_message_is_execution_error),
        TNG(test_sign_invalidates_the_buffer_it_used),
        TNG(test_sign_external_refused_without_readkey_bit0),
        TNG(test_sign_with_empty_key_slot_is_execution_error),
        TNG(test_sign_internal_is_execution_error_and_bad_mode_parse_error),
        TNG(test_verify_external_accepts_chip_signature_and_rejects_tampered),
        TNG(test_verify_external_with_wrong_param2_or_length_is_parse_error),
        TNG(test_verify_external_without_message_is_execution_error),
        TNG(test_verify_external_with_key_off_the_curve_is_execution_error),
        TNG(test_ecdh_clear_output_matches_openssl_shared_secret),
        TNG(test_ecdh_legacy_mode_outputs_in_clear_when_readkey_bit3_clear),
        TNG(test_ecdh_to_tempkey_returns_status_only),
        TNG(test_ecdh_refused_without_readkey_bit2),
        TNG(test_ecdh_with_peer_off_the_curve_is_execution_error),
        TNG(test_ecdh_bad_length_or_encrypted_mode_is_parse_error),
        TNG(test_selftest_all_returns_result_zero),
        TNG(test_selftest_with_unknown_mode_bits_is_parse_error),
        TNG(test_update_extra_writes_byte_84_once),
        BLANK(test_update_extra_before_config_lock_is_execution_error),
        TNG(test_update_extra_address_takes_effect_after_sleep),
    };

    return cmocka_run_group_tests_name("emu_commands", tests, NULL, NULL);
}
