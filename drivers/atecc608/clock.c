/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Default time source and precise waits (see clock.h).
 */
#include "clock.h"

#include <errno.h>
#include <time.h>

uint64_t atecc_monotonic_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void atecc_monotonic_sleep_us(uint64_t us)
{
    struct timespec ts = { .tv_sec = (time_t)(us / 1000000u),
                           .tv_nsec = (long)(us % 1000000u) * 1000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Eases the spin on the core (and its hyperthread sibling). */
static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void atecc_wait_until_with(const struct atecc_wait_ops *ops, uint64_t deadline_us,
                           uint64_t spin_us)
{
    uint64_t now = ops->now_us(ops->ctx);

    for (unsigned n = 0; n < ATECC_WAIT_MAX_SLEEPS && now < deadline_us &&
                         deadline_us - now > spin_us; n++) {
        ops->sleep_until_us(ops->ctx, deadline_us - spin_us);
        now = ops->now_us(ops->ctx);
    }
    for (unsigned long n = 0; n < ATECC_WAIT_MAX_SPINS && now < deadline_us; n++) {
        cpu_relax();
        now = ops->now_us(ops->ctx);
    }
}

static uint64_t default_now(void *ctx)
{
    (void)ctx;
    return atecc_monotonic_us();
}

static void default_sleep(void *ctx, uint64_t us)
{
    (void)ctx;
    atecc_monotonic_sleep_us(us);
}

/* Absolute, so a late start or a signal never stretches the wait. */
static void monotonic_sleep_until(void *ctx, uint64_t abs_us)
{
    struct timespec ts = { .tv_sec = (time_t)(abs_us / 1000000u),
                           .tv_nsec = (long)(abs_us % 1000000u) * 1000L };

    (void)ctx;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static const struct atecc_wait_ops monotonic_wait_ops = {
    .now_us = default_now,
    .sleep_until_us = monotonic_sleep_until,
    .ctx = NULL,
};

static void default_wait_until(void *ctx, uint64_t deadline_us)
{
    (void)ctx;
    atecc_wait_until_with(&monotonic_wait_ops, deadline_us, ATECC_CLOCK_SPIN_US);
}

static const struct atecc_clock atecc_default_clock = {
    .now_us = default_now,
    .sleep_us = default_sleep,
    .ctx = NULL,
    .wait_until_us = default_wait_until,
};

const struct atecc_clock *atecc_clock_default(void)
{
    return &atecc_default_clock;
}
