/*
 * Default time source (see clock.h).
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

static const struct atecc_clock atecc_default_clock = {
    .now_us = default_now,
    .sleep_us = default_sleep,
    .ctx = NULL,
};

const struct atecc_clock *atecc_clock_default(void)
{
    return &atecc_default_clock;
}
