/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reconnect delays: exponential backoff with optional full jitter.
 *
 * Owns: the attempt counter and the delay arithmetic only; the caller
 * decides when a connection was stable long enough to reset (after
 * reconnect.stable_reset of uninterrupted connection).
 * Must never: read a clock, sleep or draw randomness itself (the random
 * number is an argument, so tests are deterministic).
 *
 * delay = min(maximum, initial * 2^(failures - 1 + penalty)); with full
 * jitter the wait is uniform in [floor, delay] (floor 10 ms, so it is
 * never a busy loop).
 */
#ifndef TRUSTLINK_AGENT_BACKOFF_H
#define TRUSTLINK_AGENT_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#define AGENT_BACKOFF_FLOOR_MS 10u

struct agent_backoff {
    unsigned initial_ms;
    unsigned maximum_ms;
    bool jitter;
    unsigned failures;       /* consecutive failures since the last reset */
};

void agent_backoff_init(struct agent_backoff *b, unsigned initial_ms, unsigned maximum_ms,
                        bool jitter);
/* Counts one more failure; returns the wait before the next attempt.
 * penalty adds doublings (longer backoff for refusals). */
unsigned agent_backoff_next(struct agent_backoff *b, unsigned penalty, uint32_t random);
/* The un-jittered ceiling the next failure would get (for status). */
unsigned agent_backoff_ceiling(const struct agent_backoff *b, unsigned penalty);
void agent_backoff_reset(struct agent_backoff *b);

#endif
