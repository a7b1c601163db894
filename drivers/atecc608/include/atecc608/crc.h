/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC-16 of ATECC608 packets: polynomial 0x8005, initial value 0, each byte
 * processed least-significant bit first, no final XOR, result appended low
 * byte first. Shared by the driver and the emulator (protocol, not policy).
 */
#ifndef ATECC608_CRC_H
#define ATECC608_CRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint16_t atecc_crc16(const uint8_t *data, size_t len);

/* Writes the CRC of data[0..len) to out[0] (low) and out[1] (high). */
void atecc_crc16_put(const uint8_t *data, size_t len, uint8_t out[2]);

/*
 * True when packet[0..len) ends in the CRC of everything before it and
 * len is at least 3 (one covered byte plus the CRC).
 */
bool atecc_crc16_check(const uint8_t *packet, size_t len);

#endif
