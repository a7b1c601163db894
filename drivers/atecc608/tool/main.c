/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-tool: diagnostic CLI over the driver API. Owns argument
 * parsing, the help text, exit codes and the command table. Must never
 * speak the chip's byte protocol itself: everything goes through
 * atecc608.h, so the tool shows what the driver does.
 */
#include "tool.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef TRUSTLINK_VERSION
#define TRUSTLINK_VERSION "unknown"
#endif

#define TOOL_DEFAULT_INTERFACE "emu:/run/trustlink/atecc608.sock"

static const char tool_help[] =
"NAME\n"
"    atecc608-tool - talk to an ATECC608 secure element (diagnostics)\n"
"\n"
"SYNOPSIS\n"
"    atecc608-tool [--interface IFACE] COMMAND [ARGS...]\n"
"    atecc608-tool --help | --version\n"
"\n"
"COMMANDS\n"
"    info                 Model, Info revision bytes, serial number, lock states,\n"
"                         interface and I2C address.\n"
"    serial               The 9-byte serial number in hex.\n"
"    random               32 random bytes from the chip in hex (a fixed pattern\n"
"                         while the config zone is unlocked).\n"
"    config               The config zone decoded: ChipMode, ChipOptions, lock\n"
"                         bytes and every slot's SlotConfig/KeyConfig in words.\n"
"    read config|otp BLOCK     One 32-byte block of the config or OTP zone.\n"
"    read data SLOT [BLOCK]    A whole data slot, or one 32-byte block of it.\n"
"    genkey SLOT          Create a new P-256 key in SLOT; print its public key (PEM).\n"
"    pubkey SLOT          Print the public key of the private key in SLOT as a PEM\n"
"                         SubjectPublicKeyInfo.\n"
"    sign SLOT HEX_DIGEST [--out FILE]\n"
"                         Sign a 32-byte digest (64 hex digits) with the key in\n"
"                         SLOT. Writes the DER ECDSA-Sig-Value to FILE, or prints\n"
"                         it in hex.\n"
"    verify SLOT|--pubkey PEMFILE HEX_DIGEST SIGFILE\n"
"                         Verify a DER signature on the chip (Verify external)\n"
"                         against SLOT's public key or the key in PEMFILE.\n"
"                         Exit 0 if valid, 1 if invalid.\n"
"    check-cert SLOT CERT.pem\n"
"                         Check that the first certificate in CERT.pem is for the\n"
"                         key in SLOT (e.g. a Trust&GO part's device certificate\n"
"                         for slot 0). Exit 0 if it is, 1 if not. The chip keeps\n"
"                         no full certificate: install it on the token with\n"
"                         'trustlinkctl install-cert', which checks the same.\n"
"    provision --layout NAME|FILE [--lock-config|--lock-data] [--yes-lock-permanently]\n"
"                         Provision a blank (TrustCUSTOM-style) part in three\n"
"                         explicit steps; see PROVISIONING.\n"
"    provision --print-layout NAME\n"
"                         Print a built-in layout in the layout file format.\n"
"    lock config --yes-lock-permanently\n"
"                         Lock the config zone as it is (CRC of a fresh read is\n"
"                         checked). Prefer provision: a config locked without a\n"
"                         P-256 private-key slot can never hold a key.\n"
"    lock data --yes-lock-permanently [--crc HHHH]\n"
"                         Lock the data and OTP zones. The chip cannot read them\n"
"                         before they are locked, so the CRC the Lock checks comes\n"
"                         from --crc (CRC-16 of slots 0-15 then OTP, as written);\n"
"                         without it the lock skips the check.\n"
"    lock slot N --yes-lock-permanently\n"
"                         Lock one slot (its KeyConfig must say Lockable).\n"
"                         Every lock is irreversible: without\n"
"                         --yes-lock-permanently the tool prints what would\n"
"                         become permanent and changes nothing (exit 2).\n"
"    selftest             Run every chip self-test (RNG, ECDSA, ECDH, AES, SHA).\n"
"\n"
"OPTIONS\n"
"    -i, --interface IFACE  The chip to talk to (see INTERFACE).\n"
"    -l, --lock-dir DIR     Directory of the inter-process bus lock files: an\n"
"                           absolute path, not world-writable (default\n"
"                           " ATECC_BUSLOCK_DIR_DEFAULT ", mode 2770, group of the\n"
"                           chip users).\n"
"    -h, --help             This text.\n"
"    -V, --version          Print the version and exit.\n"
"        --layout L         provision: a built-in layout name or a layout file.\n"
"        --lock-config      provision: lock the config zone, then generate keys.\n"
"        --lock-data        provision: lock the data and OTP zones.\n"
"        --out FILE         sign: write the DER signature to FILE.\n"
"        --pubkey PEMFILE   verify: use this public key instead of a slot's.\n"
"        --yes-lock-permanently\n"
"                           lock, provision: confirm an irreversible lock.\n"
"\n"
"PROVISIONING\n"
"    A blank part answers at 0x60 with every zone unlocked. Steps:\n"
"    1. provision --layout trustlink-default\n"
"         writes the config zone from the layout, reads it back and shows\n"
"         the changes. Nothing is permanent yet.\n"
"    2. provision --layout trustlink-default --lock-config --yes-lock-permanently\n"
"         prints what becomes permanent, locks the config zone, then\n"
"         generates a P-256 key in every slot the layout marks genkey and\n"
"         prints its public key.\n"
"    3. provision --layout trustlink-default --lock-data --yes-lock-permanently\n"
"         checks the keys are there, prints what becomes permanent and\n"
"         locks the data and OTP zones.\n"
"    Every step first compares the chip with the layout: a locked part that\n"
"    differs is refused (exit 5), a step already done succeeds without\n"
"    changing anything. Built-in layouts: trustlink-default (the Trust&GO\n"
"    slot map: device key slot 0, rotation slots 2-4). The layout file\n"
"    format is JSON: see docs/provisioning.md, or start from\n"
"    'provision --print-layout trustlink-default'.\n"
"    Trust&GO parts (0x35) come provisioned: do not run provision on them;\n"
"    check the device certificate with 'check-cert 0 CERT.pem' and install\n"
"    it with 'trustlinkctl install-cert'.\n"
"\n"
"INTERFACE\n"
"    i2c:/dev/i2c-N@ADDRESS[?bus_hz=HZ]\n"
"        Linux i2c-dev. ADDRESS is the 7-bit address and is required: 0x35\n"
"        Trust&GO, 0x36 TrustFLEX, 0x60 unconfigured (range 0x08-0x77). HZ is\n"
"        the bus speed the kernel runs (default 100000); above 100 kHz the\n"
"        wake pulse needs an adapter that supports I2C_M_IGNORE_NAK.\n"
"    emu:/path/to/socket[@ADDRESS]\n"
"        The atecc608-emu daemon. ADDRESS defaults to 0x35.\n"
"\n"
"ENVIRONMENT\n"
"    ATECC608_INTERFACE   Interface when --interface is not given (default\n"
"                         " TOOL_DEFAULT_INTERFACE ").\n"

