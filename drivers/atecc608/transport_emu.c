/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bus to the atecc608-emu daemon: one I2C transaction per request over a
 * unix stream socket, framed exactly as atecc608/emu_wire.h says. Owns the
 * socket. Must never send chip commands of its own: it only carries the
 * bytes the transport layer hands it, like a real bus.
 *
 * Recovery: a transaction that fails on the socket (daemon gone, closed
 * connection, no reply within ATECC_EMU_IO_TIMEOUT_S, a malformed reply)
 * leaves the stream in an unknown place: a late reply could be taken for
 * the next one. So the socket is dropped at once and the failure reported
 * as a bus error; the next transaction connects afresh (HELLO again).
 * The chip behind a new connection may have restarted, which the layers
 * above handle as on a real bus after a glitch: the failed command is
 * retried after an idle and a new wake.
 */
#include "transport.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "atecc608/emu_wire.h"

enum {
    /* A daemon that stops answering must not hang the caller. */
    ATECC_EMU_IO_TIMEOUT_S = 10,
};

struct atecc_emu {
    int fd;
    uint32_t bus_hz;
    double time_scale;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char error[1024];
};

static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = recv(fd, buf, len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = ECONNRESET;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One request/reply. len is the request's length field: the payload size
 * for WRITE, the wanted byte count for READ (which sends no payload). The
 * reply payload goes to out (up to out_cap, the rest drained); *out_len is
 * its full length. Returns the wire result or -1. */
static int transact(struct atecc_emu *emu, uint8_t op, uint8_t addr, uint8_t flags,
                    const uint8_t *payload, size_t payload_len, uint16_t len, uint8_t *out,
                    size_t out_cap, size_t *out_len)
{
    uint8_t hdr[EMU_WIRE_REQUEST_HEADER];
    uint8_t rhdr[EMU_WIRE_REPLY_HEADER];
    uint8_t drain[64];
    size_t rlen;
    size_t got = 0;

    *out_len = 0;
    hdr[0] = op;
    hdr[1] = addr;
    hdr[2] = flags;
    hdr[3] = 0;
    hdr[4] = (uint8_t)(len & 0xFF);
    hdr[5] = (uint8_t)(len >> 8);
    if (write_all(emu->fd, hdr, sizeof(hdr)) < 0 ||
        (payload_len > 0 && write_all(emu->fd, payload, payload_len) < 0) ||
        read_all(emu->fd, rhdr, sizeof(rhdr)) < 0) {
        snprintf(emu->error, sizeof(emu->error), "emulator socket %s: %s", emu->path,
                 strerror(errno));
        return -1;
    }
    rlen = (size_t)rhdr[2] | (size_t)rhdr[3] << 8;
    if (rlen > EMU_WIRE_PAYLOAD_MAX) {
        snprintf(emu->error, sizeof(emu->error), "emulator socket %s: reply length %zu too large",
                 emu->path, rlen);
        return -1;
    }
    while (got < rlen) {
        size_t chunk = rlen - got;
        uint8_t *dst = drain;

        if (got < out_cap) {
            dst = out + got;
            if (chunk > out_cap - got)
                chunk = out_cap - got;
        } else if (chunk > sizeof(drain)) {
            chunk = sizeof(drain);
        }
        if (read_all(emu->fd, dst, chunk) < 0) {
            snprintf(emu->error, sizeof(emu->error), "emulator socket %s: %s", emu->path,
                     strerror(errno));
            return -1;
        }
        got += chunk;
    }
    *out_len = rlen;
    if (rhdr[0] == EMU_WIRE_ERROR) {
        char msg[200];
        size_t m = rlen < out_cap ? rlen : out_cap;

        if (m > sizeof(msg) - 1)
            m = sizeof(msg) - 1;

        memcpy(msg, out, m);
        msg[m] = '\0';
        snprintf(emu->error, sizeof(emu->error), "emulator %s refused the request: %s",
                 emu->path, msg);
    }
    return rhdr[0];
}

/* A socket-level failure: drop the connection (see the header comment). */
static void emu_drop(struct atecc_emu *emu)
{
    if (emu->fd >= 0)
        close(emu->fd);
    emu->fd = -1;
}

static atecc_err emu_connect(struct atecc_emu *emu, char *detail, size_t detail_len);

/* Before a bus transaction: a dropped connection is made again. */
static bool emu_ready(struct atecc_emu *emu)
{
    char detail[sizeof(emu->error)];

    if (emu->fd >= 0)
        return true;
    if (emu_connect(emu, detail, sizeof(detail)) == ATECC_OK)
        return true;
    snprintf(emu->error, sizeof(emu->error), "%s", detail);
    return false;
}

static enum atecc_bus_result map_result(int r)
{
    switch (r) {
    case EMU_WIRE_ACK: return ATECC_BUS_ACK;
    case EMU_WIRE_NAK_ADDR: return ATECC_BUS_NAK;
    case EMU_WIRE_NAK_DATA: return ATECC_BUS_NAK_DATA;
    default: return ATECC_BUS_IO;
    }
}

static enum atecc_bus_result emu_write(void *ctx, uint8_t addr7, const uint8_t *data, size_t len,
                                       unsigned flags)
{
    struct atecc_emu *emu = ctx;
    uint8_t scratch[256];
    size_t out_len = 0;

    int r;

    if (len > EMU_WIRE_PAYLOAD_MAX || !emu_ready(emu))
        return ATECC_BUS_IO;
    r = transact(emu, EMU_WIRE_OP_WRITE, addr7,
                 (flags & ATECC_BUS_FLAG_IGNORE_NAK) ? EMU_WIRE_IGNORE_NAK : 0, data, len,
                 (uint16_t)len, scratch, sizeof(scratch), &out_len);
    if (r < 0)
        emu_drop(emu);
    return map_result(r);
}

static enum atecc_bus_result emu_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    struct atecc_emu *emu = ctx;
    size_t out_len = 0;
    int r;

    if (len > EMU_WIRE_PAYLOAD_MAX || !emu_ready(emu))
        return ATECC_BUS_IO;
    r = transact(emu, EMU_WIRE_OP_READ, addr7, 0, NULL, 0, (uint16_t)len, buf, len, &out_len);
    if (r < 0)
        emu_drop(emu);
    if (r == EMU_WIRE_ACK && out_len != len) {
        snprintf(emu->error, sizeof(emu->error),
                 "emulator %s answered a %zu-byte read with %zu bytes", emu->path, len, out_len);
        return ATECC_BUS_IO;
    }
    return map_result(r);
}

