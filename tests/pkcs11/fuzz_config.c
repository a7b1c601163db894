/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic fuzz test of the token configuration parser
 * (p11_config_parse, and p11_config_load on temp files): valid seeds
 * mutated with bit flips, truncations, token and byte insertions,
 * duplicated and removed members, values of the wrong type, huge numbers,
 * deep nesting and invalid UTF-8. Every document must give either a
 * config that holds the documented bounds, or -1 with a non-empty message;
 * never a crash or a leak (the ASan/UBSan build runs this too). Documents
 * are passed in exact-size heap buffers, without a terminating NUL, so a
 * read past len is caught. TRUSTLINK_FUZZ_SEED and TRUSTLINK_FUZZ_ITERATIONS
 * override the defaults; the seed is printed so a failure can be replayed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "fuzz_target.h"
#include "json_mutator.h"

#include "config.h"


#define TOKEN0 "{\"label\":\"trustlink\",\"interface\":\"emu:/run/trustlink/atecc608.sock\"," \
               "\"key_slots\":[0],\"free_slots\":[2,3,4],\"store\":\"/var/lib/trustlink/token0\"}"
#define TOKEN1 "{\"label\":\"second\",\"interface\":\"i2c:/dev/i2c-1@0x35\"," \
               "\"key_slots\":[0,1,15],\"free_slots\":[],\"store\":\"/var/lib/trustlink/token1\"}"

static const char *const seeds[] = {
    "{\"tokens\":[" TOKEN0 "]}",
    "{\"tokens\":[" TOKEN0 "],\"log_level\":\"warning\",\"pin_kdf_iterations\":100000}",
    "{\"tokens\":[" TOKEN0 "," TOKEN1 "],\"log_level\":\"debug\",\"pin_kdf_iterations\":1000}",
    "{\"tokens\":[{\"label\":\"\xc3\xa9t\xc3\xa9\",\"interface\":\"emu:x\",\"key_slots\":[],"
    "\"free_slots\":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15],\"store\":\"/s\"}],\"log_level\":\"error\"}",
    "{\"tokens\":[{\"label\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"interface\":\"emu:y\","
    "\"key_slots\":[5],\"free_slots\":[6],\"store\":\"/t\"}],\"pin_kdf_iterations\":10000000}",
};

static void test_mutated_documents_parse_or_fail_cleanly(void **state)
{
    uint64_t seed = fuzz_seed(0x70313163666eull);
    long iterations = fuzz_iterations(20000);
    struct rng r = { .s = seed ? seed : 1 };
    char *buf = malloc(MAX_DOC);
    long i, accepted = 0;

    (void)state;
    assert_non_null(buf);
    printf("fuzz seed 0x%llx, %ld documents\n", (unsigned long long)seed, iterations);
    for (i = 0; i < iterations; i++) {
        size_t len = make_document(&r, seeds, sizeof(seeds) / sizeof(seeds[0]), buf, MAX_DOC);
        char *exact = malloc(len ? len : 1);
        struct p11_config cfg;
        char err[512];
        int rc;

        assert_non_null(exact);
        memcpy(exact, buf, len);
        memset(&cfg, 0, sizeof(cfg));
        err[0] = '\0';
        rc = p11_config_parse(exact, len, &cfg, err, sizeof(err));
        fuzz_check_p11_config(rc, &cfg, err, exact, len);
        if (rc == 0) {
            accepted++;
            p11_config_free(&cfg);
        }
        /* A tiny error buffer must truncate, not overflow. */
        if (rc != 0 && i % 16 == 0) {
            char small[8];

            memset(&cfg, 0, sizeof(cfg));
            assert_int_equal(p11_config_parse(exact, len, &cfg, small, sizeof(small)), -1);
            assert_true(memchr(small, '\0', sizeof(small)) != NULL);
        }
        free(exact);
    }
    printf("%ld of %ld accepted\n", accepted, iterations);
    /* The seeds themselves are valid: the checks above had both outcomes. */
    assert_true(accepted > 0 && accepted < iterations);
    free(buf);
}

static void test_mutated_files_load_or_fail_with_the_path(void **state)
{
    uint64_t seed = fuzz_seed(0x70313166696cull) ^ 0x5a5a;
    long iterations = fuzz_iterations(20000) / 20;
    struct rng r = { .s = seed ? seed : 1 };
    char dir[] = "/tmp/trustlink-p11-fuzz-XXXXXX";
    char path[64];
    char *buf = malloc(MAX_DOC);
    long i;

    (void)state;
    assert_non_null(buf);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/pkcs11.json", dir);
    for (i = 0; i < iterations; i++) {
        size_t len = make_document(&r, seeds, sizeof(seeds) / sizeof(seeds[0]), buf, MAX_DOC);
        struct p11_config cfg;
        char err[512];
        FILE *f = fopen(path, "wb");
        int rc;

        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        memset(&cfg, 0, sizeof(cfg));
        err[0] = '\0';
        rc = p11_config_load(path, &cfg, err, sizeof(err));
        fuzz_check_p11_config(rc, &cfg, err, buf, len);
        if (rc == 0)
            p11_config_free(&cfg);
        else if (strstr(err, path) == NULL)
            fail_msg("load error does not name the file: \"%s\"", err);
    }
    unlink(path);
    rmdir(dir);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_documents_parse_or_fail_cleanly),
        cmocka_unit_test(test_mutated_files_load_or_fail_with_the_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
