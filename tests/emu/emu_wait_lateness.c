/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emu_wait_lateness: how late the emulator's real-time waits end, compared
 * with the bus time the model says each transaction takes.
 *
 * A measurement, not a test: it runs the chip on the real clock, so its
 * numbers depend on the host, and nothing asserts them (CTest never runs
 * it). It drives an in-process chip through emu_bus_write/emu_bus_read
 * with the signature sequence a polling host uses (wake, Nonce
 * pass-through, Sign, each answer polled for and read, idle) and reports:
 *
 *   transfers   lateness of the transactions a host makes per signature
 *               that execute no command (wake, reads, word addresses,
 *               idle): elapsed time minus the modelled (bytes + 1) x 9
 *               bits / bus speed x time scale. This is the emulator's wait
 *               and nothing else.
 *   polls       the same for the address probes sent while the chip is
 *               busy (NAKed until it is ready).
 *   commands    the same for command writes; these also include the CPU
 *               time of the command itself (P-256 signing), which the
 *               model does not count as bus time.
 *   ready       from the modelled end of execution (command write start +
 *               its bus time + typical execution time) to the end of the
 *               first acknowledged poll. The host sleeps until 1 ms before
 *               that moment, as a polling driver sleeps, then probes back
 *               to back, so it includes up to one probe of granularity.
 *
 * Usage: emu_wait_lateness [SIGNATURES [BUS_HZ [TIME_SCALE]]]
 *        (defaults 100, 100000, 1)
 * Owns nothing but its own chip; writes no files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atecc608/crc.h"
#include "atecc608/protocol.h"
#include "emu.h"
#include "emu_datasheet.h"
#include "emu_test_util.h"

/* The emulator's default typical/maximum factor (emu_timing.c). */
#define LATENESS_TYPICAL_FACTOR 0.6

/* 1 us buckets for the percentile; later ones land in the last bucket. */
enum { LATENESS_BUCKETS = 20000 };

/* Probing the whole execution time back to back would keep the process on
 * the CPU for ~70 ms per Sign and get it preempted like a batch job; a
 * driver sleeps instead. */
enum { LATENESS_PROBE_EARLY_NS = 1000000 };

struct lateness {
    const char *name;
    unsigned long long count;
    double sum_us;
    double max_us;
    unsigned long long buckets[LATENESS_BUCKETS];
};

struct run {
    struct emu_chip *chip;
    uint8_t addr;
    uint32_t bus_hz;
    double scale;
    struct lateness transfers;
    struct lateness polls;
    struct lateness commands;
    struct lateness ready;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void host_sleep_until_ns(uint64_t deadline_ns)
{
    struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000u),
                           .tv_nsec = (long)(deadline_ns % 1000000000u) };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

/* The model's bus time in ns, rounded as the emulator rounds it. */
static double model_bus_ns(const struct run *r, size_t bytes)
{
    uint64_t bits = ((uint64_t)bytes + 1u) * 9u;
    uint64_t us = (bits * 1000000u + r->bus_hz - 1u) / r->bus_hz;

    return (double)llround((double)us * r->scale) * 1000.0;
}

static void record(struct lateness *l, double late_ns)
{
    double late_us = late_ns / 1000.0;

    l->count++;
    l->sum_us += late_us;
    l->buckets[late_us <= 0.0 ? 0 : late_us >= LATENESS_BUCKETS - 1 ? LATENESS_BUCKETS - 1 : (size_t)late_us]++;
    if (l->count == 1 || late_us > l->max_us)
        l->max_us = late_us;
}

static enum emu_bus_result timed_write(struct run *r, struct lateness *l, uint8_t addr, const uint8_t *data,
                                       size_t len, unsigned flags, uint64_t *start_ns)
{
    uint64_t t0 = mono_ns();
    enum emu_bus_result result = emu_bus_write(r->chip, addr, data, len, flags);

    record(l, (double)(mono_ns() - t0) - model_bus_ns(r, len));
    if (start_ns != NULL)
        *start_ns = t0;
    return result;
}

static enum emu_bus_result timed_read(struct run *r, uint8_t *buf, size_t len)
{
    uint64_t t0 = mono_ns();
    enum emu_bus_result result = emu_bus_read(r->chip, r->addr, buf, len);

    record(&r->transfers, (double)(mono_ns() - t0) - model_bus_ns(r, len));
    return result;
}