static void emu_bus_info(void *ctx, uint32_t *bus_hz, double *time_scale)
{
    struct atecc_emu *emu = ctx;

    *bus_hz = emu->bus_hz;
    *time_scale = emu->time_scale;
}

static const char *emu_last_error(void *ctx)
{
    struct atecc_emu *emu = ctx;

    return emu->error[0] != '\0' ? emu->error : NULL;
}

static void emu_close(void *ctx)
{
    struct atecc_emu *emu = ctx;

    if (emu == NULL)
        return;
    if (emu->fd >= 0)
        close(emu->fd);
    free(emu);
}

static const struct atecc_transport_ops atecc_emu_ops = {
    .write = emu_write,
    .read = emu_read,
    .bus_info = emu_bus_info,
    .last_error = emu_last_error,
    .close = emu_close,
};

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Connects emu->fd to emu->path and checks HELLO; on failure the socket
 * is closed and detail says why. */
static atecc_err emu_connect(struct atecc_emu *emu, char *detail, size_t detail_len)
{
    struct sockaddr_un sa;
    struct timeval tv = { .tv_sec = ATECC_EMU_IO_TIMEOUT_S, .tv_usec = 0 };
    uint8_t hello[EMU_WIRE_HELLO_PAYLOAD + 64];
    size_t hello_len = 0;
    int r;

    memset(&sa, 0, sizeof(sa));
    emu->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (emu->fd < 0) {
        snprintf(detail, detail_len, "socket(AF_UNIX): %s", strerror(errno));
        return ATECC_E_OPEN;
    }
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, emu->path, strlen(emu->path));
    if (connect(emu->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(detail, detail_len, "cannot connect to the emulator at %s: %s%s", emu->path,
                 strerror(errno),
                 errno == ENOENT || errno == ECONNREFUSED ? " (is atecc608-emu running?)" : "");
        goto fail;
    }
    (void)setsockopt(emu->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(emu->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    r = transact(emu, EMU_WIRE_OP_HELLO, 0, 0, NULL, 0, 0, hello, sizeof(hello), &hello_len);
    if (r != EMU_WIRE_ACK || hello_len < EMU_WIRE_HELLO_PAYLOAD) {
        snprintf(detail, detail_len, "emulator at %s did not answer HELLO: %s", emu->path,
                 emu->error[0] ? emu->error : "short or refused reply");
        goto fail;
    }
    if (get_u32(hello) != EMU_WIRE_VERSION) {
        snprintf(detail, detail_len, "emulator at %s speaks wire version %u, driver speaks %u",
                 emu->path, (unsigned)get_u32(hello), (unsigned)EMU_WIRE_VERSION);
        goto fail;
    }
    emu->bus_hz = get_u32(hello + 4);
    if (emu->bus_hz == 0)
        emu->bus_hz = 100000;
    emu->time_scale = get_u32(hello + 8) / 1000.0;
    return ATECC_OK;
fail:
    if (emu->fd >= 0)
        close(emu->fd);
    emu->fd = -1;
    return ATECC_E_OPEN;
}

atecc_err atecc_emu_open(const char *path, const struct atecc_transport_ops **ops_out,
                         void **ctx_out, char *detail, size_t detail_len)
{
    struct atecc_emu *emu = NULL;
    atecc_err rc = ATECC_E_OPEN;

    *ops_out = NULL;
    *ctx_out = NULL;
    if (strlen(path) >= sizeof(emu->path)) {
        snprintf(detail, detail_len, "emulator socket path '%.4096s' is longer than %zu bytes", path,
                 sizeof(emu->path) - 1);
        goto cleanup;
    }
    emu = calloc(1, sizeof(*emu));
    if (emu == NULL) {
        rc = ATECC_E_NOMEM;
        goto cleanup;
    }
    emu->fd = -1;
    snprintf(emu->path, sizeof(emu->path), "%s", path);
    rc = emu_connect(emu, detail, detail_len);
    if (rc != ATECC_OK)
        goto cleanup;
    *ops_out = &atecc_emu_ops;
    *ctx_out = emu;
    emu = NULL;
cleanup:
    emu_close(emu);
    return rc;
}
