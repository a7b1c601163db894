/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC-16 over ATECC608 packets (see crc.h). Bitwise on purpose: packets are
 * at most a few hundred bytes and the chip takes milliseconds per command,
 * so a table would buy nothing measurable.
 */
#include "atecc608/crc.h"

uint16_t atecc_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            unsigned data_bit = (data[i] >> bit) & 1u;
            unsigned crc_bit = (crc >> 15) & 1u;
            crc = (uint16_t)(crc << 1);
            if (data_bit != crc_bit)
                crc ^= 0x8005;
        }
    }
    return crc;
}

void atecc_crc16_put(const uint8_t *data, size_t len, uint8_t out[2])
{
    uint16_t crc = atecc_crc16(data, len);

    out[0] = (uint8_t)(crc & 0xFF);
    out[1] = (uint8_t)(crc >> 8);
}

bool atecc_crc16_check(const uint8_t *packet, size_t len)
{
    uint8_t expected[2];

    if (packet == NULL || len < 3)
        return false;
    atecc_crc16_put(packet, len - 2, expected);
    return packet[len - 2] == expected[0] && packet[len - 1] == expected[1];
}
