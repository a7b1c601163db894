/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time source of the driver: CLOCK_MONOTONIC + nanosleep by default, or the
 * caller's atecc_clock (tests share a virtual clock with the emulator).
 * Must never read any other clock for chip timing.
 */
#ifndef ATECC608_CLOCK_H
#define ATECC608_CLOCK_H

#include <stdint.h>

#include "atecc608/atecc608.h"

enum {
    /*
     * Spin margin of the default clock's precise waits. The kernel wakes
     * a sleeper late: some 50-100 us on embedded Linux; on this project's
     * 2-core VM 70-130 us typically, p90 ~170 us, and milliseconds now and
     * then, which no margin covers. A precise wait sleeps until this long
     * before its deadline and spins the rest, so a response poll lands
     * within microseconds of the time the chip is known to be ready
     * instead of ~0.1-0.3 ms after it. The spin costs at most this much
     * CPU per wait; the tuned sign path makes two or three such waits per
     * ~90 ms signature (well under 1 % of one core, on a single-core board
     * too), and nothing else spins.
     */
    ATECC_CLOCK_SPIN_US = 200,
    /* Bounds that hold even for a clock that stopped: kernel sleeps cut
     * short (signals) re-entered at most this often, clock reads while
     * spinning at most this many (~25 ms at 25 ns a read). */
    ATECC_WAIT_MAX_SLEEPS = 64,
    ATECC_WAIT_MAX_SPINS = 1000000,
};

/* The default clock; ctx unused. */
const struct atecc_clock *atecc_clock_default(void);
/* Real monotonic time, for host-side waits (the bus lock) that must not
 * follow a virtual chip clock. */
uint64_t atecc_monotonic_us(void);
void atecc_monotonic_sleep_us(uint64_t us);

/* The primitives of a precise wait, injectable for tests. */
struct atecc_wait_ops {
    uint64_t (*now_us)(void *ctx);
    /* Kernel sleep until abs_us on now_us's clock; may return early (a
     * signal) or late (scheduling). */
    void (*sleep_until_us)(void *ctx, uint64_t abs_us);
    void *ctx;
};

/* Returns once ops->now_us() >= deadline_us (never before, within the
 * bounds above): kernel sleeps until spin_us before it, then reads the
 * clock until it is reached. A deadline already past costs one read. */
void atecc_wait_until_with(const struct atecc_wait_ops *ops, uint64_t deadline_us,
                           uint64_t spin_us);

#endif
