/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator zones: Read/Write addressing, secret slots, lock bits and their
 * effect, Lock with CRC, slot lock, and a full provisioning run on the
 * blank profile.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "atecc608/crc.h"
#include "emu_test_util.h"

static const uint8_t digest[32] = { 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                    13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28 };

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

static uint16_t data_addr(unsigned slot, unsigned block, unsigned word)
{
    return (uint16_t)(slot << 3 | block << 8 | word);
}

static void test_config_read_shows_tng_serial_address_and_locks(void **state)
{
    uint8_t config[128];

    t_read_config(*state, config);
    assert_int_equal(config[0], 0x01);
    assert_int_equal(config[1], 0x23);
    assert_int_equal(config[ATECC_CFG_I2C_ADDRESS], 0x6A);
    assert_int_equal(config[ATECC_CFG_CHIP_MODE], 0x01);
    assert_int_equal(config[ATECC_CFG_LOCK_VALUE], 0x00);
    assert_int_equal(config[ATECC_CFG_LOCK_CONFIG], 0x00);
    assert_int_equal(config[ATECC_CFG_SLOT_LOCKED], 0xFF);
    assert_int_equal(config[ATECC_CFG_SLOT_LOCKED + 1], 0xFF);
    assert_int_equal(config[ATECC_CFG_CHIP_OPTIONS], 0x0E);
    assert_int_equal(config[ATECC_CFG_CHIP_OPTIONS + 1], 0x60);
    /* Slot 0 SlotConfig 0x0085, KeyConfig 0x0053; slot 2 0x2085 / 0x0073. */
    assert_int_equal(config[20], 0x85);
    assert_int_equal(config[21], 0x00);
    assert_int_equal(config[24], 0x85);
    assert_int_equal(config[25], 0x20);
    assert_int_equal(config[96], 0x53);
    assert_int_equal(config[100], 0x73);
}

static void test_config_read_of_4_bytes_uses_block_and_word(void **state)
{
    uint8_t word[4];

    /* Byte 88 = block 2, word 6: SlotLocked, LE 0xFFFF, ChipOptions 0x600E. */
    t_output(*state, ATECC_OP_READ, ATECC_ZONE_CONFIG, (2 << 3) | 6, NULL, 0, word, 4);
    assert_int_equal(word[0], 0xFF);
    assert_int_equal(word[1], 0xFF);
    assert_int_equal(word[2], 0x0E);
    assert_int_equal(word[3], 0x60);
}

static void test_private_key_slot_read_fails_with_execution_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_READ, ATECC_ZONE_DATA, data_addr(0, 0, 0), NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_READ, ATECC_ZONE_DATA | ATECC_ZONE_READWRITE_32,
                              data_addr(1, 0, 0), NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_secret_data_slot_read_fails_with_execution_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_READ, ATECC_ZONE_DATA, data_addr(6, 0, 0), NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_clear_slot_8_write_then_read_back(void **state)
{
    uint8_t block[32];
    uint8_t back[32];

    for (unsigned i = 0; i < 32; i++)
        block[i] = (uint8_t)(0xC0 + i);
    assert_int_equal(t_status(*state, ATECC_OP_WRITE, ATECC_ZONE_DATA | ATECC_ZONE_READWRITE_32,
                              data_addr(8, 12, 0), block, 32),
                     ATECC_STATUS_SUCCESS);
    t_output(*state, ATECC_OP_READ, ATECC_ZONE_DATA | ATECC_ZONE_READWRITE_32, data_addr(8, 12, 0), NULL, 0,
             back, 32);
    assert_memory_equal(block, back, 32);
    t_output(*state, ATECC_OP_READ, ATECC_ZONE_DATA, data_addr(8, 12, 7), NULL, 0, back, 4);
    assert_memory_equal(block + 28, back, 4);
}

