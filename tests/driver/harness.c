/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test harness (see harness.h).
 */
#include "harness.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

static uint64_t vnow(void *ctx)
{
    struct harness *h = ctx;

    return atomic_load(&h->now_us);
}

static void vsleep(void *ctx, uint64_t us)
{
    struct harness *h = ctx;

    pthread_mutex_lock(&h->user_mutex);
    if (h->clock_users == 0) {
        h->clock_user = pthread_self();
        h->clock_users = 1;
    } else if (!pthread_equal(h->clock_user, pthread_self())) {
        h->clock_users = 2;
    }
    pthread_mutex_unlock(&h->user_mutex);
    atomic_fetch_add(&h->now_us, us);
}

void harness_forget_clock_user(struct harness *h)
{
    pthread_mutex_lock(&h->user_mutex);
    h->clock_users = 0;
    pthread_mutex_unlock(&h->user_mutex);
}

bool harness_clock_used_only_by_this_thread(struct harness *h)
{
    bool only;

    pthread_mutex_lock(&h->user_mutex);
    only = h->clock_users == 1 && pthread_equal(h->clock_user, pthread_self());
    pthread_mutex_unlock(&h->user_mutex);
    return only;
}

static enum atecc_bus_result h_write(void *ctx, uint8_t addr7, const uint8_t *data, size_t len,
                                     unsigned flags)
{
    struct harness *h = ctx;
    enum emu_bus_result r;

    pthread_mutex_lock(&h->bus_mutex);
    r = emu_bus_write(h->chip, addr7, data, len,
                      (flags & ATECC_BUS_FLAG_IGNORE_NAK) ? EMU_BUS_IGNORE_NAK : 0);
    pthread_mutex_unlock(&h->bus_mutex);
    return r == EMU_BUS_ACK ? ATECC_BUS_ACK : r == EMU_BUS_NAK_ADDR ? ATECC_BUS_NAK : ATECC_BUS_NAK_DATA;
}

static enum atecc_bus_result h_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    struct harness *h = ctx;
    enum emu_bus_result r;

    pthread_mutex_lock(&h->bus_mutex);
    r = emu_bus_read(h->chip, addr7, buf, len);
    pthread_mutex_unlock(&h->bus_mutex);
    return r == EMU_BUS_ACK ? ATECC_BUS_ACK : ATECC_BUS_NAK;
}

static void h_bus_info(void *ctx, uint32_t *bus_hz, double *time_scale)
{
    struct harness *h = ctx;

    *bus_hz = emu_chip_bus_hz(h->chip);
    *time_scale = emu_chip_time_scale(h->chip);
}

const struct atecc_transport_ops harness_ops = {
    .write = h_write,
    .read = h_read,
    .bus_info = h_bus_info,
};

struct harness *harness_new(enum emu_profile profile, uint8_t revision)
{
    return harness_new_scaled(profile, revision, 1.0, 42);
}

static struct harness *harness_create(enum emu_profile profile, uint8_t revision, double time_scale,
                                      uint64_t seed, bool long_watchdog)
{
    struct harness *h = calloc(1, sizeof(*h));
    struct emu_options eo;
    char err[256] = "";

    assert_non_null(h);
    atomic_store(&h->now_us, 1000000);
    h->clock.now_us = vnow;
    h->clock.sleep_us = vsleep;
    h->clock.ctx = h;
    h->emu_clock.now_us = vnow;
    h->emu_clock.sleep_us = vsleep;
    h->emu_clock.ctx = h;
    pthread_mutex_init(&h->bus_mutex, NULL);
    pthread_mutex_init(&h->user_mutex, NULL);
    memset(&eo, 0, sizeof(eo));
    eo.profile = profile;
    eo.bus_hz = 100000;
    eo.time_scale = time_scale;  /* 1: real chip timing, on the virtual clock */
    eo.revision = revision;
    eo.seed = seed;
    eo.clock = &h->emu_clock;
    eo.long_watchdog = long_watchdog;
    h->chip = emu_chip_open(&eo, err, sizeof(err));
    if (h->chip == NULL)
        fail_msg("emu_chip_open: %s", err);
    snprintf(h->lock_dir, sizeof(h->lock_dir), "/tmp/atecc-drvtest-XXXXXX");
    assert_non_null(mkdtemp(h->lock_dir));
    return h;
}

struct harness *harness_new_scaled(enum emu_profile profile, uint8_t revision, double time_scale,
                                   uint64_t seed)
{
    return harness_create(profile, revision, time_scale, seed, false);
}

struct harness *harness_new_long_watchdog(void)
{
    return harness_create(EMU_PROFILE_TRUSTANDGO, 0, 1.0, 42, true);
}

void harness_free(struct harness *h)
{
    char path[128];

    if (h == NULL)
        return;
    emu_chip_close(h->chip);
    pthread_mutex_destroy(&h->bus_mutex);
    pthread_mutex_destroy(&h->user_mutex);
    /* Remove the lock files and the directory. */
    snprintf(path, sizeof(path), "rm -rf '%s'", h->lock_dir);
    if (system(path) != 0)
        fprintf(stderr, "could not remove %s\n", h->lock_dir);
    free(h);
}

struct atecc_options harness_options(struct harness *h)
{
    struct atecc_options o;

    memset(&o, 0, sizeof(o));
    o.clock = &h->clock;
    o.lock_dir = h->lock_dir;
    o.inproc_ops = &harness_ops;
    o.inproc_ctx = h;
    return o;
}

struct atecc_device *harness_open(struct harness *h, uint8_t addr7)
{
    struct atecc_options o = harness_options(h);
    struct atecc_device *dev = NULL;
    char iface[32];
    char detail[512] = "";
    atecc_err rc;

    snprintf(iface, sizeof(iface), "inproc:@0x%02x", addr7);
    rc = atecc_open(iface, &o, &dev, detail, sizeof(detail));
    if (rc != ATECC_OK)
        fail_msg("atecc_open(%s): %s: %s", iface, atecc_strerror(rc), detail);
    return dev;
}

void harness_fault(struct harness *h, const char *spec)
{
    char err[256] = "";

    pthread_mutex_lock(&h->bus_mutex);
    if (emu_fault_add(h->chip, spec, err, sizeof(err)) != 0)
        fail_msg("emu_fault_add(%s): %s", spec, err);
    pthread_mutex_unlock(&h->bus_mutex);
}

struct emu_stats harness_emu_stats(struct harness *h)
{
    struct emu_stats s;

    pthread_mutex_lock(&h->bus_mutex);
    emu_stats_get(h->chip, &s);
    pthread_mutex_unlock(&h->bus_mutex);
    return s;
}

bool harness_p256_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
    uint8_t point[65];
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY_CTX *vctx = NULL;
    EVP_PKEY *pkey = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL;
    BIGNUM *s = NULL;
    uint8_t *der = NULL;
    int der_len;
    bool ok = false;

    point[0] = 0x04;
    memcpy(point + 1, pub, 64);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
        goto cleanup;
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (params == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto cleanup;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        goto cleanup;
    r = s = NULL;
    der_len = i2d_ECDSA_SIG(es, &der);
    vctx = EVP_PKEY_CTX_new(pkey, NULL);
    if (der_len <= 0 || vctx == NULL || EVP_PKEY_verify_init(vctx) <= 0)
        goto cleanup;
    ok = EVP_PKEY_verify(vctx, der, (size_t)der_len, digest, 32) == 1;
cleanup:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return ok;
}
