/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Explains a chip execution error (status 0x0F) from the cached config
 * zone: locked zones, locked slots, secret slots, slot policy. It only
 * labels a refusal the chip already made; it must never refuse anything
 * on its own, so the chip (or the emulator) stays the judge.
 */
#include "ops_internal.h"

static bool is_p256_private(uint16_t key_config)
{
    return (key_config & ATECC_KEYCFG_PRIVATE) != 0 &&
           ((key_config & ATECC_KEYCFG_KEYTYPE_MASK) >> ATECC_KEYCFG_KEYTYPE_SHIFT) ==
               ATECC_KEYTYPE_P256;
}

static atecc_err explain_read(struct atecc_device *dev, uint8_t zone, uint8_t slot)
{
    uint16_t sc = atecc_slot_config(dev, slot);

    if (zone != ATECC_ZONE_DATA)
        return ATECC_E_EXECUTION;
    if (sc & ATECC_SLOTCFG_IS_SECRET)
        return atecc_fail(dev, ATECC_E_SLOT_NOT_READABLE,
                          "slot %u is secret (SlotConfig 0x%04x has IsSecret): the chip never "
                          "lets it be read", slot, sc);
    if (sc & ATECC_SLOTCFG_ENCRYPT_READ)
        return atecc_fail(dev, ATECC_E_SLOT_NOT_READABLE,
                          "slot %u can only be read encrypted (SlotConfig 0x%04x has EncryptRead)",
                          slot, sc);
    if (!atecc_data_locked(dev))
        return atecc_fail(dev, ATECC_E_ZONE_UNLOCKED,
                          "the data zone is not locked yet, so slot %u cannot be read", slot);
    return ATECC_E_EXECUTION;
}

static atecc_err explain_write(struct atecc_device *dev, uint8_t zone, uint8_t slot)
{
    uint16_t sc = atecc_slot_config(dev, slot);

    if (zone == ATECC_ZONE_CONFIG) {
        if (atecc_config_locked(dev))
            return atecc_fail(dev, ATECC_E_ZONE_LOCKED,
                              "the config zone is locked: it can never be written again");
        return ATECC_E_EXECUTION;
    }
    if (!atecc_config_locked(dev))
        return atecc_fail(dev, ATECC_E_ZONE_UNLOCKED,
                          "the config zone must be locked before the data or OTP zone is written");
    if (zone == ATECC_ZONE_OTP) {
        if (atecc_data_locked(dev))
            return atecc_fail(dev, ATECC_E_ZONE_LOCKED, "the OTP zone is locked");
        return ATECC_E_EXECUTION;
    }
    if (atecc_slot_is_locked(dev, slot))
        return atecc_fail(dev, ATECC_E_SLOT_LOCKED, "slot %u is locked (SlotLocked bit clear)",
                          slot);
    if (atecc_data_locked(dev))
        return atecc_fail(dev, ATECC_E_SLOT_POLICY,
                          "slot %u's SlotConfig 0x%04x / KeyConfig 0x%04x forbids a clear write",
                          slot, sc, atecc_key_config(dev, slot));
    return ATECC_E_EXECUTION;
}

static atecc_err explain_lock(struct atecc_device *dev, enum atecc_op_kind kind, uint8_t slot)
{
    uint16_t kc = atecc_key_config(dev, slot);

    switch (kind) {
    case ATECC_KIND_LOCK_CONFIG:
        if (atecc_config_locked(dev))
            return atecc_fail(dev, ATECC_E_ZONE_LOCKED, "the config zone is already locked");
        return atecc_fail(dev, ATECC_E_EXECUTION,
                          "the chip refused to lock the config zone: the CRC of its contents "
                          "does not match the expected one (changed since it was read?)");
    case ATECC_KIND_LOCK_DATA:
        if (atecc_data_locked(dev))
            return atecc_fail(dev, ATECC_E_ZONE_LOCKED, "the data and OTP zones are already locked");
        if (!atecc_config_locked(dev))
            return atecc_fail(dev, ATECC_E_ZONE_UNLOCKED,
                              "lock the config zone before the data zone");
        return atecc_fail(dev, ATECC_E_EXECUTION,
                          "the chip refused to lock the data zone: the CRC of its contents does "
                          "not match the expected one");
    default:
        if (atecc_slot_is_locked(dev, slot))
            return atecc_fail(dev, ATECC_E_SLOT_LOCKED, "slot %u is already locked", slot);
        if ((kc & ATECC_KEYCFG_LOCKABLE) == 0)
            return atecc_fail(dev, ATECC_E_SLOT_POLICY,
                              "slot %u is not lockable (KeyConfig 0x%04x has Lockable = 0)", slot,
                              kc);
        if (!atecc_data_locked(dev))
            return atecc_fail(dev, ATECC_E_ZONE_UNLOCKED,
                              "slot locks need the data zone locked first");
        return ATECC_E_EXECUTION;
    }
}

