/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command packets and responses: pure byte building and parsing, no I/O,
 * so every bound can be unit-tested without a bus. Owns the packet layout
 * (count, opcode, param1, param2 LE, data, CRC LE) and the response checks
 * (count within [4, buffer], CRC, status group). Must never sleep, retry
 * or touch a transport.
 */
#ifndef ATECC608_COMMAND_H
#define ATECC608_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "atecc608/atecc608.h"

/* Builds a command into out (cap bytes); *out_len = 7 + data_len. */
atecc_err atecc_cmd_build(uint8_t *out, size_t cap, uint8_t opcode, uint8_t param1,
                          uint16_t param2, const uint8_t *data, size_t data_len, size_t *out_len);

/*
 * Checks a received response rsp[0..len): count byte equal to len and
 * within [4, ATECC_RSP_MAX], CRC over count..data. On success *data points
 * into rsp at the payload and *data_len is its length. A status group
 * (count 4) sets *status to its byte and *is_status true; a longer
 * response is command output.
 * Returns ATECC_E_RESPONSE (count) or ATECC_E_CRC, else ATECC_OK.
 */
atecc_err atecc_rsp_parse(const uint8_t *rsp, size_t len, const uint8_t **data, size_t *data_len,
                          bool *is_status, uint8_t *status);

/* True when a status byte means "send the same command again". */
bool atecc_status_retryable(uint8_t status);

#endif
