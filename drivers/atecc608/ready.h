/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Response-time learning: when the first response poll of a command goes,
 * learned per opcode from earlier executions on the same device.
 *
 * Offsets are measured from the end of the command write to the start of
 * a poll. A poll started at offset s finds the response iff s >= R, the
 * opcode's ready offset (its execution time less the poll's own address
 * phase). R is never seen directly, only bracketed by what polls found:
 * nak_us < R <= ack_us. While the bracket is wider than the resolution,
 * an execution probes once at its middle, then polls at ack_us; a probe
 * that finds the chip busy costs one poll transaction and, when it ends
 * before ack_us, no latency. Once the bracket is narrow, an execution
 * polls once, at most one resolution after R.
 *
 * Pure arithmetic: no I/O, no clock. Must never schedule a first poll
 * later than the fastest response seen (ack_us), and must never let one
 * odd execution pin the schedule: a fast outlier is unlearned after
 * ATECC_READY_MISSES first polls in a row that find the chip busy, and
 * the floor is forgotten every ATECC_READY_REFRESH executions so that a
 * chip that became faster (temperature, a different part) is noticed.
 */
#ifndef ATECC608_READY_H
#define ATECC608_READY_H

#include <stdbool.h>
#include <stdint.h>

enum {
    /* Polls at ack_us that find the chip busy, in as many executions in a
     * row, before ack_us moves up to the latest response. */
    ATECC_READY_MISSES = 2,
    /* Executions after which the floor (nak_us) is forgotten and the
     * bracket is searched again from zero. Every probe of that search but
     * the last one or two ends long before ack_us, so it costs a poll
     * transaction and no latency. */
    ATECC_READY_REFRESH = 64,
};

struct atecc_ready {
    uint32_t ack_us;   /* earliest offset that found the response; 0 = never ran */
    uint32_t nak_us;   /* latest offset below ack_us that found it busy; 0 = none */
    uint8_t misses;    /* executions in a row whose poll at ack_us found it busy */
    uint8_t runs;      /* executions since the floor was last forgotten */
};

/* What one execution's polls found before the response. Zero it before
 * the first poll. */
struct atecc_ready_run {
    uint64_t last_us;   /* latest offset that found the chip busy */
    uint64_t below_us;  /* latest such offset below ack_us */
    bool busy;          /* some poll found it busy */
    bool busy_below;    /* some poll below ack_us (or before anything was learned) did */
    unsigned misses;    /* polls at or after ack_us that found it busy */
};

/* Offset of the first poll, or 0 when this opcode never ran (the caller
 * then uses its typical-time estimate). resolution_us: the bracket width
 * below which no probe is sent. */
uint64_t atecc_ready_first_poll(const struct atecc_ready *r, uint64_t resolution_us);

/* Offset at which the response is expected (ack_us; 0 = never ran): after
 * a probe that found the chip busy, the next poll goes there. */
uint64_t atecc_ready_expected(const struct atecc_ready *r);

/* Notes a poll at offset_us that found the chip busy. */
void atecc_ready_busy(const struct atecc_ready *r, struct atecc_ready_run *run,
                      uint64_t offset_us);

/* Learns from one execution whose response a poll at found_us found. */
void atecc_ready_learn(struct atecc_ready *r, const struct atecc_ready_run *run,
                       uint64_t found_us);

#endif
