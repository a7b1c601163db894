/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-process emulator harness for the provider's tests (see emu_harness.h).
 */
#include "emu_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <p11-kit/pkcs11.h>

#include "chip_atecc.h"
#include "p11_test_util.h"
#include "transport.h"

static uint64_t vnow(void *ctx)
{
    struct p11_emu *e = ctx;
    return atomic_load(&e->now_us);
}

static void vsleep(void *ctx, uint64_t us)
{
    struct p11_emu *e = ctx;
    atomic_fetch_add(&e->now_us, us);
}

static void gate(struct p11_emu *e)
{
    pthread_mutex_lock(&e->gate_mutex);
    if (e->gate_armed) {
        e->gate_holding = true;
        pthread_cond_broadcast(&e->gate_cond);
        while (e->gate_armed)
            pthread_cond_wait(&e->gate_cond, &e->gate_mutex);
        e->gate_holding = false;
    }
    pthread_mutex_unlock(&e->gate_mutex);
}

static enum atecc_bus_result h_write(void *ctx, uint8_t addr7, const uint8_t *data, size_t len,
                                     unsigned flags)
{
    struct p11_emu *e = ctx;
    enum emu_bus_result r;

    gate(e);
    pthread_mutex_lock(&e->bus_mutex);
    r = emu_bus_write(e->chip, addr7, data, len, (flags & ATECC_BUS_FLAG_IGNORE_NAK) ? EMU_BUS_IGNORE_NAK : 0);
    pthread_mutex_unlock(&e->bus_mutex);
    return r == EMU_BUS_ACK ? ATECC_BUS_ACK : r == EMU_BUS_NAK_ADDR ? ATECC_BUS_NAK : ATECC_BUS_NAK_DATA;
}

static enum atecc_bus_result h_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    struct p11_emu *e = ctx;
    enum emu_bus_result r;

    pthread_mutex_lock(&e->bus_mutex);
    r = emu_bus_read(e->chip, addr7, buf, len);
    pthread_mutex_unlock(&e->bus_mutex);
    return r == EMU_BUS_ACK ? ATECC_BUS_ACK : ATECC_BUS_NAK;
}

static void h_bus_info(void *ctx, uint32_t *bus_hz, double *time_scale)
{
    struct p11_emu *e = ctx;
    *bus_hz = emu_chip_bus_hz(e->chip);
    *time_scale = emu_chip_time_scale(e->chip);
}

static const struct atecc_transport_ops emu_ops = {
    .write = h_write,
    .read = h_read,
    .bus_info = h_bus_info,
};

struct p11_emu *p11_emu_new(void)
{
    struct p11_emu *e = calloc(1, sizeof(*e));
    struct emu_options eo;
    char err[256] = "";

    if (e == NULL)
        return NULL;
    atomic_store(&e->now_us, 1000000);
    e->clock.now_us = vnow;
    e->clock.sleep_us = vsleep;
    e->clock.ctx = e;
    e->emu_clock.now_us = vnow;
    e->emu_clock.sleep_us = vsleep;
    e->emu_clock.ctx = e;
    pthread_mutex_init(&e->bus_mutex, NULL);
    pthread_mutex_init(&e->gate_mutex, NULL);
    pthread_cond_init(&e->gate_cond, NULL);
    memset(&eo, 0, sizeof(eo));
    eo.profile = EMU_PROFILE_TRUSTANDGO;
    eo.bus_hz = 100000;
    eo.time_scale = 1.0;  /* real chip timing, on the virtual clock */
    eo.seed = 42;
    eo.clock = &e->emu_clock;
    e->chip = emu_chip_open(&eo, err, sizeof(err));
    if (e->chip == NULL) {
        fprintf(stderr, "emu_chip_open: %s\n", err);
        free(e);
        return NULL;
    }
    snprintf(e->lock_dir, sizeof(e->lock_dir), "/tmp/p11-emutest-XXXXXX");
    if (mkdtemp(e->lock_dir) == NULL) {
        emu_chip_close(e->chip);
        free(e);
        return NULL;
    }
    e->options.clock = &e->clock;
    e->options.lock_dir = e->lock_dir;
    e->options.inproc_ops = &emu_ops;
    e->options.inproc_ctx = e;
    p11_chip_atecc_set_options(&e->options);
    return e;
}

