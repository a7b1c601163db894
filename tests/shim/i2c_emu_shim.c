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

/* glibc's fortify entry points: no prototypes outside bits/fcntl2.h. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

enum {
    SHIM_MAX_FDS = 64,
    SHIM_DEFAULT_TIMEOUT_MS = 30000,
    SHIM_ADDR_MAX = 0x7F,
};

#define SHIM_OPEN_NEEDS_MODE(flags) \
    (((flags) & O_CREAT) != 0 || ((flags) & O_TMPFILE) == O_TMPFILE)

/* ---- the real functions ------------------------------------------------ */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
typedef int (*close_fn)(int);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*ioctl_fn)(int, unsigned long, ...);

static struct {
    open_fn open, open64;
    openat_fn openat, openat64;
    open2_fn open_2, open64_2;
    openat2_fn openat_2, openat64_2;
    close_fn close;
    read_fn read;
    write_fn write;
    ioctl_fn ioctl;
} real;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void *next_symbol(const char *name)
{
    void *sym = dlsym(RTLD_NEXT, name);

    if (!sym) {
        fprintf(stderr, "i2c_emu_shim: %s not found after the shim\n", name);
        abort();
    }
    return sym;
}

static void resolve_real(void)
{
    /* Casts between object and function pointers are the dlsym idiom. */
    *(void **)&real.open = next_symbol("open");
    *(void **)&real.open64 = next_symbol("open64");
    *(void **)&real.openat = next_symbol("openat");
    *(void **)&real.openat64 = next_symbol("openat64");
    *(void **)&real.open_2 = next_symbol("__open_2");
    *(void **)&real.open64_2 = next_symbol("__open64_2");
    *(void **)&real.openat_2 = next_symbol("__openat_2");
    *(void **)&real.openat64_2 = next_symbol("__openat64_2");
    *(void **)&real.close = next_symbol("close");
    *(void **)&real.read = next_symbol("read");
    *(void **)&real.write = next_symbol("write");
    *(void **)&real.ioctl = next_symbol("ioctl");
}

static void ensure_real(void)
{
    pthread_once(&real_once, resolve_real);
}

/* ---- configuration ----------------------------------------------------- */

static bool env_flag(const char *name)
{
    const char *v = getenv(name);

    return v && v[0] != '\0' && strcmp(v, "0") != 0;
}

static bool trace_on(void)
{
    return env_flag("TRUSTLINK_I2C_SHIM_TRACE");
}

static bool mangling_on(void)
{
    return !env_flag("TRUSTLINK_I2C_SHIM_NO_MANGLING");
}

static int addr_nak_errno(void)
{
    const char *v = getenv("TRUSTLINK_I2C_SHIM_ADDR_NAK_ERRNO");

    if (v && strcmp(v, "EREMOTEIO") == 0)
        return EREMOTEIO;
    return ENXIO;
}

static unsigned timeout_ms(void)
{
    const char *v = getenv("TRUSTLINK_I2C_SHIM_TIMEOUT_MS");
    char *end = NULL;
    unsigned long ms;

    if (!v || !*v)
        return SHIM_DEFAULT_TIMEOUT_MS;
    errno = 0;
    ms = strtoul(v, &end, 10);
    if (errno || *end || ms == 0 || ms > 3600000UL)
        return SHIM_DEFAULT_TIMEOUT_MS;
    return (unsigned)ms;
}

/*
 * Looks PATH up in TRUSTLINK_I2C_SHIM. On a match copies the socket path
 * into sock (NUL-terminated) and returns 1; returns 0 for no match and -1
 * when the matching socket path does not fit (ENAMETOOLONG).
 */
static int lookup_mapping(const char *path, char *sock, size_t sock_cap)
{
    const char *spec = getenv("TRUSTLINK_I2C_SHIM");
    size_t path_len;

    if (!spec || !path || path[0] != '/')
        return 0;
    path_len = strlen(path);
    while (*spec) {
        const char *end = strchr(spec, ',');
        const char *eq;
        size_t entry_len = end ? (size_t)(end - spec) : strlen(spec);

        eq = memchr(spec, '=', entry_len);
        if (eq && (size_t)(eq - spec) == path_len && memcmp(spec, path, path_len) == 0) {
            size_t sock_len = entry_len - path_len - 1;

            if (sock_len == 0 || sock_len >= sock_cap) {
                errno = ENAMETOOLONG;
                return -1;
            }
            memcpy(sock, eq + 1, sock_len);
            sock[sock_len] = '\0';
            return 1;
        }
        spec += entry_len;
        if (*spec == ',')
            spec++;
    }
    return 0;
}

/* ---- the fd table ------------------------------------------------------ */

struct shim_fd {
    atomic_int fd;      /* -1: slot free; written under table_lock only */
    unsigned refs;      /* transactions in flight */
    bool closing;       /* no new users: close() waits for refs to drop to 0 */
    bool stale;         /* fd no longer names our socket: the last user frees */
    bool broken;        /* the connection is unusable: EIO from now on */
    uint8_t addr;       /* 7-bit target address (i2c-dev starts at 0) */
    dev_t dev;          /* identity of the socket, to spot a reused fd */
    ino_t ino;
    pthread_mutex_t io; /* one transaction at a time on this fd */
};

