/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for the emulator tests (see emu_test_util.h). Frames packets
 * and checks CRCs with atecc_crc16 only; everything else is written here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "atecc608/crc.h"
#include "emu_test_util.h"

static uint64_t t_vclock_now(void *ctx)
{
    return ((struct t_vclock *)ctx)->now_us;
}

static void t_vclock_sleep(void *ctx, uint64_t us)
{
    struct t_vclock *vclock = ctx;

    vclock->now_us += us + vclock->oversleep_us;
    vclock->slept_us += us;
    vclock->waits++;
}

static void t_vclock_wait_until(void *ctx, uint64_t deadline_us)
{
    struct t_vclock *vclock = ctx;

    if (vclock->now_us < deadline_us)
        vclock->now_us = deadline_us;
    vclock->now_us += vclock->oversleep_us;
    vclock->last_deadline_us = deadline_us;
    vclock->waits++;
}

void t_open(struct t_chip *t, const struct t_open_args *args)
{
    struct emu_options options;
    char err[256] = "";

    memset(t, 0, sizeof(*t));
    t->vclock.now_us = 1000000; /* arbitrary non-zero start */
    t->clock.now_us = t_vclock_now;
    t->clock.sleep_us = t_vclock_sleep;
    t->clock.ctx = &t->vclock;
    if (args->absolute_waits)
        t->clock.wait_until_us = t_vclock_wait_until;
    memset(&options, 0, sizeof(options));
    options.profile = args->profile;
    options.state_path = args->state_path;
    options.bus_hz = args->bus_hz;
    options.time_scale = args->time_scale;
    options.typical_factor = args->typical_factor;
    options.revision = args->revision;
    options.seed = args->seed;
    options.long_watchdog = args->long_watchdog;
    options.clock = &t->clock;
    t->chip = emu_chip_open(&options, err, sizeof(err));
    if (t->chip == NULL)
        fail_msg("emu_chip_open: %s", err);
    t->addr = emu_chip_address(t->chip);
    t->bus_hz = emu_chip_bus_hz(t->chip);
}

void t_open_profile(struct t_chip *t, enum emu_profile profile)
{
    struct t_open_args args = { .profile = profile };

    t_open(t, &args);
}

void t_close(struct t_chip *t)
{
    emu_chip_close(t->chip);
    t->chip = NULL;
}

void t_advance(struct t_chip *t, uint64_t us)
{
    t->vclock.now_us += us;
}

size_t t_frame(uint8_t *out, size_t cap, uint8_t opcode, uint8_t param1, uint16_t param2,
               const uint8_t *data, size_t len)
{
    size_t count = ATECC_PKT_OVERHEAD + len;

    assert_true(count + 1 <= cap && count <= 255);
    out[0] = ATECC_WORD_COMMAND;
    out[1] = (uint8_t)count;
    out[2] = opcode;
    out[3] = param1;
    out[4] = (uint8_t)(param2 & 0xFF);
    out[5] = (uint8_t)(param2 >> 8);
    if (len > 0)
        memcpy(&out[6], data, len);
    atecc_crc16_put(&out[1], count - 2, &out[1 + count - 2]);
    return count + 1;
}

void t_wake_pulse(struct t_chip *t, size_t extra_zero_bytes)
{
    uint8_t zeros[8] = { 0 };

    assert_true(extra_zero_bytes + 1 <= sizeof(zeros));
    (void)emu_bus_write(t->chip, 0x00, zeros, 1 + extra_zero_bytes,
                        extra_zero_bytes > 0 ? EMU_BUS_IGNORE_NAK : 0);
    t_advance(t, ATECC_T_WHI_US);
}

bool t_wake(struct t_chip *t)
{
    static const uint8_t expected[4] = ATECC_WAKE_RESPONSE;
    uint8_t rsp[4];

    /* SDA low >= tWLO: 8 address bit times plus 9 per zero byte. */
    uint64_t bits_needed = ((uint64_t)ATECC_T_WLO_US * t->bus_hz + 999999u) / 1000000u;
    size_t extra = bits_needed > 8 ? (size_t)((bits_needed - 8 + 8) / 9) : 0;

    t_wake_pulse(t, extra);
    if (emu_bus_read(t->chip, t->addr, rsp, sizeof(rsp)) != EMU_BUS_ACK)
        return false;
    return memcmp(rsp, expected, sizeof(rsp)) == 0;
}

enum emu_bus_result t_word(struct t_chip *t, uint8_t word)
{
    return emu_bus_write(t->chip, t->addr, &word, 1, 0);
}

enum emu_bus_result t_send(struct t_chip *t, uint8_t opcode, uint8_t param1, uint16_t param2,
                           const uint8_t *data, size_t len)
{
    uint8_t pkt[1 + ATECC_CMD_MAX];
    size_t pkt_len = t_frame(pkt, sizeof(pkt), opcode, param1, param2, data, len);

    return emu_bus_write(t->chip, t->addr, pkt, pkt_len, 0);
}

int t_receive(struct t_chip *t, uint8_t *rsp, size_t cap)
{
    int tries = 0;

    /* Bounded by the longest execution time the facts sheet lists. */
    while (t_word(t, ATECC_WORD_RESET) != EMU_BUS_ACK) {
        if (++tries > 3000)
            return -1;
        t_advance(t, 1000);
    }
    if (emu_bus_read(t->chip, t->addr, rsp, 1) != EMU_BUS_ACK)
        return -1;
    if (rsp[0] < ATECC_RSP_MIN || rsp[0] > cap)
        return -2;
    if (emu_bus_read(t->chip, t->addr, rsp + 1, (size_t)rsp[0] - 1) != EMU_BUS_ACK)
        return -1;
    return rsp[0];
}

