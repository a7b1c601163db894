/* SPDX-License-Identifier: Apache-2.0 */
/*
 * STATS reply encoding, decoding and client (see emu_stats_wire.h).
 * Never trusts a reply: its length, layout version and counter count are
 * checked before a counter is read.
 */
#include "emu_stats_wire.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "atecc608/emu_wire.h"
#include "emu_datasheet.h"

enum { EMU_STATS_FETCH_TIMEOUT_MS = 10000 };

/* The counters in wire order: index enum emu_wire_stat. */
static uint64_t *stat_field(struct emu_stats *st, unsigned index)
{
    switch (index) {
    case EMU_WIRE_STAT_WAKE_PULSES: return &st->wake_pulses;
    case EMU_WIRE_STAT_WAKES: return &st->wakes;
    case EMU_WIRE_STAT_IGNORED_WAKES: return &st->ignored_wakes;
    case EMU_WIRE_STAT_TRANSACTIONS: return &st->transactions;
    case EMU_WIRE_STAT_BYTES_TO_CHIP: return &st->bytes_to_chip;
    case EMU_WIRE_STAT_BYTES_FROM_CHIP: return &st->bytes_from_chip;
    case EMU_WIRE_STAT_NAKS: return &st->naks;
    case EMU_WIRE_STAT_COMMANDS: return &st->commands;
    case EMU_WIRE_STAT_IDLES: return &st->idles;
    case EMU_WIRE_STAT_SLEEPS: return &st->sleeps;
    case EMU_WIRE_STAT_WATCHDOG_EXPIRIES: return &st->watchdog_expiries;
    case EMU_WIRE_STAT_BUSY_US: return &st->busy_us;
    case EMU_WIRE_STAT_FAULTS_INJECTED: return &st->faults_injected;
    default: return NULL;
    }
}

