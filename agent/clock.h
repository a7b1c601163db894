/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's one monotonic clock, in milliseconds.
 *
 * Every deadline of trustlinkd (connection attempts, backoff, the control
 * socket's idle and line deadlines, the status snapshot's age) reads this
 * clock, so a test can move time for all of them at once instead of
 * sleeping through the real durations.
 *
 * Owns: the clock source (CLOCK_MONOTONIC unless a test replaced it).
 * Must never: go backwards for a given source, or read the wall clock
 * (wall time jumps with NTP and would fire or starve deadlines).
 */
#ifndef TRUSTLINK_AGENT_CLOCK_H
#define TRUSTLINK_AGENT_CLOCK_H

#include <stdint.h>

/* Milliseconds since an arbitrary fixed point (boot, for the default
 * source). Safe from any thread. */
uint64_t agent_monotonic_ms(void);

/* A replacement clock for tests: now_ms(ctx) must never go backwards. */
struct agent_clock_source {
    uint64_t (*now_ms)(void *ctx);
    void *ctx;
};

/* Tests only: makes source the agent's clock; NULL restores
 * CLOCK_MONOTONIC. source must stay valid until it is replaced. The
 * switch is atomic, so threads that read the clock meanwhile see either
 * the old or the new source, never a mix. */
void agent_clock_set_source(const struct agent_clock_source *source);

#endif
