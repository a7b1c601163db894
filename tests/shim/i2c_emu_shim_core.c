/* SPDX-License-Identifier: Apache-2.0 */
/*
 * i2c_emu_shim's insides: the real libc functions behind the interposed
 * ones, the configuration from the environment, the table of emulated fds
 * and the emu_wire transactions (the behaviour is described at the top of
 * i2c_emu_shim.c).
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

/* ---- the real functions ------------------------------------------------ */

struct shim_real_calls real;

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

void ensure_real(void)
{
    pthread_once(&real_once, resolve_real);
}

/* ---- configuration ----------------------------------------------------- */

static bool env_flag(const char *name)
{
    const char *v = getenv(name);

    return v && v[0] != '\0' && strcmp(v, "0") != 0;
}

bool trace_on(void)
{
    return env_flag("TRUSTLINK_I2C_SHIM_TRACE");
}

bool mangling_on(void)
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

unsigned timeout_ms(void)
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
int lookup_mapping(const char *path, char *sock, size_t sock_cap)
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

int table_add(int fd)
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
struct shim_fd *table_get(int fd)
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

void table_put(struct shim_fd *e)
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
void table_remove(int fd)
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
int wire_transact(struct shim_fd *e, uint8_t op, uint8_t addr, uint8_t flags,
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
int bus_transfer(struct shim_fd *e, uint8_t addr, bool is_read, bool ignore_nak,
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
