/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transport: the chip's byte protocol (wake pulse, idle, sleep, command
 * write, response read) implemented once over two raw bus primitives that
 * each bus provides (one I2C write transaction, one I2C read transaction).
 *
 * Owns: the word-address bytes, the wake-pulse length for the bus speed,
 * the count-byte bounds check of a response. Must never interpret a
 * response's data or status, retry, or sleep: that is exec.c's job.
 *
 * struct atecc_transport_ops is also the "inproc:" transport that tests
 * hand to atecc_open() through atecc_options.inproc_ops.
 */
#ifndef ATECC608_TRANSPORT_H
#define ATECC608_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "atecc608/atecc608.h"

/* Result of one raw bus transaction. */
enum atecc_bus_result {
    ATECC_BUS_ACK = 0,         /* every byte acknowledged */
    ATECC_BUS_NAK = 1,         /* address phase not acknowledged (busy, asleep, absent) */
    ATECC_BUS_NAK_DATA = 2,    /* a data byte was refused */
    ATECC_BUS_IO = 3,          /* the bus itself failed (errno-class) */
    ATECC_BUS_UNSUPPORTED = 4, /* the adapter refuses this kind of transfer */
};

enum {
    /* Go on clocking data bytes after a NAK (Linux I2C_M_IGNORE_NAK). */
    ATECC_BUS_FLAG_IGNORE_NAK = 0x01,
};

struct atecc_transport_ops {
    /* One write transaction of len bytes to the 7-bit address addr7. */
    enum atecc_bus_result (*write)(void *ctx, uint8_t addr7, const uint8_t *data, size_t len,
                                   unsigned flags);
    /* One read transaction of exactly len bytes from addr7. */
    enum atecc_bus_result (*read)(void *ctx, uint8_t addr7, uint8_t *buf, size_t len);
    /* Optional: the bus speed in Hz and the time scale of the chip's
     * durations (1.0 real time, 0 instant). NULL: 100 kHz, 1.0. */
    void (*bus_info)(void *ctx, uint32_t *bus_hz, double *time_scale);
    /* Optional: why the last transaction failed, in words. */
    const char *(*last_error)(void *ctx);
    /* Optional: release ctx. Called by atecc_close for transports the
     * driver opened itself; never for inproc contexts (the caller owns). */
    void (*close)(void *ctx);
};

struct atecc_transport {
    const struct atecc_transport_ops *ops;
    void *ctx;
    bool owns_ctx;
    uint8_t addr7;
    uint32_t bus_hz;
    double time_scale;
    uint64_t bus_bytes;  /* address bytes included */
};

/* Outcome of the byte-protocol helpers below. */
enum atecc_tp_result {
    ATECC_TP_OK = 0,
    ATECC_TP_NAK,          /* chip busy, asleep or absent */
    ATECC_TP_BAD_COUNT,    /* response count byte outside [4, capacity] */
    ATECC_TP_IO,
    ATECC_TP_UNSUPPORTED,
};

/* Zero bytes a wake write needs at bus_hz to hold SDA low >= tWLO. */
size_t atecc_tp_wake_zero_bytes(uint32_t bus_hz);

enum atecc_tp_result atecc_tp_wake_pulse(struct atecc_transport *tp);
/* Reads the 4 bytes the chip offers after a wake. */
enum atecc_tp_result atecc_tp_read_raw(struct atecc_transport *tp, uint8_t *buf, size_t len);
enum atecc_tp_result atecc_tp_idle(struct atecc_transport *tp);
enum atecc_tp_result atecc_tp_sleep(struct atecc_transport *tp);
/* Writes word address 0x03 then the packet. */
enum atecc_tp_result atecc_tp_send(struct atecc_transport *tp, const uint8_t *packet, size_t len);
/* Reads one response: word address 0x00 (NAK = busy), count byte, rest.
 * *len is the whole response length (count byte included). */
enum atecc_tp_result atecc_tp_receive(struct atecc_transport *tp, uint8_t *buf, size_t cap,
                                      size_t *len);
const char *atecc_tp_last_error(const struct atecc_transport *tp);
void atecc_tp_close(struct atecc_transport *tp);

/* Bus constructors: fill ops_out and ctx_out, or fail with a message. */
atecc_err atecc_i2c_open(const char *path, uint8_t addr7, uint32_t bus_hz,
                         const struct atecc_transport_ops **ops_out, void **ctx_out,
                         char *detail, size_t detail_len);
atecc_err atecc_emu_open(const char *path, const struct atecc_transport_ops **ops_out,
                         void **ctx_out, char *detail, size_t detail_len);

#endif
