/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linux i2c-dev bus: plain write()/read() after ioctl(I2C_SLAVE), and
 * I2C_RDWR with I2C_M_IGNORE_NAK only for the long wake pulse above
 * 100 kHz. Owns the file descriptor and errno translation. Must never
 * use I2C_SLAVE_FORCE: a kernel driver owning the address means someone
 * else talks to this chip, and stealing it would corrupt both.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct atecc_i2c {
    int fd;
    int current_addr;    /* address last set with I2C_SLAVE, -1 none */
    uint32_t bus_hz;
    unsigned long funcs;
    char path[256];
    char error[1024];
};

static enum atecc_bus_result errno_result(struct atecc_i2c *bus, const char *what, int err)
{
    /* Adapters report an unacknowledged address as ENXIO, EREMOTEIO or
     * (some) EIO; the chip NAKs while busy or asleep, so that is normal. */
    if (err == ENXIO || err == EREMOTEIO || err == EIO)
        return ATECC_BUS_NAK;
    snprintf(bus->error, sizeof(bus->error), "%s on %s failed: %s", what, bus->path,
             strerror(err));
    return ATECC_BUS_IO;
}

static enum atecc_bus_result set_addr(struct atecc_i2c *bus, uint8_t addr7)
{
    if (bus->current_addr == addr7)
        return ATECC_BUS_ACK;
    if (ioctl(bus->fd, I2C_SLAVE, (unsigned long)addr7) < 0) {
        int err = errno;

        if (err == EBUSY)
            snprintf(bus->error, sizeof(bus->error),
                     "%s address 0x%02x: a kernel driver owns this address (EBUSY); "
                     "unbind it (e.g. the atmel-ecc/atmel-sha204a driver) first",
                     bus->path, addr7);
        else
            snprintf(bus->error, sizeof(bus->error), "ioctl(I2C_SLAVE, 0x%02x) on %s: %s",
                     addr7, bus->path, strerror(err));
        bus->current_addr = -1;
        return ATECC_BUS_IO;
    }
    bus->current_addr = addr7;
    return ATECC_BUS_ACK;
}

static enum atecc_bus_result i2c_write_ignore_nak(struct atecc_i2c *bus, uint8_t addr7,
                                                  const uint8_t *data, size_t len)
{
    struct i2c_msg msg;
    struct i2c_rdwr_ioctl_data xfer;

    if ((bus->funcs & I2C_FUNC_PROTOCOL_MANGLING) == 0) {
        snprintf(bus->error, sizeof(bus->error),
                 "the adapter behind %s does not support I2C_M_IGNORE_NAK "
                 "(no I2C_FUNC_PROTOCOL_MANGLING), so no wake pulse can be sent at "
                 "%u Hz: run the bus at 100 kHz and use ?bus_hz=100000",
                 bus->path, (unsigned)bus->bus_hz);
        return ATECC_BUS_UNSUPPORTED;
    }
    memset(&msg, 0, sizeof(msg));
    msg.addr = addr7;
    msg.flags = I2C_M_IGNORE_NAK;
    msg.len = (uint16_t)len;
    msg.buf = (uint8_t *)(uintptr_t)data;
    xfer.msgs = &msg;
    xfer.nmsgs = 1;
    if (ioctl(bus->fd, I2C_RDWR, &xfer) < 0) {
        int err = errno;

        if (err == EOPNOTSUPP || err == EINVAL) {
            snprintf(bus->error, sizeof(bus->error),
                     "the adapter behind %s refused the wake pulse (I2C_RDWR with "
                     "I2C_M_IGNORE_NAK: %s): run the bus at 100 kHz and use ?bus_hz=100000",
                     bus->path, strerror(err));
            return ATECC_BUS_UNSUPPORTED;
        }
        return errno_result(bus, "wake pulse", err);
    }
    return ATECC_BUS_ACK;
}

