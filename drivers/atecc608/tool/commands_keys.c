/* SPDX-License-Identifier: Apache-2.0 */
/*
 * atecc608-tool key commands: genkey, pubkey, sign, verify. Converts
 * between the chip's raw formats (X||Y, R||S) and PEM/DER through
 * format.c. Must never see or print private key material (there is none
 * on the host).
 */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static int parse_slot(const char *s, unsigned *slot)
{
    if (!tool_parse_uint(s, ATECC_SLOT_COUNT - 1, slot))
        return tool_usage_error("SLOT '%s' is not a slot number 0-15", s);
    return TOOL_EXIT_OK;
}

static int parse_digest(const char *s, uint8_t digest[ATECC_DIGEST_SIZE])
{
    if (!fmt_parse_hex(s, digest, ATECC_DIGEST_SIZE))
        return tool_usage_error("HEX_DIGEST must be 64 hex digits (a SHA-256 digest), got '%s'", s);
    return TOOL_EXIT_OK;
}

static int key_command(struct tool_ctx *ctx, bool create)
{
    uint8_t pub[ATECC_P256_PUBKEY_SIZE];
    unsigned slot = 0;
    atecc_err err;
    int rc = tool_no_more_options(ctx);

    if (rc != TOOL_EXIT_OK)
        return rc;
    if (ctx->argc != 2)
        return tool_usage_error("usage: atecc608-tool %s SLOT", ctx->argv[0]);
    if ((rc = parse_slot(ctx->argv[1], &slot)) != TOOL_EXIT_OK || (rc = tool_open(ctx)) != TOOL_EXIT_OK)
        return rc;
    err = create ? atecc_genkey(ctx->dev, (uint8_t)slot, pub) : atecc_pubkey(ctx->dev, (uint8_t)slot, pub);
    if (err != ATECC_OK)
        return tool_fail(ctx, ctx->argv[0], err);
    if (fmt_pubkey_pem(stdout, pub) != 0)
        return tool_local_error("the chip's public key is not a valid P-256 point");
    return TOOL_EXIT_OK;
}

int cmd_genkey(struct tool_ctx *ctx)
{
    return key_command(ctx, true);
}

int cmd_pubkey(struct tool_ctx *ctx)
{
    return key_command(ctx, false);
}

int cmd_sign(struct tool_ctx *ctx)
{
    uint8_t digest[ATECC_DIGEST_SIZE];
    uint8_t sig[ATECC_P256_SIGNATURE_SIZE];
    uint8_t *der = NULL;
    size_t der_len = 0;
    const char *out_path = NULL;
    FILE *f = NULL;
    unsigned slot = 0;
    atecc_err err;
    int rc;

    if (tool_take_opt(ctx, "--out", &out_path) < 0)
        return tool_usage_error("sign: --out needs a FILE");
    if ((rc = tool_no_more_options(ctx)) != TOOL_EXIT_OK)
        return rc;
    if (ctx->argc != 3)
        return tool_usage_error("usage: atecc608-tool sign SLOT HEX_DIGEST [--out FILE]");
    if ((rc = parse_slot(ctx->argv[1], &slot)) != TOOL_EXIT_OK ||
        (rc = parse_digest(ctx->argv[2], digest)) != TOOL_EXIT_OK || (rc = tool_open(ctx)) != TOOL_EXIT_OK)
        return rc;
    err = atecc_sign(ctx->dev, (uint8_t)slot, digest, sig);
    if (err != ATECC_OK) {
        rc = tool_fail(ctx, "sign", err);
        goto cleanup;
    }
    if (fmt_sig_to_der(sig, &der, &der_len) != 0) {
        rc = tool_local_error("cannot DER-encode the signature");
        goto cleanup;
    }
    if (out_path == NULL) {
        fmt_hex(stdout, der, der_len);
        printf("\n");
    } else {
        f = fopen(out_path, "wb");
        if (f == NULL || fwrite(der, 1, der_len, f) != der_len) {
            rc = tool_local_error("cannot write %s", out_path);
            goto cleanup;
        }
    }
    rc = TOOL_EXIT_OK;
cleanup:
    if (f != NULL && fclose(f) != 0 && rc == TOOL_EXIT_OK)
        rc = tool_local_error("cannot write %s", out_path);
    OPENSSL_free(der);
    return rc;
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    int rc = -1;

    *len = 0;
    if (f == NULL)
        return -1;
    *len = fread(buf, 1, cap, f);
    /* A DER signature of P-256 is at most 72 bytes: more is not one. */
    if (!ferror(f) && *len > 0 && *len < cap)
        rc = 0;
    fclose(f);
    return rc;
}