static struct shim_fd table[SHIM_MAX_FDS];
static atomic_bool table_ready;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t table_idle = PTHREAD_COND_INITIALIZER;
static atomic_uint table_used;

/* Caller holds table_lock. */
static void table_init_locked(void)
{
    if (table_ready)
        return;
    for (size_t i = 0; i < SHIM_MAX_FDS; i++) {
        atomic_store(&table[i].fd, -1);
        pthread_mutex_init(&table[i].io, NULL);
    }
    atomic_store(&table_ready, true);
}

/* Caller holds table_lock; slot has refs == 0. */
static void slot_free_locked(struct shim_fd *e)
{
    atomic_store(&e->fd, -1);
    e->closing = false;
    e->stale = false;
    e->broken = false;
    atomic_fetch_sub(&table_used, 1);
}

static int table_add(int fd)
{
    struct stat st;
    int rc = -1;

    if (fstat(fd, &st) != 0)
        return -1;
    pthread_mutex_lock(&table_lock);
    table_init_locked();
    for (size_t i = 0; i < SHIM_MAX_FDS; i++) {
        struct shim_fd *e = &table[i];

        if (atomic_load(&e->fd) == fd && e->refs == 0) {
            /* A stale entry for a number the kernel handed out again. */
            slot_free_locked(e);
        }
    }
    for (size_t i = 0; i < SHIM_MAX_FDS; i++) {
        struct shim_fd *e = &table[i];

        if (atomic_load(&e->fd) == -1) {
            atomic_store(&e->fd, fd);
            e->refs = 0;
            e->closing = false;
            e->stale = false;
            e->broken = false;
            e->addr = 0;
            e->dev = st.st_dev;
            e->ino = st.st_ino;
            atomic_fetch_add(&table_used, 1);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&table_lock);
    if (rc != 0)
        errno = EMFILE;
    return rc;
}

/*
 * True when fd may be a shim fd. Lock-free, so read/write/close on other
 * fds never wait for the table (not even from a signal handler while this
 * thread holds the lock).
 */
static bool table_may_hold(int fd)
{
    if (fd < 0 || atomic_load(&table_used) == 0 || !atomic_load(&table_ready))
        return false;
    for (size_t i = 0; i < SHIM_MAX_FDS; i++) {
        if (atomic_load(&table[i].fd) == fd)
            return true;
    }
    return false;
}

/* Returns the entry for fd with a reference held, or NULL (pass through). */
static struct shim_fd *table_get(int fd)
{
    struct shim_fd *found = NULL;

    if (!table_may_hold(fd))
        return NULL;
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; table_ready && i < SHIM_MAX_FDS; i++) {
        struct shim_fd *e = &table[i];
        struct stat st;

        if (atomic_load(&e->fd) != fd || e->closing)
            continue;
        if (fstat(fd, &st) != 0 || st.st_dev != e->dev || st.st_ino != e->ino) {
            /* Closed behind our back and reused: not ours any more. */
            if (e->refs == 0) {
                slot_free_locked(e);
            } else {
                e->closing = true;
                e->stale = true;
            }
            break;
        }
        e->refs++;
        found = e;
        break;
    }
    pthread_mutex_unlock(&table_lock);
    return found;
}

static void table_put(struct shim_fd *e)
{
    pthread_mutex_lock(&table_lock);
    e->refs--;
    if (e->refs == 0) {
        bool waiters = e->closing;

        if (e->stale)
            slot_free_locked(e);
        if (waiters)
            pthread_cond_broadcast(&table_idle);
    }
    pthread_mutex_unlock(&table_lock);
}

/*
 * Removes fd from the table (every entry naming it, stale ones included),
 * waiting for transactions in flight. The caller then closes the fd.
 */
static void table_remove(int fd)
{
    if (!table_may_hold(fd))
        return;
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; table_ready && i < SHIM_MAX_FDS; i++) {
        struct shim_fd *e = &table[i];

        if (atomic_load(&e->fd) != fd)
            continue;
        e->closing = true;
        while (e->refs > 0 && atomic_load(&e->fd) == fd)
            pthread_cond_wait(&table_idle, &table_lock);
        /* A stale entry may have been freed by its last user meanwhile. */
        if (atomic_load(&e->fd) == fd && e->refs == 0)
            slot_free_locked(e);
    }
    pthread_mutex_unlock(&table_lock);
}

/* ---- the wire ---------------------------------------------------------- */

static const char *result_name(int result)
{
    switch (result) {
    case EMU_WIRE_ACK: return "ACK";
    case EMU_WIRE_NAK_ADDR: return "NAK_ADDR";
    case EMU_WIRE_NAK_DATA: return "NAK_DATA";
    case EMU_WIRE_ERROR: return "ERROR";
    default: return "?";
    }
}

