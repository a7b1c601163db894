/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command execution (see exec.h): wake, watchdog avoidance, send, polling,
 * retries, wake windows under the bus lock.
 */
#include "exec.h"

#include <stdio.h>
#include <string.h>

#include "atecc608/crc.h"
#include "command.h"

enum {
    /* Poll interval while the chip executes: short, so a response is
     * picked up within ~1 ms of being ready (scaled like chip time). */
    ATECC_POLL_US = 1000,
    ATECC_POLL_FLOOR_US = 50,
    /* Poll interval when a response was not there at the time learned
     * from earlier runs of the same opcode: finer, so it is picked up
     * within ~0.25 ms (a 2-byte poll costs 0.18 ms of bus time at 100 kHz,
     * so finer would only fill the bus). */
    ATECC_POLL_FINE_US = 250,
    /* Fine polling lasts this long past the learned time, then 1 ms polls
     * take over (a slower mode of the same opcode, a slower part). */
    ATECC_POLL_FINE_SPAN_US = 3000,
    /* Learning (ready.h) stops probing once it has bracketed the ready
     * time this tightly: the first poll then lands at most this long
     * after the response is ready. Host jitter (scheduling, the bus
     * adapter) is of the same order, so finer would only add probes. */
    ATECC_READY_RESOLUTION_US = 50,
    /* Host-side slack on the response deadline (scheduler, USB adapters, a
     * loaded host). Generous on purpose: polling stops as soon as the
     * response is there, so the margin only delays the verdict on a chip
     * that never answers. */
    ATECC_DEADLINE_MARGIN_US = 250000,
    /* Chip time kept free before the watchdog for reading the response. */
    ATECC_WATCHDOG_GUARD_MS = 10,
    /* Budget for an opcode the timing table does not know: the host
     * library's whole polling budget. */
    ATECC_UNKNOWN_OPCODE_MAX_MS = 2500,
};

static bool ecc_heavy(uint8_t opcode)
{
    switch (opcode) {
    case ATECC_OP_GENKEY:
    case ATECC_OP_SIGN:
    case ATECC_OP_VERIFY:
    case ATECC_OP_ECDH:
    case ATECC_OP_SELFTEST:
    case ATECC_OP_KDF:
    case ATECC_OP_SECUREBOOT:
        return true;
    default:
        return false;
    }
}

/*
 * CHOICE (typical times are not published): the first poll comes after a
 * fraction of the maximum that sits below any plausible typical time, so
 * the driver rarely oversleeps and polling (1 ms) picks up the rest.
 * The 608B's ECC engine is the faster one, so its fractions are lower.
 * An unknown model gets the lower table.
 */
static unsigned typical_percent(enum atecc_chip_model model, uint8_t opcode)
{
    bool heavy = ecc_heavy(opcode);

    if (model == ATECC_MODEL_608A)
        return heavy ? 50 : 30;
    return heavy ? 40 : 25;
}

uint64_t atecc_exec_max_us(const struct atecc_device *dev, uint8_t opcode)
{
    unsigned ms = atecc_max_exec_ms(opcode, dev->divider);

    if (ms == 0)
        ms = ATECC_UNKNOWN_OPCODE_MAX_MS;
    return atecc_chip_us(dev, ms);
}

uint64_t atecc_exec_first_poll_us(const struct atecc_device *dev, uint8_t opcode)
{
    return atecc_exec_max_us(dev, opcode) * typical_percent(dev->model, opcode) / 100u;
}

static uint64_t scaled_poll(const struct atecc_device *dev, unsigned base_us)
{
    uint64_t us = (uint64_t)(base_us * dev->tp.time_scale);

    return us < ATECC_POLL_FLOOR_US ? ATECC_POLL_FLOOR_US : us;
}

static uint64_t poll_us(const struct atecc_device *dev)
{
    return scaled_poll(dev, ATECC_POLL_US);
}

/*
 * Offset from the end of the command write to the first poll. Naive: the
 * maximum. Unlearned: a fraction of the maximum below any plausible
 * typical time (typical_percent). Learned: ready.h's schedule, never
 * later than the fastest response seen for this opcode. Polling early is
 * always safe (a busy chip NAKs); learning only saves polls and detection
 * latency, it can never make a command fail.
 */
