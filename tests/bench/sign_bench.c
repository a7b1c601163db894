/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sign benchmark: N threads x M signatures through C_Sign of
 * libtrustlink-pkcs11.so against an atecc608-emu daemon running the
 * datasheet timing in real time (time scale 1, ATECC608B, a chosen bus
 * speed), for the TUNED and NAIVE driver policies in the same run.
 *
 * How it measures, and why that is honest:
 *  - The module is loaded exactly as any application loads it (dlopen +
 *    C_GetFunctionList), one session per thread, logged in, CKM_ECDSA on
 *    32-byte digests. Each phase runs in its own forked process, so the
 *    module and the driver start fresh and the policy is picked by the
 *    documented environment variable TRUSTLINK_SIGN_POLICY at open.
 *  - Throughput and latency are wall-clock times of C_SignInit + C_Sign
 *    calls, after one unmeasured warm-up signature per thread.
 *  - Wake pulses, idles, bus bytes, batches come from the driver's own
 *    counters of the device that served C_Sign: the driver appends them at
 *    atecc_close (C_Finalize) to $TRUSTLINK_ATECC_STATS. Each phase runs
 *    twice, once with the warm-up only and once with warm-up + measured
 *    signatures; the difference is what the measured signatures cost.
 *  - Beside them, the chip's side of the same runs: the emulator's own
 *    counters (wake pulses, transactions, bytes each way, NAKs, commands
 *    by opcode), read with the daemon's STATS request before and after
 *    each child. They do not depend on the host stack being instrumented.
 *  - The chip's limit comes from the emulator's own timing table
 *    (emu_exec_max_ms times the typical factor passed to the emulator)
 *    plus the bus time of the Nonce and Sign packets and their responses,
 *    (bytes + 1) x 9 bits / bus speed: one signature can never take less
 *    on that bus.
 *  - At the first bus speed, two separate processes share the chip
 *    (fairness) and verify-after-sign is measured off and on, alternated
 *    (bench_share.c).
 *  - One more emulator runs with --long-watchdog (ChipMode bit 2, ~13 s):
 *    the tuned policy at the first bus speed, to show what the wake count
 *    is when the watchdog is no floor. It models a custom-provisioned
 *    part; Trust&GO parts ship with the short watchdog, so it is reported
 *    apart from the main table.
 *
 * Usage: trustlink-bench --module LIB --emu EMU [--out FILE.json]
 *        [--bus 100000,400000] [--threads 1,4] [--sigs M] [--naive-sigs M]
 *        [--long-watchdog on|off] [--verify-cost on|off] [--verify-rounds R]
 *        [--fairness on|off] [--fair-seconds S]
 * Never a CTest test: it runs in real time (~2 min with the defaults).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atecc608/protocol.h"
#include "emu_datasheet.h"
#include "sign_bench.h"

/* ---- helpers ---------------------------------------------------------- */

static int parse_list(const char *s, unsigned *out, unsigned max, unsigned *n)
{
    char *copy = strdup(s);
    char *save = NULL;
    int rc = 0;

    *n = 0;
    if (copy == NULL)
        return -1;
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (*n >= max) {
            rc = -1;
            break;
        }
        out[(*n)++] = (unsigned)strtoul(tok, NULL, 10);
    }
    free(copy);
    return *n > 0 ? rc : -1;
}

static void counters_from_line(const char *line, struct counters *c)
{
    c->wake_pulses = json_num(line, "wake_pulses", 0.0);
    c->idles = json_num(line, "idles", 0.0);
    c->commands = json_num(line, "commands", 0.0);
    c->bus_bytes = json_num(line, "bus_bytes", 0.0);
    c->polls = json_num(line, "polls", 0.0);
    c->retries = json_num(line, "retries", 0.0);
    c->signatures = json_num(line, "signatures", 0.0);
    c->batches = json_num(line, "batches", 0.0);
    c->batch_max = json_num(line, "batch_max", 0.0);
    c->batch_sum = json_num(line, "batch_sum", 0.0);
    c->watchdog_avoided = json_num(line, "watchdog_avoided", 0.0);
    c->linger_hits = json_num(line, "linger_hits", 0.0);
    c->chip_busy_us = json_num(line, "chip_busy_us", 0.0);
}


/* ---- phases ----------------------------------------------------------- */

