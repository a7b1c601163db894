/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chip.h over the ATECC608 driver (drivers/atecc608/include/atecc608/atecc608.h).
 * A thin adapter: one call per operation, and the only place where driver
 * errors become CKR_ values (p11_ckr_from_atecc).
 * Must never: read a private key slot or cache key material.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atecc608/atecc608.h"
#include "chip.h"
#include "log.h"
#include "chip_atecc.h"

struct p11_chip {
    struct atecc_device *dev;
};

/* Set by unit tests before C_Initialize only; NULL in the shipped module
 * (the symbol is not exported: exports.map keeps C_* alone). */
static const struct atecc_options *g_test_options;

void p11_chip_atecc_set_options(const struct atecc_options *options)
{
    g_test_options = options;
}



bool p11_chip_interface_known(const char *interface)
{
    /* "inproc:" is the driver's in-process test transport: known only
     * when a unit test installed it (it is never set in the module). */
    return strncmp(interface, "i2c:", 4) == 0 || strncmp(interface, "emu:", 4) == 0 ||
           (strncmp(interface, "inproc:", 7) == 0 && g_test_options != NULL);
}

/* CKR_DEVICE_REMOVED only for "nothing answers any more" (the module then
 * marks the token absent and closes its sessions); a bad interface string,
 * an unopenable bus and every transient fault (bus I/O, CRC, timeout, a
 * chip execution error 0x0F under load) are CKR_DEVICE_ERROR: the token is
 * still there and the next call may succeed. */
CK_RV p11_ckr_from_atecc(atecc_err e)
{
    switch (e) {
    case ATECC_OK: return CKR_OK;
    case ATECC_E_NOMEM: return CKR_HOST_MEMORY;
    case ATECC_E_ARGUMENT: return CKR_ARGUMENTS_BAD;
    case ATECC_E_NO_DEVICE: return CKR_DEVICE_REMOVED;
    case ATECC_E_MISCOMPARE: return CKR_SIGNATURE_INVALID;
    case ATECC_E_SLOT_NOT_READABLE:
    case ATECC_E_SLOT_POLICY:
    case ATECC_E_SLOT_LOCKED:
    case ATECC_E_ZONE_LOCKED:
    case ATECC_E_ZONE_UNLOCKED: return CKR_FUNCTION_REJECTED;
    default: return CKR_DEVICE_ERROR;
    }
}

/* Maps a driver result and, on failure, logs what the driver knows: the
 * CKR_ alone cannot tell a user whether to check wiring, the address or
 * the chip's configuration. The detail is this thread's own call's
 * (atecc_error_detail is per thread). */
static CK_RV chip_result(struct p11_chip *chip, const char *what, atecc_err e)
{
    (void)chip;
    if (e != ATECC_OK)
        p11_log(P11_LOG_WARNING, "chip %s failed: %s (%s)", what, atecc_strerror(e),
                atecc_error_detail());
    return p11_ckr_from_atecc(e);
}

CK_RV p11_chip_open(const char *interface, const char *lock_dir, bool may_create_threads,
                    struct p11_chip **out,
                    char *detail, size_t detail_len)
{
    struct p11_chip *c = calloc(1, sizeof(*c));
    struct atecc_options options = { 0 };
    atecc_err e;

    *out = NULL;
    if (c == NULL)
        return CKR_HOST_MEMORY;
    if (g_test_options != NULL)
        options = *g_test_options;
    /* The tuned sign path drains its queue on a worker thread; an
     * application that forbids library threads gets the thread-less one. */
    if (!may_create_threads)
        options.sign_policy = ATECC_SIGN_POLICY_NAIVE;
    if (lock_dir != NULL)
        options.lock_dir = lock_dir;
    e = atecc_open(interface, &options, &c->dev, detail, detail_len);
    if (e != ATECC_OK) {
        if (detail != NULL && detail_len > 0 && detail[0] == '\0')
            snprintf(detail, detail_len, "%s: %s", interface, atecc_strerror(e));
        free(c);
        return p11_ckr_from_atecc(e);
    }
    *out = c;
    return CKR_OK;
}

void p11_chip_close(struct p11_chip *chip)
{
    if (chip == NULL)
        return;
    atecc_close(chip->dev);
    free(chip);
}

CK_RV p11_chip_info(struct p11_chip *chip, struct p11_chip_info *info)
{
    atecc_err e;
    memset(info, 0, sizeof(*info));
    if ((e = atecc_serial(chip->dev, info->serial)) != ATECC_OK ||
        (e = atecc_info_revision(chip->dev, info->revision)) != ATECC_OK)
        return chip_result(chip, "info", e);
    switch (atecc_model(chip->dev)) {
    case ATECC_MODEL_608A: snprintf(info->model, sizeof(info->model), "ATECC608A"); break;
    case ATECC_MODEL_608B: snprintf(info->model, sizeof(info->model), "ATECC608B"); break;
    default: snprintf(info->model, sizeof(info->model), "ATECC608"); break;
    }
    return CKR_OK;
}

CK_RV p11_chip_sign(struct p11_chip *chip, unsigned slot, const uint8_t digest[32], uint8_t sig[64])
{
    return chip_result(chip, "sign", atecc_sign(chip->dev, (uint8_t)slot, digest, sig));
}

CK_RV p11_chip_genkey(struct p11_chip *chip, unsigned slot, uint8_t pub[64])
{
    return chip_result(chip, "genkey", atecc_genkey(chip->dev, (uint8_t)slot, pub));
}

CK_RV p11_chip_pubkey(struct p11_chip *chip, unsigned slot, uint8_t pub[64])
{
    return chip_result(chip, "public key read", atecc_pubkey(chip->dev, (uint8_t)slot, pub));
}

CK_RV p11_chip_random(struct p11_chip *chip, uint8_t out[32])
{
    return chip_result(chip, "random", atecc_random(chip->dev, out));
}

CK_RV p11_chip_ecdh(struct p11_chip *chip, unsigned slot, const uint8_t peer[64], uint8_t shared[32])
{
    return chip_result(chip, "ECDH", atecc_ecdh(chip->dev, (uint8_t)slot, peer, shared));
}
