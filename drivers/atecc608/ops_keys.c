/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key operations: GenKey, public key, Nonce, Sign, Verify, ECDH.
 *
 * CHOICE (Nonce target): the digest goes into the message digest buffer
 * (Nonce 0x43, then Sign 0xA0 / Verify 0x22), not TempKey: that leaves
 * TempKey to the flows that need it and is the path the vendor's host
 * library takes. A fresh Nonce precedes every Sign and Verify, in the same
 * wake window and bus-lock hold, reserved together against the watchdog.
 * Must never split a Nonce from its Sign across a lock release, nor idle
 * between them.
 */
#include <string.h>

#include "exec.h"
#include "ops_internal.h"
#include "sign_engine.h"

enum {
    ATECC_VERIFY_EXTERNAL_MSGDIG = ATECC_VERIFY_EXTERNAL | ATECC_VERIFY_MSGDIG,
};

static atecc_err check_slot(uint8_t slot)
{
    return slot < ATECC_SLOT_COUNT ? ATECC_OK : ATECC_E_ARGUMENT;
}

atecc_err atecc_genkey(struct atecc_device *dev, uint8_t slot, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE])
{
    atecc_err rc;

    if (dev == NULL || pubkey == NULL || check_slot(slot) != ATECC_OK)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    /* A resend after a lost response just makes another key: the one
     * returned is the one stored. */
    rc = atecc_exec_expect(dev, ATECC_OP_GENKEY, ATECC_GENKEY_PRIVATE, slot, NULL, 0, pubkey,
                           ATECC_P256_PUBKEY_SIZE, 0);
    rc = atecc_explain(dev, rc, ATECC_KIND_GENKEY, ATECC_ZONE_DATA, slot);
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_pubkey(struct atecc_device *dev, uint8_t slot, uint8_t pubkey[ATECC_P256_PUBKEY_SIZE])
{
    atecc_err rc;

    if (dev == NULL || pubkey == NULL || check_slot(slot) != ATECC_OK)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_GENKEY, ATECC_GENKEY_PUBLIC, slot, NULL, 0, pubkey,
                           ATECC_P256_PUBKEY_SIZE, 0);
    rc = atecc_explain(dev, rc, ATECC_KIND_PUBKEY, ATECC_ZONE_DATA, slot);
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_nonce_passthrough(struct atecc_device *dev, uint8_t mode,
                                  const uint8_t data[ATECC_DIGEST_SIZE])
{
    atecc_err rc;

    if (dev == NULL || data == NULL ||
        (mode != ATECC_NONCE_PASSTHROUGH && mode != ATECC_NONCE_PASSTHROUGH_MSGDIG &&
         mode != ATECC_NONCE_PASSTHROUGH_ALTKEY))
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    /* Leave room for the slowest command that could consume the buffer. */
    rc = atecc_exec_reserve(dev, atecc_exec_max_us(dev, ATECC_OP_NONCE) +
                                     atecc_exec_max_us(dev, ATECC_OP_VERIFY));
    if (rc == ATECC_OK)
        rc = atecc_exec_expect(dev, ATECC_OP_NONCE, mode, 0, data, ATECC_DIGEST_SIZE, NULL, 1, 0);
    if (rc == ATECC_OK) {
        atecc_call_end_keep_window(dev);
        return rc;
    }
    atecc_call_end(dev);
    return rc;
}

enum {
    /* Extra whole-sequence tries when the pair no longer fit the wake
     * window because the host stalled between the two commands (status
     * 0xEE, or the driver's own check): no fault of the bus or the chip,
     * so it does not use up the error retries; a fresh wake cures it
     * unless the host keeps stalling for longer than the watchdog. */
    ATECC_WINDOW_RETRIES = 8,
};

/* Nonce (message digest buffer) + one command consuming it, repeated as a
 * whole on transient errors: a resend of the second command alone could
 * find the buffer already used. */
static atecc_err nonce_then(struct atecc_device *dev, const uint8_t digest[ATECC_DIGEST_SIZE],
                            uint8_t opcode, uint8_t mode, uint16_t param2, const uint8_t *data,
                            size_t data_len, uint8_t *out, size_t expect, unsigned flags)
{
    unsigned tries = dev->retries + 1;
    unsigned window_tries = 0;
    unsigned t = 0;
    uint64_t budget = atecc_exec_max_us(dev, ATECC_OP_NONCE) + atecc_exec_max_us(dev, opcode);
    atecc_err rc = ATECC_OK;

    while (t < tries) {
        if (t > 0 || window_tries > 0)
            dev->stats.retries++;
        rc = atecc_exec_reserve(dev, budget);
        if (rc == ATECC_OK)
            rc = atecc_exec_expect(dev, ATECC_OP_NONCE, ATECC_NONCE_PASSTHROUGH_MSGDIG, 0, digest,
                                   ATECC_DIGEST_SIZE, NULL, 1, ATECC_EXEC_NO_RESEND | flags);
        /* Never across a re-wake: the wake would find the buffer gone. */
        if (rc == ATECC_OK)
            rc = atecc_exec_expect(dev, opcode, mode, param2, data, data_len, out, expect,
                                   ATECC_EXEC_NO_RESEND | ATECC_EXEC_SAME_WINDOW | flags);
        if (rc == ATECC_OK || !atecc_err_transient(rc))
            return rc;
        if (rc == ATECC_E_WATCHDOG && window_tries < ATECC_WINDOW_RETRIES) {
            window_tries++;
            /* Start the next try in a fresh window. */
            if (dev->state == ATECC_AWAKE)
                (void)atecc_do_idle(dev);
            continue;
        }
        t++;
    }
    return atecc_exec_give_up(dev, rc, opcode, tries + window_tries);
}

static atecc_err sign_one(struct atecc_device *dev, uint8_t slot,
                          const uint8_t digest[ATECC_DIGEST_SIZE],
                          uint8_t signature[ATECC_P256_SIGNATURE_SIZE], unsigned flags)
{
    atecc_err rc = nonce_then(dev, digest, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL_MSGDIG, slot, NULL, 0,
                              signature, ATECC_P256_SIGNATURE_SIZE, flags);

    rc = atecc_explain(dev, rc, ATECC_KIND_SIGN, ATECC_ZONE_DATA, slot);
    if (rc == ATECC_OK) {
        dev->stats.signatures++;
    } else {
        dev->stats.sign_failures++;
        memset(signature, 0, ATECC_P256_SIGNATURE_SIZE);
    }
    return rc;
}

atecc_err atecc_sign_in_window(struct atecc_device *dev, uint8_t slot,
                               const uint8_t digest[ATECC_DIGEST_SIZE],
                               uint8_t signature[ATECC_P256_SIGNATURE_SIZE])
{
    return sign_one(dev, slot, digest, signature, 0);
}

/* The baseline: one call bracket per signature, a wake before and an idle
 * after each of its two commands, full maximum waits. */
static atecc_err sign_naive(struct atecc_device *dev, uint8_t slot,
                            const uint8_t digest[ATECC_DIGEST_SIZE],
                            uint8_t signature[ATECC_P256_SIGNATURE_SIZE])
{
    atecc_err rc = atecc_call_begin(dev);

    if (rc != ATECC_OK)
        return rc;
    rc = sign_one(dev, slot, digest, signature, ATECC_EXEC_NAIVE);
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_sign(struct atecc_device *dev, uint8_t slot, const uint8_t digest[ATECC_DIGEST_SIZE],
                     uint8_t signature[ATECC_P256_SIGNATURE_SIZE])
{
    if (dev == NULL || digest == NULL || signature == NULL || check_slot(slot) != ATECC_OK)
        return ATECC_E_ARGUMENT;
    if (dev->sign_policy == ATECC_SIGN_POLICY_NAIVE)
        return sign_naive(dev, slot, digest, signature);
    return atecc_engine_sign(dev, slot, digest, signature);
}

atecc_err atecc_sign_batch(struct atecc_device *dev, uint8_t slot, size_t count,
                           const uint8_t (*digests)[ATECC_DIGEST_SIZE],
                           uint8_t (*signatures)[ATECC_P256_SIGNATURE_SIZE], size_t *done)
{
    atecc_err rc = ATECC_OK;
    size_t i = 0;

    if (done != NULL)
        *done = 0;
    if (dev == NULL || (count > 0 && (digests == NULL || signatures == NULL)) ||
        check_slot(slot) != ATECC_OK)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    for (i = 0; i < count && rc == ATECC_OK; i++) {
        /* Between signatures: hand the bus over if another process waits. */
        if (i > 0 && (rc = atecc_window_begin(dev)) != ATECC_OK)
            break;
        rc = sign_one(dev, slot, digests[i], signatures[i], 0);
        if (rc == ATECC_OK && done != NULL)
            *done = i + 1;
    }
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_verify_extern(struct atecc_device *dev, const uint8_t digest[ATECC_DIGEST_SIZE],
                              const uint8_t signature[ATECC_P256_SIGNATURE_SIZE],
                              const uint8_t pubkey[ATECC_P256_PUBKEY_SIZE], bool *valid)
{
    uint8_t data[ATECC_P256_SIGNATURE_SIZE + ATECC_P256_PUBKEY_SIZE];
    atecc_err rc;

    if (valid != NULL)
        *valid = false;
    if (dev == NULL || digest == NULL || signature == NULL || pubkey == NULL || valid == NULL)
        return ATECC_E_ARGUMENT;
    /* Verify external data: signature R||S then public key X||Y. */
    memcpy(data, signature, ATECC_P256_SIGNATURE_SIZE);
    memcpy(data + ATECC_P256_SIGNATURE_SIZE, pubkey, ATECC_P256_PUBKEY_SIZE);
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = nonce_then(dev, digest, ATECC_OP_VERIFY, ATECC_VERIFY_EXTERNAL_MSGDIG,
                    ATECC_VERIFY_KEY_P256, data, sizeof(data), NULL, 1, 0);
    atecc_call_end(dev);
    if (rc == ATECC_OK) {
        *valid = true;
    } else if (rc == ATECC_E_MISCOMPARE) {
        /* Checked and wrong: a result, not a failure. */
        rc = ATECC_OK;
    }
    return rc;
}

atecc_err atecc_ecdh(struct atecc_device *dev, uint8_t slot,
                     const uint8_t peer_pubkey[ATECC_P256_PUBKEY_SIZE], uint8_t shared[32])
{
    atecc_err rc;

    if (dev == NULL || peer_pubkey == NULL || shared == NULL || check_slot(slot) != ATECC_OK)
        return ATECC_E_ARGUMENT;
    rc = atecc_call_begin(dev);
    if (rc != ATECC_OK)
        return rc;
    rc = atecc_exec_expect(dev, ATECC_OP_ECDH, ATECC_ECDH_OUTPUT_CLEAR, slot, peer_pubkey,
                           ATECC_P256_PUBKEY_SIZE, shared, 32, 0);
    rc = atecc_explain(dev, rc, ATECC_KIND_ECDH, ATECC_ZONE_DATA, slot);
    if (rc != ATECC_OK)
        explicit_bzero(shared, 32);
    atecc_call_end(dev);
    return rc;
}
