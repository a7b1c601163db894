/* SPDX-License-Identifier: Apache-2.0 */
/*
 * i2c_emu_shim: a TEST-ONLY LD_PRELOAD library that makes Linux i2c-dev
 * device nodes talk to an atecc608-emu daemon. Never installed, never
 * linked into a product: it exists so the driver's real i2c-dev transport
 * (open, ioctl, read, write, close on /dev/i2c-N) runs unchanged in tests.
 *
 * Configuration (read at each open/ioctl, so a test may setenv() first):
 *   TRUSTLINK_I2C_SHIM=/dev/i2c-1=/path/emu.sock[,/dev/i2c-2=/other.sock]
 *       device paths to emulate (absolute, compared literally) and the
 *       emulator socket behind each. Every other path passes through.
 *   TRUSTLINK_I2C_SHIM_NO_MANGLING=1
 *       the adapter lacks I2C_FUNC_PROTOCOL_MANGLING: I2C_FUNCS omits the
 *       bit and I2C_RDWR refuses I2C_M_IGNORE_NAK (and the other mangling
 *       flags) with EOPNOTSUPP, like an adapter that cannot do them.
 *   TRUSTLINK_I2C_SHIM_ADDR_NAK_ERRNO=ENXIO|EREMOTEIO
 *       errno for an address NAK (default ENXIO, see below).
 *   TRUSTLINK_I2C_SHIM_TIMEOUT_MS=N   reply timeout (default 30000).
 *   TRUSTLINK_I2C_SHIM_TRACE=1        one stderr line per transaction.
 *
 * What a mapped path behaves like:
 *   open/open64/openat/openat64/__open_2 variants: connects a unix stream
 *     socket to the emulator, checks its HELLO (wire version), and returns
 *     the socket itself as the "device" fd. /dev is never touched. Daemon
 *     not reachable: -1/ENODEV (what i2c-dev gives for a missing adapter);
 *     wrong wire version: -1/EPROTO.
 *   ioctl I2C_SLAVE, I2C_SLAVE_FORCE: 7-bit target address, 0..0x7F, else
 *     EINVAL (no 10-bit support; I2C_TENBIT != 0 is EINVAL too).
 *   ioctl I2C_FUNCS: I2C_FUNC_I2C | I2C_FUNC_PROTOCOL_MANGLING (see above).
 *   ioctl I2C_RDWR: each i2c_msg becomes one emu_wire WRITE or READ
 *     (I2C_M_RD; I2C_M_IGNORE_NAK -> EMU_WIRE_IGNORE_NAK). The whole set is
 *     validated first (like the kernel, which copies it in before any bus
 *     traffic): 1..I2C_RDWR_IOCTL_MAX_MSGS messages, len <= 4096 (the wire
 *     payload limit; the kernel allows 8192), 7-bit addresses. Stops at the
 *     first NAK. Returns the number of messages.
 *   write(fd, buf, n): one WRITE transaction of n bytes; read: one READ.
 *     n above 4096 is clamped and the clamped count returned (the kernel
 *     clamps at 8192 the same way).
 *   ioctl I2C_RETRIES, I2C_TIMEOUT, I2C_PEC: accepted, no effect.
 *   ioctl I2C_SMBUS: EOPNOTSUPP (not emulated); any other request: ENOTTY.
 *   close: closes the socket and forgets the fd.
 *
 * errno on the bus, chosen after Documentation/i2c/fault-codes.rst:
 *   address NAK (nothing answers: no device, chip asleep or busy) -> ENXIO,
 *     the documented convention. Several real adapters (i2c-bcm2835 on the
 *     Raspberry Pi, i2c-designware) return EREMOTEIO for it instead, so a
 *     driver must treat both as NAK; TRUSTLINK_I2C_SHIM_ADDR_NAK_ERRNO lets
 *     tests check that.
 *   data-byte NAK -> EREMOTEIO.
 *   daemon gone (connection closed, send/recv failed, malformed reply, or
 *     an ERROR reply, after which the daemon closes the connection) -> EIO,
 *     and every later transaction on that fd fails with EIO.
 *   no reply within the timeout -> ETIMEDOUT (the fd is then broken too).
 *
 * fd scheme: a fixed table of SHIM_MAX_FDS entries keyed by fd number,
 * protected by one mutex. Each entry also records the socket's (st_dev,
 * st_ino) so a table fd that was closed behind the shim's back (close_range,
 * fclose of an fdopen'd stream) and reused for another file is detected
 * and passed through. A per-entry mutex serialises transactions on one fd
 * (the kernel's adapter lock does the same); close waits for transactions
 * in flight on that fd. Calls on unmapped fds only scan the table's fd
 * numbers with atomic loads and never take a lock (one load when the table
 * is empty), so they cannot block behind a transaction.
 *
 * Limits: only the listed entry points are intercepted (fopen, syscall(2),
 * dup'd fds and libc-internal calls are not); relative paths never match;
 * a forked child shares the parent's connection.
 *
 * This file holds the interposed entry points; the real functions, the
 * configuration, the fd table and the wire are in i2c_emu_shim_core.c.
 */

