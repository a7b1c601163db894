/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User and SO PIN records: salted slow hash, constant-time verification,
 * retry counter and the token flags it implies.
 *
 * Owns: struct tok_pin_record (what the token store persists per PIN) and
 * the arithmetic on it. Persisting the record after a check is the
 * caller's job (slot.c, under the store lock) - a failed attempt must be
 * written before the answer is returned.
 * Must never: log, print or keep a PIN; return before cleansing the
 * derived key.
 *
 * KDF: PBKDF2-HMAC-SHA256, 16-byte random salt per PIN, 32-byte output,
 * iteration count stored in the record (default P11_PIN_ITERATIONS).
 */
#ifndef TRUSTLINK_P11_PIN_H
#define TRUSTLINK_P11_PIN_H

#include <stdbool.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#define P11_PIN_MIN_LEN 4
#define P11_PIN_MAX_LEN 64
#define P11_PIN_SALT_LEN 16
#define P11_PIN_HASH_LEN 32
#define P11_PIN_ITERATIONS 100000u
#define P11_PIN_MIN_ITERATIONS 1000u    /* refused below this when loading */
#define P11_PIN_MAX_ITERATIONS 10000000u
#define P11_PIN_MAX_FAILURES 10u

struct tok_pin_record {
    bool set;                          /* false: no PIN (not initialised) */
    uint32_t iterations;
    uint8_t salt[P11_PIN_SALT_LEN];
    uint8_t hash[P11_PIN_HASH_LEN];
    uint32_t failures;                 /* consecutive wrong PINs */
    uint32_t max_failures;             /* locked when failures >= this */
};

/* New record for pin (length P11_PIN_MIN_LEN..P11_PIN_MAX_LEN, else
 * CKR_PIN_LEN_RANGE); counter reset. CKR_FUNCTION_FAILED if the RNG or KDF
 * fails. iterations 0 means the default. */
CK_RV tok_pin_set(struct tok_pin_record *rec, const CK_UTF8CHAR *pin, CK_ULONG len,
                  uint32_t iterations);

/*
 * Verifies pin against rec and updates the counter:
 *   not set -> CKR_USER_PIN_NOT_INITIALIZED (record unchanged);
 *   locked  -> CKR_PIN_LOCKED (unchanged, nothing derived);
 *   wrong (including a length outside the range) -> failures + 1,
 *           CKR_PIN_INCORRECT, or CKR_PIN_LOCKED when that was the last try;
 *   right   -> failures = 0, CKR_OK.
 * *changed tells the caller whether the record must be persisted.
 */
CK_RV tok_pin_check(struct tok_pin_record *rec, const CK_UTF8CHAR *pin, CK_ULONG len,
                    bool *changed);

bool tok_pin_locked(const struct tok_pin_record *rec);
/* CKF_USER_PIN_* (so false) or CKF_SO_PIN_* (so true) flags of rec:
 * COUNT_LOW after any failure, FINAL_TRY when one try is left, LOCKED. */
CK_FLAGS tok_pin_flags(const struct tok_pin_record *rec, bool so);
/* Zeroes the record (salt and hash included). */
void tok_pin_clear(struct tok_pin_record *rec);

#endif