void p11_emu_free(struct p11_emu *e)
{
    char cmd[128];

    if (e == NULL)
        return;
    p11_chip_atecc_set_options(NULL);
    emu_chip_close(e->chip);
    pthread_mutex_destroy(&e->bus_mutex);
    pthread_mutex_destroy(&e->gate_mutex);
    pthread_cond_destroy(&e->gate_cond);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->lock_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", e->lock_dir);
    free(e);
}

const char *p11_emu_interface(void)
{
    return "inproc:@0x35";
}

struct atecc_device *p11_emu_open_device(struct p11_emu *e)
{
    struct atecc_device *dev = NULL;
    char detail[256] = "";
    if (atecc_open(p11_emu_interface(), &e->options, &dev, detail, sizeof(detail)) != ATECC_OK) {
        fprintf(stderr, "atecc_open: %s\n", detail);
        return NULL;
    }
    return dev;
}

uint64_t p11_emu_commands(struct p11_emu *e)
{
    struct emu_stats st;
    pthread_mutex_lock(&e->bus_mutex);
    emu_stats_get(e->chip, &st);
    pthread_mutex_unlock(&e->bus_mutex);
    return st.commands;
}

void p11_emu_gate_arm(struct p11_emu *e)
{
    pthread_mutex_lock(&e->gate_mutex);
    e->gate_armed = true;
    pthread_mutex_unlock(&e->gate_mutex);
}

bool p11_emu_gate_wait_held(struct p11_emu *e)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&e->gate_mutex);
    while (!e->gate_holding && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&e->gate_cond, &e->gate_mutex, &until);
    rc = e->gate_holding;
    pthread_mutex_unlock(&e->gate_mutex);
    return rc != 0;
}

void p11_emu_gate_release(struct p11_emu *e)
{
    pthread_mutex_lock(&e->gate_mutex);
    e->gate_armed = false;
    pthread_cond_broadcast(&e->gate_cond);
    pthread_mutex_unlock(&e->gate_mutex);
}

bool p11_emu_p256_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
    uint8_t point[65];
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL, *vctx = NULL;
    EVP_PKEY *pkey = NULL;
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
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

int p11_emu_fixture_setup(void **state)
{
    struct p11_emu_fixture *f = calloc(1, sizeof(*f));
    char text[1024];

    if (f == NULL)
        return -1;
    *state = f;
    f->dir = p11t_mkdtemp();
    f->emu = p11_emu_new();
    if (f->dir == NULL || f->emu == NULL)
        return -1;
    snprintf(f->store_dir, sizeof(f->store_dir), "%s/token0", f->dir);
    snprintf(text, sizeof(text),
             "{\"tokens\":[{\"label\":\"trustlink\",\"interface\":\"%s\",\"key_slots\":[0],"
             "\"free_slots\":[2,3],\"store\":\"%s\"}],\"log_level\":\"error\","
             "\"pin_kdf_iterations\":1000}",
             p11_emu_interface(), f->store_dir);
    f->conf = p11t_write_file(f->dir, "pkcs11.json", text);
    setenv("TRUSTLINK_PKCS11_CONF", f->conf, 1);
    return C_Initialize(NULL) == CKR_OK ? 0 : -1;
}

int p11_emu_fixture_teardown(void **state)
{
    struct p11_emu_fixture *f = *state;

    (void)C_Finalize(NULL);
    if (f == NULL)
        return 0;
    p11_emu_free(f->emu);
    free(f->conf);
    if (f->dir)
        p11t_rmtree(f->dir);
    free(f);
    return 0;
}
