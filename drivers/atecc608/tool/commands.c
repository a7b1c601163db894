/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-tool commands on the chip as a whole and its zones: info,
 * serial, random, config, read, lock, selftest; and the helpers that pick
 * options out of a command's arguments. Must never lock anything without
 * --yes-lock-permanently.
 */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

#include "atecc608/crc.h"

static void drop_args(struct tool_ctx *ctx, int at, int n)
{
    for (int i = at; i + n <= ctx->argc; i++)
        ctx->argv[i] = ctx->argv[i + n];
    ctx->argc -= n;
}

bool tool_take_flag(struct tool_ctx *ctx, const char *name)
{
    for (int i = 1; i < ctx->argc; i++) {
        if (strcmp(ctx->argv[i], name) == 0) {
            drop_args(ctx, i, 1);
            return true;
        }
    }
    return false;
}

int tool_take_opt(struct tool_ctx *ctx, const char *name, const char **value)
{
    size_t n = strlen(name);

    *value = NULL;
    for (int i = 1; i < ctx->argc; i++) {
        if (strncmp(ctx->argv[i], name, n) == 0 && ctx->argv[i][n] == '=') {
            *value = ctx->argv[i] + n + 1;
            drop_args(ctx, i, 1);
            return 0;
        }
        if (strcmp(ctx->argv[i], name) == 0) {
            if (i + 1 >= ctx->argc)
                return -1;
            *value = ctx->argv[i + 1];
            drop_args(ctx, i, 2);
            return 0;
        }
    }
    return 0;
}

int tool_no_more_options(struct tool_ctx *ctx)
{
    for (int i = 1; i < ctx->argc; i++)
        if (strncmp(ctx->argv[i], "--", 2) == 0)
            return tool_usage_error("%s: unknown option '%s'", ctx->argv[0], ctx->argv[i]);
    return TOOL_EXIT_OK;
}

static int expect_args(struct tool_ctx *ctx, int min, int max, const char *usage)
{
    int rc = tool_no_more_options(ctx);

    if (rc != TOOL_EXIT_OK)
        return rc;
    if (ctx->argc - 1 < min || ctx->argc - 1 > max)
        return tool_usage_error("usage: atecc608-tool %s", usage);
    return tool_open(ctx);
}

static const char *model_name(enum atecc_chip_model m)
{
    switch (m) {
    case ATECC_MODEL_608A: return "ATECC608A";
    case ATECC_MODEL_608B: return "ATECC608B";
    default: return "unknown (not an ATECC608A/B revision)";
    }
}

static const char *lock_state(uint8_t v)
{
    return v == ATECC_LOCK_STATE_UNLOCKED ? "unlocked" : "locked";
}

int cmd_info(struct tool_ctx *ctx)
{
    uint8_t rev[4];
    uint8_t cfg[ATECC_CONFIG_SIZE];
    atecc_err err;
    int rc = expect_args(ctx, 0, 0, "info");

    if (rc != TOOL_EXIT_OK)
        return rc;
    err = atecc_info_revision(ctx->dev, rev);
    if (err != ATECC_OK)
        return tool_fail(ctx, "info", err);
    err = atecc_read_config(ctx->dev, cfg);
    if (err != ATECC_OK)
        return tool_fail(ctx, "reading the config zone", err);
    printf("model          %s\n", model_name(atecc_model(ctx->dev)));
    printf("revision       ");
    fmt_hex(stdout, rev, sizeof(rev));
    printf("\nserial         ");
    fmt_hex(stdout, cfg + ATECC_CFG_SN0, 4);
    fmt_hex(stdout, cfg + ATECC_CFG_SN4, 5);
    printf("\nconfig zone    %s\n", lock_state(cfg[ATECC_CFG_LOCK_CONFIG]));
    printf("data zone      %s\n", lock_state(cfg[ATECC_CFG_LOCK_VALUE]));
    printf("slot locks     0x%04x\n", cfg[ATECC_CFG_SLOT_LOCKED] | cfg[ATECC_CFG_SLOT_LOCKED + 1] << 8);
    printf("interface      %s\n", atecc_interface(ctx->dev));
    printf("address        0x%02x\n", atecc_address(ctx->dev));
    return TOOL_EXIT_OK;
}