/* Sends all of buf; false with errno on failure (EPIPE when gone). */
static bool send_all(int sock, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(sock, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Receives exactly len bytes; false on EOF, error or timeout (errno set). */
static bool recv_all(int sock, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(sock, buf, len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = ECONNRESET;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/*
 * One request/reply. On return 0, *result holds the wire result and, for
 * an ACKed READ, in[0..in_len) the data. Returns -1 with errno EIO (daemon
 * gone or misbehaving) or ETIMEDOUT; the entry is then marked broken.
 * Caller holds e->io.
 */
static int wire_transact(struct shim_fd *e, uint8_t op, uint8_t addr, uint8_t flags,
                         const uint8_t *out, size_t out_len, uint8_t *in, size_t in_len,
                         uint8_t *result)
{
    uint8_t hdr[EMU_WIRE_REQUEST_HEADER];
    uint8_t rhdr[EMU_WIRE_REPLY_HEADER];
    size_t wire_len = op == EMU_WIRE_OP_READ ? in_len : out_len;
    size_t reply_len;
    int sock = atomic_load(&e->fd);

    if (e->broken) {
        errno = EIO;
        return -1;
    }
    hdr[0] = op;
    hdr[1] = addr;
    hdr[2] = flags;
    hdr[3] = 0;
    hdr[4] = (uint8_t)(wire_len & 0xFF);
    hdr[5] = (uint8_t)(wire_len >> 8);
    if (!send_all(sock, hdr, sizeof hdr) || (out_len > 0 && !send_all(sock, out, out_len)))
        goto gone;
    if (!recv_all(sock, rhdr, sizeof rhdr))
        goto gone;
    reply_len = (size_t)rhdr[2] | (size_t)rhdr[3] << 8;
    *result = rhdr[0];
    if (rhdr[1] != 0 || reply_len > EMU_WIRE_PAYLOAD_MAX)
        goto protocol;
    switch (rhdr[0]) {
    case EMU_WIRE_ACK:
        if (op == EMU_WIRE_OP_READ) {
            if (reply_len != in_len)
                goto protocol;
            if (in_len > 0 && !recv_all(sock, in, in_len))
                goto gone;
            return 0;
        }
        if (op == EMU_WIRE_OP_HELLO) {
            if (reply_len != in_len || !recv_all(sock, in, in_len))
                goto protocol;
            return 0;
        }
        if (reply_len != 0)
            goto protocol;
        return 0;
    case EMU_WIRE_NAK_ADDR:
    case EMU_WIRE_NAK_DATA:
        if (reply_len != 0 || (rhdr[0] == EMU_WIRE_NAK_DATA && op != EMU_WIRE_OP_WRITE))
            goto protocol;
        return 0;
    case EMU_WIRE_ERROR: {
        char msg[256];
        size_t keep = reply_len < sizeof msg - 1 ? reply_len : sizeof msg - 1;

        if (!recv_all(sock, (uint8_t *)msg, keep))
            goto gone;
        msg[keep] = '\0';
        fprintf(stderr, "i2c_emu_shim: fd %d: emulator refused the request: %s\n", sock, msg);
        e->broken = true;
        errno = EIO;
        return -1;
    }
    default:
        goto protocol;
    }

gone:
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (trace_on())
            fprintf(stderr, "i2c_emu_shim: fd %d: no reply from the emulator in time\n", sock);
        e->broken = true;
        errno = ETIMEDOUT;
        return -1;
    }
    if (trace_on())
        fprintf(stderr, "i2c_emu_shim: fd %d: emulator connection lost: %s\n", sock, strerror(errno));
    e->broken = true;
    errno = EIO;
    return -1;

protocol:
    fprintf(stderr, "i2c_emu_shim: fd %d: malformed reply from the emulator (result %u, length %zu)\n",
            sock, (unsigned)rhdr[0], (size_t)rhdr[2] | (size_t)rhdr[3] << 8);
    e->broken = true;
    errno = EIO;
    return -1;
}

/* One bus transfer: WRITE or READ. Returns 0, or -1 with errno set. */
static int bus_transfer(struct shim_fd *e, uint8_t addr, bool is_read, bool ignore_nak,
                        uint8_t *buf, size_t len)
{
    uint8_t result = EMU_WIRE_ERROR;
    uint8_t flags = ignore_nak ? EMU_WIRE_IGNORE_NAK : 0;
    int rc;

    if (is_read)
        rc = wire_transact(e, EMU_WIRE_OP_READ, addr, flags, NULL, 0, buf, len, &result);
    else
        rc = wire_transact(e, EMU_WIRE_OP_WRITE, addr, flags, buf, len, NULL, 0, &result);
    if (trace_on()) {
        fprintf(stderr, "i2c_emu_shim: fd %d %c 0x%02x len %zu%s -> %s\n", atomic_load(&e->fd), is_read ? 'R' : 'W',
                addr, len, ignore_nak ? " ignore_nak" : "", rc == 0 ? result_name(result) : strerror(errno));
    }
    if (rc != 0)
        return -1;
    switch (result) {
    case EMU_WIRE_ACK:
        return 0;
    case EMU_WIRE_NAK_ADDR:
        errno = addr_nak_errno();
        return -1;
    default:
        errno = EREMOTEIO;
        return -1;
    }
}

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