/* Forks a child that runs one measurement with the policy in its
 * environment; returns its result line and the driver's counters. */
static int run_phase_once(const struct bench *b, const char *sock, const char *policy,
                          unsigned threads, unsigned per_thread, char *result, size_t result_len,
                          struct counters *c, struct emu_stats *chip)
{
    struct emu_stats chip_before;
    struct emu_stats chip_after;
    char stats[128];
    char line[2048];
    int fds[2];
    pid_t pid;
    int status = 0;
    ssize_t n;

    snprintf(stats, sizeof(stats), "%s/stats-%s-%u-%u.jsonl", b->dir, policy, threads, per_thread);
    unlink(stats);
    if (chip_stats(sock, &chip_before) != 0 || pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        setenv("TRUSTLINK_SIGN_POLICY", policy, 1);
        setenv("TRUSTLINK_ATECC_STATS", stats, 1);
        _exit(run_child(b->module, threads, per_thread, fds[1]));
    }
    close(fds[1]);
    n = read(fds[0], result, result_len - 1);
    close(fds[0]);
    result[n > 0 ? n : 0] = '\0';
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n <= 0 ||
        chip_stats(sock, &chip_after) != 0)
        return -1;
    chip_stats_sub(&chip_after, &chip_before, chip);
    if (read_last_line(stats, line, sizeof(line)) != 0) {
        fprintf(stderr, "trustlink-bench: no driver counters in %s\n", stats);
        return -1;
    }
    counters_from_line(line, c);
    return 0;
}

int run_phase(const struct bench *b, const char *sock, const char *policy, unsigned threads,
              unsigned per_thread, struct phase *ph)
{
    char base_res[256];
    char res[256];
    struct counters base;
    struct counters full;
    struct emu_stats chip_base;
    struct emu_stats chip_full;
    double *fb = (double *)&base;
    double *ff = (double *)&full;
    double *fo = (double *)&ph->c;

    memset(ph, 0, sizeof(*ph));
    snprintf(ph->policy, sizeof(ph->policy), "%s", policy);
    ph->threads = threads;
    ph->sigs = threads * per_thread;
    /* Warm-up only: what opening, logging in and the first signatures cost. */
    if (run_phase_once(b, sock, policy, threads, 0, base_res, sizeof(base_res), &base,
                       &chip_base) != 0 ||
        run_phase_once(b, sock, policy, threads, per_thread, res, sizeof(res), &full,
                       &chip_full) != 0)
        return -1;
    chip_stats_sub(&chip_full, &chip_base, &ph->chip);
    for (size_t i = 0; i < sizeof(full) / sizeof(double); i++)
        fo[i] = ff[i] - fb[i];
    ph->c.batch_max = full.batch_max;
    if (sscanf(res, "%u %lf %lf %lf %lf", &ph->failures, &ph->seconds, &ph->p50_ms, &ph->p99_ms,
               &ph->max_ms) != 5)
        return -1;
    return 0;
}

/* ---- report ----------------------------------------------------------- */

static double per_sig(double v, const struct phase *ph)
{
    return ph->sigs ? v / ph->sigs : 0;
}

/* A chip counter of the measured part: the full run's count minus the
 * warm-up run's, two separate runs, so a noisy counter (NAKs: polls of a
 * busy chip) can come out below zero; it wrapped as uint64_t. */
static double chip_per_sig(uint64_t v, const struct phase *ph)
{
    return per_sig((double)(int64_t)v, ph);
}

