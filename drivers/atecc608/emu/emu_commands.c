/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Emulator command handlers: one function per opcode, each checking its
 * parameters and the chip's state and answering with output bytes or a
 * status byte (shared/atecc608.md "Opcodes used here").
 *
 * Owns the meaning of TempKey, the message digest buffer and the alternate
 * key buffer; zone policy is delegated to emu_zones.c, arithmetic to
 * emu_crypto.c. Must never return private key bytes.
 *
 * Modelled commands and CHOICEs (anything else in a mode or parameter is a
 * parse error, 0x03; an opcode not listed here is 0x03 too):
 * - Info mode 0x00 only: 00 00 60 rr.
 * - Random mode 0x00, no data: 32 bytes; FF FF 00 00 repeated while the
 *   config zone is unlocked.
 * - Nonce pass-through 0x03/0x43/0x83 (32 bytes), 0x23/0x63 (64 bytes) into
 *   TempKey / message digest / alternate key buffer. Random modes 0x00 and
 *   0x01 (20-byte NumIn): the chip draws RandOut (32 bytes, the fixed
 *   pattern before config lock), returns it, and sets TempKey =
 *   SHA-256(RandOut || NumIn || 0x16 || mode || 0x00), the datasheet's
 *   nonce formula. param2 must be 0.
 * - GenKey 0x04 (create) and 0x00 (public key of the stored key). The
 *   digest modes 0x08/0x0C/0x10 and param2 0xFFFF (TempKey) are not
 *   modelled: 0x03. CHOICE: 0x00 on a slot with no key yet is 0x0F.
 *   0x00 needs KeyConfig PubInfo. All GenKey modes need the config zone
 *   locked.
 * - Sign 0x80 (TempKey) and 0xA0 (message digest buffer): need config lock,
 *   a P-256 private slot with a key, ReadKey bit 0 and a valid buffer.
 *   CHOICE: the buffer used is invalidated afterwards. Internal Sign
 *   (0x00/0x40) needs TempKey from GenDig/GenKey, which this model never
 *   produces, so it is 0x0F.
 * - Verify 0x02 / 0x22 external (param2 0x0004, data R||S||X||Y) and
 *   0x00 / 0x20 stored (param2 = slot 8-15 holding a P-256 public key as
 *   pad(4) X pad(4) Y, data R||S). 0x00 valid, 0x01 invalid. CHOICE: a
 *   public key that is not a P-256 point is 0x0F; the message buffer stays
 *   valid. MAC output (bit 7) and the validate modes are not modelled.
 * - ECDH 0x0C (shared X in clear), 0x08 (into TempKey), 0x00 legacy: clear
 *   output when ReadKey bit 3 is clear, else into slot N|1 (N even; odd N
 *   is 0x0F). Needs ReadKey bit 2. ChipOptions ECDH protection forces
 *   encryption, so clear output is then 0x0F. Encrypted output (0x0E),
 *   TempKey source and slot destination 0x04 are not modelled. A peer key
 *   that is not a P-256 point is 0x0F.
 * - SelfTest: mode bits within 0x3F (protocol.h CHOICE), non-zero; result
 *   byte 0x00 (every test passes).
 * - UpdateExtra 0x00 (byte 84) / 0x01 (byte 85) from param2's low byte,
 *   once (the byte must still be 0), config zone locked.
 * ReqRandom is not enforced (CHOICE in shared/atecc608.md).
 */
#include <string.h>

#include "emu_datasheet.h"
#include "emu_internal.h"

static void emu_status(struct emu_rsp *rsp, uint8_t status)
{
    rsp->data[0] = status;
    rsp->len = 1;
}

/* Before config lock the RNG is not seeded and gives a fixed pattern. */
static uint8_t emu_chip_random(struct emu_chip *chip, uint8_t out[32])
{
    if (!emu_config_locked(chip)) {
        for (unsigned i = 0; i < 32; i++)
            out[i] = (i % 4) < 2 ? 0xFF : 0x00;
        return ATECC_STATUS_SUCCESS;
    }
    return emu_random_bytes(out, 32) == 0 ? ATECC_STATUS_SUCCESS : ATECC_STATUS_HEALTH_TEST_ERROR;
}

static void emu_cmd_info(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    if (cmd->param1 != ATECC_INFO_REVISION || cmd->param2 != 0 || cmd->data_len != 0) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    rsp->data[0] = 0x00;
    rsp->data[1] = 0x00;
    rsp->data[2] = 0x60;
    rsp->data[3] = chip->revision;
    rsp->len = 4;
}