int cmd_serial(struct tool_ctx *ctx)
{
    uint8_t sn[ATECC_SERIAL_SIZE];
    atecc_err err;
    int rc = expect_args(ctx, 0, 0, "serial");

    if (rc != TOOL_EXIT_OK)
        return rc;
    err = atecc_serial(ctx->dev, sn);
    if (err != ATECC_OK)
        return tool_fail(ctx, "serial", err);
    fmt_hex(stdout, sn, sizeof(sn));
    printf("\n");
    return TOOL_EXIT_OK;
}

int cmd_random(struct tool_ctx *ctx)
{
    uint8_t r[ATECC_RANDOM_SIZE];
    atecc_err err;
    int rc = expect_args(ctx, 0, 0, "random");

    if (rc != TOOL_EXIT_OK)
        return rc;
    err = atecc_random(ctx->dev, r);
    if (err != ATECC_OK)
        return tool_fail(ctx, "random", err);
    fmt_hex(stdout, r, sizeof(r));
    printf("\n");
    return TOOL_EXIT_OK;
}

int cmd_config(struct tool_ctx *ctx)
{
    uint8_t cfg[ATECC_CONFIG_SIZE];
    atecc_err err;
    int rc = expect_args(ctx, 0, 0, "config");

    if (rc != TOOL_EXIT_OK)
        return rc;
    err = atecc_read_config(ctx->dev, cfg);
    if (err != ATECC_OK)
        return tool_fail(ctx, "config", err);
    fmt_config(stdout, cfg);
    return TOOL_EXIT_OK;
}

/* Reads a whole data slot: full blocks 32 bytes at a time, the tail of a
 * 36- or 72-byte slot 4 bytes at a time. */
static atecc_err read_slot(struct atecc_device *dev, uint8_t slot, uint8_t *out)
{
    unsigned size = atecc_slot_size(slot);
    atecc_err err = ATECC_OK;
    unsigned off = 0;

    for (; off + ATECC_BLOCK_SIZE <= size && err == ATECC_OK; off += ATECC_BLOCK_SIZE)
        err = atecc_read(dev, ATECC_ZONE_DATA, slot, (uint8_t)(off / ATECC_BLOCK_SIZE), 0, out + off,
                         ATECC_BLOCK_SIZE);
    for (; off < size && err == ATECC_OK; off += ATECC_WORD_SIZE)
        err = atecc_read(dev, ATECC_ZONE_DATA, slot, (uint8_t)(off / ATECC_BLOCK_SIZE),
                         (uint8_t)(off % ATECC_BLOCK_SIZE / ATECC_WORD_SIZE), out + off,
                         ATECC_WORD_SIZE);
    return err;
}

