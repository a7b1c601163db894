/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The entry point every fuzz target in tests/fuzz defines (libFuzzer's
 * interface), and the per-input checks that the deterministic fuzz tests
 * beside each layer reuse, so a property is stated once.
 *
 * A check that fails prints what it saw and ends the process (cmocka's
 * fail outside a running test exits, inside one fails that test): libFuzzer
 * reports "fuzz target exited" and writes the reproducer; the corpus
 * replay exits non-zero naming the file.
 */
#ifndef TRUSTLINK_TESTS_FUZZ_TARGET_H
#define TRUSTLINK_TESTS_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed parse must leave its output untouched: callers fill the output
 * with this byte before parsing, and the checks look for it. */
#define FUZZ_CONFIG_POISON 0xA5

struct agent_config;
struct p11_config;

/* agent/config.c: rc/cfg/err of agent_config_parse or _load on doc. */
void fuzz_check_agent_config(int rc, const struct agent_config *cfg, const char *err,
                             const char *doc, size_t len);
/* pkcs11/config.c: rc/cfg/err of p11_config_parse or _load on doc. */
void fuzz_check_p11_config(int rc, const struct p11_config *cfg, const char *err, const char *doc,
                           size_t len);
/* drivers/atecc608: atecc_rsp_parse on buf against the rules restated. */
void fuzz_check_chip_response(const uint8_t *buf, size_t len);

#endif
