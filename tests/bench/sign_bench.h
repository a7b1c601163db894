/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sign benchmark's parts (see sign_bench.c for what it measures):
 *   sign_bench.c   options, phases (thread callers in one process), report
 *   bench_p11.c    the PKCS#11 side, run in forked children
 *   bench_emu.c    the emulator: start/stop, module config, the chip's
 *                  limit, chip-side counters (the daemon's STATS request)
 *   bench_share.c  fairness between processes, verify-after-sign cost
 *   bench_util.c   clock, percentiles, stats lines (shared with tls_bench.c)
 */
#ifndef TRUSTLINK_SIGN_BENCH_H
#define TRUSTLINK_SIGN_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <p11-kit/pkcs11.h>

#include "bench_util.h"
#include "emu.h"

enum {
    MAX_THREADS = 16,
    MAX_SIGS = 4096,
    MAX_PHASES = 32,
};

#define SO_PIN "bench-so-pin"
#define USER_PIN "bench-user-pin"
#define TYPICAL_FACTOR 0.6
/* Targets, compared in the summary lines. */
#define TARGET_RATIO 0.95
#define TARGET_OVERHEAD_MS 1.0
#define TARGET_WAKE_PER_SIG 0.05
#define TARGET_FIRST_SIGN_WINDOWS 2.0
#define TARGET_SHARE_DEVIATION 0.10
#define TARGET_VERIFY_COST 0.01

/* The driver's own counters (host side, benchmark build of the driver). */
struct counters {
    double wake_pulses, idles, commands, bus_bytes, polls, retries, signatures, batches,
        batch_max, batch_sum, watchdog_avoided, linger_hits, chip_busy_us;
};

struct phase {
    char policy[8];
    unsigned threads;
    unsigned sigs;          /* measured signatures in total */
    unsigned failures;
    double seconds;
    double p50_ms, p99_ms, max_ms;
    struct counters c;      /* measured part only */
    struct emu_stats chip;  /* what the emulated chip saw, measured part only */
};

struct bench {
    const char *module;
    const char *emu;
    const char *out;
    char dir[64];
    unsigned bus[4];
    unsigned n_bus;
    unsigned threads[4];
    unsigned n_threads;
    unsigned sigs;
    unsigned naive_sigs;
    bool long_watchdog;     /* also run the --long-watchdog emulator */
    bool verify_cost;       /* tuned at the most callers with verify_signatures off/on */
    unsigned verify_rounds;
    bool fairness;          /* two processes on one chip */
    unsigned fair_seconds;
};

/* Two processes on one chip (bench_share.c). */
struct fair_result {
    bool ran;
    unsigned failures;
    /* Process B's first C_SignInit + C_Sign while A signs flat out: wall
     * time, and wake windows (chip-side wakes during the call + the window
     * A had open when B asked). Then from B's dlopen to that signature. */
    double first_ms, first_windows;
    double startup_ms, startup_windows;
    /* Both signing flat out over the same interval. */
    double seconds;
    unsigned sigs[2];
    double share[2];          /* each process's rate / the chip limit */
    double alone;             /* one process alone, same run: rate / limit */
    double wake_pulses_per_sig; /* chip side, over the interval */
};

/* verify_signatures off and on, alternated (bench_share.c). */
struct verify_result {
    bool ran;
    unsigned rounds, threads;
    double rate_on, rate_off;     /* totals over all rounds */
    double cost;                  /* 1 - on/off from the totals */
    double on_min, on_max, off_min, off_max;
    double cost_min, cost_max, cost_sd; /* per-round paired costs */
};

/* One emulator's worth of phases. */
struct emu_run {
    unsigned bus_hz;
    bool long_watchdog;
    bool share_phases;        /* fairness and verify cost on this emulator */
    struct phase ph[MAX_PHASES];
    unsigned n;
    struct fair_result fair;
    struct verify_result verify;
};

/* bench_p11.c */
struct p11 {
    void *lib;
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
};

int p11_load(struct p11 *p, const char *module);
void p11_unload(struct p11 *p);
int init_token(const char *module);
/* Opens a session and finds the private key (the user is logged in). */
CK_RV p11_session_key(struct p11 *p, CK_SESSION_HANDLE *h, CK_OBJECT_HANDLE *key);
CK_RV p11_login(struct p11 *p, CK_SESSION_HANDLE *login);
CK_RV sign_once(struct p11 *p, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, unsigned id,
                unsigned n);
/* One measurement in this (child) process: threads x per_thread
 * signatures; writes "failures seconds p50 p99 max" to out_fd. */
int run_child(const char *module, unsigned threads, unsigned per_thread, int out_fd);

/* bench_emu.c */
pid_t start_emu(const struct bench *b, unsigned bus_hz, bool long_wd, char *sock,
                size_t sock_len);
void stop_emu(pid_t pid);
/* One signature's floor on this bus (ms) and what response framing adds. */
double chip_ms(unsigned bus_hz);
double chip_exec_ms(void);
double framing_ms(unsigned bus_hz);
int write_config(const struct bench *b, const char *sock, unsigned bus_hz, bool long_wd,
                 bool verify, char *conf, size_t conf_len);
/* The emulator's counters (STATS); 0 or -1 with a message on stderr. */
int chip_stats(const char *sock, struct emu_stats *out);
/* a - b, counter by counter. */
void chip_stats_sub(const struct emu_stats *a, const struct emu_stats *b, struct emu_stats *out);

/* sign_bench.c */
int run_phase(const struct bench *b, const char *sock, const char *policy, unsigned threads,
              unsigned per_thread, struct phase *ph);
const char *verdict(bool met);

/* bench_share.c: each runs on the emulator at sock, prints its lines with
 * every target met or MISSED, and keeps its figures for the JSON. */
/* alone: one process's share of the limit signing alone with one caller
 * in this run (tuned, 1 thread), the baseline of the shared interval. */
int run_fairness(const struct bench *b, const char *sock, double limit, double alone,
                 struct fair_result *out);
int run_verify_cost(const struct bench *b, const char *sock, unsigned bus_hz, double limit,
                    struct verify_result *out);
/* ,"fairness":{...} and ,"verify_after_sign":{...} (nothing if not ran). */
void json_fairness(FILE *f, const struct fair_result *r);
void json_verify(FILE *f, const struct verify_result *r);

#endif
