/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bus lock files and the hand-over between processes (see buslock.h).
 */
#define _GNU_SOURCE 1
#include "buslock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"

enum {
    ATECC_BUSLOCK_POLL_MIN_US = 200,
    ATECC_BUSLOCK_POLL_MAX_US = 2000,
    /* Byte offsets of the two record locks in the lock file. */
    ATECC_BUSLOCK_BYTE_BUS = 0,
    ATECC_BUSLOCK_BYTE_WAITING = 1,
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

/* Absolute, an existing directory, and not writable by every user. */
static atecc_err check_dir(const char *dir, char *detail, size_t detail_len)
{
    struct stat st;

    if (dir[0] != '/') {
        snprintf(detail, detail_len, "bus lock directory '%s' is not an absolute path", dir);
        return ATECC_E_BUS_LOCK;
    }
    if (stat(dir, &st) != 0) {
        snprintf(detail, detail_len,
                 "bus lock directory %s: %s (it is created at boot by the trustlink tmpfiles.d "
                 "entry; set lock_dir in the module config for another place)",
                 dir, strerror(errno));
        return ATECC_E_BUS_LOCK;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(detail, detail_len, "bus lock directory %s is not a directory", dir);
        return ATECC_E_BUS_LOCK;
    }
    if (st.st_mode & S_IWOTH) {
        snprintf(detail, detail_len,
                 "bus lock directory %s is world-writable (mode %04o): any user could block the "
                 "chip there; use a directory only the chip users' group can write (mode 2770)",
                 dir, (unsigned)(st.st_mode & 07777));
        return ATECC_E_BUS_LOCK;
    }
    return ATECC_OK;
}

static atecc_err open_fd(struct atecc_buslock *lock, char *detail, size_t detail_len)
{
    struct stat st;
    bool created = true;

    lock->fd = open(lock->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0660);
    if (lock->fd < 0 && errno == EEXIST) {
        created = false;
        lock->fd = open(lock->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    }
    if (lock->fd < 0) {
        snprintf(detail, detail_len, "cannot open the bus lock file %s: %s%s", lock->path,
                 strerror(errno),
                 errno == ELOOP ? " (it is a symbolic link)"
                 : errno == EACCES ? " (the process needs the chip users' group)" : "");
        return ATECC_E_BUS_LOCK;
    }
    if (fstat(lock->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(detail, detail_len, "bus lock file %s is not a regular file", lock->path);
        close(lock->fd);
        lock->fd = -1;
        return ATECC_E_BUS_LOCK;
    }
    /* The umask may have taken the group's write bit: every chip user of
     * the group must be able to open it for writing (a write lock needs
     * that). */
    if (created && fchmod(lock->fd, 0660) != 0) {
        snprintf(detail, detail_len, "chmod 0660 %s: %s", lock->path, strerror(errno));
        close(lock->fd);
        lock->fd = -1;
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
    atecc_err rc;
    int n;

    memset(lock, 0, sizeof(*lock));
    lock->fd = -1;
    lock->timeout_ms = timeout_ms != 0 ? timeout_ms : ATECC_BUSLOCK_DEFAULT_TIMEOUT_MS;
    if (dir == NULL || dir[0] == '\0')
        dir = ATECC_BUSLOCK_DIR_DEFAULT;
    rc = check_dir(dir, detail, detail_len);
    if (rc != ATECC_OK)
        return rc;
    atecc_buslock_name(iface, inproc_ctx, name, sizeof(name));
    n = snprintf(lock->path, sizeof(lock->path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(lock->path)) {
        snprintf(detail, detail_len, "bus lock path too long (directory %s)", dir);
        return ATECC_E_BUS_LOCK;
    }
    return open_fd(lock, detail, detail_len);
}

/* F_OFD_SETLK of one byte; 0 or -1 with errno. */
static int ofd_lock(int fd, short type, off_t byte)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* True when another open file description holds a lock on byte that
 * conflicts with a write lock. */
static bool ofd_taken_elsewhere(int fd, off_t byte)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
        return false;
    return fl.l_type != F_UNLCK;
}

/* After a yield: let a waiter take the bus before competing again. */
static void await_handover(struct atecc_buslock *lock)
{
    uint64_t start = atecc_monotonic_us();

    lock->handing_over = false;
    while (!ofd_taken_elsewhere(lock->fd, ATECC_BUSLOCK_BYTE_BUS) &&
           ofd_taken_elsewhere(lock->fd, ATECC_BUSLOCK_BYTE_WAITING)) {
        if (atecc_monotonic_us() - start > (uint64_t)ATECC_BUSLOCK_HANDOVER_MAX_MS * 1000u)
            return;
        atecc_monotonic_sleep_us(ATECC_BUSLOCK_POLL_MIN_US);
    }
}

atecc_err atecc_buslock_acquire(struct atecc_buslock *lock, char *detail, size_t detail_len)
{
    uint64_t start = atecc_monotonic_us();
    uint64_t wait_us = ATECC_BUSLOCK_POLL_MIN_US;
    atecc_err rc = ATECC_OK;

    if (lock->pid != getpid()) {
        /* A forked child shares the parent's open file description, and
         * with it the parent's locks: it needs its own, and whatever the
         * copied flag says, it holds nothing yet. */
        lock->held = false;
        lock->handing_over = false;
        if (lock->fd >= 0)
            close(lock->fd);
        rc = open_fd(lock, detail, detail_len);
        if (rc != ATECC_OK)
            return rc;
    }
    if (lock->held)
        return ATECC_OK;
    /* Announce: the holder sees it at its next window boundary. */
    if (ofd_lock(lock->fd, F_RDLCK, ATECC_BUSLOCK_BYTE_WAITING) != 0) {
        snprintf(detail, detail_len, "fcntl(F_OFD_SETLK) on %s: %s", lock->path, strerror(errno));
        return ATECC_E_BUS_LOCK;
    }
    if (lock->handing_over)
        await_handover(lock);
    /* Contention is host time, not chip time: the real clock bounds it. */
    for (;;) {
        if (ofd_lock(lock->fd, F_WRLCK, ATECC_BUSLOCK_BYTE_BUS) == 0) {
            lock->held = true;
            break;
        }
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            snprintf(detail, detail_len, "fcntl(F_OFD_SETLK) on %s: %s", lock->path,
                     strerror(errno));
            rc = ATECC_E_BUS_LOCK;
            break;
        }
        if (atecc_monotonic_us() - start > (uint64_t)lock->timeout_ms * 1000u) {
            snprintf(detail, detail_len,
                     "bus lock %s held by another process for more than %u ms", lock->path,
                     lock->timeout_ms);
            rc = ATECC_E_BUS_LOCK;
            break;
        }
        atecc_monotonic_sleep_us(wait_us);
        if (wait_us < ATECC_BUSLOCK_POLL_MAX_US)
            wait_us *= 2;
    }
    (void)ofd_lock(lock->fd, F_UNLCK, ATECC_BUSLOCK_BYTE_WAITING);
    return rc;
}

bool atecc_buslock_held(const struct atecc_buslock *lock)
{
    return lock->held && lock->pid == getpid();
}

bool atecc_buslock_contended(const struct atecc_buslock *lock)
{
    return atecc_buslock_held(lock) && ofd_taken_elsewhere(lock->fd, ATECC_BUSLOCK_BYTE_WAITING);
}

void atecc_buslock_yield(struct atecc_buslock *lock)
{
    if (!atecc_buslock_held(lock))
        return;
    atecc_buslock_release(lock);
    lock->handing_over = true;
    lock->handovers++;
}

void atecc_buslock_release(struct atecc_buslock *lock)
{
    if (!lock->held)
        return;
    /* In a forked child the descriptor is still the parent's: unlocking it
     * would drop the parent's hold in the middle of its wake window. */
    if (lock->pid == getpid())
        (void)ofd_lock(lock->fd, F_UNLCK, ATECC_BUSLOCK_BYTE_BUS);
    lock->held = false;
}

void atecc_buslock_close(struct atecc_buslock *lock)
{
    atecc_buslock_release(lock);
    if (lock->fd >= 0)
        close(lock->fd);
    lock->fd = -1;
}