static void test_read_past_the_end_of_a_slot_is_parse_error(void **state)
{
    /* Slot 8 is 416 bytes: block 13 starts at 416. Slot 0 is 36 bytes. */
    assert_int_equal(t_status(*state, ATECC_OP_READ, ATECC_ZONE_DATA, data_addr(8, 13, 0), NULL, 0),
                     ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_READ, ATECC_ZONE_DATA | ATECC_ZONE_READWRITE_32,
                              data_addr(5, 1, 0), NULL, 0),
                     ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_READ, ATECC_ZONE_CONFIG, 4 << 3, NULL, 0),
                     ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_READ, 0x03, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
}

static void test_write_to_locked_config_zone_fails_with_execution_error(void **state)
{
    const uint8_t word[4] = { 0x6A, 0x00, 0x00, 0x01 };

    assert_int_equal(t_write_config_word(*state, 16, word), ATECC_STATUS_EXECUTION_ERROR);
}

static void test_write_to_never_writable_slot_after_data_lock_fails(void **state)
{
    uint8_t word[4] = { 1, 2, 3, 4 };

    /* Slot 10: WriteConfig 8 (never). */
    assert_int_equal(t_status(*state, ATECC_OP_WRITE, ATECC_ZONE_DATA, data_addr(10, 0, 0), word, 4),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_write_to_private_key_slot_fails(void **state)
{
    uint8_t block[32] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_WRITE, ATECC_ZONE_DATA | ATECC_ZONE_READWRITE_32,
                              data_addr(2, 0, 0), block, 32),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_encrypted_write_fails_with_execution_error(void **state)
{
    uint8_t data[64] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_WRITE,
                              ATECC_ZONE_DATA | ATECC_ZONE_READWRITE_32 | ATECC_WRITE_ENCRYPTED,
                              data_addr(8, 0, 0), data, 64),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_write_with_wrong_length_is_parse_error(void **state)
{
    uint8_t data[32] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_WRITE, ATECC_ZONE_DATA, data_addr(8, 0, 0), data, 32),
                     ATECC_STATUS_PARSE_ERROR);
}

static void test_blank_config_bytes_16_to_127_are_writable(void **state)
{
    const uint8_t word[4] = { 0x11, 0x22, 0x33, 0x44 };
    uint8_t back[4];

    assert_int_equal(t_write_config_word(*state, 20, word), ATECC_STATUS_SUCCESS);
    t_output(*state, ATECC_OP_READ, ATECC_ZONE_CONFIG, 5, NULL, 0, back, 4);
    assert_memory_equal(word, back, 4);
}