/* The opcodes the chip saw per signature, "nonce 1.00 sign 1.00 ...". */
static void format_opcodes(char *out, size_t cap, const struct phase *ph)
{
    size_t len = 0;

    out[0] = '\0';
    for (unsigned op = 0; op < 256 && len < cap; op++) {
        const char *name = emu_opcode_name((uint8_t)op);
        double count = chip_per_sig(ph->chip.by_opcode[op], ph);
        int n;

        if (ph->chip.by_opcode[op] == 0)
            continue;
        n = name != NULL ? snprintf(out + len, cap - len, "%s%s %.2f", len ? " " : "", name, count)
                         : snprintf(out + len, cap - len, "%s0x%02x %.2f", len ? " " : "", op, count);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

static void print_phase(FILE *out, const struct phase *ph, double limit)
{
    double rate = ph->seconds > 0 ? ph->sigs / ph->seconds : 0;
    char ops[256];

    fprintf(out, "  %-6s %2u thr %4u sigs %3u fail  %6.2f sig/s (%.3f x limit)  p50 %7.1f ms"
                 "  p99 %7.1f ms  wake/sig %.3f  bus B/sig %6.1f  batches %.0f (max %.0f)\n",
            ph->policy, ph->threads, ph->sigs, ph->failures, rate, rate / limit, ph->p50_ms,
            ph->p99_ms, per_sig(ph->c.wake_pulses, ph), per_sig(ph->c.bus_bytes, ph),
            ph->c.batches, ph->c.batch_max);
    format_opcodes(ops, sizeof(ops), ph);
    fprintf(out, "         chip side per signature: wake pulses %.3f  transactions %.1f  bytes to "
                 "chip %.1f, from chip %.1f  NAKs %.2f  commands: %s\n",
            chip_per_sig(ph->chip.wake_pulses, ph), chip_per_sig(ph->chip.transactions, ph),
            chip_per_sig(ph->chip.bytes_to_chip, ph),
            chip_per_sig(ph->chip.bytes_from_chip, ph), chip_per_sig(ph->chip.naks, ph), ops);
}

static void json_phase(FILE *f, const struct phase *ph, double limit, bool last)
{
    double rate = ph->seconds > 0 ? ph->sigs / ph->seconds : 0;

    fprintf(f,
            "      {\"policy\":\"%s\",\"threads\":%u,\"signatures\":%u,\"failures\":%u,"
            "\"seconds\":%.3f,\"sig_per_s\":%.3f,\"ratio_to_limit\":%.4f,\"p50_ms\":%.2f,"
            "\"p99_ms\":%.2f,\"max_ms\":%.2f,\"wake_pulses_per_sig\":%.4f,\"idles_per_sig\":%.4f,"
            "\"bus_bytes_per_sig\":%.1f,\"polls_per_sig\":%.2f,\"retries\":%.0f,"
            "\"watchdog_rewakes\":%.0f,\"batches\":%.0f,\"batch_max\":%.0f,\"mean_batch\":%.2f,"
            "\"linger_hits\":%.0f,\"chip_busy_ms_per_sig\":%.2f,\"chip_side\":{"
            "\"wake_pulses_per_sig\":%.4f,\"transactions_per_sig\":%.2f,"
            "\"bytes_to_chip_per_sig\":%.2f,\"bytes_from_chip_per_sig\":%.2f,"
            "\"naks_per_sig\":%.3f,\"nonce_per_sig\":%.3f,\"sign_per_sig\":%.3f,"
            "\"commands_per_sig\":%.3f}}%s\n",
            ph->policy, ph->threads, ph->sigs, ph->failures, ph->seconds, rate, rate / limit,
            ph->p50_ms, ph->p99_ms, ph->max_ms, per_sig(ph->c.wake_pulses, ph),
            per_sig(ph->c.idles, ph), per_sig(ph->c.bus_bytes, ph), per_sig(ph->c.polls, ph),
            ph->c.retries, ph->c.watchdog_avoided, ph->c.batches, ph->c.batch_max,
            ph->c.batches > 0 ? ph->c.batch_sum / ph->c.batches : 0, ph->c.linger_hits,
            per_sig(ph->c.chip_busy_us, ph) / 1e3, chip_per_sig(ph->chip.wake_pulses, ph),
            chip_per_sig(ph->chip.transactions, ph), chip_per_sig(ph->chip.bytes_to_chip, ph),
            chip_per_sig(ph->chip.bytes_from_chip, ph), chip_per_sig(ph->chip.naks, ph),
            chip_per_sig(ph->chip.by_opcode[ATECC_OP_NONCE], ph),
            chip_per_sig(ph->chip.by_opcode[ATECC_OP_SIGN], ph),
            chip_per_sig(ph->chip.commands, ph), last ? "" : ",");
}

static const struct phase *find_phase(const struct phase *ph, unsigned n, const char *policy,
                                      unsigned threads)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(ph[i].policy, policy) == 0 && ph[i].threads == threads)
            return &ph[i];
    return NULL;
}

static double rate_of(const struct phase *ph)
{
    return ph != NULL && ph->seconds > 0 ? ph->sigs / ph->seconds : 0;
}

