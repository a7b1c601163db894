/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Response-time learning (see ready.h).
 */
#include "ready.h"

static uint32_t offset32(uint64_t us)
{
    return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

uint64_t atecc_ready_first_poll(const struct atecc_ready *r, uint64_t resolution_us)
{
    /* No floor known (nak_us 0): the bracket is [0, ack_us]. */
    uint64_t gap = (uint64_t)r->ack_us - r->nak_us;

    if (r->ack_us == 0 || gap <= resolution_us)
        return r->ack_us;
    return r->ack_us - gap / 2;
}

uint64_t atecc_ready_expected(const struct atecc_ready *r)
{
    return r->ack_us;
}

void atecc_ready_busy(const struct atecc_ready *r, struct atecc_ready_run *run,
                      uint64_t offset_us)
{
    run->busy = true;
    if (offset_us > run->last_us)
        run->last_us = offset_us;
    if (r->ack_us != 0 && offset_us >= r->ack_us) {
        run->misses++;
    } else if (!run->busy_below || offset_us > run->below_us) {
        run->busy_below = true;
        run->below_us = offset_us;
    }
}

void atecc_ready_learn(struct atecc_ready *r, const struct atecc_ready_run *run,
                       uint64_t found_us)
{
    uint32_t found = offset32(found_us);
    uint64_t floor = 0;
    bool have_floor = false;

    if (found == 0)
        found = 1;  /* 0 means "never ran" */
    if (r->ack_us == 0 || found < r->ack_us) {
        r->ack_us = found;
        r->misses = 0;
    } else if (run->misses > 0) {
        /* Twice in a row the chip was slower than its fastest run: that
         * run was an outlier, or the chip slowed down. */
        if (++r->misses >= ATECC_READY_MISSES) {
            r->ack_us = found;
            r->misses = 0;
        }
    } else {
        r->misses = 0;
    }
    if (r->nak_us >= r->ack_us)
        r->nak_us = 0;  /* the floor came from a slower run than ack_us */
    if (++r->runs >= ATECC_READY_REFRESH) {
        r->runs = 0;
        r->nak_us = 0;
        return;
    }
    /* The latest busy poll below the (possibly new) ack_us raises the
     * floor: every busy poll came before found_us in this execution. */
    if (run->busy && run->last_us < r->ack_us) {
        floor = run->last_us;
        have_floor = true;
    } else if (run->busy_below && run->below_us < r->ack_us) {
        floor = run->below_us;
        have_floor = true;
    }
    if (have_floor && floor > r->nak_us)
        r->nak_us = offset32(floor);
}
