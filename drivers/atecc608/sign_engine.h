/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sign engine: the TUNED path of atecc_sign.
 *
 * Callers of any thread submit (slot, digest) and block until their own
 * signature or error is ready. Requests queue (FIFO); one worker thread
 * per device, started on the first request, drains the queue back to back
 * inside one wake window and one bus-lock hold. A caller that finds the
 * queue empty and nobody signing signs in its own thread instead, in the
 * same window (busy flag: whoever comes meanwhile queues, and the worker
 * takes over when it is done): a single caller's stream then pays no
 * handoff to the worker and back, two thread wake-ups of 0.05-0.3 ms on a
 * loaded 2-core host. Each request is a fresh Nonce + Sign reserved
 * together against the watchdog (exec.c idles and re-wakes when the pair
 * could cross it; nothing volatile needs keeping across that, since every
 * signature loads its own Nonce). When the queue runs dry the window
 * stays open for a short linger, so the next burst pays no wake; then the
 * worker idles the chip and releases the bus lock.
 *
 * Linger default 10 ms (ATECC_SIGN_LINGER_DEFAULT_US), host time: a caller
 * that gets its signature and submits the next one needs well under 1 ms
 * even on a loaded 2-core board, so 10 ms covers scheduler hiccups with
 * a wide margin; and since the linger holds the bus lock, another process
 * waits at most 10 ms extra, ~11 % of one signature (~90 ms at 100 kHz),
 * once per burst. Longer would starve other processes for nothing;
 * shorter would risk paying a wake (1.5 ms tWHI + bus) per signature.
 *
 * Fault isolation: each request runs its own retry loop and gets its own
 * result; the worker goes on with the next one whatever happened. The
 * worker also ends every linger, whoever signed last.
 * Between two signatures the worker releases the device mutex, so other
 * operations (random, pubkey, ...) interleave and are never starved by a
 * long queue.
 *
 * Fork: the worker thread does not exist in a forked child. The engine
 * records the pid that created its lock and thread; a submission from
 * another pid re-creates both lazily (queued requests of the parent
 * belong to parent threads and are dropped from the child's copy).
 *
 * Lock order: device mutex, then engine mutex; never the other way.
 * Must never: sign outside a window, hold the engine mutex while talking
 * to the chip, or wait without a bound except for work while idle.
 */
#ifndef ATECC608_SIGN_ENGINE_H
#define ATECC608_SIGN_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"

/* Allocates the engine of dev (no thread yet). */
atecc_err atecc_engine_create(struct atecc_device *dev);
/* Stops and joins the worker (after it finished the queue and ended its
 * window), frees the engine. Safe in a forked child. */
void atecc_engine_destroy(struct atecc_device *dev);
/* Queues one request and waits for its result. */
atecc_err atecc_engine_sign(struct atecc_device *dev, uint8_t slot,
                            const uint8_t digest[ATECC_DIGEST_SIZE],
                            uint8_t signature[ATECC_P256_SIGNATURE_SIZE]);
/* Requests queued and not yet taken by the worker (tests). */
size_t atecc_engine_pending(struct atecc_device *dev);
/* Requests taken off the queue since the engine was created (tests: tells
 * "n-1 queued behind one in the worker's hands" from "n-1 queued, the
 * worker not yet woken"). */
uint64_t atecc_engine_taken(struct atecc_device *dev);

#endif