static void test_blank_config_bytes_0_to_15_and_84_to_87_are_not_writable(void **state)
{
    const uint8_t word[4] = { 0 };
    uint8_t block[32] = { 0 };

    assert_int_equal(t_write_config_word(*state, 0, word), ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_write_config_word(*state, 12, word), ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_write_config_word(*state, 84, word), ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_WRITE, ATECC_ZONE_CONFIG | ATECC_ZONE_READWRITE_32, 2 << 3,
                              block, 32),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_blank_data_read_before_data_lock_fails(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_READ, ATECC_ZONE_DATA, data_addr(8, 0, 0), NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_READ, ATECC_ZONE_OTP, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_blank_data_write_before_config_lock_fails(void **state)
{
    uint8_t word[4] = { 0 };

    assert_int_equal(t_status(*state, ATECC_OP_WRITE, ATECC_ZONE_DATA, data_addr(8, 0, 0), word, 4),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_lock_config_with_wrong_crc_fails_and_leaves_zone_unlocked(void **state)
{
    uint8_t config[128];
    uint16_t crc;

    t_read_config(*state, config);
    crc = atecc_crc16(config, sizeof(config));
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_CONFIG, (uint16_t)(crc ^ 1), NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    t_read_config(*state, config);
    assert_int_equal(config[ATECC_CFG_LOCK_CONFIG], ATECC_LOCK_STATE_UNLOCKED);
}

static void test_lock_config_with_right_crc_locks_and_blocks_writes(void **state)
{
    uint8_t config[128];
    const uint8_t word[4] = { 0 };

    t_read_config(*state, config);
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_CONFIG, atecc_crc16(config, 128), NULL, 0),
                     ATECC_STATUS_SUCCESS);
    t_read_config(*state, config);
    assert_int_equal(config[ATECC_CFG_LOCK_CONFIG], ATECC_LOCK_STATE_LOCKED);
    assert_int_equal(t_write_config_word(*state, 20, word), ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_CONFIG | ATECC_LOCK_NO_CRC, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_lock_data_before_config_lock_fails(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_DATA | ATECC_LOCK_NO_CRC, 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_lock_data_checks_crc_of_data_then_otp(void **state)
{
    static uint8_t zones[1208 + 64]; /* blank: all zero */
    uint16_t crc = atecc_crc16(zones, sizeof(zones));

    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_CONFIG | ATECC_LOCK_NO_CRC, 0, NULL, 0),
                     ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_DATA, (uint16_t)(crc + 1), NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_DATA, crc, NULL, 0), ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_DATA, crc, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_lock_with_bit6_or_mode3_is_parse_error(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, 0x40, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, 0x03, 0, NULL, 0), ATECC_STATUS_PARSE_ERROR);
}

static void test_slot_lock_clears_slotlocked_bit_and_refuses_genkey(void **state)
{
    uint8_t word[4];

    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_SLOT | (2 << 2), 0, NULL, 0),
                     ATECC_STATUS_SUCCESS);
    t_output(*state, ATECC_OP_READ, ATECC_ZONE_CONFIG, (2 << 3) | 6, NULL, 0, word, 4);
    assert_int_equal(word[0], 0xFB);
    assert_int_equal(word[1], 0xFF);
    assert_int_equal(t_status(*state, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, 2, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_SLOT | (2 << 2), 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_slot_lock_refused_when_keyconfig_not_lockable(void **state)
{
    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_SLOT | (0 << 2), 0, NULL, 0),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void test_slot_locked_data_slot_refuses_write(void **state)
{
    uint8_t word[4] = { 9, 9, 9, 9 };

    assert_int_equal(t_status(*state, ATECC_OP_LOCK, ATECC_LOCK_SLOT | (8 << 2), 0, NULL, 0),
                     ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(*state, ATECC_OP_WRITE, ATECC_ZONE_DATA, data_addr(8, 0, 0), word, 4),
                     ATECC_STATUS_EXECUTION_ERROR);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFF);
    p[1] = (uint8_t)(v >> 8);
}

/* Blank chip: configure key slot 0 and public-key slot 9, lock, GenKey,
 * store the public key, lock data, sign, verify with the stored key. */
static void test_blank_provisioning_flow_ends_in_stored_key_verify(void **state)
{
    struct t_chip *t = *state;
    uint8_t config[128];
    uint8_t pub[64];
    uint8_t slot9[72] = { 0 };
    uint8_t sig[64];
    uint8_t word[4];

    t_read_config(t, config);
    put16(word, 0x2085);          /* slot 0 SlotConfig */
    put16(word + 2, 0x0000);      /* slot 1 SlotConfig */
    assert_int_equal(t_write_config_word(t, 20, word), ATECC_STATUS_SUCCESS);
    put16(word, 0x0053);          /* slot 0 KeyConfig: P-256 private, PubInfo */
    put16(word + 2, 0x001C);
    assert_int_equal(t_write_config_word(t, 96, word), ATECC_STATUS_SUCCESS);
    put16(word, 0x001C);          /* slot 8 KeyConfig data, slot 9 P-256 public */
    put16(word + 2, 0x0010);
    assert_int_equal(t_write_config_word(t, 112, word), ATECC_STATUS_SUCCESS);
    t_read_config(t, config);
    assert_int_equal(t_status(t, ATECC_OP_LOCK, ATECC_LOCK_CONFIG, atecc_crc16(config, 128), NULL, 0),
                     ATECC_STATUS_SUCCESS);

    t_genkey(t, 0, pub);
    memcpy(slot9 + 4, pub, 32);
    memcpy(slot9 + 40, pub + 32, 32);
    assert_int_equal(t_status(t, ATECC_OP_WRITE, ATECC_ZONE_DATA | ATECC_ZONE_READWRITE_32, data_addr(9, 0, 0),
                              slot9, 32),
                     ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(t, ATECC_OP_WRITE, ATECC_ZONE_DATA | ATECC_ZONE_READWRITE_32, data_addr(9, 1, 0),
                              slot9 + 32, 32),
                     ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(t, ATECC_OP_WRITE, ATECC_ZONE_DATA, data_addr(9, 2, 0), slot9 + 64, 4),
                     ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(t, ATECC_OP_WRITE, ATECC_ZONE_DATA, data_addr(9, 2, 1), slot9 + 68, 4),
                     ATECC_STATUS_SUCCESS);
    assert_int_equal(t_status(t, ATECC_OP_LOCK, ATECC_LOCK_DATA | ATECC_LOCK_NO_CRC, 0, NULL, 0),
                     ATECC_STATUS_SUCCESS);

    t_nonce_passthrough(t, ATECC_NONCE_PASSTHROUGH, digest, 32);
    t_output(t, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, sig, 64);
    t_nonce_passthrough(t, ATECC_NONCE_PASSTHROUGH, digest, 32);
    assert_int_equal(t_status(t, ATECC_OP_VERIFY, ATECC_VERIFY_STORED, 9, sig, 64), ATECC_STATUS_SUCCESS);
    sig[0] ^= 0x80;
    assert_int_equal(t_status(t, ATECC_OP_VERIFY, ATECC_VERIFY_STORED, 9, sig, 64), ATECC_STATUS_MISCOMPARE);
    /* Slot 0 is a private key: not a stored public key. */
    assert_int_equal(t_status(t, ATECC_OP_VERIFY, ATECC_VERIFY_STORED, 0, sig, 64),
                     ATECC_STATUS_EXECUTION_ERROR);
    /* After data lock, slot 0 (WriteConfig bit 13) may still renew its key. */
    t_genkey(t, 0, pub);
}

#define TNG(name) cmocka_unit_test_setup_teardown(name, setup_tng, teardown)
#define BLANK(name) cmocka_unit_test_setup_teardown(name, setup_blank, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TNG(test_config_read_shows_tng_serial_address_and_locks),
        TNG(test_config_read_of_4_bytes_uses_block_and_word),
        TNG(test_private_key_slot_read_fails_with_execution_error),
        TNG(test_secret_data_slot_read_fails_with_execution_error),
        TNG(test_clear_slot_8_write_then_read_back),
        TNG(test_read_past_the_end_of_a_slot_is_parse_error),
        TNG(test_write_to_locked_config_zone_fails_with_execution_error),
        TNG(test_write_to_never_writable_slot_after_data_lock_fails),
        TNG(test_write_to_private_key_slot_fails),
        TNG(test_encrypted_write_fails_with_execution_error),
        TNG(test_write_with_wrong_length_is_parse_error),
        BLANK(test_blank_config_bytes_16_to_127_are_writable),
        BLANK(test_blank_config_bytes_0_to_15_and_84_to_87_are_not_writable),
        BLANK(test_blank_data_read_before_data_lock_fails),
        BLANK(test_blank_data_write_before_config_lock_fails),
        BLANK(test_lock_config_with_wrong_crc_fails_and_leaves_zone_unlocked),
        BLANK(test_lock_config_with_right_crc_locks_and_blocks_writes),
        BLANK(test_lock_data_before_config_lock_fails),
        BLANK(test_lock_data_checks_crc_of_data_then_otp),
        BLANK(test_lock_with_bit6_or_mode3_is_parse_error),
        TNG(test_slot_lock_clears_slotlocked_bit_and_refuses_genkey),
        TNG(test_slot_lock_refused_when_keyconfig_not_lockable),
        TNG(test_slot_locked_data_slot_refuses_write),
        BLANK(test_blank_provisioning_flow_ends_in_stored_key_verify),
    };

    return cmocka_run_group_tests_name("emu_zones", tests, NULL, NULL);
}