int cmd_verify(struct tool_ctx *ctx)
{
    uint8_t digest[ATECC_DIGEST_SIZE];
    uint8_t sig[ATECC_P256_SIGNATURE_SIZE];
    uint8_t pub[ATECC_P256_PUBKEY_SIZE];
    uint8_t der[256];
    size_t der_len = 0;
    const char *pem = NULL;
    unsigned slot = 0;
    bool valid = false;
    int first;
    atecc_err err;
    int rc;

    if (tool_take_opt(ctx, "--pubkey", &pem) < 0)
        return tool_usage_error("verify: --pubkey needs a PEMFILE");
    if ((rc = tool_no_more_options(ctx)) != TOOL_EXIT_OK)
        return rc;
    first = pem != NULL ? 1 : 2;
    if (ctx->argc != first + 2)
        return tool_usage_error("usage: atecc608-tool verify SLOT|--pubkey PEMFILE HEX_DIGEST SIGFILE");
    if (pem == NULL && (rc = parse_slot(ctx->argv[1], &slot)) != TOOL_EXIT_OK)
        return rc;
    if ((rc = parse_digest(ctx->argv[first], digest)) != TOOL_EXIT_OK)
        return rc;
    if (read_file(ctx->argv[first + 1], der, sizeof(der), &der_len) != 0 ||
        fmt_sig_from_der(der, der_len, sig) != 0)
        return tool_local_error("%s is not a DER ECDSA signature", ctx->argv[first + 1]);
    if (pem != NULL && fmt_pubkey_from_pem(pem, pub) != 0)
        return tool_local_error("%s is not a PEM P-256 public key", pem);
    if ((rc = tool_open(ctx)) != TOOL_EXIT_OK)
        return rc;
    if (pem == NULL) {
        err = atecc_pubkey(ctx->dev, (uint8_t)slot, pub);
        if (err != ATECC_OK)
            return tool_fail(ctx, "reading the slot's public key", err);
    }
    err = atecc_verify_extern(ctx->dev, digest, sig, pub, &valid);
    if (err != ATECC_OK)
        return tool_fail(ctx, "verify", err);
    printf("%s\n", valid ? "signature valid" : "signature INVALID");
    return valid ? TOOL_EXIT_OK : TOOL_EXIT_INVALID;
}

/* Trust&GO parts come with their key; their device certificate lives in
 * the PKCS#11 module's token store (trustlinkctl install-cert puts it
 * there). This check, needing no module, says whether a PEM certificate
 * is for the key in a slot, before anyone installs it. */
int cmd_check_cert(struct tool_ctx *ctx)
{
    uint8_t chip_key[ATECC_P256_PUBKEY_SIZE];
    uint8_t cert_key[ATECC_P256_PUBKEY_SIZE];
    char subject[256] = "";
    unsigned slot = 0;
    atecc_err err;
    int rc;

    if ((rc = tool_no_more_options(ctx)) != TOOL_EXIT_OK)
        return rc;
    if (ctx->argc != 3)
        return tool_usage_error("usage: atecc608-tool check-cert SLOT CERT.pem");
    if ((rc = parse_slot(ctx->argv[1], &slot)) != TOOL_EXIT_OK)
        return rc;
    rc = fmt_cert_pubkey_from_pem(ctx->argv[2], cert_key, subject, sizeof(subject));
    if (rc == -1)
        return tool_local_error("check-cert: %s holds no readable PEM certificate", ctx->argv[2]);
    if (rc != 0) {
        fprintf(stderr, "atecc608-tool: check-cert: REFUSED: certificate %s in %s is not for a P-256 key, "
                        "so not for slot %u's key\n", subject, ctx->argv[2], slot);
        return TOOL_EXIT_INVALID;
    }
    if ((rc = tool_open(ctx)) != TOOL_EXIT_OK)
        return rc;
    err = atecc_pubkey(ctx->dev, (uint8_t)slot, chip_key);
    if (err != ATECC_OK)
        return tool_fail(ctx, "reading the slot's public key", err);
    if (CRYPTO_memcmp(chip_key, cert_key, sizeof(chip_key)) != 0) {
        fprintf(stderr, "atecc608-tool: check-cert: REFUSED: certificate %s in %s is for another key, not "
                        "the key in slot %u of this chip\n", subject, ctx->argv[2], slot);
        return TOOL_EXIT_INVALID;
    }
    printf("certificate %s matches the key in slot %u\n", subject, slot);
    return TOOL_EXIT_OK;
}