static uint64_t first_poll_us(const struct atecc_device *dev, uint8_t opcode, unsigned flags)
{
    uint64_t learned;

    if (flags & ATECC_EXEC_NAIVE)
        return atecc_exec_max_us(dev, opcode);
    learned = atecc_ready_first_poll(&dev->ready[opcode], ATECC_READY_RESOLUTION_US);
    return learned != 0 ? learned : atecc_exec_first_poll_us(dev, opcode);
}

static void learn_ready(struct atecc_device *dev, uint8_t opcode,
                        const struct atecc_ready_run *run, uint64_t elapsed, unsigned flags)
{
    dev->stats.chip_busy_us += elapsed;
    /* A naive wait of the maximum says nothing about the ready time. */
    if (flags & ATECC_EXEC_NAIVE)
        return;
    atecc_ready_learn(&dev->ready[opcode], run, elapsed);
}

/* Microseconds from wake to the watchdog minimum; UINT64_MAX when the
 * bus runs the chip's time at scale 0 (its watchdog never fires). */
static uint64_t watchdog_us(const struct atecc_device *dev)
{
    bool long_wd = dev->config_valid &&
                   (dev->config[ATECC_CFG_CHIP_MODE] & ATECC_CHIPMODE_LONG_WATCHDOG) != 0;

    if (dev->tp.time_scale <= 0.0)
        return UINT64_MAX;
    return atecc_chip_us(dev, long_wd ? ATECC_WATCHDOG_LONG_MS : ATECC_WATCHDOG_MIN_MS);
}

static uint64_t twhi_us(const struct atecc_device *dev)
{
    bool selftest = dev->config_valid &&
                    (atecc_cfg_u16(dev, ATECC_CFG_CHIP_OPTIONS) & ATECC_CHIPOPT_POWERON_SELFTEST);
    uint64_t us = selftest ? ATECC_T_WHI_SELFTEST_US : ATECC_T_WHI_US;

    return (uint64_t)((double)us * dev->tp.time_scale);
}

static void sync_bus_bytes(struct atecc_device *dev)
{
    dev->stats.bus_bytes = dev->tp.bus_bytes;
}

atecc_err atecc_do_idle(struct atecc_device *dev)
{
    enum atecc_tp_result r = atecc_tp_idle(&dev->tp);

    dev->stats.idles++;
    sync_bus_bytes(dev);
    /* A NAK means asleep or busy: either way not awake for our purposes. */
    dev->state = ATECC_IDLE;
    if (r == ATECC_TP_IO)
        return atecc_fail(dev, ATECC_E_BUS, "idle at %s: %s", dev->interface,
                          atecc_tp_last_error(&dev->tp));
    return ATECC_OK;
}

atecc_err atecc_do_sleep(struct atecc_device *dev)
{
    enum atecc_tp_result r = atecc_tp_sleep(&dev->tp);

    dev->stats.sleeps++;
    sync_bus_bytes(dev);
    dev->state = ATECC_ASLEEP;
    if (r == ATECC_TP_IO)
        return atecc_fail(dev, ATECC_E_BUS, "sleep at %s: %s", dev->interface,
                          atecc_tp_last_error(&dev->tp));
    return ATECC_OK;
}

