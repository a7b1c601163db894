/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic JSON mutator for the fuzz tests (test-only): a
 * seeded xorshift64* generator and fuzz documents made from valid seeds by
 * byte mutations, structural edits through json-c (members removed or
 * replaced by values of any type), duplicated members and deep nesting.
 * TRUSTLINK_FUZZ_SEED and TRUSTLINK_FUZZ_ITERATIONS override a test's
 * defaults so a failure can be replayed.
 */
#ifndef TRUSTLINK_TESTS_JSON_MUTATOR_H
#define TRUSTLINK_TESTS_JSON_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

struct rng {
    uint64_t s;
};

enum { MAX_DOC = 1 << 16 };

uint64_t rng_next(struct rng *r);
/* Uniform-ish in [0, n); 0 when n is 0. */
size_t rng_below(struct rng *r, size_t n);
/* One fuzz document from one of the seeds into buf (cap bytes, at most
 * MAX_DOC); returns its length. Not NUL-terminated. */
size_t make_document(struct rng *r, const char *const *seeds, size_t n_seeds, char *buf,
                     size_t cap);
uint64_t fuzz_seed(uint64_t dflt);
long fuzz_iterations(long dflt);

#endif