const char *verdict(bool met)
{
    return met ? "met" : "MISSED";
}

static double wake_per_sig(const struct phase *ph)
{
    return ph != NULL ? per_sig(ph->c.wake_pulses, ph) : 0;
}

/* Starts one emulator, makes its token and runs its phases: tuned, and
 * naive unless it is the long-watchdog emulator, for each caller count.
 * 1: the emulator did not start; -1: something else failed. */
static int run_emulator(const struct bench *b, struct emu_run *run, double limit)
{
    char sock[128];
    char conf[160];
    unsigned policies = run->long_watchdog ? 1 : 2;
    pid_t emu = start_emu(b, run->bus_hz, run->long_watchdog, sock, sizeof(sock));
    int rc = -1;

    run->n = 0;
    if (emu < 0)
        return 1;
    if (write_config(b, sock, run->bus_hz, run->long_watchdog, true, conf, sizeof(conf)) != 0)
        goto cleanup;
    setenv("TRUSTLINK_PKCS11_CONF", conf, 1);
    if (init_token(b->module) != 0) {
        fprintf(stderr, "trustlink-bench: token init failed\n");
        goto cleanup;
    }
    for (unsigned pi = 0; pi < policies; pi++) {
        const char *policy = pi == 0 ? "tuned" : "naive";

        for (unsigned ti = 0; ti < b->n_threads; ti++) {
            unsigned per = pi == 0 ? b->sigs : b->naive_sigs;

            if (run_phase(b, sock, policy, b->threads[ti], per, &run->ph[run->n]) != 0) {
                fprintf(stderr, "trustlink-bench: phase %s x%u failed\n", policy, b->threads[ti]);
                goto cleanup;
            }
            print_phase(stdout, &run->ph[run->n], limit);
            fflush(stdout);
            run->n++;
        }
    }
    memset(&run->fair, 0, sizeof(run->fair));
    memset(&run->verify, 0, sizeof(run->verify));
    if (run->share_phases && b->fairness &&
        run_fairness(b, sock, limit, rate_of(find_phase(run->ph, run->n, "tuned", 1)) / limit,
                     &run->fair) != 0) {
        fprintf(stderr, "trustlink-bench: fairness phases failed\n");
        goto cleanup;
    }
    if (run->share_phases && b->verify_cost &&
        run_verify_cost(b, sock, run->bus_hz, limit, &run->verify) != 0) {
        fprintf(stderr, "trustlink-bench: verify-after-sign phases failed\n");
        goto cleanup;
    }
    rc = 0;
cleanup:
    stop_emu(emu);
    return rc;
}

/* The phases' targets, each on its own line (fairness and verify cost
 * print theirs as they run). */
static void print_targets(const struct bench *b, const struct emu_run *run, double cms,
                          double limit)
{
    unsigned tmax = b->threads[b->n_threads - 1];
    const struct phase *t4 = find_phase(run->ph, run->n, "tuned", tmax);
    const struct phase *n4 = find_phase(run->ph, run->n, "naive", tmax);
    const struct phase *t1 = find_phase(run->ph, run->n, "tuned", 1);

    if (t4 != NULL && n4 != NULL)
        printf("  => %u callers: tuned %.3f x limit (target >= %.2f: %s); tuned/naive %.2fx "
               "(target > 1: %s)\n",
               tmax, rate_of(t4) / limit, TARGET_RATIO,
               verdict(rate_of(t4) / limit >= TARGET_RATIO), rate_of(t4) / rate_of(n4),
               verdict(rate_of(t4) > rate_of(n4)));
    if (t1 != NULL)
        printf("  => 1 caller, tuned: p50 %.2f ms - chip %.2f ms = overhead %+.2f ms (target <= "
               "%.0f ms: %s); response framing (3 bus bytes per response) is %.2f ms of it\n",
               t1->p50_ms, cms, t1->p50_ms - cms, TARGET_OVERHEAD_MS,
               verdict(t1->p50_ms - cms <= TARGET_OVERHEAD_MS), framing_ms(run->bus_hz));
    if (t4 != NULL)
        printf("  => wake pulses per signature at %u callers %.3f (target < %.2f: %s)%s\n", tmax,
               wake_per_sig(t4), TARGET_WAKE_PER_SIG,
               verdict(wake_per_sig(t4) < TARGET_WAKE_PER_SIG),
               wake_per_sig(t4) < TARGET_WAKE_PER_SIG || run->long_watchdog
                   ? ""
                   : " - the Trust&GO short watchdog's floor; see the long-watchdog run");
}

