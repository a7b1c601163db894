/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exponential backoff with full jitter (see backoff.h).
 * Must never: overflow (the shift is capped before it can).
 */
#include "backoff.h"

void agent_backoff_init(struct agent_backoff *b, unsigned initial_ms, unsigned maximum_ms,
                        bool jitter)
{
    b->initial_ms = initial_ms ? initial_ms : 1;
    b->maximum_ms = maximum_ms < b->initial_ms ? b->initial_ms : maximum_ms;
    b->jitter = jitter;
    b->failures = 0;
}

static unsigned ceiling_for(const struct agent_backoff *b, unsigned exponent)
{
    uint64_t delay = b->initial_ms;

    while (exponent-- > 0 && delay < b->maximum_ms)
        delay *= 2;
    return delay > b->maximum_ms ? b->maximum_ms : (unsigned)delay;
}

unsigned agent_backoff_ceiling(const struct agent_backoff *b, unsigned penalty)
{
    return ceiling_for(b, b->failures + penalty);
}

unsigned agent_backoff_next(struct agent_backoff *b, unsigned penalty, uint32_t random)
{
    unsigned ceiling = ceiling_for(b, b->failures + penalty);
    unsigned floor = AGENT_BACKOFF_FLOOR_MS < ceiling ? AGENT_BACKOFF_FLOOR_MS : ceiling;

    if (b->failures < 64)
        b->failures++;
    if (!b->jitter)
        return ceiling;
    return floor + (unsigned)((uint64_t)random % ((uint64_t)ceiling - floor + 1));
}

void agent_backoff_reset(struct agent_backoff *b)
{
    b->failures = 0;
}
