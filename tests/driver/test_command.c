/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command layer without a bus: CRC vectors, packet framing, response
 * parsing bounds, and the status-byte table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "atecc608/atecc608.h"
#include "atecc608/crc.h"
#include "command.h"

static void test_crc_vectors_from_facts_sheet(void **state)
{
    static const struct {
        uint8_t in[2];
        uint8_t crc[2];
    } v[] = { { { 0x04, 0x11 }, { 0x33, 0x43 } },
              { { 0x04, 0x00 }, { 0x03, 0x40 } },
              { { 0x04, 0x07 }, { 0x40, 0xC2 } } };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t out[2];

        atecc_crc16_put(v[i].in, 2, out);
        assert_memory_equal(out, v[i].crc, 2);
    }
}

static void test_crc_check_rejects_vendor_selftest_pattern(void **state)
{
    /* 04 07 C4 40 appears in a host library but fails the CRC. */
    static const uint8_t bad[4] = { 0x04, 0x07, 0xC4, 0x40 };
    static const uint8_t good[4] = { 0x04, 0x07, 0x40, 0xC2 };

    (void)state;
    assert_false(atecc_crc16_check(bad, 4));
    assert_true(atecc_crc16_check(good, 4));
}

static void test_build_packet_layout_and_crc(void **state)
{
    uint8_t pkt[ATECC_CMD_MAX];
    uint8_t data[3] = { 0xAA, 0xBB, 0xCC };
    size_t len = 0;

    (void)state;
    assert_int_equal(atecc_cmd_build(pkt, sizeof(pkt), ATECC_OP_READ, 0x82, 0x1234, data, 3, &len),
                     ATECC_OK);
    assert_int_equal(len, 10);
    assert_int_equal(pkt[0], 10);             /* count = 7 + data */
    assert_int_equal(pkt[1], ATECC_OP_READ);
    assert_int_equal(pkt[2], 0x82);
    assert_int_equal(pkt[3], 0x34);           /* param2 little-endian */
    assert_int_equal(pkt[4], 0x12);
    assert_memory_equal(pkt + 5, data, 3);
    assert_true(atecc_crc16_check(pkt, len));
}

static void test_build_info_packet_matches_known_bytes(void **state)
{
    uint8_t pkt[ATECC_CMD_MAX];
    uint8_t crc[2];
    size_t len = 0;

    (void)state;
    assert_int_equal(atecc_cmd_build(pkt, sizeof(pkt), ATECC_OP_INFO, 0, 0, NULL, 0, &len), ATECC_OK);
    assert_int_equal(len, 7);
    atecc_crc16_put(pkt, 5, crc);
    assert_memory_equal(pkt + 5, crc, 2);
}

static void test_build_rejects_oversized_data_and_small_buffer(void **state)
{
    uint8_t pkt[ATECC_CMD_MAX];
    uint8_t data[ATECC_CMD_DATA_MAX + 1] = { 0 };
    size_t len = 99;

    (void)state;
    assert_int_equal(atecc_cmd_build(pkt, sizeof(pkt), 1, 0, 0, data, sizeof(data), &len),
                     ATECC_E_ARGUMENT);
    assert_int_equal(len, 0);
    assert_int_equal(atecc_cmd_build(pkt, 8, 1, 0, 0, data, 2, &len), ATECC_E_ARGUMENT);
    assert_int_equal(atecc_cmd_build(pkt, sizeof(pkt), 1, 0, 0, NULL, 2, &len), ATECC_E_ARGUMENT);
    /* Verify external is the largest command: 128 data bytes fit. */
    assert_int_equal(atecc_cmd_build(pkt, sizeof(pkt), ATECC_OP_VERIFY, 2, 4, data, 128, &len),
                     ATECC_OK);
    assert_int_equal(len, 135);
}

static size_t make_rsp(uint8_t *buf, const uint8_t *data, size_t n)
{
    buf[0] = (uint8_t)(n + 3);
    memcpy(buf + 1, data, n);
    atecc_crc16_put(buf, n + 1, buf + n + 1);
    return n + 3;
}

static void test_parse_status_and_data_responses(void **state)
{
    uint8_t buf[ATECC_RSP_MAX];
    uint8_t out32[32];
    const uint8_t *data = NULL;
    size_t dlen = 0;
    bool is_status = false;
    uint8_t status = 0xAA;
    uint8_t st = ATECC_STATUS_EXECUTION_ERROR;
    size_t n;

    (void)state;
    n = make_rsp(buf, &st, 1);
    assert_int_equal(atecc_rsp_parse(buf, n, &data, &dlen, &is_status, &status), ATECC_OK);
    assert_true(is_status);
    assert_int_equal(status, 0x0F);
    memset(out32, 0x5A, sizeof(out32));
    n = make_rsp(buf, out32, 32);
    assert_int_equal(atecc_rsp_parse(buf, n, &data, &dlen, &is_status, &status), ATECC_OK);
    assert_false(is_status);
    assert_int_equal(dlen, 32);
    assert_memory_equal(data, out32, 32);
}

