/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inter-process bus lock: flock(LOCK_EX) on one lock file per bus and
 * address, held for a whole wake window so no other process can split a
 * Nonce from the Sign that uses it. Owns the lock file descriptor. Must
 * never be held across a return to the caller except inside an open wake
 * window (atecc_nonce_passthrough), and never block without a time limit.
 */
#ifndef ATECC608_BUSLOCK_H
#define ATECC608_BUSLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "atecc608/atecc608.h"
#include "interface.h"

struct atecc_buslock {
    int fd;
    pid_t pid;          /* process that opened fd: a forked child reopens */
    bool held;
    unsigned timeout_ms;
    char path[512];
};

/* Lock file name for an interface, e.g. trustlink-atecc608-i2c-1-0x35.lock. */
void atecc_buslock_name(const struct atecc_iface *iface, const void *inproc_ctx, char *out,
                        size_t out_len);
/* Picks the directory (options, $TRUSTLINK_LOCK_DIR, /run/lock, /tmp) and
 * opens (creates) the lock file. */
atecc_err atecc_buslock_open(struct atecc_buslock *lock, const char *dir,
                             const struct atecc_iface *iface, const void *inproc_ctx,
                             unsigned timeout_ms, char *detail, size_t detail_len);
atecc_err atecc_buslock_acquire(struct atecc_buslock *lock, char *detail, size_t detail_len);
/* True when this process holds the lock (a forked child never inherits
 * its parent's hold, although it inherits the flag). */
bool atecc_buslock_held(const struct atecc_buslock *lock);
void atecc_buslock_release(struct atecc_buslock *lock);
void atecc_buslock_close(struct atecc_buslock *lock);

#endif