#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "atecc608/emu_wire.h"

#include "i2c_emu_shim_internal.h"

/* glibc's fortify entry points: no prototypes outside bits/fcntl2.h. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

#define SHIM_OPEN_NEEDS_MODE(flags) \
    (((flags) & O_CREAT) != 0 || ((flags) & O_TMPFILE) == O_TMPFILE)

/* ---- open -------------------------------------------------------------- */

/* Opens the emulator socket standing in for a mapped device. */
static int shim_open(const char *path, const char *sock_path, int flags)
{
    struct sockaddr_un sa;
    struct timeval tv;
    unsigned ms = timeout_ms();
    uint8_t hello[EMU_WIRE_HELLO_PAYLOAD];
    uint8_t result = EMU_WIRE_ERROR;
    struct shim_fd probe;
    uint32_t version;
    int fd;
    int saved;

    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0);
    if (fd < 0)
        return -1;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        goto fail;
    if (connect(fd, (const struct sockaddr *)&sa, sizeof sa) != 0) {
        if (trace_on())
            fprintf(stderr, "i2c_emu_shim: %s -> %s: %s\n", path, sock_path, strerror(errno));
        errno = ENODEV;
        goto fail;
    }
    /* HELLO before the fd is published: nobody else can use it yet. */
    memset(&probe, 0, sizeof probe);
    atomic_init(&probe.fd, fd);
    if (wire_transact(&probe, EMU_WIRE_OP_HELLO, 0, 0, NULL, 0, hello, sizeof hello, &result) != 0 ||
        result != EMU_WIRE_ACK) {
        errno = ENODEV;
        goto fail;
    }
    version = (uint32_t)hello[0] | (uint32_t)hello[1] << 8 | (uint32_t)hello[2] << 16 |
              (uint32_t)hello[3] << 24;
    if (version != EMU_WIRE_VERSION) {
        fprintf(stderr, "i2c_emu_shim: %s: emulator speaks wire version %u, shim %u\n", path,
                (unsigned)version, (unsigned)EMU_WIRE_VERSION);
        errno = EPROTO;
        goto fail;
    }
    if (table_add(fd) != 0)
        goto fail;
    if (trace_on())
        fprintf(stderr, "i2c_emu_shim: %s -> %s (fd %d)\n", path, sock_path, fd);
    return fd;

fail:
    saved = errno;
    real.close(fd);
    errno = saved;
    return -1;
}