static atecc_err wake(struct atecc_device *dev)
{
    static const uint8_t wake_ok[4] = ATECC_WAKE_RESPONSE;
    unsigned tries = dev->retries + 1;
    bool crc_bad = false;
    bool io_error = false;
    uint8_t buf[4];

    for (unsigned t = 0; t < tries; t++) {
        uint64_t t0;
        enum atecc_tp_result r;

        if (t > 0) {
            dev->stats.retries++;
            /* An awake chip that answered oddly would ignore the next
             * pulse: idle it first so the pulse really wakes it. */
            (void)atecc_tp_idle(&dev->tp);
        }
        t0 = atecc_now(dev);
        r = atecc_tp_wake_pulse(&dev->tp);
        dev->stats.wake_pulses++;
        if (r == ATECC_TP_UNSUPPORTED) {
            dev->state = ATECC_ASLEEP;
            sync_bus_bytes(dev);
            return atecc_fail(dev, ATECC_E_BUS, "%s", atecc_tp_last_error(&dev->tp));
        }
        atecc_sleep_for(dev, twhi_us(dev));
        r = atecc_tp_read_raw(&dev->tp, buf, sizeof(buf));
        sync_bus_bytes(dev);
        if (r == ATECC_TP_IO) {
            io_error = true;
            continue;
        }
        if (r != ATECC_TP_OK)
            continue;
        if (memcmp(buf, wake_ok, sizeof(buf)) == 0) {
            dev->state = ATECC_AWAKE;
            dev->wake_us = t0;  /* the watchdog runs from the pulse */
            return ATECC_OK;
        }
        if (buf[0] == ATECC_RSP_STATUS_COUNT && atecc_crc16_check(buf, sizeof(buf)) &&
            buf[1] == ATECC_STATUS_SELFTEST_ERROR) {
            dev->state = ATECC_AWAKE;
            dev->wake_us = t0;
            return atecc_fail(dev, ATECC_E_SELFTEST,
                              "the ATECC608 at %s answered the wake with status 0x07: its "
                              "power-on self-test failed and it is in failure mode",
                              dev->interface);
        }
        crc_bad = true;
    }
    dev->state = ATECC_ASLEEP;
    if (crc_bad)
        return atecc_fail(dev, ATECC_E_CRC,
                          "wake response at %s was garbled (CRC or content wrong) after %u tries",
                          dev->interface, tries);
    if (io_error)
        return atecc_fail(dev, ATECC_E_BUS, "bus error at %s after %u wake tries: %s",
                          dev->interface, tries, atecc_tp_last_error(&dev->tp));
    return atecc_fail(dev, ATECC_E_NO_DEVICE,
                      "no ATECC608 answered at %s (wake response missing after %u tries): "
                      "check wiring and the address", dev->interface, tries);
}

/* Awake, with budget_us left before the watchdog minimum (and a guard). */
static bool window_fits(struct atecc_device *dev, uint64_t budget_us)
{
    uint64_t limit = watchdog_us(dev);

    if (dev->state != ATECC_AWAKE)
        return false;
    if (limit == UINT64_MAX)
        return true;
    return atecc_now(dev) - dev->wake_us + budget_us + atecc_chip_us(dev, ATECC_WATCHDOG_GUARD_MS) <=
           limit;
}

/*
 * Fair sharing (buslock.h, "hand-over"): the bus changes hands between
 * wake windows. A holder with another process waiting yields
 *  - before it would open another wake window (it has had one already in
 *    this hold), and
 *  - at an operation boundary once it has held the bus for the shortest
 *    wake window there is (ATECC_WATCHDOG_MIN_MS, chip time), so a part
 *    with the long watchdog (~13 s windows) or a chip that never sleeps
 *    at time scale 0 cannot keep a waiter out for longer;
 * never in the middle of a Nonce and the command that uses it. Yielding
 * per signature instead would cost a wake (tWHI, the wake response) and a
 * lock round trip on every signature of both processes.
 */
/* Waits for the bus lock and starts a new hold. */
static atecc_err take_bus(struct atecc_device *dev)
{
    char detail[sizeof(dev->last_error)];
    atecc_err rc = atecc_buslock_acquire(&dev->lock, detail, sizeof(detail));

    if (rc != ATECC_OK)
        return atecc_fail(dev, rc, "%s", detail);
    dev->hold_start_us = atecc_now(dev);
    dev->hold_windows = 0;
    /* Another process may have used (and idled or slept) the chip while
     * we did not hold the lock. */
    if (dev->state == ATECC_AWAKE)
        dev->state = ATECC_IDLE;
    return ATECC_OK;
}

static atecc_err hand_over(struct atecc_device *dev)
{
    if (dev->state == ATECC_AWAKE)
        (void)atecc_do_idle(dev);
    atecc_buslock_yield(&dev->lock);
    dev->stats.bus_handovers = dev->lock.handovers;
    return take_bus(dev);
}

static bool should_hand_over(struct atecc_device *dev, bool new_window)
{
    if (dev->pair_pending || !atecc_buslock_contended(&dev->lock))
        return false;
    if (new_window)
        return dev->hold_windows > 0;
    return atecc_now(dev) - dev->hold_start_us >= atecc_chip_us(dev, ATECC_WATCHDOG_MIN_MS);
}

