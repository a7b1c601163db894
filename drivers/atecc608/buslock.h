/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inter-process bus lock: one lock file per bus and address in a
 * root-owned directory (default ATECC_BUSLOCK_DIR_DEFAULT, set by the module
 * config's lock_dir), held for a whole wake window so no other process
 * can split a Nonce from the Sign that uses it. Owns the lock file
 * descriptor. Must never be held across a return to the caller except
 * inside an open wake window (atecc_nonce_passthrough), and never block
 * without a time limit.
 *
 * Where: a directory only root and the chip users' group may write
 * (mode 2770, group i2c, created by tmpfiles.d). A world-writable
 * directory is refused: any local user could pre-create or hold the lock
 * file there and block the chip. The lock file is created 0660 with
 * O_NOFOLLOW; a path that is no regular file is refused. No fallback
 * directory: a lock that does not exclude every chip user is worse than
 * a clear error.
 *
 * Fair sharing (hand-over). Open-file-description record locks
 * (F_OFD_SETLK) on two bytes of the lock file:
 *   byte 0  the bus: an exclusive (write) lock while a window is open;
 *   byte 1  the waiting room: every process waiting for byte 0 holds a
 *           shared (read) lock here until it has byte 0.
 * A holder tests byte 1 for a lock of another open file description
 * (atecc_buslock_contended) at its yield points (exec.c, hand_over):
 * before it would open another wake window in the same hold, and at an
 * operation boundary once it has held the bus for the shortest wake window
 * (0.7 s of chip time; this caps holds on parts with the long watchdog);
 * never between a Nonce and the command that uses it. If someone waits,
 * the holder ends its window (idles the chip), releases byte 0 and, before
 * it competes again, waits until another process has taken byte 0 (or
 * nobody waits any more, or ATECC_BUSLOCK_HANDOVER_MAX_MS passed: a waiter
 * stopped by a debugger must not stall the yielder for good). So a signer
 * that runs flat out alternates wake windows with every waiter instead of
 * re-taking the lock it just dropped; a waiter gets the bus after at most
 * the rest of the holder's window (at most ~0.7 s plus one operation).
 * Handing over whole windows rather than single signatures keeps the cost
 * of a hand-over (an idle, a wake and the wake response) to one per window.
 * OFD locks belong to the open file description, not the process: two
 * devices in one process exclude each other like two processes, and a
 * lock dies with its last descriptor (a crashed holder frees the bus).
 *
 * Lock wait bound: ATECC_BUSLOCK_DEFAULT_TIMEOUT_MS (5 s). trustlinkd's unit
 * has WatchdogSec=30; a chip call that waits for the bus must fail well
 * before half of it (15 s) so the daemon still pings the watchdog. With
 * hand-over a waiter normally waits for the rest of one wake window (at
 * most ~0.7 s of chip time plus the operation in progress, < 1.1 s even
 * for a Verify at the slowest clock divider), so 5 s only fires when a
 * process is stuck holding the bus.
 */
#ifndef ATECC608_BUSLOCK_H
#define ATECC608_BUSLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "atecc608/atecc608.h"
#include "interface.h"

enum {
    ATECC_BUSLOCK_DEFAULT_TIMEOUT_MS = 5000,
    /* Longest a yielding holder waits for a waiter to take the bus. */
    ATECC_BUSLOCK_HANDOVER_MAX_MS = 50,
};

struct atecc_buslock {
    int fd;
    pid_t pid;          /* process that opened fd: a forked child reopens */
    bool held;
    /* Set by a yield: the next acquire first waits for the hand-over. */
    bool handing_over;
    unsigned timeout_ms;
    uint64_t handovers; /* yields to a waiter (stats) */
    char path[512];
};

/* Lock file name for an interface, e.g. trustlink-atecc608-i2c-1-0x35.lock. */
void atecc_buslock_name(const struct atecc_iface *iface, const void *inproc_ctx, char *out,
                        size_t out_len);
/* Checks dir (absolute, a directory, not world-writable; NULL or "" =
 * ATECC_BUSLOCK_DIR_DEFAULT) and opens (creates) the lock file in it. */
atecc_err atecc_buslock_open(struct atecc_buslock *lock, const char *dir,
                             const struct atecc_iface *iface, const void *inproc_ctx,
                             unsigned timeout_ms, char *detail, size_t detail_len);
atecc_err atecc_buslock_acquire(struct atecc_buslock *lock, char *detail, size_t detail_len);
/* True when this process holds the lock (a forked child never inherits
 * its parent's hold, although it inherits the flag). */
bool atecc_buslock_held(const struct atecc_buslock *lock);
/* True when another open file description waits for the held lock. */
bool atecc_buslock_contended(const struct atecc_buslock *lock);
/* Releases the lock and marks a hand-over: the next acquire lets the
 * waiter go first (see the header comment). */
void atecc_buslock_yield(struct atecc_buslock *lock);
void atecc_buslock_release(struct atecc_buslock *lock);
void atecc_buslock_close(struct atecc_buslock *lock);

#endif