"\n"
"EXIT STATUS\n"
"    0  success (verify: signature valid; check-cert: certificate matches)\n"
"    1  verify: signature invalid; check-cert: certificate for another key\n"
"    2  usage error (bad arguments, missing --yes-lock-permanently)\n"
"    3  no chip: bad interface, bus or socket cannot be opened, no ATECC608\n"
"       answers at the address, bus lock unavailable\n"
"    4  communication failure: bus error, timeout, malformed response, CRC\n"
"       wrong after every retry\n"
"    5  refused by the chip's configuration: zone locked or unlocked, slot\n"
"       locked, slot not readable, slot policy, execution error;\n"
"       provision: the part's configuration differs from the layout\n"
"    6  other chip error: parse error, ECC fault, self-test or RNG health\n"
"       failure, watchdog, unknown status\n"
"    7  local error: file or OpenSSL failure\n"
"\n"
"EXAMPLES\n"
"    atecc608-tool --interface i2c:/dev/i2c-1@0x35 info\n"
"    atecc608-tool pubkey 0 > device.pem\n"
"    d=$(printf hello | openssl dgst -sha256 -r | cut -c1-64)\n"
"    atecc608-tool sign 0 $d --out hello.sig\n"
"    openssl dgst -sha256 -verify device.pem -signature hello.sig <(printf hello)\n"
"    atecc608-tool verify 0 $d hello.sig && echo valid\n"
"    atecc608-tool -i i2c:/dev/i2c-1@0x60 provision --layout trustlink-default\n"
"    atecc608-tool lock slot 2 --yes-lock-permanently\n";

static const struct {
    const char *name;
    int (*run)(struct tool_ctx *ctx);
} tool_commands[] = {
    { "info", cmd_info },       { "serial", cmd_serial },   { "random", cmd_random },
    { "config", cmd_config },   { "read", cmd_read },       { "genkey", cmd_genkey },
    { "pubkey", cmd_pubkey },   { "sign", cmd_sign },       { "verify", cmd_verify },
    { "lock", cmd_lock },       { "selftest", cmd_selftest }, { "provision", cmd_provision },
    { "check-cert", cmd_check_cert },
};

