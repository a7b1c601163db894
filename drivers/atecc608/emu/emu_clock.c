/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulator's real clock (see emu_clock.h): CLOCK_MONOTONIC, and waits
 * that sleep with clock_nanosleep(TIMER_ABSTIME) to EMU_WAIT_SPIN_MARGIN_NS
 * before the deadline, then spin on clock_gettime to it. Absolute sleeps
 * keep a signal or a late start from pushing the end out again.
 *
 * Owns no state; never returns from a wait before its deadline.
 */
#include <time.h>

#include "emu_clock.h"

static uint64_t emu_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

enum emu_wait_step emu_wait_next(uint64_t now_ns, uint64_t deadline_ns, uint64_t *wake_ns)
{
    if (now_ns >= deadline_ns)
        return EMU_WAIT_DONE;
    if (deadline_ns - now_ns <= EMU_WAIT_SPIN_MARGIN_NS)
        return EMU_WAIT_SPIN;
    *wake_ns = deadline_ns - EMU_WAIT_SPIN_MARGIN_NS;
    return EMU_WAIT_SLEEP;
}

static uint64_t emu_real_now_us(void *ctx)
{
    (void)ctx;
    return emu_mono_ns() / 1000u;
}

static void emu_real_wait_until_us(void *ctx, uint64_t deadline_us)
{
    uint64_t deadline_ns = deadline_us * 1000u;
    uint64_t wake_ns = 0;
    enum emu_wait_step step;

    (void)ctx;
    while ((step = emu_wait_next(emu_mono_ns(), deadline_ns, &wake_ns)) != EMU_WAIT_DONE) {
        if (step == EMU_WAIT_SLEEP) {
            struct timespec ts = {
                .tv_sec = (time_t)(wake_ns / 1000000000u),
                .tv_nsec = (long)(wake_ns % 1000000000u),
            };
            /* EINTR or a failure only means asking again: the loop ends at
             * the deadline whatever the sleep did. */
            (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
    }
}

static void emu_real_sleep_us(void *ctx, uint64_t us)
{
    emu_real_wait_until_us(ctx, emu_real_now_us(ctx) + us);
}

const struct emu_clock *emu_real_clock(void)
{
    static const struct emu_clock real = {
        .now_us = emu_real_now_us,
        .sleep_us = emu_real_sleep_us,
        .ctx = NULL,
        .wait_until_us = emu_real_wait_until_us,
    };
    return &real;
}