static atecc_err explain_key(struct atecc_device *dev, enum atecc_op_kind kind, uint8_t slot)
{
    uint16_t sc = atecc_slot_config(dev, slot);
    uint16_t kc = atecc_key_config(dev, slot);

    if (!atecc_config_locked(dev))
        return atecc_fail(dev, ATECC_E_ZONE_UNLOCKED, "keys need the config zone locked first");
    if (kind == ATECC_KIND_GENKEY && atecc_slot_is_locked(dev, slot))
        return atecc_fail(dev, ATECC_E_SLOT_LOCKED,
                          "slot %u is locked: GenKey cannot replace its key", slot);
    if (!is_p256_private(kc))
        return atecc_fail(dev, ATECC_E_SLOT_POLICY,
                          "slot %u holds no P-256 private key (KeyConfig 0x%04x)", slot, kc);
    switch (kind) {
    case ATECC_KIND_GENKEY:
        if (atecc_data_locked(dev) && (sc & ATECC_SLOTCFG_GENKEY_ALLOWED) == 0)
            return atecc_fail(dev, ATECC_E_SLOT_POLICY,
                              "slot %u's key is permanent (SlotConfig 0x%04x lacks WriteConfig "
                              "bit 13, GenKey)", slot, sc);
        break;
    case ATECC_KIND_PUBKEY:
        if ((kc & ATECC_KEYCFG_PUBINFO) == 0)
            return atecc_fail(dev, ATECC_E_SLOT_POLICY,
                              "slot %u does not release its public key (KeyConfig 0x%04x lacks "
                              "PubInfo)", slot, kc);
        break;
    case ATECC_KIND_SIGN:
        if ((sc & ATECC_SLOTCFG_EXT_SIGN) == 0)
            return atecc_fail(dev, ATECC_E_SLOT_POLICY,
                              "slot %u may not sign external messages (SlotConfig 0x%04x ReadKey "
                              "bit 0 clear)", slot, sc);
        if (!atecc_data_locked(dev))
            return atecc_fail(dev, ATECC_E_ZONE_UNLOCKED, "signing needs the data zone locked");
        break;
    case ATECC_KIND_ECDH:
        if ((sc & ATECC_SLOTCFG_ECDH) == 0)
            return atecc_fail(dev, ATECC_E_SLOT_POLICY,
                              "slot %u may not do ECDH (SlotConfig 0x%04x ReadKey bit 2 clear)",
                              slot, sc);
        break;
    default:
        break;
    }
    return ATECC_E_EXECUTION;
}

atecc_err atecc_explain(struct atecc_device *dev, atecc_err rc, enum atecc_op_kind kind,
                        uint8_t zone, uint8_t slot)
{
    if (rc != ATECC_E_EXECUTION || !dev->config_valid)
        return rc;
    switch (kind) {
    case ATECC_KIND_READ: return explain_read(dev, zone, slot);
    case ATECC_KIND_WRITE: return explain_write(dev, zone, slot);
    case ATECC_KIND_LOCK_CONFIG:
    case ATECC_KIND_LOCK_DATA:
    case ATECC_KIND_LOCK_SLOT: return explain_lock(dev, kind, slot);
    case ATECC_KIND_GENKEY:
    case ATECC_KIND_PUBKEY:
    case ATECC_KIND_SIGN:
    case ATECC_KIND_ECDH: return explain_key(dev, kind, slot);
    }
    return rc;
}