atecc_err atecc_exec_reserve(struct atecc_device *dev, uint64_t budget_us)
{
    uint64_t limit = watchdog_us(dev);
    atecc_err rc;

    if (dev->state == ATECC_AWAKE && limit != UINT64_MAX) {
        uint64_t elapsed = atecc_now(dev) - dev->wake_us;
        uint64_t guard = atecc_chip_us(dev, ATECC_WATCHDOG_GUARD_MS);

        /* The watchdog (0.7 s minimum) would put the chip to sleep and
         * lose the command; idle stops it and keeps TempKey. */
        if (elapsed + budget_us + guard > limit) {
            dev->stats.watchdog_avoided++;
            rc = atecc_do_idle(dev);
            if (rc != ATECC_OK)
                return rc;
        }
    }
    if (dev->state != ATECC_AWAKE) {
        if (should_hand_over(dev, true)) {
            rc = hand_over(dev);
            if (rc != ATECC_OK)
                return rc;
        }
        rc = wake(dev);
        if (rc == ATECC_OK)
            dev->hold_windows++;
        return rc;
    }
    return ATECC_OK;
}

atecc_err atecc_window_begin(struct atecc_device *dev)
{
    dev->pair_pending = dev->keep_window;
    dev->keep_window = false;
    if (atecc_buslock_held(&dev->lock)) {
        /* An operation boundary with the lock still ours (a busy signer,
         * a linger): go on in this window unless the hold has lasted
         * long enough and someone waits (see hand_over). Not right after
         * a Nonce left for this call: that must share its window. */
        return should_hand_over(dev, false) ? hand_over(dev) : ATECC_OK;
    }
    return take_bus(dev);
}

void atecc_window_end(struct atecc_device *dev)
{
    if (dev->state == ATECC_AWAKE)
        (void)atecc_do_idle(dev);
    atecc_buslock_release(&dev->lock);
}

bool atecc_err_transient(atecc_err err)
{
    switch (err) {
    case ATECC_E_BUS:
    case ATECC_E_TIMEOUT:
    case ATECC_E_RESPONSE:
    case ATECC_E_CRC:
    case ATECC_E_ECC_FAULT:
    case ATECC_E_CHIP_CRC:
    case ATECC_E_WATCHDOG:
    case ATECC_E_AFTER_WAKE:
        return true;
    default:
        return false;
    }
}

/* Waits for the next poll after one that found the chip busy. */
static void wait_next_poll(struct atecc_device *dev, uint64_t sent, uint64_t poll_start,
                           uint64_t expected, uint64_t fine_until,
                           const struct atecc_ready_run *run)
{
    if (expected != 0 && poll_start < sent + expected) {
        /* A probe below the learned time found the chip busy: the next
         * poll goes where the response was found before. */
        atecc_wait_until(dev, sent + expected);
        return;
    }
    /* Busy at the learned time itself: host jitter (when the write's end
     * was seen, when the chip saw the poll) is well under a poll
     * transaction, so the response is most likely there by the time a
     * poll sent at once reaches the chip. One such poll per command; then
     * the interval, so polls never fill the bus. */
    if (expected != 0 && run->misses == 1)
        return;
    atecc_sleep_for(dev, atecc_now(dev) < fine_until ? scaled_poll(dev, ATECC_POLL_FINE_US)
                                                     : poll_us(dev));
}

