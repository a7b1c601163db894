/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-tool provision: a blank part from unlocked to a working device
 * key in three explicit steps (docs/provisioning.md):
 *   provision --layout L                 write the config zone, read it
 *                                         back, show what changed
 *   provision --layout L --lock-config --yes-lock-permanently
 *                                         lock it (CRC checked), then
 *                                         generate the layout's keys
 *   provision --layout L --lock-data --yes-lock-permanently
 *                                         lock the data and OTP zones
 * Each step first reads the chip and refuses a part whose configuration
 * differs from the layout where it can no longer change (locked); a step
 * already done is reported and succeeds, so re-running the flow is safe.
 *
 * Owns: the provisioning steps and what they print.
 * Must never: lock anything without --yes-lock-permanently; lock a config
 * zone that differs from the layout; guess about a part it does not
 * recognise.
 */
#include "tool.h"

#include <string.h>

#include "atecc608/crc.h"
#include "layout.h"

static const char confirm_flag[] = "--yes-lock-permanently";

static bool zone_locked(const uint8_t config[ATECC_CONFIG_SIZE], unsigned byte)
{
    return config[byte] != ATECC_LOCK_STATE_UNLOCKED;
}

/* Config words the layout may change: bytes 16-83 and 88-127 (words 4-20
 * and 22-31); word 21 (bytes 84-87: UserExtra, UserExtraAdd, lock bytes)
 * is written only by UpdateExtra and Lock, bytes 0-15 never. */
static bool word_writable(unsigned word)
{
    return word >= ATECC_CFG_WRITABLE_FIRST / ATECC_WORD_SIZE && word != ATECC_CFG_USER_EXTRA / ATECC_WORD_SIZE;
}

static int write_config(struct tool_ctx *ctx, const struct layout *layout,
                        const uint8_t before[ATECC_CONFIG_SIZE], uint8_t after[ATECC_CONFIG_SIZE])
{
    uint8_t want[ATECC_CONFIG_SIZE];
    atecc_err err;

    memcpy(want, before, sizeof(want));
    layout_apply(layout, want);
    /* The word holding the I2C address (byte 16) goes last: a chip may
     * answer at a new address from its next sleep on. */
    for (unsigned i = 0; i < ATECC_CONFIG_SIZE / ATECC_WORD_SIZE; i++) {
        unsigned first = ATECC_CFG_I2C_ADDRESS / ATECC_WORD_SIZE;
        unsigned w = i == ATECC_CONFIG_SIZE / ATECC_WORD_SIZE - 1 ? first : (i >= first ? i + 1 : i);
        unsigned off = w * ATECC_WORD_SIZE;
        if (!word_writable(w) || memcmp(&want[off], &before[off], ATECC_WORD_SIZE) == 0)
            continue;
        err = atecc_write(ctx->dev, ATECC_ZONE_CONFIG, 0, (uint8_t)(w / 8), (uint8_t)(w % 8), &want[off],
                          ATECC_WORD_SIZE);
        if (err != ATECC_OK) {
            char what[64];
            snprintf(what, sizeof(what), "writing config bytes %u-%u", off, off + 3);
            return tool_fail(ctx, what, err);
        }
    }
    err = atecc_read_config(ctx->dev, after);
    if (err != ATECC_OK)
        return tool_fail(ctx, "reading the config zone back", err);
    if (layout_diff(layout, after, NULL) != 0) {
        fprintf(stderr, "atecc608-tool: provision: the config zone read back differs from what was "
                        "written:\n");
        layout_diff(layout, after, stderr);
        return TOOL_EXIT_CHIP;
    }
    return TOOL_EXIT_OK;
}

/* A locked config zone that is not the layout's can never become it. */
static int refuse_different(const struct layout *layout, const uint8_t config[ATECC_CONFIG_SIZE])
{
    fprintf(stderr, "atecc608-tool: provision: refusing: this part's config zone is locked and differs "
                    "from layout '%s' in %u field(s):\n", layout->name, layout_diff(layout, config, NULL));
    layout_diff(layout, config, stderr);
    if (config[ATECC_CFG_I2C_ADDRESS] == ATECC_ADDR_TRUSTANDGO << 1)
        fprintf(stderr, "This looks like a Trust&GO part (address 0x35): it needs no provisioning; its "
                        "device key is in slot 0 (see docs/provisioning.md).\n");
    else
        fprintf(stderr, "It was provisioned with another layout; it cannot be changed. Use the layout "
                        "it was provisioned with (see 'atecc608-tool config').\n");
    return TOOL_EXIT_REFUSED;
}

