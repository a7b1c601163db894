/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command execution: wake-state tracking, watchdog avoidance, send,
 * response polling, bounded retries, and the wake window under the bus
 * lock. Owns dev->state and dev->wake_us. Must never wait blindly for a
 * maximum execution time, loop without a time or count bound, or send a
 * wake pulse to a chip it knows is awake.
 */
#ifndef ATECC608_EXEC_H
#define ATECC608_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"

enum {
    /* One attempt only: the command depends on volatile state (TempKey,
     * message digest buffer) that a resend could find consumed, so the
     * caller repeats the whole sequence instead. */
    ATECC_EXEC_NO_RESEND = 0x01,
    /* The naive baseline (ATECC_SIGN_POLICY_NAIVE): wait the full maximum
     * execution time before reading, and idle the chip after the command
     * so the next one pays a wake. For measurement only. */
    ATECC_EXEC_NAIVE = 0x02,
    /* The command consumes volatile state loaded by the previous one in
     * this window: if the chip is no longer awake with enough watchdog
     * budget (the host stalled), fail with ATECC_E_WATCHDOG instead of
     * idling and re-waking, which would leave the state behind; the caller
     * repeats the whole sequence. */
    ATECC_EXEC_SAME_WINDOW = 0x04,
};

/* Opens a wake window: takes the bus lock (a fresh hold assumes the chip
 * idle or asleep, since another process may have used it). */
atecc_err atecc_window_begin(struct atecc_device *dev);
/* Idles an awake chip (keeps TempKey) and releases the bus lock. */
void atecc_window_end(struct atecc_device *dev);

/* Makes sure the chip is awake with budget_us left before the watchdog
 * minimum; idles and re-wakes first when it is not. */
atecc_err atecc_exec_reserve(struct atecc_device *dev, uint64_t budget_us);
/* Maximum execution time of opcode at the chip's divider, scaled, in us. */
uint64_t atecc_exec_max_us(const struct atecc_device *dev, uint8_t opcode);
/* Time the driver waits before the first poll (typical-time estimate). */
uint64_t atecc_exec_first_poll_us(const struct atecc_device *dev, uint8_t opcode);

/* Runs one command inside an open window. On ATECC_OK rsp[0..*rsp_len)
 * holds the output (a status group of 0x00 gives *rsp_len 1, rsp[0] 0).
 * A status byte other than 0x00 is returned as its error. */
atecc_err atecc_exec(struct atecc_device *dev, uint8_t opcode, uint8_t param1, uint16_t param2,
                     const uint8_t *data, size_t data_len, uint8_t *rsp, size_t rsp_cap,
                     size_t *rsp_len, unsigned flags);

/* Rewrites the last error of a transient failure that persisted for
 * tries attempts ("response CRC wrong after 4 tries ..."). */
atecc_err atecc_exec_give_up(struct atecc_device *dev, atecc_err rc, uint8_t opcode, unsigned tries);

/* True for errors a resend of a whole sequence may cure. */
bool atecc_err_transient(atecc_err err);

atecc_err atecc_do_idle(struct atecc_device *dev);
atecc_err atecc_do_sleep(struct atecc_device *dev);

#endif
