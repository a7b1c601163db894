/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations on the chip as a whole and on its zones: first contact,
 * Info, serial, Random, Read, Write, config read, Lock, SelfTest and the
 * raw command. Each public call is one wake window under the bus lock.
 * Must never keep a window open across a return (only Nonce does).
 */
#include <stdio.h>
#include <string.h>

#include "atecc608/crc.h"
#include "exec.h"
#include "ops_internal.h"

atecc_err atecc_call_begin(struct atecc_device *dev)
{
    atecc_err rc;

    pthread_mutex_lock(&dev->mutex);
    dev->last_error[0] = '\0';
    atecc_detail_set("%s", "");
    /* Whatever window the sign engine left open for its linger is now
     * this call's: it ends it (or keeps it, for a Nonce). */
    dev->window_gen++;
    rc = atecc_window_begin(dev);
    if (rc != ATECC_OK)
        pthread_mutex_unlock(&dev->mutex);
    return rc;
}

void atecc_call_end(struct atecc_device *dev)
{
    atecc_window_end(dev);
    pthread_mutex_unlock(&dev->mutex);
}

void atecc_call_end_keep_window(struct atecc_device *dev)
{
    dev->keep_window = atecc_buslock_held(&dev->lock);
    pthread_mutex_unlock(&dev->mutex);
}

atecc_err atecc_exec_expect(struct atecc_device *dev, uint8_t opcode, uint8_t param1,
                            uint16_t param2, const uint8_t *data, size_t data_len, uint8_t *out,
                            size_t expect, unsigned flags)
{
    uint8_t rsp[ATECC_RSP_MAX];
    size_t len = 0;
    atecc_err rc = atecc_exec(dev, opcode, param1, param2, data, data_len, rsp, sizeof(rsp), &len,
                              flags);

    if (rc != ATECC_OK)
        goto cleanup;
    /* A status group 0x00 comes back as one zero byte. */
    if (len != expect) {
        rc = atecc_fail(dev, ATECC_E_RESPONSE,
                        "command 0x%02x returned %zu bytes, expected %zu", opcode, len, expect);
        goto cleanup;
    }
    if (out != NULL)
        memcpy(out, rsp, len);
cleanup:
    explicit_bzero(rsp, sizeof(rsp));
    return rc;
}

static atecc_err read_config_locked(struct atecc_device *dev, uint8_t config[ATECC_CONFIG_SIZE])
{
    atecc_err rc = ATECC_OK;

    for (uint8_t block = 0; block < ATECC_CONFIG_SIZE / ATECC_BLOCK_SIZE && rc == ATECC_OK; block++)
        rc = atecc_exec_expect(dev, ATECC_OP_READ, ATECC_ZONE_CONFIG | ATECC_ZONE_READWRITE_32,
                               (uint16_t)(block << 3), NULL, 0, config + block * ATECC_BLOCK_SIZE,
                               ATECC_BLOCK_SIZE, 0);
    return rc;
}

atecc_err atecc_refresh_config(struct atecc_device *dev)
{
    uint8_t config[ATECC_CONFIG_SIZE];
    atecc_err rc = read_config_locked(dev, config);

    if (rc == ATECC_OK) {
        memcpy(dev->config, config, sizeof(config));
        dev->config_valid = true;
        dev->divider = atecc_clock_divider_from_chipmode(config[ATECC_CFG_CHIP_MODE]);
    }
    return rc;
}

atecc_err atecc_first_contact(struct atecc_device *dev)
{
    atecc_err rc;

    rc = atecc_window_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_INFO, ATECC_INFO_REVISION, 0, NULL, 0, dev->revision,
                           sizeof(dev->revision), 0);
    if (rc == ATECC_OK) {
        /* Info byte 3: 0x02 = 608A, 0x03 and later = 608B. */
        if (dev->revision[3] == ATECC_REVISION_608A)
            dev->model = ATECC_MODEL_608A;
        else if (dev->revision[3] >= ATECC_REVISION_608B)
            dev->model = ATECC_MODEL_608B;
        rc = atecc_refresh_config(dev);
    }
    atecc_window_end(dev);
    return rc;
}