static void json_run(FILE *f, const struct bench *b, const struct emu_run *run, double cms,
                     double limit)
{
    unsigned tmax = b->threads[b->n_threads - 1];
    const struct phase *t4 = find_phase(run->ph, run->n, "tuned", tmax);
    const struct phase *n4 = find_phase(run->ph, run->n, "naive", tmax);
    const struct phase *t1 = find_phase(run->ph, run->n, "tuned", 1);

    fprintf(f,
            "{\"bus_hz\":%u,\"long_watchdog\":%s,\"chip_ms_per_sig\":%.3f,"
            "\"limit_sig_per_s\":%.3f,\"tuned_over_limit\":%.4f,\"tuned_over_naive\":%.3f,"
            "\"single_caller_p50_over_chip_ms\":%.3f,\"single_caller_overhead_met\":%s,"
            "\"response_framing_ms\":%.3f,\"wake_pulses_per_sig_at_max_callers\":%.4f",
            run->bus_hz, run->long_watchdog ? "true" : "false", cms, limit, rate_of(t4) / limit,
            rate_of(n4) > 0 ? rate_of(t4) / rate_of(n4) : 0, t1 ? t1->p50_ms - cms : 0,
            t1 != NULL && t1->p50_ms - cms <= TARGET_OVERHEAD_MS ? "true" : "false",
            framing_ms(run->bus_hz), wake_per_sig(t4));
    json_fairness(f, &run->fair);
    json_verify(f, &run->verify);
    fprintf(f, ",\"phases\":[\n");
    for (unsigned i = 0; i < run->n; i++)
        json_phase(f, &run->ph[i], limit, i + 1 == run->n);
    fprintf(f, "    ]}");
}