/* Sends a command, polls until the chip answers, reads the response. */
static int command(struct run *r, uint8_t opcode, uint8_t param1, uint16_t param2, const uint8_t *data,
                   size_t len, uint8_t *rsp, size_t cap)
{
    uint8_t pkt[1 + ATECC_CMD_MAX];
    size_t pkt_len = t_frame(pkt, sizeof(pkt), opcode, param1, param2, data, len);
    uint64_t start_ns = 0;
    double ready_ns;

    if (timed_write(r, &r->commands, r->addr, pkt, pkt_len, 0, &start_ns) != EMU_BUS_ACK)
        return -1;
    ready_ns = (double)start_ns + model_bus_ns(r, pkt_len) +
               (double)llround((double)llround(emu_exec_max_ms(opcode, 0) * 1000.0 *
                                               LATENESS_TYPICAL_FACTOR) * r->scale) * 1000.0;
    if (ready_ns - LATENESS_PROBE_EARLY_NS > (double)mono_ns())
        host_sleep_until_ns((uint64_t)(ready_ns - LATENESS_PROBE_EARLY_NS));
    /* Back-to-back address probes: the first ACK marks readiness. */
    for (unsigned tries = 0;; tries++) {
        if (tries > 100000)
            return -1;
        if (timed_write(r, &r->polls, r->addr, NULL, 0, 0, NULL) == EMU_BUS_ACK)
            break;
    }
    record(&r->ready, (double)mono_ns() - ready_ns);
    pkt[0] = ATECC_WORD_RESET;
    if (timed_write(r, &r->transfers, r->addr, pkt, 1, 0, NULL) != EMU_BUS_ACK ||
        timed_read(r, rsp, 1) != EMU_BUS_ACK || rsp[0] < ATECC_RSP_MIN || rsp[0] > cap ||
        timed_read(r, rsp + 1, rsp[0] - 1u) != EMU_BUS_ACK || !atecc_crc16_check(rsp, rsp[0]))
        return -1;
    return rsp[0];
}

static int one_signature(struct run *r)
{
    static const uint8_t digest[32] = { 0x5A };
    static const uint8_t zeros[16] = { 0 };
    /* SDA low >= tWLO: 8 address bit times, plus 9 per extra zero byte. */
    uint64_t low_bits = ((uint64_t)ATECC_T_WLO_US * r->bus_hz + 999999u) / 1000000u;
    size_t extra = low_bits > 8 ? (size_t)((low_bits - 8 + 8) / 9) : 0;
    uint8_t idle = ATECC_WORD_IDLE;
    uint8_t rsp[ATECC_RSP_MAX];

    /* Wake: a write to address 0x00 (NAK expected), then tWHI. */
    (void)timed_write(r, &r->transfers, 0x00, zeros, 1 + extra, extra > 0 ? EMU_BUS_IGNORE_NAK : 0, NULL);
    host_sleep_until_ns(mono_ns() + (uint64_t)llround(ATECC_T_WHI_US * r->scale) * 1000u + 100000u);
    if (timed_read(r, rsp, 4) != EMU_BUS_ACK || rsp[1] != 0x11)
        return -1;
    if (command(r, ATECC_OP_NONCE, ATECC_NONCE_PASSTHROUGH, 0, digest, sizeof(digest), rsp, sizeof(rsp)) != 4 ||
        rsp[1] != ATECC_STATUS_SUCCESS)
        return -1;
    if (command(r, ATECC_OP_SIGN, ATECC_SIGN_EXTERNAL, 0, NULL, 0, rsp, sizeof(rsp)) != 67)
        return -1;
    return timed_write(r, &r->transfers, r->addr, &idle, 1, 0, NULL) == EMU_BUS_ACK ? 0 : -1;
}

/* Upper edge of the bucket holding the 99th percentile. */
static unsigned p99_us(const struct lateness *l)
{
    unsigned long long seen = 0;

    for (size_t i = 0; i < LATENESS_BUCKETS; i++) {
        seen += l->buckets[i];
        if (seen * 100 >= l->count * 99)
            return (unsigned)i + 1;
    }
    return LATENESS_BUCKETS;
}

static void report(const struct lateness *l)
{
    printf("  %-9s n=%-6llu mean %8.1f us  p99 <= %5u us  max %8.1f us\n", l->name, l->count,
           l->count > 0 ? l->sum_us / (double)l->count : 0.0, p99_us(l), l->max_us);
}

int main(int argc, char **argv)
{
    static struct run r = {
        .transfers = { .name = "transfers" },
        .polls = { .name = "polls" },
        .commands = { .name = "commands" },
        .ready = { .name = "ready" },
    };
    struct emu_options options;
    char err[256] = "";
    unsigned long signatures = argc > 1 ? strtoul(argv[1], NULL, 0) : 100;
    uint64_t t0;
    int rc = 1;

    memset(&options, 0, sizeof(options));
    options.profile = EMU_PROFILE_TRUSTANDGO;
    options.bus_hz = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 100000u;
    options.time_scale = argc > 3 ? strtod(argv[3], NULL) : 1.0;
    options.seed = 1;
    r.chip = emu_chip_open(&options, err, sizeof(err));
    if (r.chip == NULL) {
        fprintf(stderr, "emu_wait_lateness: %s\n", err);
        goto cleanup;
    }
    r.addr = emu_chip_address(r.chip);
    r.bus_hz = emu_chip_bus_hz(r.chip);
    r.scale = emu_chip_time_scale(r.chip);
    t0 = mono_ns();
    for (unsigned long i = 0; i < signatures; i++) {
        if (one_signature(&r) != 0) {
            fprintf(stderr, "emu_wait_lateness: signature %lu failed\n", i + 1);
            goto cleanup;
        }
    }
    printf("emu_wait_lateness: %lu signatures, bus %u Hz, time scale %g, %.1f ms per signature\n",
           signatures, r.bus_hz, r.scale, (double)(mono_ns() - t0) / 1e6 / (double)(signatures ? signatures : 1));
    printf("  transfer lateness per signature: %.1f us\n",
           signatures > 0 ? r.transfers.sum_us / (double)signatures : 0.0);
    report(&r.transfers);
    report(&r.polls);
    report(&r.commands);
    report(&r.ready);
    rc = 0;
cleanup:
    emu_chip_close(r.chip);
    return rc;
}