static void test_parse_rejects_bad_counts(void **state)
{
    uint8_t buf[ATECC_RSP_MAX + 8];
    const uint8_t *data = NULL;
    size_t dlen = 0;
    bool is_status = false;
    uint8_t status = 0;
    uint8_t one = 0;
    size_t n = make_rsp(buf, &one, 1);

    (void)state;
    /* count disagrees with the bytes received */
    buf[0] = 5;
    assert_int_equal(atecc_rsp_parse(buf, n, &data, &dlen, &is_status, &status), ATECC_E_RESPONSE);
    /* count below the minimum */
    buf[0] = 3;
    assert_int_equal(atecc_rsp_parse(buf, 3, &data, &dlen, &is_status, &status), ATECC_E_RESPONSE);
    /* longer than any response */
    memset(buf, 0, sizeof(buf));
    buf[0] = ATECC_RSP_MAX + 1;
    assert_int_equal(atecc_rsp_parse(buf, ATECC_RSP_MAX + 1, &data, &dlen, &is_status, &status),
                     ATECC_E_RESPONSE);
    assert_null(data);
}

static void test_parse_rejects_bad_crc(void **state)
{
    uint8_t buf[ATECC_RSP_MAX];
    uint8_t d[4] = { 0, 0, 0x60, 0x03 };
    const uint8_t *data = NULL;
    size_t dlen = 0;
    bool is_status = false;
    uint8_t status = 0;
    size_t n = make_rsp(buf, d, 4);

    (void)state;
    buf[n - 1] ^= 0x01;
    assert_int_equal(atecc_rsp_parse(buf, n, &data, &dlen, &is_status, &status), ATECC_E_CRC);
}

static void test_every_status_byte_maps_to_its_error(void **state)
{
    static const struct {
        uint8_t status;
        atecc_err err;
    } map[] = {
        { 0x00, ATECC_OK },           { 0x01, ATECC_E_MISCOMPARE },  { 0x03, ATECC_E_PARSE },
        { 0x05, ATECC_E_ECC_FAULT },  { 0x07, ATECC_E_SELFTEST },    { 0x08, ATECC_E_HEALTH_TEST },
        { 0x0F, ATECC_E_EXECUTION },  { 0x11, ATECC_E_AFTER_WAKE },  { 0xEE, ATECC_E_WATCHDOG },
        { 0xFF, ATECC_E_CHIP_CRC },   { 0x02, ATECC_E_STATUS_UNKNOWN },
        { 0x42, ATECC_E_STATUS_UNKNOWN },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        assert_int_equal(atecc_err_from_status(map[i].status), map[i].err);
}

static void test_every_error_has_a_distinct_message(void **state)
{
    (void)state;
    for (int a = 0; a < ATECC_E__COUNT; a++) {
        assert_non_null(atecc_strerror((atecc_err)a));
        assert_string_not_equal(atecc_strerror((atecc_err)a), "unknown driver error");
        for (int b = a + 1; b < ATECC_E__COUNT; b++)
            assert_string_not_equal(atecc_strerror((atecc_err)a), atecc_strerror((atecc_err)b));
    }
    assert_string_equal(atecc_strerror((atecc_err)999), "unknown driver error");
}

static void test_only_crc_and_ecc_status_are_resent(void **state)
{
    (void)state;
    assert_true(atecc_status_retryable(0xFF));
    assert_true(atecc_status_retryable(0x05));
    assert_false(atecc_status_retryable(0x0F));
    assert_false(atecc_status_retryable(0x01));
    assert_false(atecc_status_retryable(0x03));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors_from_facts_sheet),
        cmocka_unit_test(test_crc_check_rejects_vendor_selftest_pattern),
        cmocka_unit_test(test_build_packet_layout_and_crc),
        cmocka_unit_test(test_build_info_packet_matches_known_bytes),
        cmocka_unit_test(test_build_rejects_oversized_data_and_small_buffer),
        cmocka_unit_test(test_parse_status_and_data_responses),
        cmocka_unit_test(test_parse_rejects_bad_counts),
        cmocka_unit_test(test_parse_rejects_bad_crc),
        cmocka_unit_test(test_every_status_byte_maps_to_its_error),
        cmocka_unit_test(test_every_error_has_a_distinct_message),
        cmocka_unit_test(test_only_crc_and_ecc_status_are_resent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
