/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the PKCS#11 module's token configuration parser
 * (pkcs11/config.c). Every document gives either a config within the
 * documented bounds (config.h) or -1 with a non-empty message; a tiny error
 * buffer truncates. The check is shared with tests/pkcs11/fuzz_config.c,
 * which generates documents deterministically. Corpus: tests/fuzz/p11_config/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "fuzz_target.h"

void fuzz_check_p11_config(int rc, const struct p11_config *cfg, const char *err, const char *doc,
                           size_t len)
{
    size_t i, j;

    if (rc == 0) {
        if (cfg->n_tokens < 1 || cfg->n_tokens > P11_MAX_TOKENS || cfg->tokens == NULL)
            fail_msg("accepted %zu tokens from \"%.*s\"", cfg->n_tokens, (int)len, doc);
        assert_true(cfg->pin_kdf_iterations == 0 ||
                    (cfg->pin_kdf_iterations >= 1000 && cfg->pin_kdf_iterations <= 10000000));
        assert_true(cfg->log_level >= P11_LOG_ERROR && cfg->log_level <= P11_LOG_DEBUG);
        for (i = 0; i < cfg->n_tokens; i++) {
            const struct p11_token_config *t = &cfg->tokens[i];

            assert_true(t->label[0] != '\0' && strlen(t->label) <= P11_LABEL_MAX);
            assert_true(t->interface != NULL && t->interface[0] != '\0');
            assert_true(t->store != NULL && t->store[0] != '\0');
            assert_true(t->n_key_slots <= P11_CHIP_SLOTS && t->n_free_slots <= P11_CHIP_SLOTS);
            for (j = 0; j < t->n_key_slots; j++)
                assert_true(t->key_slots[j] < P11_CHIP_SLOTS);
            for (j = 0; j < t->n_free_slots; j++)
                assert_true(t->free_slots[j] < P11_CHIP_SLOTS);
        }
    } else if (rc != -1 || err[0] == '\0') {
        fail_msg("rc %d with message \"%s\" for \"%.*s\"", rc, err, (int)len, doc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p11_config cfg;
    char err[512];
    char small[8];
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    err[0] = '\0';
    rc = p11_config_parse((const char *)data, size, &cfg, err, sizeof(err));
    fuzz_check_p11_config(rc, &cfg, err, (const char *)data, size);
    if (rc == 0) {
        p11_config_free(&cfg);
        return 0;
    }
    memset(&cfg, 0, sizeof(cfg));
    if (p11_config_parse((const char *)data, size, &cfg, small, sizeof(small)) != -1 ||
        memchr(small, '\0', sizeof(small)) == NULL)
        fail_msg("a tiny error buffer changed the outcome or was not terminated");
    return 0;
}