int cmd_read(struct tool_ctx *ctx)
{
    uint8_t buf[416];
    unsigned a = 0;
    unsigned b = 0;
    size_t len = ATECC_BLOCK_SIZE;
    atecc_err err;
    int rc = tool_no_more_options(ctx);

    if (rc != TOOL_EXIT_OK)
        return rc;
    if (ctx->argc < 3 || ctx->argc > 4)
        return tool_usage_error("usage: atecc608-tool read config|otp BLOCK | read data SLOT [BLOCK]");
    if (strcmp(ctx->argv[1], "data") == 0) {
        if (!tool_parse_uint(ctx->argv[2], ATECC_SLOT_COUNT - 1, &a) ||
            (ctx->argc == 4 && !tool_parse_uint(ctx->argv[3], 12, &b)))
            return tool_usage_error("read data: SLOT is 0-15, BLOCK 0-12");
        if ((rc = tool_open(ctx)) != TOOL_EXIT_OK)
            return rc;
        if (ctx->argc == 4) {
            err = atecc_read(ctx->dev, ATECC_ZONE_DATA, (uint8_t)a, (uint8_t)b, 0, buf, len);
        } else {
            len = atecc_slot_size(a);
            err = read_slot(ctx->dev, (uint8_t)a, buf);
        }
    } else if (strcmp(ctx->argv[1], "config") == 0 || strcmp(ctx->argv[1], "otp") == 0) {
        bool config = ctx->argv[1][0] == 'c';

        if (ctx->argc != 3 || !tool_parse_uint(ctx->argv[2], config ? 3 : 1, &b))
            return tool_usage_error("read %s BLOCK: BLOCK is 0-%d", ctx->argv[1], config ? 3 : 1);
        if ((rc = tool_open(ctx)) != TOOL_EXIT_OK)
            return rc;
        err = atecc_read(ctx->dev, config ? ATECC_ZONE_CONFIG : ATECC_ZONE_OTP, 0, (uint8_t)b, 0, buf,
                         len);
    } else {
        return tool_usage_error("read: zone '%s' is not config, otp or data", ctx->argv[1]);
    }
    if (err != ATECC_OK)
        return tool_fail(ctx, "read", err);
    fmt_hex(stdout, buf, len);
    printf("\n");
    return TOOL_EXIT_OK;
}

/* P-256 private-key slots of a config image: where keys can ever live. */
static unsigned count_key_slots(const uint8_t cfg[ATECC_CONFIG_SIZE])
{
    unsigned n = 0;

    for (unsigned s = 0; s < ATECC_SLOT_COUNT; s++) {
        uint16_t kc = (uint16_t)(cfg[ATECC_CFG_KEY_CONFIG + 2 * s] | cfg[ATECC_CFG_KEY_CONFIG + 2 * s + 1] << 8);
        if ((kc & ATECC_KEYCFG_PRIVATE) != 0 &&
            ((kc & ATECC_KEYCFG_KEYTYPE_MASK) >> ATECC_KEYCFG_KEYTYPE_SHIFT) == ATECC_KEYTYPE_P256)
            n++;
    }
    return n;
}

/* The low-level lock, outside the provision flow: it says what it makes
 * permanent and why provision is the better path. */
static void lock_warning(const char *what, const uint8_t cfg[ATECC_CONFIG_SIZE], bool have_cfg)
{
    fprintf(stderr, "atecc608-tool: WARNING: lock %s is permanent on a real chip. ", what);
    if (strcmp(what, "config") == 0) {
        fprintf(stderr, "Every config byte as it is now (see 'atecc608-tool config') can never change "
                        "again.\n");
        if (have_cfg && count_key_slots(cfg) == 0)
            fprintf(stderr, "atecc608-tool: WARNING: this configuration has NO P-256 private-key slot: a "
                            "part locked like this can never hold a key.\n");
    } else if (strcmp(what, "data") == 0) {
        fprintf(stderr, "Keys generated so far become fixed in slots without GenKey permission; data "
                        "slots follow their WriteConfig; OTP becomes read-only.\n");
    } else {
        fprintf(stderr, "The slot's contents can never change again.\n");
    }
    if (strcmp(what, "slot") != 0)
        fprintf(stderr, "atecc608-tool: To provision a blank part, use 'atecc608-tool provision --layout "
                        "trustlink-default' (docs/provisioning.md): it writes and checks the "
                        "configuration before any lock and generates the keys.\n");
}

