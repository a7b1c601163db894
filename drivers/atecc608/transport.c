/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The chip's byte protocol over raw bus transactions (see transport.h).
 * Owns word addresses, wake-pulse length and the response count check.
 * Must never retry, sleep or interpret status bytes.
 */
#include "transport.h"

#include <string.h>

#include "atecc608/protocol.h"

enum {
    /* Above this speed the 1-byte write to address 0x00 is too short a low
     * pulse (8 bit times < tWLO), so zero data bytes are clocked with
     * IGNORE_NAK (facts sheet CHOICE). */
    ATECC_WAKE_PLAIN_MAX_HZ = 100000,
    ATECC_BITS_ADDRESS_LOW = 8, /* 7 zero address bits + the write bit */
    ATECC_BITS_PER_BYTE = 9,    /* 8 data bits + ACK slot */
};

static enum atecc_tp_result from_bus(enum atecc_bus_result r)
{
    switch (r) {
    case ATECC_BUS_ACK: return ATECC_TP_OK;
    case ATECC_BUS_NAK:
    case ATECC_BUS_NAK_DATA: return ATECC_TP_NAK;
    case ATECC_BUS_UNSUPPORTED: return ATECC_TP_UNSUPPORTED;
    case ATECC_BUS_IO:
    default: return ATECC_TP_IO;
    }
}

static enum atecc_tp_result bus_write(struct atecc_transport *tp, uint8_t addr7,
                                      const uint8_t *data, size_t len, unsigned flags)
{
    tp->bus_bytes += len + 1;
    return from_bus(tp->ops->write(tp->ctx, addr7, data, len, flags));
}

static enum atecc_tp_result bus_read(struct atecc_transport *tp, uint8_t *buf, size_t len)
{
    tp->bus_bytes += len + 1;
    return from_bus(tp->ops->read(tp->ctx, tp->addr7, buf, len));
}

size_t atecc_tp_wake_zero_bytes(uint32_t bus_hz)
{
    /* Low time = (8 + 9 n) bit times; need >= tWLO. One spare byte covers
     * clock stretching and rounding on real adapters. */
    uint64_t bits_needed = ((uint64_t)ATECC_T_WLO_US * bus_hz + 999999u) / 1000000u;
    size_t n = 0;

    if (bus_hz <= ATECC_WAKE_PLAIN_MAX_HZ)
        return 0;
    if (bits_needed > ATECC_BITS_ADDRESS_LOW)
        n = (size_t)((bits_needed - ATECC_BITS_ADDRESS_LOW + ATECC_BITS_PER_BYTE - 1) /
                     ATECC_BITS_PER_BYTE);
    return n + 1;
}

enum atecc_tp_result atecc_tp_wake_pulse(struct atecc_transport *tp)
{
    static const uint8_t zeros[16] = { 0 };
    size_t n = atecc_tp_wake_zero_bytes(tp->bus_hz);
    enum atecc_tp_result r;

    if (n == 0) {
        /* Nobody acknowledges address 0x00: the NAK is the expected outcome;
         * only the low time of the address phase matters. */
        r = bus_write(tp, 0x00, zeros, 1, 0);
    } else {
        if (n > sizeof(zeros))
            n = sizeof(zeros);
        r = bus_write(tp, 0x00, zeros, n, ATECC_BUS_FLAG_IGNORE_NAK);
    }
    if (r == ATECC_TP_UNSUPPORTED)
        return r;
    return ATECC_TP_OK;
}

enum atecc_tp_result atecc_tp_read_raw(struct atecc_transport *tp, uint8_t *buf, size_t len)
{
    return bus_read(tp, buf, len);
}

enum atecc_tp_result atecc_tp_idle(struct atecc_transport *tp)
{
    uint8_t word = ATECC_WORD_IDLE;

    return bus_write(tp, tp->addr7, &word, 1, 0);
}

enum atecc_tp_result atecc_tp_sleep(struct atecc_transport *tp)
{
    uint8_t word = ATECC_WORD_SLEEP;

    return bus_write(tp, tp->addr7, &word, 1, 0);
}

enum atecc_tp_result atecc_tp_send(struct atecc_transport *tp, const uint8_t *packet, size_t len)
{
    uint8_t frame[1 + ATECC_CMD_MAX];

    if (len == 0 || len > ATECC_CMD_MAX)
        return ATECC_TP_IO;
    frame[0] = ATECC_WORD_COMMAND;
    memcpy(frame + 1, packet, len);
    return bus_write(tp, tp->addr7, frame, len + 1, 0);
}

enum atecc_tp_result atecc_tp_receive(struct atecc_transport *tp, uint8_t *buf, size_t cap,
                                      size_t *len)
{
    uint8_t word = ATECC_WORD_RESET;
    enum atecc_tp_result r;

    *len = 0;
    if (cap < ATECC_RSP_MIN)
        return ATECC_TP_BAD_COUNT;
    /* A NAK here is the normal "still executing" answer. */
    r = bus_write(tp, tp->addr7, &word, 1, 0);
    if (r != ATECC_TP_OK)
        return r;
    r = bus_read(tp, buf, 1);
    if (r != ATECC_TP_OK)
        return r;
    /* Never trust the count byte before checking it against the buffer. */
    if (buf[0] < ATECC_RSP_MIN || buf[0] > cap)
        return ATECC_TP_BAD_COUNT;
    r = bus_read(tp, buf + 1, (size_t)buf[0] - 1);
    if (r != ATECC_TP_OK)
        return r;
    *len = buf[0];
    return ATECC_TP_OK;
}

const char *atecc_tp_last_error(const struct atecc_transport *tp)
{
    const char *msg = NULL;

    if (tp->ops != NULL && tp->ops->last_error != NULL)
        msg = tp->ops->last_error(tp->ctx);
    return msg != NULL ? msg : "bus transaction failed";
}

void atecc_tp_close(struct atecc_transport *tp)
{
    if (tp->owns_ctx && tp->ops != NULL && tp->ops->close != NULL)
        tp->ops->close(tp->ctx);
    tp->ctx = NULL;
    tp->ops = NULL;
}
