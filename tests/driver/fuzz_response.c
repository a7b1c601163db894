/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic fuzz test of the driver's pure packet functions
 * (command.h): atecc_rsp_parse on random buffers and on valid responses
 * mutated by bit flips, truncation, extension, count changes, with the CRC
 * recomputed or left broken; atecc_cmd_build on random lengths and
 * capacities; atecc_status_retryable on every byte. Each buffer is an
 * exact-size heap copy so a read past len is caught (ASan build).
 * TRUSTLINK_FUZZ_SEED and TRUSTLINK_FUZZ_ITERATIONS override the defaults;
 * the seed is printed so a failure can be replayed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "atecc608/crc.h"
#include "atecc608/protocol.h"
#include "command.h"
#include "fuzz_target.h"

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    /* xorshift64*: deterministic per seed, no global state. */
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

static size_t rng_below(struct rng *r, size_t n)
{
    return n == 0 ? 0 : (size_t)(rng_next(r) % n);
}

static uint64_t fuzz_seed(uint64_t dflt)
{
    const char *env = getenv("TRUSTLINK_FUZZ_SEED");

    return env ? strtoull(env, NULL, 0) : dflt;
}

static long fuzz_iterations(long dflt)
{
    const char *env = getenv("TRUSTLINK_FUZZ_ITERATIONS");

    return env ? strtol(env, NULL, 0) : dflt;
}

/* A valid response: status group (count 4) or 1..64 output bytes. */
static size_t valid_response(struct rng *r, uint8_t *buf)
{
    static const size_t outputs[] = { 1, 4, 32, 64 };
    size_t n = rng_below(r, 3) == 0 ? 1 : outputs[rng_below(r, 4)];
    size_t len = n + 3, i;

    buf[0] = (uint8_t)len;
    for (i = 1; i <= n; i++)
        buf[i] = (uint8_t)rng_below(r, 256);
    atecc_crc16_put(buf, len - 2, buf + len - 2);
    return len;
}

static void test_random_and_mutated_responses(void **state)
{
    uint64_t seed = fuzz_seed(0x72737066757aull);
    long iterations = fuzz_iterations(200000);
    struct rng r = { .s = seed ? seed : 1 };
    uint8_t buf[2 * ATECC_RSP_MAX + 8];
    size_t len;
    long i;

    (void)state;
    printf("fuzz seed 0x%llx, %ld responses\n", (unsigned long long)seed, iterations);
    for (i = 0; i < iterations; i++) {
        size_t k;

        switch (rng_below(&r, 4)) {
        case 0: /* random bytes, random length */
            len = rng_below(&r, sizeof(buf) + 1);
            for (k = 0; k < len; k++)
                buf[k] = (uint8_t)rng_below(&r, 256);
            if (len > 0 && rng_below(&r, 2))
                buf[0] = (uint8_t)len; /* get past the count check */
            break;
        case 1: /* valid */
            len = valid_response(&r, buf);
            break;
        default: { /* valid, then mutated */
            size_t rounds = 1 + rng_below(&r, 3);

            len = valid_response(&r, buf);
            while (rounds-- > 0) {
                switch (rng_below(&r, 6)) {
                case 0:
                    buf[rng_below(&r, len)] ^= (uint8_t)(1u << rng_below(&r, 8));
                    break;
                case 1:
                    len = rng_below(&r, len + 1);
                    break;
                case 2: { /* extend */
                    size_t add = 1 + rng_below(&r, sizeof(buf) - len);

                    for (k = 0; k < add && len < sizeof(buf); k++)
                        buf[len++] = (uint8_t)rng_below(&r, 256);
                    break;
                }
                case 3:
                    if (len > 0)
                        buf[0] = (uint8_t)rng_below(&r, 256);
                    break;
                case 4: /* count says len, CRC recomputed: length bounds only */
                    if (len >= 3) {
                        buf[0] = (uint8_t)len;
                        atecc_crc16_put(buf, len - 2, buf + len - 2);
                    }
                    break;
                default:
                    if (len > 0)
                        buf[0] = (uint8_t)len;
                    break;
                }
            }
            break;
        }
        }
        fuzz_check_chip_response(buf, len);
    }
    /* Every length around the bounds, with a right count and CRC. */
    for (len = 0; len <= sizeof(buf); len++) {
        memset(buf, 0x5A, sizeof(buf));
        if (len > 0)
            buf[0] = (uint8_t)len;
        if (len >= 3)
            atecc_crc16_put(buf, len - 2, buf + len - 2);
        fuzz_check_chip_response(buf, len);
    }
}

static void test_build_random_lengths_and_capacities(void **state)
{
    uint64_t seed = fuzz_seed(0x72737066757aull) ^ 0xb1d;
    long iterations = fuzz_iterations(200000) / 10;
    struct rng r = { .s = seed ? seed : 1 };
    uint8_t data[ATECC_CMD_DATA_MAX + 32];
    long i;
    unsigned s;

    (void)state;
    for (i = 0; i < (long)sizeof(data); i++)
        data[i] = (uint8_t)rng_below(&r, 256);
    for (i = 0; i < iterations; i++) {
        size_t data_len = rng_below(&r, sizeof(data) + 1);
        size_t cap = rng_below(&r, ATECC_CMD_MAX + 16);
        uint8_t *out = malloc(cap ? cap : 1);
        size_t out_len = 12345;
        uint8_t opcode = (uint8_t)rng_below(&r, 256), p1 = (uint8_t)rng_below(&r, 256);
        uint16_t p2 = (uint16_t)rng_below(&r, 65536);
        atecc_err err;

        assert_non_null(out);
        err = atecc_cmd_build(out, cap, opcode, p1, p2, data_len ? data : NULL, data_len, &out_len);
        if (data_len > ATECC_CMD_DATA_MAX || ATECC_PKT_OVERHEAD + data_len > cap) {
            assert_int_equal(err, ATECC_E_ARGUMENT);
            assert_int_equal(out_len, 0);
        } else {
            assert_int_equal(err, ATECC_OK);
            assert_int_equal(out_len, ATECC_PKT_OVERHEAD + data_len);
            assert_int_equal(out[0], out_len);
            assert_int_equal(out[1], opcode);
            assert_int_equal(out[2], p1);
            assert_int_equal(out[3] | (out[4] << 8), p2);
            assert_memory_equal(out + 5, data, data_len);
            assert_true(atecc_crc16_check(out, out_len));
        }
        free(out);
    }
    for (s = 0; s < 256; s++)
        assert_int_equal(atecc_status_retryable((uint8_t)s), s == 0xFF || s == 0x05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_and_mutated_responses),
        cmocka_unit_test(test_build_random_lengths_and_capacities),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
