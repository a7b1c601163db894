/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sign benchmark's emulator side (see sign_bench.h): atecc608-emu at
 * time scale 1, the module config that points at it, the chip's limit
 * from the emulator's own datasheet table, and the chip-side counters the
 * daemon answers the STATS request with, whatever the host stack.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atecc608/protocol.h"
#include "emu_datasheet.h" /* the emulated chip's own times: its limit */
#include "emu_stats_wire.h"
#include "sign_bench.h"

pid_t start_emu(const struct bench *b, unsigned bus_hz, bool long_wd, char *sock,
                size_t sock_len)
{
    char hz[16];
    char tf[16];
    pid_t pid;

    snprintf(sock, sock_len, "%s/emu-%u%s.sock", b->dir, bus_hz, long_wd ? "-longwd" : "");
    snprintf(hz, sizeof(hz), "%u", bus_hz);
    snprintf(tf, sizeof(tf), "%.2f", TYPICAL_FACTOR);
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        if (devnull >= 0)
            dup2(devnull, STDERR_FILENO);
        execl(b->emu, b->emu, "--socket", sock, "--time-scale", "1", "--bus-hz", hz,
              "--revision", "608b", "--typical-factor", tf,
              long_wd ? "--long-watchdog" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    for (unsigned i = 0; pid > 0 && i < 200; i++) {
        struct stat st;

        if (stat(sock, &st) == 0)
            return pid;
        /* An emulator that refuses its options exits at once. */
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        usleep(20000);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

void stop_emu(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static double bus_ms(unsigned bytes, unsigned bus_hz)
{
    return (double)(bytes + 1u) * 9.0 / bus_hz * 1e3;
}

/* One signature's floor on this bus: Nonce (pass-through, 32 bytes) and
 * Sign at the emulator's typical time, and the bus time of both command
 * writes (word address + packet) and both responses. */
double chip_exec_ms(void)
{
    return TYPICAL_FACTOR * (emu_exec_max_ms(ATECC_OP_NONCE, 0) + emu_exec_max_ms(ATECC_OP_SIGN, 0));
}

double chip_ms(unsigned bus_hz)
{
    double exec = chip_exec_ms();
    double bus = bus_ms(1 + ATECC_PKT_OVERHEAD + ATECC_DIGEST_SIZE, bus_hz) +
                 bus_ms(ATECC_RSP_STATUS_COUNT, bus_hz) + bus_ms(1 + ATECC_PKT_OVERHEAD, bus_hz) +
                 bus_ms(ATECC_P256_SIGNATURE_SIZE + 3, bus_hz);

    return exec + bus;
}

/* What the chip limit leaves out and the protocol needs: a response is
 * read as a word-address write (1 byte), a count read (1 byte) and a read
 * of the rest (shared/atecc608.md), 3 bus bytes more than one read of the
 * whole response; two responses per signature. */
double framing_ms(unsigned bus_hz)
{
    return 2.0 * 3.0 * 9.0 / bus_hz * 1e3;
}

/* verify: the module's verify_signatures (verify-after-sign); both
 * configurations of one emulator name the same token store. */
int write_config(const struct bench *b, const char *sock, unsigned bus_hz, bool long_wd,
                 bool verify, char *conf, size_t conf_len)
{
    FILE *f;

    snprintf(conf, conf_len, "%s/pkcs11-%u%s%s.json", b->dir, bus_hz, long_wd ? "-longwd" : "",
             verify ? "" : "-noverify");
    f = fopen(conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "{\"tokens\":[{\"label\":\"bench\",\"interface\":\"emu:%s@0x35\",\"key_slots\":[0],"
            "\"free_slots\":[2,3],\"store\":\"%s/token-%u%s\"}],\"log_level\":\"error\","
            "\"pin_kdf_iterations\":1000,\"verify_signatures\":%s,\"lock_dir\":\"%s\"}\n",
            sock, b->dir, bus_hz, long_wd ? "-longwd" : "", verify ? "true" : "false", b->dir);
    return fclose(f) == 0 ? 0 : -1;
}

int chip_stats(const char *sock, struct emu_stats *out)
{
    char err[512];

    if (emu_wire_stats_fetch(sock, 0, out, err, sizeof(err)) != 0) {
        fprintf(stderr, "trustlink-bench: %s\n", err);
        return -1;
    }
    return 0;
}

void chip_stats_sub(const struct emu_stats *a, const struct emu_stats *b, struct emu_stats *out)
{
    const uint64_t *pa = (const uint64_t *)a;
    const uint64_t *pb = (const uint64_t *)b;
    uint64_t *po = (uint64_t *)out;

    /* struct emu_stats is uint64_t counters only. */
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        po[i] = pa[i] - pb[i];
}
