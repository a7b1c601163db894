/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-tool internals: command table entries, exit codes, formatting
 * helpers (hex, PEM, DER, config decoding). Must never talk to the chip
 * except through the public driver API (atecc608.h).
 */
#ifndef ATECC608_TOOL_H
#define ATECC608_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "atecc608/atecc608.h"

/* Exit status, documented in --help. */
enum tool_exit {
    TOOL_EXIT_OK = 0,
    TOOL_EXIT_INVALID = 1,     /* verify: the signature is wrong */
    TOOL_EXIT_USAGE = 2,
    TOOL_EXIT_NO_CHIP = 3,     /* interface, open, no device, bus lock */
    TOOL_EXIT_COMM = 4,        /* bus, timeout, malformed response, CRC */
    TOOL_EXIT_REFUSED = 5,     /* the chip's configuration forbids it */
    TOOL_EXIT_CHIP = 6,        /* other chip status errors */
    TOOL_EXIT_LOCAL = 7,       /* files, OpenSSL */
};

struct tool_ctx {
    const char *interface;
    const char *lock_dir;      /* --lock-dir; NULL = the driver's default */
    struct atecc_device *dev;
    int argc;              /* command arguments, argv[0] = command name */
    char **argv;
};

int tool_exit_for(atecc_err err);
/* Opens ctx->interface after the command's arguments checked out;
 * returns TOOL_EXIT_OK or the exit code (message printed). */
int tool_open(struct tool_ctx *ctx);
/* Prints "atecc608-tool: WHAT: detail" for a driver error, returns the exit code. */
int tool_fail(struct tool_ctx *ctx, const char *what, atecc_err err);
int tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tool_local_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool tool_parse_uint(const char *s, unsigned max, unsigned *out);

/* Removes "--NAME" (flag) or "--NAME VALUE"/"--NAME=VALUE" from the
 * command's arguments. take_opt returns -1 when VALUE is missing. */
bool tool_take_flag(struct tool_ctx *ctx, const char *name);
int tool_take_opt(struct tool_ctx *ctx, const char *name, const char **value);
/* Fails with a usage error when an argument still starts with "--". */
int tool_no_more_options(struct tool_ctx *ctx);

/* Commands (commands.c, commands_keys.c). */
int cmd_info(struct tool_ctx *ctx);
int cmd_serial(struct tool_ctx *ctx);
int cmd_random(struct tool_ctx *ctx);
int cmd_config(struct tool_ctx *ctx);
int cmd_read(struct tool_ctx *ctx);
int cmd_lock(struct tool_ctx *ctx);
int cmd_selftest(struct tool_ctx *ctx);
int cmd_genkey(struct tool_ctx *ctx);
int cmd_pubkey(struct tool_ctx *ctx);
int cmd_sign(struct tool_ctx *ctx);
int cmd_verify(struct tool_ctx *ctx);
int cmd_check_cert(struct tool_ctx *ctx);
/* provision.c */
int cmd_provision(struct tool_ctx *ctx);

/* format.c */
void fmt_hex(FILE *out, const uint8_t *buf, size_t len);
bool fmt_parse_hex(const char *s, uint8_t *out, size_t len);
int fmt_pubkey_pem(FILE *out, const uint8_t pubkey[ATECC_P256_PUBKEY_SIZE]);
int fmt_pubkey_from_pem(const char *path, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE]);
/* The P-256 public key and subject of the first certificate of a PEM
 * file: 0, -1 when no certificate can be read, -2 when its key is not
 * P-256. */
int fmt_cert_pubkey_from_pem(const char *path, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE], char *subject,
                             size_t subject_len);
/* R||S to DER ECDSA-Sig-Value; *der is OPENSSL_malloc'd. */
int fmt_sig_to_der(const uint8_t sig[ATECC_P256_SIGNATURE_SIZE], uint8_t **der, size_t *der_len);
int fmt_sig_from_der(const uint8_t *der, size_t der_len, uint8_t sig[ATECC_P256_SIGNATURE_SIZE]);
void fmt_config(FILE *out, const uint8_t config[ATECC_CONFIG_SIZE]);

#endif
