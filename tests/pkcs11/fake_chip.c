/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A software chip behind pkcs11/chip.h for unit tests: P-256 keys in
 * OpenSSL, 16 slots, shared by every open of the same interface string
 * (like one physical chip), slot 0 provisioned at first use.
 * "fake:absent" does not answer; fake_chip.h makes chips come and go and
 * injects faults. Never used outside tests.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "chip.h"
#include "fake_chip.h"

struct fake_dev {
    char name[64];
    EVP_PKEY *keys[16];
    bool gone;
};

struct p11_chip {
    struct fake_dev *dev;
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_dev *fake_devs[8];     /* guarded by fake_lock, like the counters */
static unsigned corrupt_next;
static unsigned fail_next;
static unsigned sign_calls;
static unsigned ecdh_calls;

static struct fake_dev *find_dev(const char *interface)
{
    for (size_t i = 0; i < 8; i++)
        if (fake_devs[i] != NULL && strcmp(fake_devs[i]->name, interface) == 0)
            return fake_devs[i];
    return NULL;
}

void fake_chip_set_present(const char *interface, bool present)
{
    struct fake_dev *dev;
    pthread_mutex_lock(&fake_lock);
    if ((dev = find_dev(interface)) != NULL)
        dev->gone = !present;
    pthread_mutex_unlock(&fake_lock);
}

void fake_chip_corrupt_next_signatures(unsigned n)
{
    pthread_mutex_lock(&fake_lock);
    corrupt_next = n;
    pthread_mutex_unlock(&fake_lock);
}

void fake_chip_fail_next_calls(unsigned n)
{
    pthread_mutex_lock(&fake_lock);
    fail_next = n;
    pthread_mutex_unlock(&fake_lock);
}

unsigned fake_chip_sign_calls(void)
{
    unsigned n;
    pthread_mutex_lock(&fake_lock);
    n = sign_calls;
    pthread_mutex_unlock(&fake_lock);
    return n;
}

unsigned fake_chip_ecdh_calls(void)
{
    unsigned n;
    pthread_mutex_lock(&fake_lock);
    n = ecdh_calls;
    pthread_mutex_unlock(&fake_lock);
    return n;
}

/* Under fake_lock: the answer a gone chip or an injected fault gives. */
static CK_RV fault_of(const struct fake_dev *dev)
{
    if (dev->gone)
        return CKR_DEVICE_REMOVED;
    if (fail_next > 0) {
        fail_next--;
        return CKR_DEVICE_ERROR;
    }
    return CKR_OK;
}

bool p11_chip_interface_known(const char *interface)
{
    return strncmp(interface, "fake:", 5) == 0;
}

CK_RV p11_chip_open(const char *interface, const char *lock_dir, bool may_create_threads,
                    struct p11_chip **out,
                    char *detail, size_t detail_len)
{
    struct fake_dev *dev = NULL;
    CK_RV rv = CKR_OK;

    (void)may_create_threads;
    (void)lock_dir;

    *out = NULL;
    if (strncmp(interface, "fake:", 5) != 0 || strcmp(interface, "fake:absent") == 0) {
        snprintf(detail, detail_len, "no chip answered at %s", interface);
        return CKR_DEVICE_ERROR;
    }
    pthread_mutex_lock(&fake_lock);
    dev = find_dev(interface);
    if (dev != NULL && dev->gone) {
        pthread_mutex_unlock(&fake_lock);
        snprintf(detail, detail_len, "no chip answered at %s", interface);
        return CKR_DEVICE_REMOVED;
    }
    for (size_t i = 0; i < 8 && dev == NULL; i++) {
        if (fake_devs[i] == NULL) {
            dev = fake_devs[i] = calloc(1, sizeof(*dev));
            if (dev == NULL)
                break;
            snprintf(dev->name, sizeof(dev->name), "%s", interface);
            dev->keys[0] = EVP_EC_gen("P-256");
        }
    }
    if (dev == NULL || (*out = calloc(1, sizeof(**out))) == NULL)
        rv = CKR_HOST_MEMORY;
    else
        (*out)->dev = dev;
    pthread_mutex_unlock(&fake_lock);
    return rv;
}

void p11_chip_close(struct p11_chip *chip)
{
    free(chip);
}

CK_RV p11_chip_info(struct p11_chip *chip, struct p11_chip_info *info)
{
    static const uint8_t serial[9] = {0x01, 0x23, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0xee};
    CK_RV rv;
    pthread_mutex_lock(&fake_lock);
    rv = chip->dev->gone ? CKR_DEVICE_REMOVED : CKR_OK;
    pthread_mutex_unlock(&fake_lock);
    if (rv != CKR_OK)
        return rv;
    memcpy(info->serial, serial, 9);
    snprintf(info->model, sizeof(info->model), "ATECC608B");
    memset(info->revision, 0, 4);
    info->revision[2] = 0x60;
    info->revision[3] = 0x03;
    return CKR_OK;
}

static CK_RV pub_of(EVP_PKEY *k, uint8_t pub[64])
{
    uint8_t pt[65];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof(pt), &len) != 1 ||
        len != 65)
        return CKR_DEVICE_ERROR;
    memcpy(pub, pt + 1, 64);
    return CKR_OK;
}

