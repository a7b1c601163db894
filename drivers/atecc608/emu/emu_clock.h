/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulator's real clock: CLOCK_MONOTONIC, and waits that end at an
 * absolute deadline instead of whenever the host's sleep returns.
 *
 * Apart from emu_internal.h so that the unit tests reach the pure deadline
 * arithmetic (emu_wait_next) without the chip's internals. Holds no state.
 */
#ifndef ATECC608_EMU_CLOCK_H
#define ATECC608_EMU_CLOCK_H

#include <stdint.h>

#include "emu.h"

/*
 * How long before a deadline a wait stops sleeping and spins on the clock.
 * A sleep wakes late by the kernel's timer slack (50 us for a normal
 * thread) plus scheduling latency: ~133 us on average on the project's
 * 2-core VM. Waking 200 us early absorbs the usual case, so a transaction
 * ends on time instead of ~0.13 ms late (about 1.3 ms per signature over
 * its ~10 transactions, which a real bus does not take); the price is at
 * most this much CPU per wait. Waits shorter than this only spin.
 */
enum { EMU_WAIT_SPIN_MARGIN_NS = 200000 };

enum emu_wait_step {
    EMU_WAIT_DONE,  /* the deadline has passed */
    EMU_WAIT_SPIN,  /* within the margin: read the clock again */
    EMU_WAIT_SLEEP, /* sleep (absolute) until *wake_ns, then ask again */
};

/* The next step of a wait at now_ns for deadline_ns (both CLOCK_MONOTONIC). */
enum emu_wait_step emu_wait_next(uint64_t now_ns, uint64_t deadline_ns, uint64_t *wake_ns);

/* CLOCK_MONOTONIC; wait_until_us returns once the deadline has passed. */
const struct emu_clock *emu_real_clock(void);

#endif
