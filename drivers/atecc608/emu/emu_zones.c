/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator zones: the config (128 B), OTP (64 B) and data (16 slots) zones,
 * the Read/Write address encoding, lock bits, and the SlotConfig/KeyConfig
 * rules that decide whether a read, write or lock may happen.
 *
 * Owns the policy, not the bytes' lifetime (struct emu_zones lives in the
 * chip). Must never let a private-key slot's bytes leave through Read.
 *
 * Facts (shared/atecc608.md) and CHOICEs made here:
 * - Read/Write param1: bits 0-1 zone, bit 7 32-byte access, bit 6 encrypted
 *   (Write only); any other bit is a parse error (0x03).
 * - param2: config/OTP block << 3 | word; data slot << 3 | block << 8 | word.
 *   CHOICE: a 32-byte access ignores the word bits (block-aligned). An
 *   address past the end of the zone or slot is a parse error (0x03).
 * - Config is always readable. CHOICE: OTP and data are readable only
 *   after the data zone is locked (0x0F before), as on the 508/608 family.
 * - Config bytes 16-127 are writable until config lock, except 84-87
 *   (UpdateExtra/Lock only). CHOICE: a write whose range touches bytes 0-15
 *   or 84-87 fails as a whole with 0x0F, nothing written.
 * - Data and OTP need the config zone locked to be written. Before data
 *   lock any non-private slot is writable in plaintext; after it, by
 *   WriteConfig: x1xx encrypted-only (so 0x0F here: encrypted writes are not
 *   modelled), x01x and 10xx never, 0000/0001 always. OTP is read-only once
 *   the data zone is locked. A private-key slot (KeyConfig Private) always
 *   refuses Write; a slot-locked slot too.
 * - Lock CRC: config zone = CRC-16 of its 128 bytes; data zone = CRC-16 of
 *   slots 0..15 in order followed by the OTP zone. CRC mismatch, zone
 *   already locked, or wrong lock order: 0x0F.
 * - Slot lock needs the data zone locked (CHOICE), KeyConfig Lockable and
 *   the slot not yet locked; it clears bit N of bytes 88-89.
 */
#include <stdio.h>
#include <string.h>

#include "atecc608/crc.h"
#include "emu_datasheet.h"
#include "emu_internal.h"

unsigned emu_slot_offset(unsigned slot)
{
    unsigned offset = 0;

    for (unsigned s = 0; s < slot && s < ATECC_SLOT_COUNT; s++)
        offset += emu_slot_bytes(s);
    return offset;
}

static uint16_t emu_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint16_t emu_slot_config(const struct emu_chip *chip, unsigned slot)
{
    return emu_get16(&chip->zones.config[ATECC_CFG_SLOT_CONFIG + 2 * slot]);
}

uint16_t emu_key_config(const struct emu_chip *chip, unsigned slot)
{
    return emu_get16(&chip->zones.config[ATECC_CFG_KEY_CONFIG + 2 * slot]);
}

bool emu_config_locked(const struct emu_chip *chip)
{
    return chip->zones.config[ATECC_CFG_LOCK_CONFIG] != ATECC_LOCK_STATE_UNLOCKED;
}

bool emu_data_locked(const struct emu_chip *chip)
{
    return chip->zones.config[ATECC_CFG_LOCK_VALUE] != ATECC_LOCK_STATE_UNLOCKED;
}

bool emu_slot_locked(const struct emu_chip *chip, unsigned slot)
{
    return (emu_get16(&chip->zones.config[ATECC_CFG_SLOT_LOCKED]) & (1u << slot)) == 0;
}

bool emu_slot_is_p256_private(const struct emu_chip *chip, unsigned slot)
{
    uint16_t key_config = emu_key_config(chip, slot);

    return (key_config & ATECC_KEYCFG_PRIVATE) != 0 &&
           ((key_config & ATECC_KEYCFG_KEYTYPE_MASK) >> ATECC_KEYCFG_KEYTYPE_SHIFT) == ATECC_KEYTYPE_P256;
}

uint8_t *emu_slot_privkey(struct emu_chip *chip, unsigned slot)
{
    return &chip->zones.data[emu_slot_offset(slot) + EMU_PRIVKEY_OFFSET];
}

/* 8-bit address byte 16, or UserExtraAdd when ChipMode bit 0 selects it. */
uint8_t emu_chip_address_from_config(const struct emu_chip *chip)
{
    const uint8_t *config = chip->zones.config;
    uint8_t addr8 = config[ATECC_CFG_I2C_ADDRESS];

    if ((config[ATECC_CFG_CHIP_MODE] & ATECC_CHIPMODE_USER_EXTRA_ADD) != 0 &&
        config[ATECC_CFG_USER_EXTRA_ADD] != 0)
        addr8 = config[ATECC_CFG_USER_EXTRA_ADD];
    return (uint8_t)(addr8 >> 1);
}

