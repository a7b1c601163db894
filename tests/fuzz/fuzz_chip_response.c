/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: chip responses through the driver's packet parser
 * (atecc_rsp_parse, drivers/atecc608/command.c). The result must agree
 * with an independent statement of the rules (count byte, length bounds,
 * CRC, status group). The first input byte picks how the rest is used:
 * odd = as received; even = with the count and the CRC made right, so the
 * fuzzer reaches the paths behind the integrity checks. The check is
 * shared with tests/driver/fuzz_response.c. Corpus: tests/fuzz/chip_response/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "atecc608/crc.h"
#include "atecc608/protocol.h"
#include "command.h"
#include "fuzz_target.h"

/* The parse result must agree with an independent statement of the rules. */
void fuzz_check_chip_response(const uint8_t *buf, size_t len)
{
    uint8_t *exact = malloc(len ? len : 1);
    const uint8_t *data = (const uint8_t *)1;
    size_t data_len = 99;
    bool is_status = true;
    uint8_t status = 0xAA;
    atecc_err want, got;

    assert_non_null(exact);
    if (len > 0)
        memcpy(exact, buf, len);
    if (len < ATECC_RSP_MIN || len > ATECC_RSP_MAX || buf[0] != len)
        want = ATECC_E_RESPONSE;
    else if (atecc_crc16(buf, len - 2) != (uint16_t)(buf[len - 2] | (buf[len - 1] << 8)))
        want = ATECC_E_CRC;
    else
        want = ATECC_OK;
    got = atecc_rsp_parse(exact, len, &data, &data_len, &is_status, &status);
    assert_int_equal(got, want);
    if (got == ATECC_OK) {
        assert_ptr_equal(data, exact + 1);
        assert_int_equal(data_len, len - 3);
        assert_int_equal(is_status, len == ATECC_RSP_STATUS_COUNT);
        if (is_status)
            assert_int_equal(status, exact[1]);
    } else {
        assert_null(data);
        assert_int_equal(data_len, 0);
        assert_false(is_status);
    }
    free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t buf[2 * ATECC_RSP_MAX + 8];
    size_t len;

    if (size == 0)
        return 0;
    len = size - 1 < sizeof(buf) ? size - 1 : sizeof(buf);
    memcpy(buf, data + 1, len);
    if ((data[0] & 1) == 0 && len >= 3) {
        buf[0] = (uint8_t)len;
        atecc_crc16_put(buf, len - 2, buf + len - 2);
    }
    fuzz_check_chip_response(buf, len);
    atecc_status_retryable(len > 1 ? buf[1] : 0);
    return 0;
}