static int step_write(struct tool_ctx *ctx, const struct layout *layout, const char *layout_arg,
                      const uint8_t config[ATECC_CONFIG_SIZE])
{
    uint8_t after[ATECC_CONFIG_SIZE];
    int rc;

    if (zone_locked(config, ATECC_CFG_LOCK_CONFIG)) {
        if (layout_diff(layout, config, NULL) != 0)
            return refuse_different(layout, config);
        printf("config zone: locked, matches layout '%s' (nothing to write)\n", layout->name);
        printf("data zone:   %s\n", zone_locked(config, ATECC_CFG_LOCK_VALUE)
                                        ? "locked: this part is fully provisioned"
                                        : "unlocked: next step is --lock-data");
        return TOOL_EXIT_OK;
    }
    rc = write_config(ctx, layout, config, after);
    if (rc != TOOL_EXIT_OK)
        return rc;
    printf("config zone written with layout '%s' and read back; changes (chip before -> after):\n",
           layout->name);
    layout_show_change(config, after, stdout);
    if (after[ATECC_CFG_I2C_ADDRESS] != config[ATECC_CFG_I2C_ADDRESS])
        printf("The I2C address changed: the part answers at 0x%02x from its next sleep or power-up;\n"
               "use that address for the next steps and in pkcs11.json.\n", layout->i2c_address);
    printf("Nothing is permanent yet: the config zone is still unlocked and can be rewritten.\n"
           "Next: atecc608-tool provision --layout %s --lock-config %s\n", layout_arg, confirm_flag);
    return TOOL_EXIT_OK;
}

/* Generates (generate true) or reads the key in slot and prints its public key. */
static int slot_key(struct tool_ctx *ctx, unsigned slot, bool generate)
{
    uint8_t pub[ATECC_P256_PUBKEY_SIZE];
    atecc_err err = generate ? atecc_genkey(ctx->dev, (uint8_t)slot, pub)
                             : atecc_pubkey(ctx->dev, (uint8_t)slot, pub);
    char what[48];

    if (err != ATECC_OK) {
        snprintf(what, sizeof(what), "%s the key in slot %u", generate ? "generating" : "reading", slot);
        return tool_fail(ctx, what, err);
    }
    printf("slot %u: P-256 key %s; public key:\n", slot, generate ? "generated" : "already present (kept)");
    return fmt_pubkey_pem(stdout, pub) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_LOCAL;
}

static int generate_keys(struct tool_ctx *ctx, const struct layout *layout, bool was_locked)
{
    uint8_t pub[ATECC_P256_PUBKEY_SIZE];
    int rc;

    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++) {
        if (!layout->slots[s].genkey)
            continue;
        /* CHOICE: on a re-run (config already locked, data not) a slot
         * that already answers with a public key keeps its key, so a CSR
         * made from it stays valid; only empty slots get a new one. */
        if (was_locked && atecc_pubkey(ctx->dev, (uint8_t)s, pub) == ATECC_OK)
            rc = slot_key(ctx, s, false);
        else
            rc = slot_key(ctx, s, true);
        if (rc != TOOL_EXIT_OK)
            return rc;
    }
    return TOOL_EXIT_OK;
}

static int step_lock_config(struct tool_ctx *ctx, const struct layout *layout, const char *layout_arg,
                            const uint8_t config[ATECC_CONFIG_SIZE], bool yes)
{
    bool was_locked = zone_locked(config, ATECC_CFG_LOCK_CONFIG);
    uint16_t crc = atecc_crc16(config, ATECC_CONFIG_SIZE);
    atecc_err err;
    int rc;

    if (layout_diff(layout, config, NULL) != 0) {
        if (was_locked)
            return refuse_different(layout, config);
        fprintf(stderr, "atecc608-tool: provision --lock-config: refusing: the config zone differs from "
                        "layout '%s':\n", layout->name);
        layout_diff(layout, config, stderr);
        fprintf(stderr, "Write it first: atecc608-tool provision --layout %s\n", layout_arg);
        return TOOL_EXIT_REFUSED;
    }
    if (zone_locked(config, ATECC_CFG_LOCK_VALUE)) {
        printf("config and data zones are already locked with layout '%s': nothing to do\n", layout->name);
        return TOOL_EXIT_OK;
    }
    if (was_locked) {
        printf("config zone: already locked, matches layout '%s'\n", layout->name);
    } else {
        printf("Locking the config zone makes these values PERMANENT (config CRC 0x%04x):\n", crc);
        layout_describe(layout, stdout);
        printf("  and every other config byte as it is now (see 'atecc608-tool config').\n"
               "Keys are then generated in the slots marked [key]; until the data zone is locked\n"
               "they can still be regenerated.\n");
        if (!yes) {
            fprintf(stderr, "atecc608-tool: provision: NOT locked: this cannot be undone on a real chip; "
                            "add %s to confirm\n", confirm_flag);
            return TOOL_EXIT_USAGE;
        }
        /* The CRC of what we read and checked: the chip refuses the lock if
         * its contents changed since. */
        err = atecc_lock_config(ctx->dev, &crc);
        if (err != ATECC_OK)
            return tool_fail(ctx, "locking the config zone", err);
        printf("config zone locked\n");
    }
    rc = generate_keys(ctx, layout, was_locked);
    if (rc != TOOL_EXIT_OK)
        return rc;
    printf("Next: atecc608-tool provision --layout %s --lock-data %s\n", layout_arg, confirm_flag);
    return TOOL_EXIT_OK;
}