/* One send + poll + receive. raw gets the whole response. */
static atecc_err attempt(struct atecc_device *dev, const uint8_t *pkt, size_t pkt_len,
                         uint8_t *raw, size_t *raw_len, unsigned flags)
{
    uint8_t opcode = pkt[ATECC_PKT_OPCODE];
    bool naive = (flags & ATECC_EXEC_NAIVE) != 0;
    uint64_t max_us = atecc_exec_max_us(dev, opcode);
    uint64_t expected = naive ? 0 : atecc_ready_expected(&dev->ready[opcode]);
    struct atecc_ready_run run;
    uint64_t sent;
    uint64_t deadline;
    uint64_t fine_until = 0;
    uint64_t max_polls;
    enum atecc_tp_result r;
    atecc_err rc;

    *raw_len = 0;
    memset(&run, 0, sizeof(run));
    if ((flags & ATECC_EXEC_SAME_WINDOW) && !naive && !window_fits(dev, max_us))
        return atecc_fail(dev, ATECC_E_WATCHDOG,
                          "command 0x%02x no longer fits the wake window of the command that "
                          "prepared it at %s (the host was delayed)", opcode, dev->interface);
    rc = atecc_exec_reserve(dev, max_us);
    if (rc != ATECC_OK)
        return rc;
    r = atecc_tp_send(&dev->tp, pkt, pkt_len);
    sync_bus_bytes(dev);
    if (r != ATECC_TP_OK) {
        /* Not listening: asleep after a watchdog we did not see, or
         * confused. Idle so the next wake pulse is not wasted. */
        (void)atecc_do_idle(dev);
        return atecc_fail(dev, ATECC_E_BUS, "command 0x%02x not acknowledged at %s%s%s", opcode,
                          dev->interface, r == ATECC_TP_IO ? ": " : "",
                          r == ATECC_TP_IO ? atecc_tp_last_error(&dev->tp) : "");
    }
    dev->stats.commands++;
    sent = atecc_now(dev);
    deadline = sent + max_us + max_us / 10 + ATECC_DEADLINE_MARGIN_US;
    /* Fine polls are bounded too: at most the fine span's worth. */
    max_polls = (max_us + max_us / 10 + ATECC_DEADLINE_MARGIN_US) / poll_us(dev) + 64 +
                ATECC_POLL_FINE_SPAN_US * 4 / ATECC_POLL_FINE_US;
    if (expected != 0)
        fine_until = sent + expected + scaled_poll(dev, ATECC_POLL_FINE_SPAN_US);
    if (naive)
        atecc_sleep_for(dev, first_poll_us(dev, opcode, flags));  /* the baseline: plain sleep */
    else
        atecc_wait_until(dev, sent + first_poll_us(dev, opcode, flags));
    for (uint64_t n = 0;; n++) {
        uint64_t poll_start = atecc_now(dev);

        r = atecc_tp_receive(&dev->tp, raw, ATECC_RSP_MAX, raw_len);
        sync_bus_bytes(dev);
        if (r == ATECC_TP_OK) {
            learn_ready(dev, opcode, &run, poll_start - sent, flags);
            return ATECC_OK;
        }
        if (r == ATECC_TP_BAD_COUNT)
            return atecc_fail(dev, ATECC_E_RESPONSE,
                              "response to 0x%02x at %s has count byte %u (allowed 4..%d)",
                              opcode, dev->interface, raw[0], ATECC_RSP_MAX);
        if (r != ATECC_TP_NAK)
            return atecc_fail(dev, ATECC_E_BUS, "reading the response to 0x%02x at %s: %s",
                              opcode, dev->interface, atecc_tp_last_error(&dev->tp));
        if (atecc_now(dev) >= deadline || n >= max_polls) {
            (void)atecc_do_idle(dev);
            return atecc_fail(dev, ATECC_E_TIMEOUT,
                              "no response to command 0x%02x at %s within its maximum "
                              "execution time (%llu us) plus margin", opcode, dev->interface,
                              (unsigned long long)max_us);
        }
        dev->stats.polls++;
        atecc_ready_busy(&dev->ready[opcode], &run, poll_start - sent);
        wait_next_poll(dev, sent, poll_start, expected, fine_until, &run);
    }
}

atecc_err atecc_exec_give_up(struct atecc_device *dev, atecc_err rc, uint8_t opcode, unsigned tries)
{
    switch (rc) {
    case ATECC_E_CRC:
        return atecc_fail(dev, rc, "response CRC wrong after %u tries (command 0x%02x at %s)",
                          tries, opcode, dev->interface);
    case ATECC_E_ECC_FAULT:
        return atecc_fail(dev, rc, "ECC fault (status 0x05) on command 0x%02x after %u tries",
                          opcode, tries);
    case ATECC_E_CHIP_CRC:
        return atecc_fail(dev, rc,
                          "the chip reported a bad command CRC (status 0xFF) for 0x%02x after %u "
                          "tries: the bus is corrupting data", opcode, tries);
    case ATECC_E_WATCHDOG:
        return atecc_fail(dev, rc, "status 0xEE (watchdog about to expire) for 0x%02x after %u tries",
                          opcode, tries);
    case ATECC_E_AFTER_WAKE:
        return atecc_fail(dev, rc,
                          "the chip answered 0x%02x with its wake token (0x11) after %u tries: it "
                          "keeps resetting (power supply?)", opcode, tries);
    default: {
        char prev[sizeof(dev->last_error)];

        snprintf(prev, sizeof(prev), "%s", dev->last_error);
        return atecc_fail(dev, rc, "%s (after %u tries)", prev, tries);
    }
    }
}