int t_exec(struct t_chip *t, uint8_t opcode, uint8_t param1, uint16_t param2, const uint8_t *data,
           size_t len, uint8_t *rsp, size_t cap)
{
    int count;

    assert_int_equal(t_send(t, opcode, param1, param2, data, len), EMU_BUS_ACK);
    count = t_receive(t, rsp, cap);
    assert_true(count >= ATECC_RSP_MIN);
    assert_true(atecc_crc16_check(rsp, (size_t)count));
    return count;
}

uint8_t t_status(struct t_chip *t, uint8_t opcode, uint8_t param1, uint16_t param2,
                 const uint8_t *data, size_t len)
{
    uint8_t rsp[ATECC_RSP_MAX];

    assert_int_equal(t_exec(t, opcode, param1, param2, data, len, rsp, sizeof(rsp)),
                     ATECC_RSP_STATUS_COUNT);
    return rsp[1];
}

void t_output(struct t_chip *t, uint8_t opcode, uint8_t param1, uint16_t param2, const uint8_t *data,
              size_t len, uint8_t *out, size_t out_len)
{
    uint8_t rsp[ATECC_RSP_MAX];
    int count = t_exec(t, opcode, param1, param2, data, len, rsp, sizeof(rsp));

    if ((size_t)count != out_len + 3)
        fail_msg("opcode 0x%02X: expected %zu output bytes, got count %d (status 0x%02X)", opcode,
                 out_len, count, rsp[1]);
    memcpy(out, rsp + 1, out_len);
}

void t_nonce_passthrough(struct t_chip *t, uint8_t mode, const uint8_t *msg, size_t len)
{
    assert_int_equal(t_status(t, ATECC_OP_NONCE, mode, 0, msg, len), ATECC_STATUS_SUCCESS);
}

void t_genkey(struct t_chip *t, uint16_t slot, uint8_t pub[64])
{
    t_output(t, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, slot, NULL, 0, pub, 64);
}

void t_pubkey(struct t_chip *t, uint16_t slot, uint8_t pub[64])
{
    t_output(t, ATECC_OP_GENKEY, ATECC_GENKEY_PUBLIC, slot, NULL, 0, pub, 64);
}

void t_read_config(struct t_chip *t, uint8_t config[128])
{
    for (uint16_t block = 0; block < 4; block++)
        t_output(t, ATECC_OP_READ, ATECC_ZONE_CONFIG | ATECC_ZONE_READWRITE_32, (uint16_t)(block << 3),
                 NULL, 0, config + 32 * block, 32);
}

uint8_t t_read_chip_mode(struct t_chip *t)
{
    uint8_t block0[32];

    t_output(t, ATECC_OP_READ, ATECC_ZONE_CONFIG | ATECC_ZONE_READWRITE_32, 0, NULL, 0, block0, sizeof(block0));
    return block0[ATECC_CFG_CHIP_MODE];
}

uint8_t t_write_config_word(struct t_chip *t, unsigned offset, const uint8_t word[4])
{
    uint16_t param2 = (uint16_t)(((offset / 32) << 3) | ((offset % 32) / 4));

    return t_status(t, ATECC_OP_WRITE, ATECC_ZONE_CONFIG, param2, word, 4);
}

static EVP_PKEY *t_pkey_from_pub(const uint8_t pub[64])
{
    uint8_t point[65];
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    char group[] = "prime256v1";

    point[0] = 0x04;
    memcpy(point + 1, pub, 64);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

bool t_openssl_verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
    EVP_PKEY *pkey = t_pkey_from_pub(pub);
    EVP_PKEY_CTX *ctx = NULL;
    ECDSA_SIG *ecdsa = ECDSA_SIG_new();
    unsigned char *der = NULL;
    int der_len;
    bool ok;

    assert_non_null(pkey);
    assert_non_null(ecdsa);
    assert_int_equal(ECDSA_SIG_set0(ecdsa, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
    der_len = i2d_ECDSA_SIG(ecdsa, &der);
    assert_true(der_len > 0);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    ok = EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, 32) == 1;
    OPENSSL_free(der);
    ECDSA_SIG_free(ecdsa);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return ok;
}

void t_openssl_ecdh_peer(const uint8_t chip_pub[64], uint8_t peer_pub[64], uint8_t shared[32])
{
    EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    EVP_PKEY *chip = t_pkey_from_pub(chip_pub);
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t point[65];
    size_t point_len = 0;
    size_t shared_len = 32;

    assert_non_null(peer);
    assert_non_null(chip);
    assert_int_equal(EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                                     sizeof(point), &point_len), 1);
    assert_int_equal(point_len, 65);
    memcpy(peer_pub, point + 1, 64);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, chip), 1);
    assert_int_equal(EVP_PKEY_derive(ctx, shared, &shared_len), 1);
    assert_int_equal(shared_len, 32);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(chip);
    EVP_PKEY_free(peer);
}

void t_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    unsigned int out_len = 0;

    assert_int_equal(EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL), 1);
}

void t_tmpdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");

    snprintf(out, cap, "%s/emu-test-XXXXXX", base != NULL ? base : "/tmp");
    assert_non_null(mkdtemp(out));
}

void t_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *entry;
    char path[512];

    if (d == NULL)
        return;
    while ((entry = readdir(d)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}