int cmd_lock(struct tool_ctx *ctx)
{
    bool yes = tool_take_flag(ctx, "--yes-lock-permanently");
    bool old_yes = tool_take_flag(ctx, "--yes");
    const char *crc_text = NULL;
    uint8_t crc_bytes[2] = { 0, 0 };
    uint8_t cfg[ATECC_CONFIG_SIZE];
    bool have_cfg = false;
    uint16_t crc = 0;
    unsigned slot = 0;
    atecc_err err;
    int rc = tool_take_opt(ctx, "--crc", &crc_text);

    if (rc < 0)
        return tool_usage_error("lock data: --crc needs 4 hex digits");
    rc = tool_no_more_options(ctx);
    if (rc != TOOL_EXIT_OK)
        return rc;
    if (crc_text != NULL && !fmt_parse_hex(crc_text, crc_bytes, sizeof(crc_bytes)))
        return tool_usage_error("lock data: --crc '%s' is not 4 hex digits", crc_text);
    if (crc_text != NULL && (ctx->argc != 2 || strcmp(ctx->argv[1], "data") != 0))
        return tool_usage_error("--crc applies to lock data only");
    if (ctx->argc < 2 || (strcmp(ctx->argv[1], "slot") == 0 ? ctx->argc != 3 : ctx->argc != 2))
        return tool_usage_error("usage: atecc608-tool lock config|data|slot N --yes-lock-permanently");
    if (strcmp(ctx->argv[1], "slot") == 0 && !tool_parse_uint(ctx->argv[2], 15, &slot))
        return tool_usage_error("lock slot: N is 0-15");
    if (strcmp(ctx->argv[1], "config") != 0 && strcmp(ctx->argv[1], "data") != 0 &&
        strcmp(ctx->argv[1], "slot") != 0)
        return tool_usage_error("lock: '%s' is not config, data or slot", ctx->argv[1]);
    if (old_yes && !yes)
        return tool_usage_error("lock %s: --yes is no longer enough; a lock is irreversible: confirm with "
                                "--yes-lock-permanently", ctx->argv[1]);
    if (!yes) {
        /* Show the warning with what the chip holds when it answers; the
         * missing flag is the error either way. */
        if (tool_open(ctx) == TOOL_EXIT_OK && atecc_read_config(ctx->dev, cfg) == ATECC_OK)
            have_cfg = true;
        lock_warning(ctx->argv[1], cfg, have_cfg);
        return tool_usage_error("lock %s is irreversible: NOT locked; add --yes-lock-permanently to "
                                "confirm", ctx->argv[1]);
    }
    if ((rc = tool_open(ctx)) != TOOL_EXIT_OK)
        return rc;
    err = atecc_read_config(ctx->dev, cfg);
    if (err != ATECC_OK)
        return tool_fail(ctx, "reading the config zone", err);
    lock_warning(ctx->argv[1], cfg, true);
    if (strcmp(ctx->argv[1], "config") == 0) {
        crc = atecc_crc16(cfg, sizeof(cfg));
        err = atecc_lock_config(ctx->dev, &crc);
    } else if (strcmp(ctx->argv[1], "data") == 0) {
        /* The chip refuses to read the data zone before it is locked, so
         * the expected CRC can only come from whoever wrote the contents;
         * without one the lock skips the check. */
        crc = (uint16_t)(crc_bytes[0] << 8 | crc_bytes[1]);
        err = atecc_lock_data(ctx->dev, crc_text != NULL ? &crc : NULL);
    } else {
        err = atecc_lock_slot(ctx->dev, (uint8_t)slot);
    }
    if (err != ATECC_OK)
        return tool_fail(ctx, "lock", err);
    printf("locked %s%s%s\n", ctx->argv[1], ctx->argc == 3 ? " " : "", ctx->argc == 3 ? ctx->argv[2] : "");
    return TOOL_EXIT_OK;
}

int cmd_selftest(struct tool_ctx *ctx)
{
    uint8_t result = 0;
    atecc_err err;
    int rc = expect_args(ctx, 0, 0, "selftest");

    if (rc != TOOL_EXIT_OK)
        return rc;
    err = atecc_selftest(ctx->dev, ATECC_SELFTEST_ALL, &result);
    if (err != ATECC_OK)
        return tool_fail(ctx, "selftest", err);
    printf("self-test passed (RNG, ECDSA sign, ECDSA verify, ECDH, AES, SHA)\n");
    return TOOL_EXIT_OK;
}
