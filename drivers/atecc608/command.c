/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Packet build and response parse (see command.h). No I/O here.
 */
#include "command.h"

#include <string.h>

#include "atecc608/crc.h"

atecc_err atecc_cmd_build(uint8_t *out, size_t cap, uint8_t opcode, uint8_t param1,
                          uint16_t param2, const uint8_t *data, size_t data_len, size_t *out_len)
{
    size_t total = ATECC_PKT_OVERHEAD + data_len;

    if (out_len != NULL)
        *out_len = 0;
    if (out == NULL || out_len == NULL || (data == NULL && data_len > 0))
        return ATECC_E_ARGUMENT;
    /* The count byte is one byte and the chip's input buffer is bounded. */
    if (data_len > ATECC_CMD_DATA_MAX || total > cap)
        return ATECC_E_ARGUMENT;
    out[ATECC_PKT_COUNT] = (uint8_t)total;
    out[ATECC_PKT_OPCODE] = opcode;
    out[ATECC_PKT_PARAM1] = param1;
    out[ATECC_PKT_PARAM2] = (uint8_t)(param2 & 0xFF);
    out[ATECC_PKT_PARAM2 + 1] = (uint8_t)(param2 >> 8);
    if (data_len > 0)
        memcpy(out + ATECC_PKT_DATA, data, data_len);
    atecc_crc16_put(out, total - 2, out + total - 2);
    *out_len = total;
    return ATECC_OK;
}

atecc_err atecc_rsp_parse(const uint8_t *rsp, size_t len, const uint8_t **data, size_t *data_len,
                          bool *is_status, uint8_t *status)
{
    *data = NULL;
    *data_len = 0;
    *is_status = false;
    *status = 0;
    if (rsp == NULL || len < ATECC_RSP_MIN || len > ATECC_RSP_MAX || rsp[0] != len)
        return ATECC_E_RESPONSE;
    if (!atecc_crc16_check(rsp, len))
        return ATECC_E_CRC;
    *data = rsp + 1;
    *data_len = len - 3;
    if (len == ATECC_RSP_STATUS_COUNT) {
        *is_status = true;
        *status = rsp[1];
    }
    return ATECC_OK;
}

bool atecc_status_retryable(uint8_t status)
{
    /* 0xFF: the chip saw a bad CRC, resend. 0x05: an ECC fault may pass
     * on retry (facts sheet). 0xEE is retried after idle + wake, not here. */
    return status == ATECC_STATUS_CRC_ERROR || status == ATECC_STATUS_ECC_FAULT;
}