atecc_err atecc_info_revision(struct atecc_device *dev, uint8_t revision[4])
{
    atecc_err rc;

    if (dev == NULL || revision == NULL)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_INFO, ATECC_INFO_REVISION, 0, NULL, 0, revision, 4, 0);
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_serial(struct atecc_device *dev, uint8_t serial[ATECC_SERIAL_SIZE])
{
    uint8_t block[ATECC_BLOCK_SIZE];
    atecc_err rc;

    if (dev == NULL || serial == NULL)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_READ, ATECC_ZONE_CONFIG | ATECC_ZONE_READWRITE_32, 0, NULL,
                           0, block, sizeof(block), 0);
    atecc_call_end(dev);
    if (rc == ATECC_OK) {
        /* Serial: config bytes 0-3 and 8-12. */
        memcpy(serial, block + ATECC_CFG_SN0, 4);
        memcpy(serial + 4, block + ATECC_CFG_SN4, 5);
    }
    return rc;
}

atecc_err atecc_random(struct atecc_device *dev, uint8_t out[ATECC_RANDOM_SIZE])
{
    atecc_err rc;

    if (dev == NULL || out == NULL)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_RANDOM, ATECC_RANDOM_SEED_UPDATE, 0, NULL, 0, out,
                           ATECC_RANDOM_SIZE, 0);
    atecc_call_end(dev);
    return rc;
}

/* Validates zone addressing and builds param1/param2 for Read/Write. */
static atecc_err zone_address(struct atecc_device *dev, uint8_t zone, uint8_t slot, uint8_t block,
                              uint8_t word, size_t len, uint8_t *param1, uint16_t *param2)
{
    unsigned offset = (unsigned)block * ATECC_BLOCK_SIZE + (unsigned)word * ATECC_WORD_SIZE;
    unsigned zone_size;

    if (len != ATECC_WORD_SIZE && len != ATECC_BLOCK_SIZE)
        return atecc_fail(dev, ATECC_E_ARGUMENT, "length %zu: the chip reads and writes 4 or 32 bytes",
                          len);
    if (len == ATECC_BLOCK_SIZE && word != 0)
        return atecc_fail(dev, ATECC_E_ARGUMENT, "32-byte access needs word 0 (block-aligned)");
    if (word >= ATECC_BLOCK_SIZE / ATECC_WORD_SIZE)
        return atecc_fail(dev, ATECC_E_ARGUMENT, "word %u out of range 0..7", word);
    switch (zone) {
    case ATECC_ZONE_CONFIG:
        zone_size = ATECC_CONFIG_SIZE;
        *param2 = (uint16_t)(block << 3 | word);
        break;
    case ATECC_ZONE_OTP:
        zone_size = ATECC_OTP_SIZE;
        *param2 = (uint16_t)(block << 3 | word);
        break;
    case ATECC_ZONE_DATA:
        if (slot >= ATECC_SLOT_COUNT)
            return atecc_fail(dev, ATECC_E_ARGUMENT, "slot %u out of range 0..15", slot);
        /* Slots of 36 or 72 bytes end in a partial block that only
         * 4-byte access reaches. */
        zone_size = atecc_slot_size(slot);
        *param2 = (uint16_t)(slot << 3 | block << 8 | word);
        break;
    default:
        return atecc_fail(dev, ATECC_E_ARGUMENT, "zone %u: use 0 config, 1 OTP, 2 data", zone);
    }
    if (offset + len > zone_size)
        return atecc_fail(dev, ATECC_E_ARGUMENT,
                          "block %u word %u (%zu bytes) lies outside the zone or slot", block, word,
                          len);
    *param1 = (uint8_t)(zone | (len == ATECC_BLOCK_SIZE ? ATECC_ZONE_READWRITE_32 : 0));
    return ATECC_OK;
}

atecc_err atecc_read(struct atecc_device *dev, uint8_t zone, uint8_t slot, uint8_t block,
                     uint8_t word, uint8_t *out, size_t len)
{
    uint8_t param1 = 0;
    uint16_t param2 = 0;
    atecc_err rc;

    if (dev == NULL || out == NULL)
        return ATECC_E_ARGUMENT;
    pthread_mutex_lock(&dev->mutex);
    rc = zone_address(dev, zone, slot, block, word, len, &param1, &param2);
    pthread_mutex_unlock(&dev->mutex);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_READ, param1, param2, NULL, 0, out, len, 0);
    rc = atecc_explain(dev, rc, ATECC_KIND_READ, zone, slot);
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_write(struct atecc_device *dev, uint8_t zone, uint8_t slot, uint8_t block,
                      uint8_t word, const uint8_t *data, size_t len)
{
    uint8_t param1 = 0;
    uint16_t param2 = 0;
    atecc_err rc;

    if (dev == NULL || data == NULL)
        return ATECC_E_ARGUMENT;
    pthread_mutex_lock(&dev->mutex);
    rc = zone_address(dev, zone, slot, block, word, len, &param1, &param2);
    pthread_mutex_unlock(&dev->mutex);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_WRITE, param1, param2, data, len, NULL, 1, 0);
    rc = atecc_explain(dev, rc, ATECC_KIND_WRITE, zone, slot);
    if (rc == ATECC_OK && zone == ATECC_ZONE_CONFIG)
        rc = atecc_refresh_config(dev);
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_read_config(struct atecc_device *dev, uint8_t config[ATECC_CONFIG_SIZE])
{
    atecc_err rc;

    if (dev == NULL || config == NULL)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_refresh_config(dev);
    if (rc == ATECC_OK)
        memcpy(config, dev->config, ATECC_CONFIG_SIZE);
    atecc_call_end(dev);
    return rc;
}