static int usage(void)
{
    fprintf(stderr, "usage: trustlink-bench --module LIBTRUSTLINK_PKCS11 --emu ATECC608_EMU "
                    "[--out FILE.json] [--bus 100000,400000] [--threads 1,4] [--sigs M] "
                    "[--naive-sigs M] [--long-watchdog on|off] [--verify-cost on|off] "
                    "[--verify-rounds R] [--fairness on|off] [--fair-seconds S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct bench b;
    struct emu_run run;
    FILE *json = NULL;
    int rc = 1;

    memset(&b, 0, sizeof(b));
    memset(&run, 0, sizeof(run));
    b.bus[0] = 100000;
    b.bus[1] = 400000;
    b.n_bus = 2;
    b.threads[0] = 1;
    b.threads[1] = 4;
    b.n_threads = 2;
    b.sigs = 12;
    b.naive_sigs = 6;
    b.long_watchdog = true;
    b.verify_cost = true;
    b.verify_rounds = 4;
    b.fairness = true;
    b.fair_seconds = 12;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            return usage();
        if (strcmp(argv[i], "--module") == 0)
            b.module = v;
        else if (strcmp(argv[i], "--emu") == 0)
            b.emu = v;
        else if (strcmp(argv[i], "--out") == 0)
            b.out = v;
        else if (strcmp(argv[i], "--bus") == 0 ? parse_list(v, b.bus, 4, &b.n_bus) != 0 : 0)
            return usage();
        else if (strcmp(argv[i], "--threads") == 0 ? parse_list(v, b.threads, 4, &b.n_threads) != 0 : 0)
            return usage();
        else if (strcmp(argv[i], "--sigs") == 0)
            b.sigs = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--naive-sigs") == 0)
            b.naive_sigs = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--verify-cost") == 0 && v != NULL && strcmp(v, "on") == 0)
            b.verify_cost = true;
        else if (strcmp(argv[i], "--verify-cost") == 0 && v != NULL && strcmp(v, "off") == 0)
            b.verify_cost = false;
        else if (strcmp(argv[i], "--verify-rounds") == 0)
            b.verify_rounds = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--fairness") == 0 && strcmp(v, "on") == 0)
            b.fairness = true;
        else if (strcmp(argv[i], "--fairness") == 0 && strcmp(v, "off") == 0)
            b.fairness = false;
        else if (strcmp(argv[i], "--fair-seconds") == 0)
            b.fair_seconds = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "--long-watchdog") == 0 && strcmp(v, "on") == 0)
            b.long_watchdog = true;
        else if (strcmp(argv[i], "--long-watchdog") == 0 && strcmp(v, "off") == 0)
            b.long_watchdog = false;
        else if (strcmp(argv[i], "--bus") != 0 && strcmp(argv[i], "--threads") != 0)
            return usage();
        i++;
    }
    if (b.module == NULL || b.emu == NULL || b.sigs == 0 || b.naive_sigs == 0 ||
        b.verify_rounds == 0 || b.verify_rounds > 32 || b.fair_seconds == 0)
        return usage();
    snprintf(b.dir, sizeof(b.dir), "/tmp/trustlink-bench-XXXXXX");
    if (mkdtemp(b.dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    if (b.out != NULL && (json = fopen(b.out, "w")) == NULL) {
        perror(b.out);
        goto cleanup;
    }
    if (json != NULL)
        fprintf(json,
                "{\n  \"chip\":\"ATECC608B (atecc608-emu, time scale 1, typical factor %.2f)\",\n"
                "  \"targets\":{\"tuned_over_limit_min\":%.2f,\"single_caller_overhead_ms_max\":"
                "%.1f,\"wake_pulses_per_sig_max\":%.2f},\n  \"runs\":[\n",
                TYPICAL_FACTOR, TARGET_RATIO, TARGET_OVERHEAD_MS, TARGET_WAKE_PER_SIG);
    for (unsigned bi = 0; bi < b.n_bus; bi++) {
        double cms = chip_ms(b.bus[bi]);
        double limit = 1e3 / cms;
        double exec = chip_exec_ms();

        printf("bus %u Hz: chip limit %.2f sig/s (%.2f ms per signature: Nonce+Sign %.1f ms "
               "at typical factor %.2f + bus %.2f ms)\n",
               b.bus[bi], limit, cms, exec, TYPICAL_FACTOR, cms - exec);
        fflush(stdout);
        run.bus_hz = b.bus[bi];
        run.long_watchdog = false;
        run.share_phases = bi == 0;
        if (run_emulator(&b, &run, limit) != 0) {
            fprintf(stderr, "trustlink-bench: the %u Hz run failed (%s)\n", b.bus[bi], b.emu);
            goto cleanup;
        }
        print_targets(&b, &run, cms, limit);
        if (json != NULL) {
            fprintf(json, "    ");
            json_run(json, &b, &run, cms, limit);
            fprintf(json, "%s\n", bi + 1 == b.n_bus ? "" : ",");
        }
    }
    if (json != NULL)
        fprintf(json, "  ],\n");
    if (b.long_watchdog) {
        double cms = chip_ms(b.bus[0]);
        double limit = 1e3 / cms;
        int r;

        printf("long watchdog, bus %u Hz, tuned only: ChipMode bit 2 (~13 s), a custom-provisioned "
               "part; Trust&GO parts ship with the short watchdog of the runs above\n",
               b.bus[0]);
        fflush(stdout);
        run.bus_hz = b.bus[0];
        run.long_watchdog = true;
        run.share_phases = false;
        r = run_emulator(&b, &run, limit);
        if (r < 0)
            goto cleanup;
        if (r > 0) {
            printf("  skipped: %s did not start with --long-watchdog (an emulator without the "
                   "option?)\n", b.emu);
            if (json != NULL)
                fprintf(json, "  \"long_watchdog\":null,\n  \"long_watchdog_skipped\":\"the "
                              "emulator did not start with --long-watchdog\"\n");
        } else {
            print_targets(&b, &run, cms, limit);
            if (json != NULL) {
                fprintf(json, "  \"long_watchdog_note\":\"ChipMode bit 2 (~13 s watchdog): a "
                              "custom-provisioned part, not Trust&GO\",\n  \"long_watchdog\":");
                json_run(json, &b, &run, cms, limit);
                fprintf(json, "\n");
            }
        }
    } else if (json != NULL) {
        fprintf(json, "  \"long_watchdog\":null\n");
    }
    if (json != NULL)
        fprintf(json, "}\n");
    rc = 0;
cleanup:
    if (json != NULL)
        fclose(json);
    {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", b.dir);
    }
    return rc;
}
