/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator factory profiles: the zones a chip leaves the factory with.
 *
 * trustandgo: the ATECC608-TNGTLS configuration of shared/atecc608.md,
 *   slot by slot (SlotConfig/KeyConfig table), I2C byte 16 = 0x6A (address
 *   0x35), ChipMode 0x01, ChipOptions 0x600E, config and data locked
 *   (0x00), SlotLocked 0xFFFF. Serial 01 23 then random bytes. Real P-256
 *   keys are generated in slots 0 and 1 when the profile is built; slots
 *   2-4 are empty (CHOICE: GenKey mode 0 on them answers 0x0F until a key
 *   is created with GenKey mode 4).
 * blank: an unconfigured part for provisioning tests: config and data
 *   unlocked (0x55), byte 16 = 0xC0 (address 0x60), ChipMode 0, ChipOptions
 *   0, SlotLocked 0xFFFF, and a neutral slot configuration the provisioning
 *   user overwrites: CHOICE SlotConfig 0x0000 (clear read, always write)
 *   and KeyConfig 0x001C (data, KeyType 7) in every slot. No keys.
 * Both: config bytes 4-7 = 00 00 60 rr (as Info), counters in their reset
 * encoding FF FF FF FF 00 00 00 00, byte 14 (I2C enable) = 0x01.
 *
 * Owns the profile contents only; never touches a state file.
 */
#include <stdio.h>
#include <string.h>

#include "emu_datasheet.h"
#include "emu_internal.h"

struct emu_slot_profile {
    uint16_t slot_config;
    uint16_t key_config;
};

static const struct emu_slot_profile emu_tng_slots[ATECC_SLOT_COUNT] = {
    { 0x0085, 0x0053 }, /* 0 primary private key: ext sign, ECDH */
    { 0x0082, 0x0053 }, /* 1 internal-sign attestation key */
    { 0x2085, 0x0073 }, /* 2 secondary private key, GenKey may renew, lockable */
    { 0x2085, 0x0073 }, /* 3 */
    { 0x2085, 0x0073 }, /* 4 */
    { 0x8F0F, 0x001C }, /* 5 MAC address */
    { 0x0F8F, 0x007C }, /* 6 IO protection key */
    { 0x8F8F, 0x001C }, /* 7 reserved */
    { 0x0F0F, 0x003C }, /* 8 general data, lockable */
    { 0x0F8F, 0x001A }, /* 9 AES key */
    { 0x8F0F, 0x001C }, /* 10 device certificate */
    { 0x8F0F, 0x0010 }, /* 11 signer public key */
    { 0x8F0F, 0x001C }, /* 12 signer certificate */
    { 0x8F8F, 0x001C }, /* 13 reserved */
    { 0x8F8F, 0x001C }, /* 14 */
    { 0x8F8F, 0x001C }, /* 15 */
};

static void emu_put16(uint8_t *p, uint16_t value)
{
    p[0] = (uint8_t)(value & 0xFF);
    p[1] = (uint8_t)(value >> 8);
}

static int emu_profile_common(struct emu_zones *zones, uint8_t revision)
{
    uint8_t *config = zones->config;
    uint8_t random_sn[7];

    memset(zones, 0, sizeof(*zones));
    if (emu_random_bytes(random_sn, sizeof(random_sn)) != 0)
        return -1;
    config[0] = 0x01; /* bytes 0-1 are 01 23 on every part */
    config[1] = 0x23;
    config[2] = random_sn[0];
    config[3] = random_sn[1];
    config[4] = 0x00;
    config[5] = 0x00;
    config[6] = 0x60;
    config[7] = revision;
    memcpy(&config[ATECC_CFG_SN4], &random_sn[2], 5);
    config[14] = 0x01;
    memset(&config[ATECC_CFG_COUNTER0], 0xFF, 4);
    memset(&config[ATECC_CFG_COUNTER1], 0xFF, 4);
    emu_put16(&config[ATECC_CFG_SLOT_LOCKED], 0xFFFF);
    return 0;
}

static int emu_profile_trustandgo(struct emu_zones *zones, char *err, size_t err_len)
{
    uint8_t *config = zones->config;
    uint8_t pub[64];

    config[ATECC_CFG_I2C_ADDRESS] = ATECC_ADDR_TRUSTANDGO << 1;
    config[ATECC_CFG_CHIP_MODE] = 0x01;
    emu_put16(&config[ATECC_CFG_CHIP_OPTIONS], 0x600E);
    for (unsigned slot = 0; slot < ATECC_SLOT_COUNT; slot++) {
        emu_put16(&config[ATECC_CFG_SLOT_CONFIG + 2 * slot], emu_tng_slots[slot].slot_config);
        emu_put16(&config[ATECC_CFG_KEY_CONFIG + 2 * slot], emu_tng_slots[slot].key_config);
    }
    config[ATECC_CFG_LOCK_VALUE] = ATECC_LOCK_STATE_LOCKED;
    config[ATECC_CFG_LOCK_CONFIG] = ATECC_LOCK_STATE_LOCKED;
    for (unsigned slot = 0; slot < 2; slot++) {
        unsigned offset = 0;
        for (unsigned s = 0; s < slot; s++)
            offset += emu_slot_bytes(s);
        if (emu_p256_keygen(&zones->data[offset + EMU_PRIVKEY_OFFSET], pub) != 0) {
            snprintf(err, err_len, "cannot generate the factory P-256 key for slot %u", slot);
            return -1;
        }
        zones->key_valid |= (uint16_t)(1u << slot);
    }
    return 0;
}

static void emu_profile_blank(struct emu_zones *zones)
{
    uint8_t *config = zones->config;

    config[ATECC_CFG_I2C_ADDRESS] = ATECC_ADDR_DEFAULT << 1;
    for (unsigned slot = 0; slot < ATECC_SLOT_COUNT; slot++) {
        emu_put16(&config[ATECC_CFG_SLOT_CONFIG + 2 * slot], 0x0000);
        emu_put16(&config[ATECC_CFG_KEY_CONFIG + 2 * slot], 0x001C);
    }
    config[ATECC_CFG_LOCK_VALUE] = ATECC_LOCK_STATE_UNLOCKED;
    config[ATECC_CFG_LOCK_CONFIG] = ATECC_LOCK_STATE_UNLOCKED;
}

int emu_profile_build(struct emu_zones *zones, enum emu_profile profile, uint8_t revision, char *err,
                      size_t err_len)
{
    if (emu_profile_common(zones, revision) != 0) {
        snprintf(err, err_len, "the RNG failed while building the profile");
        return -1;
    }
    switch (profile) {
    case EMU_PROFILE_TRUSTANDGO:
        return emu_profile_trustandgo(zones, err, err_len);
    case EMU_PROFILE_BLANK:
        emu_profile_blank(zones);
        return 0;
    }
    snprintf(err, err_len, "unknown profile %d", (int)profile);
    return -1;
}
