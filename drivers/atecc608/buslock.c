/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bus lock files (see buslock.h).
 */
#include "buslock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "clock.h"

enum {
    ATECC_LOCK_DEFAULT_TIMEOUT_MS = 30000,
    ATECC_LOCK_POLL_MIN_US = 200,
    ATECC_LOCK_POLL_MAX_US = 2000,
};

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void atecc_buslock_name(const struct atecc_iface *iface, const void *inproc_ctx, char *out,
                        size_t out_len)
{
    const char *base = NULL;

    switch (iface->scheme) {
    case ATECC_SCHEME_I2C:
        /* /dev/i2c-1 -> i2c-1: one file per adapter and address. */
        base = strrchr(iface->path, '/');
        base = base != NULL ? base + 1 : iface->path;
        snprintf(out, out_len, "trustlink-atecc608-%s-0x%02x.lock", base, iface->addr7);
        break;
    case ATECC_SCHEME_EMU:
        /* Socket paths may be long or hold '/': name by a hash of the path. */
        snprintf(out, out_len, "trustlink-atecc608-emu-%016llx-0x%02x.lock",
                 (unsigned long long)fnv1a64(iface->path), iface->addr7);
        break;
    case ATECC_SCHEME_INPROC:
    default:
        snprintf(out, out_len, "trustlink-atecc608-inproc-%d-%016llx-0x%02x.lock", (int)getpid(),
                 (unsigned long long)(uintptr_t)inproc_ctx, iface->addr7);
        break;
    }
    for (char *p = out; *p != '\0'; p++)
        if (*p == '/' || *p == ' ')
            *p = '_';
}

static const char *pick_dir(const char *dir)
{
    const char *env = getenv("TRUSTLINK_LOCK_DIR");

    if (dir != NULL && dir[0] != '\0')
        return dir;
    if (env != NULL && env[0] != '\0')
        return env;
    if (access("/run/lock", W_OK) == 0)
        return "/run/lock";
    return "/tmp";
}

static atecc_err open_fd(struct atecc_buslock *lock, char *detail, size_t detail_len)
{
    /* A shared lock file may belong to another user: flock works on a
     * read-only descriptor too. */
    lock->fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (lock->fd < 0)
        lock->fd = open(lock->path, O_RDONLY | O_CLOEXEC);
    if (lock->fd < 0) {
        snprintf(detail, detail_len,
                 "cannot open the bus lock file %s: %s (set TRUSTLINK_LOCK_DIR to a writable "
                 "directory)", lock->path, strerror(errno));
        return ATECC_E_BUS_LOCK;
    }
    lock->pid = getpid();
    return ATECC_OK;
}

atecc_err atecc_buslock_open(struct atecc_buslock *lock, const char *dir,
                             const struct atecc_iface *iface, const void *inproc_ctx,
                             unsigned timeout_ms, char *detail, size_t detail_len)
{
    char name[160];
    int n;

    memset(lock, 0, sizeof(*lock));
    lock->fd = -1;
    lock->timeout_ms = timeout_ms != 0 ? timeout_ms : ATECC_LOCK_DEFAULT_TIMEOUT_MS;
    atecc_buslock_name(iface, inproc_ctx, name, sizeof(name));
    n = snprintf(lock->path, sizeof(lock->path), "%s/%s", pick_dir(dir), name);
    if (n < 0 || (size_t)n >= sizeof(lock->path)) {
        snprintf(detail, detail_len, "bus lock path too long");
        return ATECC_E_BUS_LOCK;
    }
    return open_fd(lock, detail, detail_len);
}

atecc_err atecc_buslock_acquire(struct atecc_buslock *lock, char *detail, size_t detail_len)
{
    uint64_t start = atecc_monotonic_us();
    uint64_t wait_us = ATECC_LOCK_POLL_MIN_US;
    atecc_err rc;

    if (lock->pid != getpid()) {
        /* A forked child shares the parent's open file description, and
         * with it the parent's flock: it needs its own, and whatever the
         * copied flag says, it holds nothing yet. */
        lock->held = false;
        if (lock->fd >= 0)
            close(lock->fd);
        rc = open_fd(lock, detail, detail_len);
        if (rc != ATECC_OK)
            return rc;
    }
    if (lock->held)
        return ATECC_OK;
    /* Contention is host time, not chip time: the real clock bounds it. */
    for (;;) {
        if (flock(lock->fd, LOCK_EX | LOCK_NB) == 0) {
            lock->held = true;
            return ATECC_OK;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(detail, detail_len, "flock(%s): %s", lock->path, strerror(errno));
            return ATECC_E_BUS_LOCK;
        }
        if (atecc_monotonic_us() - start > (uint64_t)lock->timeout_ms * 1000u) {
            snprintf(detail, detail_len,
                     "bus lock %s held by another process for more than %u ms", lock->path,
                     lock->timeout_ms);
            return ATECC_E_BUS_LOCK;
        }
        atecc_monotonic_sleep_us(wait_us);
        if (wait_us < ATECC_LOCK_POLL_MAX_US)
            wait_us *= 2;
    }
}

bool atecc_buslock_held(const struct atecc_buslock *lock)
{
    return lock->held && lock->pid == getpid();
}

void atecc_buslock_release(struct atecc_buslock *lock)
{
    if (!lock->held)
        return;
    /* In a forked child the descriptor is still the parent's: unlocking it
     * would drop the parent's hold in the middle of its wake window. */
    if (lock->pid == getpid())
        (void)flock(lock->fd, LOCK_UN);
    lock->held = false;
}

void atecc_buslock_close(struct atecc_buslock *lock)
{
    atecc_buslock_release(lock);
    if (lock->fd >= 0)
        close(lock->fd);
    lock->fd = -1;
}