static void emu_cmd_random(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    uint8_t status;

    if (cmd->param1 != ATECC_RANDOM_SEED_UPDATE || cmd->param2 != 0 || cmd->data_len != 0) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    status = emu_chip_random(chip, rsp->data);
    if (status != ATECC_STATUS_SUCCESS) {
        emu_status(rsp, status);
        return;
    }
    rsp->len = ATECC_RANDOM_SIZE;
}

static void emu_nonce_random(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    uint8_t msg[32 + 20 + 3];
    uint8_t status;

    if (cmd->data_len != 20) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    status = emu_chip_random(chip, rsp->data);
    if (status != ATECC_STATUS_SUCCESS) {
        emu_status(rsp, status);
        return;
    }
    memcpy(msg, rsp->data, 32);
    memcpy(msg + 32, cmd->data, 20);
    msg[52] = ATECC_OP_NONCE;
    msg[53] = cmd->param1;
    msg[54] = 0x00; /* LSB of param2 */
    if (emu_sha256(msg, sizeof(msg), chip->vol.tempkey) != 0) {
        emu_status(rsp, ATECC_STATUS_ECC_FAULT);
        return;
    }
    chip->vol.tempkey_valid = true;
    chip->vol.tempkey_64 = false;
    rsp->len = 32;
}

static void emu_cmd_nonce(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    struct emu_volatile *vol = &chip->vol;

    if (cmd->param2 != 0) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    switch (cmd->param1) {
    case 0x00:
    case 0x01:
        emu_nonce_random(chip, cmd, rsp);
        return;
    case ATECC_NONCE_PASSTHROUGH:
    case ATECC_NONCE_PASSTHROUGH_64:
        if (cmd->data_len != (cmd->param1 == ATECC_NONCE_PASSTHROUGH ? 32u : 64u))
            break;
        memset(vol->tempkey, 0, sizeof(vol->tempkey));
        memcpy(vol->tempkey, cmd->data, cmd->data_len);
        vol->tempkey_valid = true;
        vol->tempkey_64 = cmd->data_len == 64;
        emu_status(rsp, ATECC_STATUS_SUCCESS);
        return;
    case ATECC_NONCE_PASSTHROUGH_MSGDIG:
    case ATECC_NONCE_PASSTHROUGH_64_MSGDIG:
        if (cmd->data_len != (cmd->param1 == ATECC_NONCE_PASSTHROUGH_MSGDIG ? 32u : 64u))
            break;
        memset(vol->msgdigest, 0, sizeof(vol->msgdigest));
        memcpy(vol->msgdigest, cmd->data, cmd->data_len);
        vol->msgdigest_valid = true;
        emu_status(rsp, ATECC_STATUS_SUCCESS);
        return;
    case ATECC_NONCE_PASSTHROUGH_ALTKEY:
        if (cmd->data_len != 32)
            break;
        memcpy(vol->altkey, cmd->data, 32);
        vol->altkey_valid = true;
        emu_status(rsp, ATECC_STATUS_SUCCESS);
        return;
    default:
        break;
    }
    emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
}

static void emu_cmd_genkey(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    unsigned slot = cmd->param2;
    uint8_t *priv;

    if ((cmd->param1 != ATECC_GENKEY_PRIVATE && cmd->param1 != ATECC_GENKEY_PUBLIC) ||
        slot >= ATECC_SLOT_COUNT || cmd->data_len != 0) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    if (!emu_config_locked(chip) || !emu_slot_is_p256_private(chip, slot)) {
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    }
    priv = emu_slot_privkey(chip, slot);
    if (cmd->param1 == ATECC_GENKEY_PRIVATE) {
        /* Before data lock any P-256 private slot may be (re)generated. */
        if (emu_slot_locked(chip, slot) ||
            (emu_data_locked(chip) && (emu_slot_config(chip, slot) & ATECC_SLOTCFG_GENKEY_ALLOWED) == 0)) {
            emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
            return;
        }
        if (emu_p256_keygen(priv, rsp->data) != 0) {
            emu_status(rsp, ATECC_STATUS_ECC_FAULT);
            return;
        }
        chip->zones.key_valid |= (uint16_t)(1u << slot);
        if (!emu_zones_commit(chip)) {
            emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
            return;
        }
        rsp->len = ATECC_P256_PUBKEY_SIZE;
        return;
    }
    if ((emu_key_config(chip, slot) & ATECC_KEYCFG_PUBINFO) == 0 ||
        (chip->zones.key_valid & (1u << slot)) == 0) {
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    }
    if (emu_p256_public(priv, rsp->data) != 0) {
        emu_status(rsp, ATECC_STATUS_ECC_FAULT);
        return;
    }
    rsp->len = ATECC_P256_PUBKEY_SIZE;
}