atecc_err atecc_exec(struct atecc_device *dev, uint8_t opcode, uint8_t param1, uint16_t param2,
                     const uint8_t *data, size_t data_len, uint8_t *rsp, size_t rsp_cap,
                     size_t *rsp_len, unsigned flags)
{
    uint8_t pkt[ATECC_CMD_MAX];
    uint8_t raw[ATECC_RSP_MAX];
    size_t pkt_len = 0;
    size_t raw_len = 0;
    unsigned tries = (flags & ATECC_EXEC_NO_RESEND) ? 1 : dev->retries + 1;
    atecc_err rc;

    *rsp_len = 0;
    rc = atecc_cmd_build(pkt, sizeof(pkt), opcode, param1, param2, data, data_len, &pkt_len);
    if (rc != ATECC_OK)
        return atecc_fail(dev, rc, "command 0x%02x: %zu data bytes do not fit a packet", opcode,
                          data_len);
    for (unsigned t = 0; t < tries; t++) {
        const uint8_t *out = NULL;
        size_t out_len = 0;
        bool is_status = false;
        uint8_t status = 0;

        if (t > 0)
            dev->stats.retries++;
        rc = attempt(dev, pkt, pkt_len, raw, &raw_len, flags);
        /* The naive baseline idles after every command, whatever came of
         * it, so its next command pays a wake like a simple driver's. */
        if ((flags & ATECC_EXEC_NAIVE) && dev->state == ATECC_AWAKE)
            (void)atecc_do_idle(dev);
        /* The wake has its own retries; an unusable chip stays unusable. */
        if (rc == ATECC_E_NO_DEVICE || rc == ATECC_E_SELFTEST)
            goto cleanup;
        if (rc == ATECC_OK) {
            rc = atecc_rsp_parse(raw, raw_len, &out, &out_len, &is_status, &status);
            if (rc == ATECC_E_CRC)
                atecc_fail(dev, rc, "response CRC wrong (command 0x%02x)", opcode);
            else if (rc != ATECC_OK)
                atecc_fail(dev, rc, "malformed response to 0x%02x", opcode);
        }
        if (rc == ATECC_OK && is_status && status != ATECC_STATUS_SUCCESS) {
            rc = atecc_err_from_status(status);
            atecc_fail(dev, rc, "command 0x%02x at %s: %s", opcode, dev->interface,
                       atecc_strerror(rc));
            if (status == ATECC_STATUS_WATCHDOG_ABOUT_TO_EXPIRE ||
                status == ATECC_STATUS_AFTER_WAKE) {
                /* The chip's wake window is spent or it restarted: idle,
                 * and the next attempt wakes it afresh. */
                (void)atecc_do_idle(dev);
            }
        }
        if (rc == ATECC_OK) {
            if (out_len > rsp_cap) {
                rc = atecc_fail(dev, ATECC_E_RESPONSE,
                                "response to 0x%02x has %zu bytes, caller expected at most %zu",
                                opcode, out_len, rsp_cap);
                goto cleanup;
            }
            if (out_len > 0)
                memcpy(rsp, out, out_len);
            *rsp_len = out_len;
            goto cleanup;
        }
        if (!atecc_err_transient(rc))
            goto cleanup;
    }
    if (tries > 1)
        rc = atecc_exec_give_up(dev, rc, opcode, tries);
cleanup:
    /* raw may hold ECDH output or key material, pkt written key data. */
    explicit_bzero(raw, sizeof(raw));
    explicit_bzero(pkt, sizeof(pkt));
    return rc;
}