static enum atecc_bus_result i2c_write(void *ctx, uint8_t addr7, const uint8_t *data, size_t len,
                                       unsigned flags)
{
    struct atecc_i2c *bus = ctx;
    enum atecc_bus_result r;
    ssize_t n;

    if (flags & ATECC_BUS_FLAG_IGNORE_NAK)
        return i2c_write_ignore_nak(bus, addr7, data, len);
    r = set_addr(bus, addr7);
    if (r != ATECC_BUS_ACK)
        return r;
    n = write(bus->fd, data, len);
    if (n < 0)
        return errno_result(bus, "write", errno);
    if ((size_t)n != len)
        return ATECC_BUS_NAK_DATA;
    return ATECC_BUS_ACK;
}

static enum atecc_bus_result i2c_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    struct atecc_i2c *bus = ctx;
    enum atecc_bus_result r = set_addr(bus, addr7);
    ssize_t n;

    if (r != ATECC_BUS_ACK)
        return r;
    n = read(bus->fd, buf, len);
    if (n < 0)
        return errno_result(bus, "read", errno);
    if ((size_t)n != len) {
        snprintf(bus->error, sizeof(bus->error), "short read on %s (%zd of %zu bytes)",
                 bus->path, n, len);
        return ATECC_BUS_IO;
    }
    return ATECC_BUS_ACK;
}

static void i2c_bus_info(void *ctx, uint32_t *bus_hz, double *time_scale)
{
    struct atecc_i2c *bus = ctx;

    *bus_hz = bus->bus_hz;
    *time_scale = 1.0;
}

static const char *i2c_last_error(void *ctx)
{
    struct atecc_i2c *bus = ctx;

    return bus->error[0] != '\0' ? bus->error : NULL;
}

static void i2c_close(void *ctx)
{
    struct atecc_i2c *bus = ctx;

    if (bus == NULL)
        return;
    if (bus->fd >= 0)
        close(bus->fd);
    free(bus);
}

static const struct atecc_transport_ops atecc_i2c_ops = {
    .write = i2c_write,
    .read = i2c_read,
    .bus_info = i2c_bus_info,
    .last_error = i2c_last_error,
    .close = i2c_close,
};

atecc_err atecc_i2c_open(const char *path, uint8_t addr7, uint32_t bus_hz,
                         const struct atecc_transport_ops **ops_out, void **ctx_out,
                         char *detail, size_t detail_len)
{
    struct atecc_i2c *bus = NULL;
    atecc_err rc = ATECC_E_OPEN;

    *ops_out = NULL;
    *ctx_out = NULL;
    bus = calloc(1, sizeof(*bus));
    if (bus == NULL) {
        rc = ATECC_E_NOMEM;
        goto cleanup;
    }
    bus->fd = -1;
    bus->current_addr = -1;
    bus->bus_hz = bus_hz;
    snprintf(bus->path, sizeof(bus->path), "%s", path);
    bus->fd = open(path, O_RDWR | O_CLOEXEC);
    if (bus->fd < 0) {
        int err = errno;

        snprintf(detail, detail_len, "cannot open %s: %s%s", path, strerror(err),
                 err == EACCES ? " (add the user to the i2c group)"
                 : err == ENOENT ? " (is the i2c-dev module loaded and the bus enabled?)" : "");
        goto cleanup;
    }
    if (ioctl(bus->fd, I2C_FUNCS, &bus->funcs) < 0) {
        snprintf(detail, detail_len, "%s is not an i2c-dev device (I2C_FUNCS: %s)", path,
                 strerror(errno));
        goto cleanup;
    }
    if (atecc_tp_wake_zero_bytes(bus_hz) > 0 && (bus->funcs & I2C_FUNC_PROTOCOL_MANGLING) == 0) {
        snprintf(detail, detail_len,
                 "the adapter behind %s does not support I2C_M_IGNORE_NAK "
                 "(no I2C_FUNC_PROTOCOL_MANGLING), which the wake pulse needs at %u Hz: "
                 "run the bus at 100 kHz and use ?bus_hz=100000",
                 path, (unsigned)bus_hz);
        goto cleanup;
    }
    if (set_addr(bus, addr7) != ATECC_BUS_ACK) {
        snprintf(detail, detail_len, "%s", bus->error);
        goto cleanup;
    }
    *ops_out = &atecc_i2c_ops;
    *ctx_out = bus;
    bus = NULL;
    rc = ATECC_OK;
cleanup:
    i2c_close(bus);
    return rc;
}