static bool lock_done(const struct atecc_device *dev, enum atecc_op_kind kind, uint8_t slot)
{
    switch (kind) {
    case ATECC_KIND_LOCK_CONFIG: return atecc_config_locked(dev);
    case ATECC_KIND_LOCK_DATA: return atecc_data_locked(dev);
    default: return atecc_slot_is_locked(dev, slot);
    }
}

static atecc_err lock_zone(struct atecc_device *dev, enum atecc_op_kind kind, uint8_t mode,
                           uint16_t param2, uint8_t slot)
{
    uint64_t retries_before;
    atecc_err rc;

    if (dev == NULL)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    retries_before = dev->stats.retries;
    rc = atecc_exec_expect(dev, ATECC_OP_LOCK, mode, param2, NULL, 0, NULL, 1, 0);
    if (rc == ATECC_E_EXECUTION && atecc_refresh_config(dev) == ATECC_OK &&
        dev->stats.retries != retries_before && lock_done(dev, kind, slot)) {
        /* The first Lock ran but its response was lost; the resend then
         * found the zone locked. The lock the caller asked for happened. */
        rc = ATECC_OK;
    }
    rc = atecc_explain(dev, rc, kind, 0, slot);
    if (rc == ATECC_OK || rc == ATECC_E_ZONE_LOCKED || rc == ATECC_E_SLOT_LOCKED)
        (void)atecc_refresh_config(dev);
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_lock_config(struct atecc_device *dev, const uint16_t *expected_crc)
{
    return lock_zone(dev, ATECC_KIND_LOCK_CONFIG,
                     expected_crc != NULL ? ATECC_LOCK_CONFIG : ATECC_LOCK_CONFIG | ATECC_LOCK_NO_CRC,
                     expected_crc != NULL ? *expected_crc : 0, 0);
}

atecc_err atecc_lock_data(struct atecc_device *dev, const uint16_t *expected_crc)
{
    return lock_zone(dev, ATECC_KIND_LOCK_DATA,
                     expected_crc != NULL ? ATECC_LOCK_DATA : ATECC_LOCK_DATA | ATECC_LOCK_NO_CRC,
                     expected_crc != NULL ? *expected_crc : 0, 0);
}

atecc_err atecc_lock_slot(struct atecc_device *dev, uint8_t slot)
{
    if (dev == NULL || slot >= ATECC_SLOT_COUNT)
        return ATECC_E_ARGUMENT;
    /* Slot lock ignores param2 (sent as 0) and takes the slot in bits 2-5. */
    return lock_zone(dev, ATECC_KIND_LOCK_SLOT, (uint8_t)(ATECC_LOCK_SLOT | slot << 2), 0, slot);
}

atecc_err atecc_selftest(struct atecc_device *dev, uint8_t mode, uint8_t *result)
{
    uint8_t byte = 0;
    atecc_err rc;

    if (dev == NULL || result == NULL)
        return ATECC_E_ARGUMENT;
    *result = 0;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_SELFTEST, mode, 0, NULL, 0, &byte, 1, 0);
    /* A failed test answers in the one status byte (0x07). */
    if (rc == ATECC_E_SELFTEST)
        *result = ATECC_STATUS_SELFTEST_ERROR;
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_execute(struct atecc_device *dev, uint8_t opcode, uint8_t param1, uint16_t param2,
                        const uint8_t *data, size_t data_len, uint8_t *rsp, size_t rsp_cap,
                        size_t *rsp_len)
{
    atecc_err rc;

    if (dev == NULL || rsp == NULL || rsp_len == NULL || (data == NULL && data_len > 0))
        return ATECC_E_ARGUMENT;
    *rsp_len = 0;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec(dev, opcode, param1, param2, data, data_len, rsp, rsp_cap, rsp_len, 0);
    atecc_call_end(dev);
    return rc;
}
