/*
 * Time source of the driver: CLOCK_MONOTONIC + nanosleep by default, or the
 * caller's atecc_clock (tests share a virtual clock with the emulator).
 * Must never read any other clock for chip timing.
 */
#ifndef ATECC608_CLOCK_H
#define ATECC608_CLOCK_H

#include <stdint.h>

#include "atecc608/atecc608.h"

/* The default clock; ctx unused. */
const struct atecc_clock *atecc_clock_default(void);
/* Real monotonic time, for host-side waits (the bus lock) that must not
 * follow a virtual chip clock. */
uint64_t atecc_monotonic_us(void);
void atecc_monotonic_sleep_us(uint64_t us);

#endif
