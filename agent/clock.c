/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's monotonic clock (see clock.h).
 */
#include "clock.h"

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

/* NULL: CLOCK_MONOTONIC. One pointer, swapped atomically, so the function
 * and its context always change together. */
static _Atomic(const struct agent_clock_source *) clock_source;

uint64_t agent_monotonic_ms(void)
{
    const struct agent_clock_source *source =
        atomic_load_explicit(&clock_source, memory_order_acquire);
    struct timespec ts;

    if (source != NULL)
        return source->now_ms(source->ctx);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void agent_clock_set_source(const struct agent_clock_source *source)
{
    atomic_store_explicit(&clock_source, source, memory_order_release);
}