/* Checks shared by Sign and ECDH: a usable P-256 private key in slot. */
static bool emu_private_key_usable(const struct emu_chip *chip, unsigned slot, uint16_t readkey_bit)
{
    return emu_config_locked(chip) && emu_slot_is_p256_private(chip, slot) &&
           (chip->zones.key_valid & (1u << slot)) != 0 &&
           (emu_slot_config(chip, slot) & readkey_bit) != 0;
}

static void emu_cmd_sign(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    unsigned slot = cmd->param2;
    uint8_t *message;
    bool *valid;

    if (slot >= ATECC_SLOT_COUNT || cmd->data_len != 0) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    switch (cmd->param1) {
    case ATECC_SIGN_EXTERNAL:
        message = chip->vol.tempkey;
        valid = &chip->vol.tempkey_valid;
        break;
    case ATECC_SIGN_EXTERNAL_MSGDIG:
        message = chip->vol.msgdigest;
        valid = &chip->vol.msgdigest_valid;
        break;
    case ATECC_SIGN_INTERNAL:
    case 0x40: /* internal, with serial number */
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    default:
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    if (!emu_private_key_usable(chip, slot, ATECC_SLOTCFG_EXT_SIGN) || !*valid) {
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    }
    if (emu_p256_sign(emu_slot_privkey(chip, slot), message, rsp->data) != 0) {
        emu_status(rsp, ATECC_STATUS_ECC_FAULT);
        return;
    }
    *valid = false;
    rsp->len = ATECC_P256_SIGNATURE_SIZE;
}

static void emu_cmd_verify(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    bool in_msgdigest = (cmd->param1 & ATECC_VERIFY_MSGDIG) != 0;
    uint8_t base_mode = (uint8_t)(cmd->param1 & ~ATECC_VERIFY_MSGDIG);
    uint8_t pub[64];
    const uint8_t *message = in_msgdigest ? chip->vol.msgdigest : chip->vol.tempkey;
    bool valid = in_msgdigest ? chip->vol.msgdigest_valid : chip->vol.tempkey_valid;
    int verdict;

    if (base_mode == ATECC_VERIFY_EXTERNAL) {
        if (cmd->param2 != ATECC_VERIFY_KEY_P256 ||
            cmd->data_len != ATECC_P256_SIGNATURE_SIZE + ATECC_P256_PUBKEY_SIZE) {
            emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
            return;
        }
        memcpy(pub, cmd->data + ATECC_P256_SIGNATURE_SIZE, sizeof(pub));
    } else if (base_mode == ATECC_VERIFY_STORED) {
        unsigned slot = cmd->param2;
        uint16_t key_config;
        const uint8_t *stored;
        if (slot >= ATECC_SLOT_COUNT || cmd->data_len != ATECC_P256_SIGNATURE_SIZE) {
            emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
            return;
        }
        key_config = emu_key_config(chip, slot);
        if (emu_slot_bytes(slot) < EMU_PUBKEY_SLOT_SIZE || (key_config & ATECC_KEYCFG_PRIVATE) != 0 ||
            ((key_config & ATECC_KEYCFG_KEYTYPE_MASK) >> ATECC_KEYCFG_KEYTYPE_SHIFT) != ATECC_KEYTYPE_P256) {
            emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
            return;
        }
        stored = &chip->zones.data[emu_slot_offset(slot)];
        memcpy(pub, stored + 4, 32);
        memcpy(pub + 32, stored + 40, 32);
    } else {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    if (!valid) {
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    }
    verdict = emu_p256_verify(pub, message, cmd->data);
    emu_status(rsp, verdict == 1   ? ATECC_STATUS_SUCCESS
                    : verdict == 0 ? ATECC_STATUS_MISCOMPARE
                                   : ATECC_STATUS_EXECUTION_ERROR);
}

static void emu_cmd_ecdh(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    unsigned slot = cmd->param2;
    uint16_t slot_config;
    uint16_t chip_options;
    uint8_t shared[32];
    bool clear_output = false;
    bool to_next_slot = false;

    if ((cmd->param1 != ATECC_ECDH_SLOT_LEGACY && cmd->param1 != ATECC_ECDH_OUTPUT_CLEAR &&
         cmd->param1 != ATECC_ECDH_TO_TEMPKEY) ||
        slot >= ATECC_SLOT_COUNT || cmd->data_len != ATECC_P256_PUBKEY_SIZE) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    if (!emu_private_key_usable(chip, slot, ATECC_SLOTCFG_ECDH)) {
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    }
    slot_config = emu_slot_config(chip, slot);
    chip_options = (uint16_t)(chip->zones.config[ATECC_CFG_CHIP_OPTIONS] |
                              (chip->zones.config[ATECC_CFG_CHIP_OPTIONS + 1] << 8));
    if (cmd->param1 == ATECC_ECDH_OUTPUT_CLEAR)
        clear_output = true;
    else if (cmd->param1 == ATECC_ECDH_SLOT_LEGACY) {
        to_next_slot = (slot_config & ATECC_SLOTCFG_ECDH_TO_NEXT) != 0;
        clear_output = !to_next_slot;
    }
    /* ChipOptions bits 8-9 (ECDH protection) forbid a clear result. */
    if ((clear_output && (chip_options & 0x0300u) != 0) || (to_next_slot && (slot & 1u) != 0)) {
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    }
    if (emu_p256_ecdh(emu_slot_privkey(chip, slot), cmd->data, shared) != 0) {
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    }
    if (clear_output) {
        memcpy(rsp->data, shared, 32);
        rsp->len = 32;
    } else if (to_next_slot) {
        memcpy(&chip->zones.data[emu_slot_offset(slot | 1u)], shared, 32);
        emu_status(rsp, emu_zones_commit(chip) ? ATECC_STATUS_SUCCESS : ATECC_STATUS_EXECUTION_ERROR);
    } else {
        memset(chip->vol.tempkey, 0, sizeof(chip->vol.tempkey));
        memcpy(chip->vol.tempkey, shared, 32);
        chip->vol.tempkey_valid = true;
        chip->vol.tempkey_64 = false;
        emu_status(rsp, ATECC_STATUS_SUCCESS);
    }
    emu_cleanse(shared, sizeof(shared));
}

static void emu_cmd_read(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    uint8_t status = ATECC_STATUS_PARSE_ERROR;

    if (cmd->data_len == 0)
        status = emu_zone_read(chip, cmd->param1, cmd->param2, rsp);
    if (status != ATECC_STATUS_SUCCESS)
        emu_status(rsp, status);
}

static void emu_cmd_write(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    emu_status(rsp, emu_zone_write(chip, cmd->param1, cmd->param2, cmd->data, cmd->data_len));
}

static void emu_cmd_lock(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    if (cmd->data_len != 0) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    emu_status(rsp, emu_zone_lock(chip, cmd->param1, cmd->param2));
}

static void emu_cmd_selftest(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    (void)chip;
    if (cmd->param1 == 0 || (cmd->param1 & ~ATECC_SELFTEST_ALL) != 0 || cmd->param2 != 0 ||
        cmd->data_len != 0) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    emu_status(rsp, 0x00); /* result byte: no test failed */
}

static void emu_cmd_update_extra(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    unsigned offset;

    if (cmd->param1 > 0x01 || cmd->param2 > 0xFF || cmd->data_len != 0) {
        emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
        return;
    }
    offset = cmd->param1 == 0x00 ? ATECC_CFG_USER_EXTRA : ATECC_CFG_USER_EXTRA_ADD;
    if (!emu_config_locked(chip) || chip->zones.config[offset] != 0) {
        emu_status(rsp, ATECC_STATUS_EXECUTION_ERROR);
        return;
    }
    chip->zones.config[offset] = (uint8_t)cmd->param2;
    emu_status(rsp, emu_zones_commit(chip) ? ATECC_STATUS_SUCCESS : ATECC_STATUS_EXECUTION_ERROR);
}

typedef void (*emu_handler_fn)(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp);

static const struct {
    uint8_t opcode;
    emu_handler_fn run;
} emu_handlers[] = {
    { ATECC_OP_INFO, emu_cmd_info },
    { ATECC_OP_RANDOM, emu_cmd_random },
    { ATECC_OP_NONCE, emu_cmd_nonce },
    { ATECC_OP_GENKEY, emu_cmd_genkey },
    { ATECC_OP_SIGN, emu_cmd_sign },
    { ATECC_OP_VERIFY, emu_cmd_verify },
    { ATECC_OP_ECDH, emu_cmd_ecdh },
    { ATECC_OP_READ, emu_cmd_read },
    { ATECC_OP_WRITE, emu_cmd_write },
    { ATECC_OP_LOCK, emu_cmd_lock },
    { ATECC_OP_SELFTEST, emu_cmd_selftest },
    { ATECC_OP_UPDATEEXTRA, emu_cmd_update_extra },
};

void emu_command_run(struct emu_chip *chip, const struct emu_cmd *cmd, struct emu_rsp *rsp)
{
    for (size_t i = 0; i < sizeof(emu_handlers) / sizeof(emu_handlers[0]); i++) {
        if (emu_handlers[i].opcode == cmd->opcode) {
            emu_handlers[i].run(chip, cmd, rsp);
            return;
        }
    }
    emu_status(rsp, ATECC_STATUS_PARSE_ERROR);
}