static int step_lock_data(struct tool_ctx *ctx, const struct layout *layout, const char *layout_arg,
                          const uint8_t config[ATECC_CONFIG_SIZE], bool yes)
{
    uint8_t pub[ATECC_P256_PUBKEY_SIZE];
    atecc_err err;

    if (!zone_locked(config, ATECC_CFG_LOCK_CONFIG)) {
        fprintf(stderr, "atecc608-tool: provision --lock-data: refusing: the config zone is not locked "
                        "yet; first: atecc608-tool provision --layout %s --lock-config %s\n",
                layout_arg, confirm_flag);
        return TOOL_EXIT_REFUSED;
    }
    if (layout_diff(layout, config, NULL) != 0)
        return refuse_different(layout, config);
    if (zone_locked(config, ATECC_CFG_LOCK_VALUE)) {
        printf("data zone: already locked; the part is fully provisioned with layout '%s'\n", layout->name);
        return TOOL_EXIT_OK;
    }
    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++) {
        if (layout->slots[s].genkey && atecc_pubkey(ctx->dev, (uint8_t)s, pub) != ATECC_OK) {
            fprintf(stderr, "atecc608-tool: provision --lock-data: refusing: slot %u has no key yet; "
                            "run: atecc608-tool provision --layout %s --lock-config %s\n",
                    s, layout_arg, confirm_flag);
            return TOOL_EXIT_REFUSED;
        }
    }
    printf("Locking the data and OTP zones makes this PERMANENT:\n");
    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++) {
        const struct layout_slot *sl = &layout->slots[s];
        bool renewable = (sl->slot_config & ATECC_SLOTCFG_GENKEY_ALLOWED) != 0;
        if (sl->genkey)
            printf("  slot %2u: its current key %s\n", s,
                   renewable ? "stays until GenKey renews it" : "can never be replaced or removed");
        else if ((sl->key_config & ATECC_KEYCFG_PRIVATE) != 0 && renewable)
            printf("  slot %2u: empty key slot; GenKey may create its key later (rotation)\n", s);
    }
    printf("  data slots follow their WriteConfig from now on; the OTP zone becomes read-only.\n"
           "  The lock is sent without a CRC check: private keys never leave the chip, so no\n"
           "  one can compute the data zone's CRC.\n");
    if (!yes) {
        fprintf(stderr, "atecc608-tool: provision: NOT locked: this cannot be undone on a real chip; "
                        "add %s to confirm\n", confirm_flag);
        return TOOL_EXIT_USAGE;
    }
    err = atecc_lock_data(ctx->dev, NULL);
    if (err != ATECC_OK)
        return tool_fail(ctx, "locking the data zone", err);
    printf("data zone locked: the part is provisioned with layout '%s'\n", layout->name);
    return TOOL_EXIT_OK;
}

int cmd_provision(struct tool_ctx *ctx)
{
    const char *layout_arg = NULL;
    const char *print_arg = NULL;
    bool lock_config = tool_take_flag(ctx, "--lock-config");
    bool lock_data = tool_take_flag(ctx, "--lock-data");
    bool yes = tool_take_flag(ctx, confirm_flag);
    struct layout layout;
    uint8_t config[ATECC_CONFIG_SIZE];
    char err_text[400];
    atecc_err err;
    int rc;

    if (tool_take_opt(ctx, "--layout", &layout_arg) < 0 || tool_take_opt(ctx, "--print-layout", &print_arg) < 0)
        return tool_usage_error("provision: --layout and --print-layout need a NAME or FILE");
    rc = tool_no_more_options(ctx);
    if (rc != TOOL_EXIT_OK)
        return rc;
    if (ctx->argc != 1)
        return tool_usage_error("provision takes no positional arguments");
    if (print_arg != NULL) {
        if (layout_arg != NULL || lock_config || lock_data || yes)
            return tool_usage_error("provision --print-layout NAME takes no other option");
        if (layout_load(print_arg, &layout, err_text, sizeof(err_text)) != 0)
            return tool_usage_error("%s", err_text);
        layout_print_json(stdout, &layout);
        return TOOL_EXIT_OK;
    }
    if (layout_arg == NULL)
        return tool_usage_error("provision needs --layout NAME|FILE (built-in: %s)", layout_builtin_names());
    if (lock_config && lock_data)
        return tool_usage_error("provision: --lock-config and --lock-data are separate steps; run them one "
                                "after the other");
    if (yes && !lock_config && !lock_data)
        return tool_usage_error("provision: %s confirms --lock-config or --lock-data", confirm_flag);
    if (layout_load(layout_arg, &layout, err_text, sizeof(err_text)) != 0)
        return tool_usage_error("%s", err_text);
    if ((rc = tool_open(ctx)) != TOOL_EXIT_OK)
        return rc;
    err = atecc_read_config(ctx->dev, config);
    if (err != ATECC_OK)
        return tool_fail(ctx, "reading the config zone", err);
    if (lock_config)
        return step_lock_config(ctx, &layout, layout_arg, config, yes);
    if (lock_data)
        return step_lock_data(ctx, &layout, layout_arg, config, yes);
    return step_write(ctx, &layout, layout_arg, config);
}