/* Returns the shim fd (>= 0), -1 with errno, or -2 for "not mapped". */
static int maybe_shim_open(const char *path, int flags)
{
    char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int m;

    ensure_real();
    m = lookup_mapping(path, sock, sizeof sock);
    if (m == 0)
        return -2;
    if (m < 0)
        return -1;
    return shim_open(path, sock, flags);
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    int fd = maybe_shim_open(path, flags);

    if (fd != -2)
        return fd;
    if (SHIM_OPEN_NEEDS_MODE(flags)) {
        va_list ap;

        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return real.open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    int fd = maybe_shim_open(path, flags);

    if (fd != -2)
        return fd;
    if (SHIM_OPEN_NEEDS_MODE(flags)) {
        va_list ap;

        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return real.open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    int fd = maybe_shim_open(path, flags);

    if (fd != -2)
        return fd;
    if (SHIM_OPEN_NEEDS_MODE(flags)) {
        va_list ap;

        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return real.openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    int fd = maybe_shim_open(path, flags);

    if (fd != -2)
        return fd;
    if (SHIM_OPEN_NEEDS_MODE(flags)) {
        va_list ap;

        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return real.openat64(dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags)
{
    int fd = maybe_shim_open(path, flags);

    return fd != -2 ? fd : real.open_2(path, flags);
}

int __open64_2(const char *path, int flags)
{
    int fd = maybe_shim_open(path, flags);

    return fd != -2 ? fd : real.open64_2(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
    int fd = maybe_shim_open(path, flags);

    return fd != -2 ? fd : real.openat_2(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
    int fd = maybe_shim_open(path, flags);

    return fd != -2 ? fd : real.openat64_2(dirfd, path, flags);
}

/* ---- close, read, write ------------------------------------------------ */

int close(int fd)
{
    ensure_real();
    table_remove(fd);
    return real.close(fd);
}

ssize_t read(int fd, void *buf, size_t count)
{
    struct shim_fd *e;
    ssize_t rc = -1;

    ensure_real();
    e = table_get(fd);
    if (!e)
        return real.read(fd, buf, count);
    if (count > EMU_WIRE_PAYLOAD_MAX)
        count = EMU_WIRE_PAYLOAD_MAX;
    if (!buf && count > 0) {
        errno = EFAULT;
    } else {
        pthread_mutex_lock(&e->io);
        if (bus_transfer(e, e->addr, true, false, buf, count) == 0)
            rc = (ssize_t)count;
        pthread_mutex_unlock(&e->io);
    }
    table_put(e);
    return rc;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    struct shim_fd *e;
    ssize_t rc = -1;

    ensure_real();
    e = table_get(fd);
    if (!e)
        return real.write(fd, buf, count);
    if (count > EMU_WIRE_PAYLOAD_MAX)
        count = EMU_WIRE_PAYLOAD_MAX;
    if (!buf && count > 0) {
        errno = EFAULT;
    } else {
        pthread_mutex_lock(&e->io);
        /* bus_transfer does not write to buf for a WRITE. */
        if (bus_transfer(e, e->addr, false, false, (uint8_t *)(uintptr_t)buf, count) == 0)
            rc = (ssize_t)count;
        pthread_mutex_unlock(&e->io);
    }
    table_put(e);
    return rc;
}

/* ---- ioctl ------------------------------------------------------------- */

/* Checks the whole message set before any traffic; 0 or an errno. */
static int rdwr_validate(const struct i2c_rdwr_ioctl_data *rdwr)
{
    unsigned supported = I2C_M_RD;
    unsigned mangling = I2C_M_IGNORE_NAK | I2C_M_NO_RD_ACK | I2C_M_STOP;

    if (!rdwr || (!rdwr->msgs && rdwr->nmsgs > 0))
        return EFAULT;
    if (rdwr->nmsgs == 0 || rdwr->nmsgs > I2C_RDWR_IOCTL_MAX_MSGS)
        return EINVAL;
    if (mangling_on())
        supported |= mangling;
    for (uint32_t i = 0; i < rdwr->nmsgs; i++) {
        const struct i2c_msg *m = &rdwr->msgs[i];
        unsigned flags = m->flags & ~(unsigned)I2C_M_DMA_SAFE;

        if (flags & I2C_M_TEN)
            return EINVAL;
        if (m->addr > SHIM_ADDR_MAX || m->len > EMU_WIRE_PAYLOAD_MAX)
            return EINVAL;
        if (!m->buf && m->len > 0)
            return EFAULT;
        if (flags & ~supported)
            return EOPNOTSUPP; /* RECV_LEN, NOSTART, REV_DIR_ADDR, or mangling when off */
    }
    return 0;
}

static int shim_rdwr(struct shim_fd *e, const struct i2c_rdwr_ioctl_data *rdwr)
{
    int err = rdwr_validate(rdwr);

    if (err) {
        errno = err;
        return -1;
    }
    for (uint32_t i = 0; i < rdwr->nmsgs; i++) {
        const struct i2c_msg *m = &rdwr->msgs[i];

        if (bus_transfer(e, (uint8_t)m->addr, (m->flags & I2C_M_RD) != 0,
                         (m->flags & I2C_M_IGNORE_NAK) != 0, m->buf, m->len) != 0)
            return -1;
    }
    return (int)rdwr->nmsgs;
}

static int shim_ioctl(struct shim_fd *e, unsigned long request, void *argp, unsigned long arg)
{
    switch (request) {
    case I2C_SLAVE:
    case I2C_SLAVE_FORCE:
        if (arg > SHIM_ADDR_MAX) {
            errno = EINVAL;
            return -1;
        }
        e->addr = (uint8_t)arg;
        return 0;
    case I2C_TENBIT:
        if (arg != 0) {
            errno = EINVAL;
            return -1;
        }
        return 0;
    case I2C_FUNCS:
        if (!argp) {
            errno = EFAULT;
            return -1;
        }
        *(unsigned long *)argp = I2C_FUNC_I2C | (mangling_on() ? I2C_FUNC_PROTOCOL_MANGLING : 0);
        return 0;
    case I2C_RDWR:
        return shim_rdwr(e, argp);
    case I2C_RETRIES:
    case I2C_TIMEOUT:
    case I2C_PEC:
        return 0;
    case I2C_SMBUS:
        errno = EOPNOTSUPP;
        return -1;
    default:
        errno = ENOTTY;
        return -1;
    }
}

int ioctl(int fd, unsigned long request, ...)
{
    struct shim_fd *e;
    va_list ap;
    void *argp;
    int rc;

    /* Every i2c-dev and most other requests take one word-sized argument;
     * reading it as a pointer is what glibc's own wrapper does. */
    va_start(ap, request);
    argp = va_arg(ap, void *);
    va_end(ap);
    ensure_real();
    e = table_get(fd);
    if (!e)
        return real.ioctl(fd, request, argp);
    pthread_mutex_lock(&e->io);
    rc = shim_ioctl(e, request, argp, (unsigned long)(uintptr_t)argp);
    pthread_mutex_unlock(&e->io);
    table_put(e);
    return rc;
}