int tool_exit_for(atecc_err err)
{
    switch (err) {
    case ATECC_OK: return TOOL_EXIT_OK;
    case ATECC_E_ARGUMENT: return TOOL_EXIT_USAGE;
    case ATECC_E_INTERFACE:
    case ATECC_E_OPEN:
    case ATECC_E_NO_DEVICE:
    case ATECC_E_BUS_LOCK: return TOOL_EXIT_NO_CHIP;
    case ATECC_E_BUS:
    case ATECC_E_TIMEOUT:
    case ATECC_E_RESPONSE:
    case ATECC_E_CRC:
    case ATECC_E_CHIP_CRC: return TOOL_EXIT_COMM;
    case ATECC_E_EXECUTION:
    case ATECC_E_ZONE_LOCKED:
    case ATECC_E_ZONE_UNLOCKED:
    case ATECC_E_SLOT_LOCKED:
    case ATECC_E_SLOT_NOT_READABLE:
    case ATECC_E_SLOT_POLICY: return TOOL_EXIT_REFUSED;
    case ATECC_E_NOMEM: return TOOL_EXIT_LOCAL;
    default: return TOOL_EXIT_CHIP;
    }
}

int tool_open(struct tool_ctx *ctx)
{
    struct atecc_options options = { 0 };
    char detail[600] = "";
    atecc_err err;

    if (ctx->dev != NULL)
        return TOOL_EXIT_OK;
    options.lock_dir = ctx->lock_dir;
    err = atecc_open(ctx->interface, &options, &ctx->dev, detail, sizeof(detail));
    if (err != ATECC_OK) {
        fprintf(stderr, "atecc608-tool: cannot open %s: %s\n", ctx->interface,
                detail[0] != '\0' ? detail : atecc_strerror(err));
        return tool_exit_for(err);
    }
    return TOOL_EXIT_OK;
}

int tool_fail(struct tool_ctx *ctx, const char *what, atecc_err err)
{
    const char *detail = ctx->dev != NULL ? atecc_error_detail() : "";

    fprintf(stderr, "atecc608-tool: %s: %s%s%s\n", what, atecc_strerror(err),
            detail[0] != '\0' ? ": " : "", detail);
    return tool_exit_for(err);
}

int tool_usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "atecc608-tool: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'atecc608-tool --help'.\n");
    return TOOL_EXIT_USAGE;
}

int tool_local_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "atecc608-tool: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return TOOL_EXIT_LOCAL;
}

bool tool_parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end = NULL;
    unsigned long v;

    if (s == NULL || s[0] == '\0' || s[0] == '-')
        return false;
    v = strtoul(s, &end, 0);
    if (end == NULL || *end != '\0' || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "interface", required_argument, NULL, 'i' },
        { "lock-dir", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct tool_ctx ctx = { 0 };
    const char *env = getenv("ATECC608_INTERFACE");
    int (*run)(struct tool_ctx *) = NULL;
    int opt;
    int rc = TOOL_EXIT_USAGE;

    ctx.interface = env != NULL && env[0] != '\0' ? env : TOOL_DEFAULT_INTERFACE;
    /* '+': stop at the command; its own options are parsed by it. */
    while ((opt = getopt_long(argc, argv, "+i:l:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'i':
            ctx.interface = optarg;
            break;
        case 'l':
            ctx.lock_dir = optarg;
            break;
        case 'h':
            fputs(tool_help, stdout);
            return TOOL_EXIT_OK;
        case 'V':
            printf("atecc608-tool %s\n", TRUSTLINK_VERSION);
            return TOOL_EXIT_OK;
        default:
            return tool_usage_error("unknown option");
        }
    }
    if (optind >= argc)
        return tool_usage_error("no command given");
    for (size_t i = 0; i < sizeof(tool_commands) / sizeof(tool_commands[0]); i++)
        if (strcmp(argv[optind], tool_commands[i].name) == 0)
            run = tool_commands[i].run;
    if (run == NULL)
        return tool_usage_error("unknown command '%s' (commands: info serial random config read "
                                "genkey pubkey sign verify lock selftest provision check-cert)", argv[optind]);
    ctx.argc = argc - optind;
    ctx.argv = argv + optind;
    rc = run(&ctx);
    atecc_close(ctx.dev);
    return rc;
}