bool emu_zones_commit(struct emu_chip *chip)
{
    char err[EMU_ERR_MAX];

    if (chip->state_path == NULL)
        return true;
    if (emu_state_save(&chip->zones, chip->state_path, err, sizeof(err)) != 0) {
        chip->persist_failed = true;
        snprintf(chip->last_error, sizeof(chip->last_error), "%s", err);
        return false;
    }
    return true;
}

/* A decoded Read/Write address. */
struct emu_addr {
    unsigned zone;
    unsigned slot;     /* data zone only */
    uint8_t *base;     /* start of the zone or slot */
    size_t offset;     /* byte offset inside base */
    size_t len;        /* 4 or 32 */
};

static uint8_t emu_addr_decode(struct emu_chip *chip, uint8_t param1, uint16_t param2,
                               struct emu_addr *addr)
{
    unsigned word = param2 & 0x7u;
    unsigned block;
    size_t size;

    memset(addr, 0, sizeof(*addr));
    addr->zone = param1 & 0x3u;
    addr->len = (param1 & ATECC_ZONE_READWRITE_32) != 0 ? ATECC_BLOCK_SIZE : ATECC_WORD_SIZE;
    if (addr->len == ATECC_BLOCK_SIZE)
        word = 0;
    switch (addr->zone) {
    case ATECC_ZONE_CONFIG:
    case ATECC_ZONE_OTP:
        block = param2 >> 3;
        addr->base = addr->zone == ATECC_ZONE_CONFIG ? chip->zones.config : chip->zones.otp;
        size = addr->zone == ATECC_ZONE_CONFIG ? ATECC_CONFIG_SIZE : ATECC_OTP_SIZE;
        break;
    case ATECC_ZONE_DATA:
        if ((param2 & 0x80u) != 0)
            return ATECC_STATUS_PARSE_ERROR; /* slot >= 16 */
        addr->slot = (param2 >> 3) & 0xFu;
        block = param2 >> 8;
        addr->base = &chip->zones.data[emu_slot_offset(addr->slot)];
        size = emu_slot_bytes(addr->slot);
        break;
    default:
        return ATECC_STATUS_PARSE_ERROR;
    }
    addr->offset = (size_t)block * ATECC_BLOCK_SIZE + (size_t)word * ATECC_WORD_SIZE;
    if (addr->offset >= size || size - addr->offset < addr->len)
        return ATECC_STATUS_PARSE_ERROR;
    return ATECC_STATUS_SUCCESS;
}

uint8_t emu_zone_read(struct emu_chip *chip, uint8_t param1, uint16_t param2, struct emu_rsp *rsp)
{
    struct emu_addr addr;
    uint8_t status;

    if ((param1 & 0x7Cu) != 0)
        return ATECC_STATUS_PARSE_ERROR;
    status = emu_addr_decode(chip, param1, param2, &addr);
    if (status != ATECC_STATUS_SUCCESS)
        return status;
    if (addr.zone != ATECC_ZONE_CONFIG && !emu_data_locked(chip))
        return ATECC_STATUS_EXECUTION_ERROR;
    if (addr.zone == ATECC_ZONE_DATA) {
        uint16_t slot_config = emu_slot_config(chip, addr.slot);
        /* A private key never leaves the chip, whatever SlotConfig says. */
        if ((emu_key_config(chip, addr.slot) & ATECC_KEYCFG_PRIVATE) != 0)
            return ATECC_STATUS_EXECUTION_ERROR;
        if ((slot_config & ATECC_SLOTCFG_IS_SECRET) != 0)
            return ATECC_STATUS_EXECUTION_ERROR;
        /* Encrypted reads need GenDig first, which is not modelled. */
        if ((slot_config & ATECC_SLOTCFG_ENCRYPT_READ) != 0)
            return ATECC_STATUS_EXECUTION_ERROR;
    }
    memcpy(rsp->data, addr.base + addr.offset, addr.len);
    rsp->len = addr.len;
    return ATECC_STATUS_SUCCESS;
}

static bool emu_ranges_overlap(size_t a, size_t a_len, size_t b, size_t b_len)
{
    return a < b + b_len && b < a + a_len;
}

/* WriteConfig after data lock, for a non-private slot. */
static bool emu_write_config_allows_plain(uint16_t slot_config)
{
    unsigned write_config = (slot_config >> ATECC_SLOTCFG_WRITECONFIG_SHIFT) & 0xFu;

    if ((write_config & 0x4u) != 0)
        return false; /* x1xx: encrypted writes only */
    if ((write_config & 0x2u) != 0 || (write_config & 0x8u) != 0)
        return false; /* x01x, 10xx: never */
    return true;      /* 0000 always, 0001 PubInvalid (written like always) */
}

