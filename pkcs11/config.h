/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Token configuration of the provider, read from one JSON file.
 *
 * Owns: parsing and validating the file into a plain struct. Nothing else
 * in the provider reads JSON configuration.
 * Must never: touch the chip or the token store, or keep global state.
 *
 * Path: $TRUSTLINK_PKCS11_CONF (read with secure_getenv: ignored in
 * setuid/setgid programs), else /etc/trustlink/pkcs11.json.
 *
 * Schema (every key below is known; any other key is an error):
 *   {
 *     "tokens": [                      required, 1..16 entries
 *       {
 *         "label": "trustlink",        required, 1..32 bytes UTF-8, unique
 *         "interface": "emu:/run/trustlink/atecc608.sock",
 *                                      required, non-empty: the driver's
 *                                      interface string (i2c:... or emu:...)
 *         "key_slots": [0],            required, chip slots 0-15 holding
 *                                      provisioned private keys
 *         "free_slots": [2, 3, 4],     required, chip slots 0-15 that
 *                                      C_GenerateKeyPair may (re)use
 *         "store": "/var/lib/trustlink/token0"
 *                                      required, absolute: the token store
 *                                      directory (unique per token)
 *       }
 *     ],
 *     "log_level": "warning",          optional: error|warning|info|debug
 *     "pin_kdf_iterations": 100000,    optional: PBKDF2 iterations for PINs
 *                                      set from now on, 1000-10000000
 *     "verify_signatures": true        optional (default true): every ECDSA
 *                                      signature from the chip is checked
 *                                      against the key's public key before
 *                                      it is returned (a bad one is made
 *                                      again once, then CKR_DEVICE_ERROR)
 *     "lock_dir": "/run/trustlink-lock" optional, absolute: directory of the
 *                                      chip's inter-process bus lock files
 *                                      (default /run/trustlink-lock; must
 *                                      not be world-writable)
 *   }
 * A slot number may appear once across key_slots and free_slots of a
 * token. Errors name the JSON path and what was expected, e.g.
 *   tokens[0].free_slots[1]: expected an integer 0-15, got "x"
 */
#ifndef TRUSTLINK_P11_CONFIG_H
#define TRUSTLINK_P11_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P11_CONFIG_ENV "TRUSTLINK_PKCS11_CONF"
#define P11_CONFIG_DEFAULT_PATH "/etc/trustlink/pkcs11.json"
#define P11_MAX_TOKENS 16
#define P11_CHIP_SLOTS 16
#define P11_LABEL_MAX 32

enum p11_log_level {
    P11_LOG_ERROR = 0,
    P11_LOG_WARNING,
    P11_LOG_INFO,
    P11_LOG_DEBUG,
};

struct p11_token_config {
    char label[P11_LABEL_MAX + 1];
    char *interface;
    uint8_t key_slots[P11_CHIP_SLOTS];
    size_t n_key_slots;
    uint8_t free_slots[P11_CHIP_SLOTS];
    size_t n_free_slots;
    char *store;
};

struct p11_config {
    struct p11_token_config *tokens;
    size_t n_tokens;
    enum p11_log_level log_level;
    uint32_t pin_kdf_iterations;   /* 0: the default (pin.h) */
    bool verify_signatures;        /* default true */
    char *lock_dir;                /* NULL: the driver's default */
};

/* Parses JSON text. 0 on success; -1 with err filled (never both). */
int p11_config_parse(const char *text, size_t len, struct p11_config *out,
                     char *err, size_t err_len);
/* Reads path (NULL: from the environment or the default); errors are
 * prefixed with the file path. */
int p11_config_load(const char *path, struct p11_config *out, char *err, size_t err_len);
/* The path p11_config_load(NULL, ...) reads. */
const char *p11_config_path(void);
void p11_config_free(struct p11_config *cfg);

#endif
