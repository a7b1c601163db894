/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PIN hashing and verification (OpenSSL PBKDF2-HMAC-SHA256). See pin.h.
 * No I/O, no logging; derived keys are cleansed on every path.
 */
#include "pin.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static CK_RV derive(const CK_UTF8CHAR *pin, CK_ULONG len, const uint8_t *salt, uint32_t iterations,
                    uint8_t out[P11_PIN_HASH_LEN])
{
    /* PBKDF2 wants a char*; an empty PIN is never derived (length checked). */
    if (PKCS5_PBKDF2_HMAC((const char *)pin, (int)len, salt, P11_PIN_SALT_LEN, (int)iterations,
                          EVP_sha256(), P11_PIN_HASH_LEN, out) != 1) {
        OPENSSL_cleanse(out, P11_PIN_HASH_LEN);
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

static bool len_ok(const CK_UTF8CHAR *pin, CK_ULONG len)
{
    return pin != NULL && len >= P11_PIN_MIN_LEN && len <= P11_PIN_MAX_LEN;
}

CK_RV tok_pin_set(struct tok_pin_record *rec, const CK_UTF8CHAR *pin, CK_ULONG len,
                  uint32_t iterations)
{
    struct tok_pin_record nr;
    CK_RV rv;

    if (!len_ok(pin, len))
        return CKR_PIN_LEN_RANGE;
    memset(&nr, 0, sizeof(nr));
    nr.iterations = iterations ? iterations : P11_PIN_ITERATIONS;
    nr.max_failures = P11_PIN_MAX_FAILURES;
    if (RAND_bytes(nr.salt, sizeof(nr.salt)) != 1) {
        rv = CKR_FUNCTION_FAILED;
        goto cleanup;
    }
    rv = derive(pin, len, nr.salt, nr.iterations, nr.hash);
    if (rv != CKR_OK)
        goto cleanup;
    nr.set = true;
    *rec = nr;
cleanup:
    OPENSSL_cleanse(&nr, sizeof(nr));
    return rv;
}

bool tok_pin_locked(const struct tok_pin_record *rec)
{
    return rec->set && rec->failures >= rec->max_failures;
}

CK_RV tok_pin_check(struct tok_pin_record *rec, const CK_UTF8CHAR *pin, CK_ULONG len, bool *changed)
{
    uint8_t got[P11_PIN_HASH_LEN];
    CK_RV rv;
    bool match = false;

    *changed = false;
    if (!rec->set)
        return CKR_USER_PIN_NOT_INITIALIZED;
    if (tok_pin_locked(rec))
        return CKR_PIN_LOCKED;
    if (len_ok(pin, len)) {
        rv = derive(pin, len, rec->salt, rec->iterations, got);
        if (rv != CKR_OK)
            return rv;
        match = CRYPTO_memcmp(got, rec->hash, sizeof(got)) == 0;
        OPENSSL_cleanse(got, sizeof(got));
    }
    if (match) {
        if (rec->failures != 0) {
            rec->failures = 0;
            *changed = true;
        }
        return CKR_OK;
    }
    rec->failures++;
    *changed = true;
    return tok_pin_locked(rec) ? CKR_PIN_LOCKED : CKR_PIN_INCORRECT;
}

CK_FLAGS tok_pin_flags(const struct tok_pin_record *rec, bool so)
{
    CK_FLAGS f = 0;

    if (!rec->set || rec->failures == 0)
        return 0;
    if (tok_pin_locked(rec))
        f |= so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
    else if (rec->failures + 1 == rec->max_failures)
        f |= so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY;
    f |= so ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW;
    return f;
}

void tok_pin_clear(struct tok_pin_record *rec)
{
    OPENSSL_cleanse(rec, sizeof(*rec));
}