uint8_t emu_zone_write(struct emu_chip *chip, uint8_t param1, uint16_t param2,
                       const uint8_t *data, size_t len)
{
    struct emu_addr addr;
    uint8_t status;

    if ((param1 & 0x3Cu) != 0)
        return ATECC_STATUS_PARSE_ERROR;
    status = emu_addr_decode(chip, param1, param2, &addr);
    if (status != ATECC_STATUS_SUCCESS)
        return status;
    if ((param1 & ATECC_WRITE_ENCRYPTED) != 0) {
        /* Encrypted writes carry 32 data + 32 MAC bytes; MACs are not modelled. */
        if (len != addr.len && len != addr.len + 32)
            return ATECC_STATUS_PARSE_ERROR;
        return ATECC_STATUS_EXECUTION_ERROR;
    }
    if (len != addr.len)
        return ATECC_STATUS_PARSE_ERROR;

    switch (addr.zone) {
    case ATECC_ZONE_CONFIG:
        if (emu_config_locked(chip))
            return ATECC_STATUS_EXECUTION_ERROR;
        if (emu_ranges_overlap(addr.offset, len, 0, ATECC_CFG_WRITABLE_FIRST) ||
            emu_ranges_overlap(addr.offset, len, ATECC_CFG_USER_EXTRA, 4))
            return ATECC_STATUS_EXECUTION_ERROR;
        break;
    case ATECC_ZONE_OTP:
        if (!emu_config_locked(chip) || emu_data_locked(chip))
            return ATECC_STATUS_EXECUTION_ERROR;
        break;
    default: /* data */
        if (!emu_config_locked(chip))
            return ATECC_STATUS_EXECUTION_ERROR;
        if ((emu_key_config(chip, addr.slot) & ATECC_KEYCFG_PRIVATE) != 0)
            return ATECC_STATUS_EXECUTION_ERROR;
        if (emu_slot_locked(chip, addr.slot))
            return ATECC_STATUS_EXECUTION_ERROR;
        if (emu_data_locked(chip) && !emu_write_config_allows_plain(emu_slot_config(chip, addr.slot)))
            return ATECC_STATUS_EXECUTION_ERROR;
        break;
    }
    memcpy(addr.base + addr.offset, data, len);
    return emu_zones_commit(chip) ? ATECC_STATUS_SUCCESS : ATECC_STATUS_EXECUTION_ERROR;
}

static uint16_t emu_data_zone_crc(const struct emu_chip *chip)
{
    uint8_t all[EMU_DATA_ZONE_SIZE + ATECC_OTP_SIZE];
    uint16_t crc;

    memcpy(all, chip->zones.data, EMU_DATA_ZONE_SIZE);
    memcpy(all + EMU_DATA_ZONE_SIZE, chip->zones.otp, ATECC_OTP_SIZE);
    crc = atecc_crc16(all, sizeof(all));
    emu_cleanse(all, sizeof(all)); /* holds private keys */
    return crc;
}

uint8_t emu_zone_lock(struct emu_chip *chip, uint8_t param1, uint16_t param2)
{
    unsigned mode = param1 & 0x3u;
    bool check_crc = (param1 & ATECC_LOCK_NO_CRC) == 0;
    unsigned slot = (param1 >> 2) & 0xFu;
    uint8_t *config = chip->zones.config;

    if ((param1 & 0x40u) != 0 || mode == 3 || (mode != ATECC_LOCK_SLOT && slot != 0))
        return ATECC_STATUS_PARSE_ERROR;
    switch (mode) {
    case ATECC_LOCK_CONFIG:
        if (emu_config_locked(chip))
            return ATECC_STATUS_EXECUTION_ERROR;
        if (check_crc && atecc_crc16(config, ATECC_CONFIG_SIZE) != param2)
            return ATECC_STATUS_EXECUTION_ERROR;
        config[ATECC_CFG_LOCK_CONFIG] = ATECC_LOCK_STATE_LOCKED;
        break;
    case ATECC_LOCK_DATA:
        if (!emu_config_locked(chip) || emu_data_locked(chip))
            return ATECC_STATUS_EXECUTION_ERROR;
        if (check_crc && emu_data_zone_crc(chip) != param2)
            return ATECC_STATUS_EXECUTION_ERROR;
        config[ATECC_CFG_LOCK_VALUE] = ATECC_LOCK_STATE_LOCKED;
        break;
    default: { /* single slot; param2 is ignored (shared/atecc608.md) */
        uint16_t locked_bits = emu_get16(&config[ATECC_CFG_SLOT_LOCKED]);
        if (!emu_data_locked(chip))
            return ATECC_STATUS_EXECUTION_ERROR;
        if ((emu_key_config(chip, slot) & ATECC_KEYCFG_LOCKABLE) == 0 || emu_slot_locked(chip, slot))
            return ATECC_STATUS_EXECUTION_ERROR;
        locked_bits &= (uint16_t)~(1u << slot);
        config[ATECC_CFG_SLOT_LOCKED] = (uint8_t)(locked_bits & 0xFF);
        config[ATECC_CFG_SLOT_LOCKED + 1] = (uint8_t)(locked_bits >> 8);
        break;
    }
    }
    return emu_zones_commit(chip) ? ATECC_STATUS_SUCCESS : ATECC_STATUS_EXECUTION_ERROR;
}