CK_RV p11_chip_sign(struct p11_chip *chip, unsigned slot, const uint8_t digest[32], uint8_t sig[64])
{
    EVP_PKEY_CTX *ctx = NULL;
    unsigned char der[80];
    const unsigned char *p = der;
    size_t der_len = sizeof(der);
    ECDSA_SIG *es = NULL;
    CK_RV rv = CKR_DEVICE_ERROR;

    pthread_mutex_lock(&fake_lock);
    sign_calls++;
    if ((rv = fault_of(chip->dev)) != CKR_OK)
        goto cleanup;
    rv = CKR_DEVICE_ERROR;
    if (slot > 15 || chip->dev->keys[slot] == NULL)
        goto cleanup;
    if ((ctx = EVP_PKEY_CTX_new(chip->dev->keys[slot], NULL)) == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
        EVP_PKEY_sign(ctx, der, &der_len, digest, 32) != 1 || (es = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL)
        goto cleanup;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) != 32 || BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) != 32)
        goto cleanup;
    if (corrupt_next > 0) {
        /* Well framed, wrong: what a bit flip with a recomputed CRC gives. */
        corrupt_next--;
        sig[63] ^= 0x01;
    }
    rv = CKR_OK;
cleanup:
    pthread_mutex_unlock(&fake_lock);
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

CK_RV p11_chip_genkey(struct p11_chip *chip, unsigned slot, uint8_t pub[64])
{
    CK_RV rv;
    pthread_mutex_lock(&fake_lock);
    if ((rv = fault_of(chip->dev)) != CKR_OK) {
        pthread_mutex_unlock(&fake_lock);
        return rv;
    }
    EVP_PKEY_free(chip->dev->keys[slot]);
    chip->dev->keys[slot] = EVP_EC_gen("P-256");
    rv = chip->dev->keys[slot] ? pub_of(chip->dev->keys[slot], pub) : CKR_DEVICE_ERROR;
    pthread_mutex_unlock(&fake_lock);
    return rv;
}

CK_RV p11_chip_pubkey(struct p11_chip *chip, unsigned slot, uint8_t pub[64])
{
    CK_RV rv;
    pthread_mutex_lock(&fake_lock);
    rv = slot < 16 && chip->dev->keys[slot] ? pub_of(chip->dev->keys[slot], pub) : CKR_DEVICE_ERROR;
    pthread_mutex_unlock(&fake_lock);
    return rv;
}

CK_RV p11_chip_random(struct p11_chip *chip, uint8_t out[32])
{
    CK_RV rv;
    pthread_mutex_lock(&fake_lock);
    rv = fault_of(chip->dev);
    pthread_mutex_unlock(&fake_lock);
    if (rv != CKR_OK)
        return rv;
    return RAND_bytes(out, 32) == 1 ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV p11_chip_ecdh(struct p11_chip *chip, unsigned slot, const uint8_t peer[64], uint8_t shared[32])
{
    CK_RV rv;
    (void)slot;
    (void)peer;
    pthread_mutex_lock(&fake_lock);
    ecdh_calls++;
    rv = fault_of(chip->dev);
    pthread_mutex_unlock(&fake_lock);
    if (rv == CKR_OK)
        memset(shared, 0x5a, 32);
    return rv;
}