static const char *const stat_names[EMU_WIRE_STAT_COUNT] = {
    [EMU_WIRE_STAT_WAKE_PULSES] = "wake_pulses",
    [EMU_WIRE_STAT_WAKES] = "wakes",
    [EMU_WIRE_STAT_IGNORED_WAKES] = "ignored_wakes",
    [EMU_WIRE_STAT_TRANSACTIONS] = "transactions",
    [EMU_WIRE_STAT_BYTES_TO_CHIP] = "bytes_to_chip",
    [EMU_WIRE_STAT_BYTES_FROM_CHIP] = "bytes_from_chip",
    [EMU_WIRE_STAT_NAKS] = "naks",
    [EMU_WIRE_STAT_COMMANDS] = "commands",
    [EMU_WIRE_STAT_IDLES] = "idles",
    [EMU_WIRE_STAT_SLEEPS] = "sleeps",
    [EMU_WIRE_STAT_WATCHDOG_EXPIRIES] = "watchdog_expiries",
    [EMU_WIRE_STAT_BUSY_US] = "busy_us",
    [EMU_WIRE_STAT_FAULTS_INJECTED] = "faults_injected",
};

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (unsigned i = 8; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

size_t emu_wire_stats_encode(const struct emu_stats *st, uint8_t *buf, size_t cap)
{
    struct emu_stats copy = *st;
    size_t len = EMU_WIRE_STATS_PAYLOAD(EMU_WIRE_STAT_COUNT);
    uint8_t *p = buf + 8;

    if (cap < len)
        return 0;
    put32(buf, EMU_WIRE_STATS_LAYOUT);
    put32(buf + 4, EMU_WIRE_STAT_COUNT);
    for (unsigned i = 0; i < EMU_WIRE_STAT_COUNT; i++, p += 8)
        put64(p, *stat_field(&copy, i));
    for (unsigned op = 0; op < EMU_WIRE_STATS_OPCODES; op++, p += 8)
        put64(p, st->by_opcode[op]);
    return len;
}

int emu_wire_stats_decode(const uint8_t *payload, size_t len, struct emu_stats *out, char *err,
                          size_t err_len)
{
    uint32_t layout;
    uint32_t n;
    const uint8_t *p;

    memset(out, 0, sizeof(*out));
    if (len < 8) {
        snprintf(err, err_len, "STATS reply of %zu bytes is shorter than its 8-byte header", len);
        return -1;
    }
    layout = get32(payload);
    n = get32(payload + 4);
    if (layout != EMU_WIRE_STATS_LAYOUT) {
        snprintf(err, err_len, "STATS reply has layout %u, this client reads layout %u", layout,
                 (unsigned)EMU_WIRE_STATS_LAYOUT);
        return -1;
    }
    if (n < EMU_WIRE_STAT_COUNT || n > (EMU_WIRE_PAYLOAD_MAX - 8u) / 8u ||
        len != EMU_WIRE_STATS_PAYLOAD(n)) {
        snprintf(err, err_len, "malformed STATS reply: %u counters in %zu bytes (need at least %u "
                 "counters, %u bytes for %u)", n, len, (unsigned)EMU_WIRE_STAT_COUNT,
                 n <= (EMU_WIRE_PAYLOAD_MAX - 8u) / 8u ? EMU_WIRE_STATS_PAYLOAD(n) : 0u, n);
        return -1;
    }
    p = payload + 8;
    for (unsigned i = 0; i < EMU_WIRE_STAT_COUNT; i++, p += 8)
        *stat_field(out, i) = get64(p);
    p = payload + 8 + 8u * n;
    for (unsigned op = 0; op < EMU_WIRE_STATS_OPCODES; op++, p += 8)
        out->by_opcode[op] = get64(p);
    out->bus_bytes = out->bytes_to_chip + out->bytes_from_chip;
    return 0;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads exactly len bytes before deadline_ms. 0 ok, 1 EOF, -1 error or
 * timeout (errno set). */
static int recv_exact(int fd, uint8_t *buf, size_t len, uint64_t deadline_ms)
{
    while (len > 0) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        uint64_t now = mono_ms();
        ssize_t n;
        int ready;

        if (now >= deadline_ms) {
            errno = ETIMEDOUT;
            return -1;
        }
        ready = poll(&pfd, 1, (int)(deadline_ms - now));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (ready < 0)
            return -1;
        n = recv(fd, buf, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int emu_wire_stats_fetch(const char *socket_path, unsigned timeout_ms, struct emu_stats *out,
                         char *err, size_t err_len)
{
    static const uint8_t request[EMU_WIRE_REQUEST_HEADER] = { EMU_WIRE_OP_STATS, 0, 0, 0, 0, 0 };
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    uint8_t header[EMU_WIRE_REPLY_HEADER];
    uint8_t payload[EMU_WIRE_PAYLOAD_MAX + 1];
    uint64_t deadline = mono_ms() + (timeout_ms != 0 ? timeout_ms : EMU_STATS_FETCH_TIMEOUT_MS);
    size_t len;
    int fd = -1;
    int rc = -1;
    int r;

    if (strlen(socket_path) >= sizeof(addr.sun_path)) {
        snprintf(err, err_len, "socket path too long (%zu bytes, at most %zu): %.200s...",
                 strlen(socket_path), sizeof(addr.sun_path) - 1, socket_path);
        return -1;
    }
    memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) != 0) {
        snprintf(err, err_len, "cannot connect to the emulator at %s: %s", socket_path,
                 strerror(errno));
        goto cleanup;
    }
    if (send(fd, request, sizeof(request), MSG_NOSIGNAL) != (ssize_t)sizeof(request)) {
        snprintf(err, err_len, "cannot send STATS to %s: %s", socket_path, strerror(errno));
        goto cleanup;
    }
    r = recv_exact(fd, header, sizeof(header), deadline);
    if (r != 0) {
        snprintf(err, err_len, "no STATS reply from %s: %s", socket_path,
                 r > 0 ? "connection closed" : strerror(errno));
        goto cleanup;
    }
    len = (size_t)header[2] | (size_t)header[3] << 8;
    if (header[1] != 0 || len > EMU_WIRE_PAYLOAD_MAX) {
        snprintf(err, err_len, "malformed reply header from %s", socket_path);
        goto cleanup;
    }
    if (len > 0 && recv_exact(fd, payload, len, deadline) != 0) {
        snprintf(err, err_len, "STATS reply from %s cut short", socket_path);
        goto cleanup;
    }
    if (header[0] == EMU_WIRE_ERROR) {
        for (size_t i = 0; i < len; i++)
            if (payload[i] < 0x20 || payload[i] > 0x7E)
                payload[i] = '?';
        payload[len] = '\0';
        snprintf(err, err_len, "the emulator at %s refused STATS (%s): an emulator without the "
                 "stats request?", socket_path, (const char *)payload);
        goto cleanup;
    }
    if (header[0] != EMU_WIRE_ACK) {
        snprintf(err, err_len, "unexpected STATS result %u from %s", header[0], socket_path);
        goto cleanup;
    }
    rc = emu_wire_stats_decode(payload, len, out, err, err_len);
cleanup:
    if (fd >= 0)
        close(fd);
    return rc;
}

void emu_stats_print(FILE *out, const struct emu_stats *st)
{
    struct emu_stats copy = *st;

    for (unsigned i = 0; i < EMU_WIRE_STAT_COUNT; i++)
        fprintf(out, "%s %" PRIu64 "\n", stat_names[i], *stat_field(&copy, i));
    for (unsigned op = 0; op < EMU_WIRE_STATS_OPCODES; op++) {
        const char *name = emu_opcode_name((uint8_t)op);

        if (st->by_opcode[op] == 0)
            continue;
        if (name != NULL)
            fprintf(out, "command.%s %" PRIu64 "\n", name, st->by_opcode[op]);
        else
            fprintf(out, "command.0x%02x %" PRIu64 "\n", op, st->by_opcode[op]);
    }
}
