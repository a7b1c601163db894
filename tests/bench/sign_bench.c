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
 *  - The chip's limit comes from the timing table the emulator uses
 *    (atecc_max_exec_ms in atecc608/protocol.h times the typical factor
 *    passed to the emulator) plus the bus time of the Nonce and Sign
 *    packets and their responses, (bytes + 1) x 9 bits / bus speed: one
 *    signature can never take less on that bus.
 *
 *  - One more emulator runs with --long-watchdog (ChipMode bit 2, ~13 s):
 *    the tuned policy at the first bus speed, to show what the wake count
 *    is when the watchdog is no floor. It models a custom-provisioned
 *    part; Trust&GO parts ship with the short watchdog, so it is reported
 *    apart from the main table.
 *
 * Usage: trustlink-bench --module LIB --emu EMU [--out FILE.json]
 *        [--bus 100000,400000] [--threads 1,4] [--sigs M] [--naive-sigs M]
 *        [--long-watchdog on|off]
 * Never a CTest test: it runs in real time (~40 s with the defaults).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "atecc608/protocol.h"
#include "emu_datasheet.h" /* the emulated chip's own times: its limit */

enum {
    MAX_THREADS = 16,
    MAX_SIGS = 4096,
    MAX_PHASES = 32,
};

#define SO_PIN "bench-so-pin"
#define USER_PIN "bench-user-pin"
#define TYPICAL_FACTOR 0.6
/* Issue 6 targets, compared in the summary lines. */
#define TARGET_RATIO 0.95
#define TARGET_OVERHEAD_MS 1.0
#define TARGET_WAKE_PER_SIG 0.05

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
    bool verify_cost;       /* also run tuned at the most callers with verify_signatures off/on */
};

/* One emulator's worth of phases. */
struct emu_run {
    unsigned bus_hz;
    bool long_watchdog;
    struct phase ph[MAX_PHASES];
    unsigned n;
};

/* ---- helpers ---------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double percentile(double *v, unsigned n, double p)
{
    unsigned i;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    i = (unsigned)(p * (n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Reads "key":number from a JSON line the driver wrote. */
static double json_num(const char *line, const char *key)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(line, pat);
    return p != NULL ? strtod(p + strlen(pat), NULL) : 0.0;
}

static void counters_from_line(const char *line, struct counters *c)
{
    c->wake_pulses = json_num(line, "wake_pulses");
    c->idles = json_num(line, "idles");
    c->commands = json_num(line, "commands");
    c->bus_bytes = json_num(line, "bus_bytes");
    c->polls = json_num(line, "polls");
    c->retries = json_num(line, "retries");
    c->signatures = json_num(line, "signatures");
    c->batches = json_num(line, "batches");
    c->batch_max = json_num(line, "batch_max");
    c->batch_sum = json_num(line, "batch_sum");
    c->watchdog_avoided = json_num(line, "watchdog_avoided");
    c->linger_hits = json_num(line, "linger_hits");
    c->chip_busy_us = json_num(line, "chip_busy_us");
}

/* Last line of the stats file (the device closed last). */
static int read_last_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int found = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        snprintf(buf, len, "%s", line);
        found = 0;
    }
    fclose(f);
    return found;
}

/* ---- the PKCS#11 side (runs in a forked child) ------------------------ */

struct p11 {
    void *lib;
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
};

struct worker {
    struct p11 *p;
    unsigned id;
    unsigned warmup;
    unsigned count;
    pthread_barrier_t *start;
    double *lat;
    unsigned failures;
    CK_RV first_error;
    double t_end;
};

static int p11_load(struct p11 *p, const char *module)
{
    CK_C_GetFunctionList get = NULL;
    CK_SLOT_ID slots[4];
    CK_ULONG n = 4;
    CK_C_INITIALIZE_ARGS args;

    memset(p, 0, sizeof(*p));
    p->lib = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (p->lib == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", module, dlerror());
        return -1;
    }
    *(void **)&get = dlsym(p->lib, "C_GetFunctionList");
    if (get == NULL || get(&p->f) != CKR_OK)
        return -1;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    if (p->f->C_Initialize(&args) != CKR_OK)
        return -1;
    if (p->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0)
        return -1;
    p->slot = slots[0];
    return 0;
}

static void p11_unload(struct p11 *p)
{
    if (p->f != NULL)
        p->f->C_Finalize(NULL);
    if (p->lib != NULL)
        dlclose(p->lib);
}

static int init_token(const char *module)
{
    struct p11 p;
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE h;
    int rc = -1;

    if (p11_load(&p, module) != 0)
        goto cleanup;
    memset(label, ' ', sizeof(label));
    memcpy(label, "bench", 5);
    if (p.f->C_InitToken(p.slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label) != CKR_OK ||
        p.f->C_OpenSession(p.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) != CKR_OK ||
        p.f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)) != CKR_OK ||
        p.f->C_InitPIN(h, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) != CKR_OK)
        goto cleanup;
    p.f->C_CloseSession(h);
    rc = 0;
cleanup:
    p11_unload(&p);
    return rc;
}

static CK_OBJECT_HANDLE find_key(struct p11 *p, CK_SESSION_HANDLE h)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) } };
    CK_OBJECT_HANDLE out = CK_INVALID_HANDLE;
    CK_ULONG n = 0;

    if (p->f->C_FindObjectsInit(h, t, 1) != CKR_OK)
        return CK_INVALID_HANDLE;
    if (p->f->C_FindObjects(h, &out, 1, &n) != CKR_OK || n != 1)
        out = CK_INVALID_HANDLE;
    p->f->C_FindObjectsFinal(h);
    return out;
}

static CK_RV sign_once(struct p11 *p, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, unsigned id,
                       unsigned n)
{
    CK_MECHANISM mech = { CKM_ECDSA, NULL, 0 };
    CK_BYTE digest[32];
    CK_BYTE sig[64];
    CK_ULONG sig_len = sizeof(sig);
    CK_RV rv;

    for (unsigned i = 0; i < 32; i++)
        digest[i] = (CK_BYTE)(id * 131 + n * 17 + i);
    rv = p->f->C_SignInit(h, &mech, key);
    if (rv == CKR_OK)
        rv = p->f->C_Sign(h, digest, sizeof(digest), sig, &sig_len);
    if (rv == CKR_OK && sig_len != 64)
        rv = CKR_GENERAL_ERROR;
    return rv;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    CK_RV rv;

    rv = w->p->f->C_OpenSession(w->p->slot, CKF_SERIAL_SESSION, NULL, NULL, &h);
    if (rv == CKR_OK)
        key = find_key(w->p, h);
    if (key == CK_INVALID_HANDLE && rv == CKR_OK)
        rv = CKR_KEY_HANDLE_INVALID;
    for (unsigned n = 0; rv == CKR_OK && n < w->warmup; n++)
        rv = sign_once(w->p, h, key, w->id, 100000 + n);
    if (rv != CKR_OK) {
        w->first_error = rv;
        w->failures = w->count;
    }
    pthread_barrier_wait(w->start);
    for (unsigned n = 0; rv == CKR_OK && n < w->count; n++) {
        double t0 = now_s();
        CK_RV r = sign_once(w->p, h, key, w->id, n);

        w->lat[n] = (now_s() - t0) * 1e3;
        if (r != CKR_OK) {
            w->failures++;
            if (w->first_error == CKR_OK)
                w->first_error = r;
        }
    }
    w->t_end = now_s();
    if (h != CK_INVALID_HANDLE)
        w->p->f->C_CloseSession(h);
    return NULL;
}

/* One run in this (child) process: load, log in, warm up, measure. */
static int run_child(const char *module, unsigned threads, unsigned per_thread, int out_fd)
{
    struct p11 p;
    struct worker w[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    pthread_barrier_t start;
    CK_SESSION_HANDLE login = CK_INVALID_HANDLE;
    static double lat[MAX_SIGS];
    unsigned total = threads * per_thread;
    unsigned failures = 0;
    CK_RV first_error = CKR_OK;
    double t0;
    double t_end = 0;
    char line[256];
    int rc = 1;

    if (threads == 0 || threads > MAX_THREADS || total > MAX_SIGS)
        return 2;
    if (p11_load(&p, module) != 0) {
        fprintf(stderr, "trustlink-bench: the module did not initialise\n");
        goto cleanup;
    }
    if (p.f->C_OpenSession(p.slot, CKF_SERIAL_SESSION, NULL, NULL, &login) != CKR_OK ||
        p.f->C_Login(login, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) != CKR_OK) {
        fprintf(stderr, "trustlink-bench: login failed\n");
        goto cleanup;
    }
    pthread_barrier_init(&start, NULL, threads + 1);
    for (unsigned i = 0; i < threads; i++) {
        w[i] = (struct worker){ .p = &p, .id = i, .warmup = 1, .count = per_thread,
                                .start = &start, .lat = &lat[i * per_thread] };
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    pthread_barrier_wait(&start);
    t0 = now_s();
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
        if (first_error == CKR_OK)
            first_error = w[i].first_error;
        if (w[i].t_end > t_end)
            t_end = w[i].t_end;
    }
    pthread_barrier_destroy(&start);
    p.f->C_CloseSession(login);
    login = CK_INVALID_HANDLE;
    if (first_error != CKR_OK)
        fprintf(stderr, "trustlink-bench: C_Sign failed: CKR 0x%lx (%u failures)\n",
                (unsigned long)first_error, failures);
    snprintf(line, sizeof(line), "%u %.6f %.3f %.3f %.3f\n", failures, t_end - t0,
             percentile(lat, total, 0.50), percentile(lat, total, 0.99),
             percentile(lat, total, 1.0));
    if (write(out_fd, line, strlen(line)) != (ssize_t)strlen(line))
        goto cleanup;
    rc = 0;
cleanup:
    if (login != CK_INVALID_HANDLE)
        p.f->C_CloseSession(login);
    p11_unload(&p);  /* C_Finalize: the driver writes its counters */
    return rc;
}

/* Forks a child that runs one measurement with the policy in its
 * environment; returns its result line and the driver's counters. */
static int run_phase_once(const struct bench *b, const char *policy, unsigned threads,
                          unsigned per_thread, char *result, size_t result_len,
                          struct counters *c)
{
    char stats[128];
    char line[2048];
    int fds[2];
    pid_t pid;
    int status = 0;
    ssize_t n;

    snprintf(stats, sizeof(stats), "%s/stats-%s-%u-%u.jsonl", b->dir, policy, threads, per_thread);
    unlink(stats);
    if (pipe(fds) != 0)
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
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n <= 0)
        return -1;
    if (read_last_line(stats, line, sizeof(line)) != 0) {
        fprintf(stderr, "trustlink-bench: no driver counters in %s\n", stats);
        return -1;
    }
    counters_from_line(line, c);
    return 0;
}

static int run_phase(const struct bench *b, const char *policy, unsigned threads,
                     unsigned per_thread, struct phase *ph)
{
    char base_res[256];
    char res[256];
    struct counters base;
    struct counters full;
    double *fb = (double *)&base;
    double *ff = (double *)&full;
    double *fo = (double *)&ph->c;

    memset(ph, 0, sizeof(*ph));
    snprintf(ph->policy, sizeof(ph->policy), "%s", policy);
    ph->threads = threads;
    ph->sigs = threads * per_thread;
    /* Warm-up only: what opening, logging in and the first signatures cost. */
    if (run_phase_once(b, policy, threads, 0, base_res, sizeof(base_res), &base) != 0 ||
        run_phase_once(b, policy, threads, per_thread, res, sizeof(res), &full) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(full) / sizeof(double); i++)
        fo[i] = ff[i] - fb[i];
    ph->c.batch_max = full.batch_max;
    if (sscanf(res, "%u %lf %lf %lf %lf", &ph->failures, &ph->seconds, &ph->p50_ms, &ph->p99_ms,
               &ph->max_ms) != 5)
        return -1;
    return 0;
}

/* ---- the emulator and the chip's limit -------------------------------- */

static pid_t start_emu(const struct bench *b, unsigned bus_hz, bool long_wd, char *sock,
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

static void stop_emu(pid_t pid)
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
static double chip_ms(unsigned bus_hz)
{
    double exec = TYPICAL_FACTOR * (emu_exec_max_ms(ATECC_OP_NONCE, 0) +
                                    emu_exec_max_ms(ATECC_OP_SIGN, 0));
    double bus = bus_ms(1 + ATECC_PKT_OVERHEAD + ATECC_DIGEST_SIZE, bus_hz) +
                 bus_ms(ATECC_RSP_STATUS_COUNT, bus_hz) + bus_ms(1 + ATECC_PKT_OVERHEAD, bus_hz) +
                 bus_ms(ATECC_P256_SIGNATURE_SIZE + 3, bus_hz);

    return exec + bus;
}

/* What the chip limit leaves out and the protocol needs: a response is
 * read as a word-address write (1 byte), a count read (1 byte) and a read
 * of the rest (shared/atecc608.md), 3 bus bytes more than one read of the
 * whole response; two responses per signature. */
static double framing_ms(unsigned bus_hz)
{
    return 2.0 * 3.0 * 9.0 / bus_hz * 1e3;
}

/* verify: the module's verify_signatures (verify-after-sign); both
 * configurations of one emulator name the same token store. */
static int write_config(const struct bench *b, const char *sock, unsigned bus_hz, bool long_wd,
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

/* Verify-after-sign cost: tuned at the most callers with the check off
 * and on, alternated over VERIFY_COST_ROUNDS rounds on the same emulator
 * so load from elsewhere hits both alike; rates are totals over rounds. */
#define VERIFY_COST_ROUNDS 3
static int run_verify_cost(const struct bench *b, const char *sock, unsigned bus_hz, double limit)
{
    unsigned tmax = b->threads[b->n_threads - 1];
    double sigs[2] = {0, 0}, secs[2] = {0, 0}, rate[2];
    char conf[2][160];

    if (write_config(b, sock, bus_hz, false, false, conf[0], sizeof(conf[0])) != 0 ||
        write_config(b, sock, bus_hz, false, true, conf[1], sizeof(conf[1])) != 0)
        return -1;
    for (unsigned round = 0; round < VERIFY_COST_ROUNDS; round++) {
        for (unsigned verify = 0; verify < 2; verify++) {
            struct phase ph;
            setenv("TRUSTLINK_PKCS11_CONF", conf[verify], 1);
            if (run_phase(b, "tuned", tmax, b->sigs, &ph) != 0 || ph.failures > 0)
                return -1;
            sigs[verify] += ph.sigs;
            secs[verify] += ph.seconds;
        }
    }
    setenv("TRUSTLINK_PKCS11_CONF", conf[1], 1);
    rate[0] = secs[0] > 0 ? sigs[0] / secs[0] : 0;
    rate[1] = secs[1] > 0 ? sigs[1] / secs[1] : 0;
    printf("  verify-after-sign, tuned, %u callers, %u rounds: on %.3f sig/s (%.3f x limit), off %.3f "
           "sig/s (%.3f x limit): on/off %.4f, cost %.2f %% (expected < 1 %%)\n",
           tmax, VERIFY_COST_ROUNDS, rate[1], rate[1] / limit, rate[0], rate[0] / limit,
           rate[0] > 0 ? rate[1] / rate[0] : 0, rate[0] > 0 ? 100.0 * (1.0 - rate[1] / rate[0]) : 0);
    return 0;
}

/* ---- report ----------------------------------------------------------- */

static double per_sig(double v, const struct phase *ph)
{
    return ph->sigs ? v / ph->sigs : 0;
}

static void print_phase(FILE *out, const struct phase *ph, double limit)
{
    double rate = ph->seconds > 0 ? ph->sigs / ph->seconds : 0;

    fprintf(out, "  %-6s %2u thr %4u sigs %3u fail  %6.2f sig/s (%.3f x limit)  p50 %7.1f ms"
                 "  p99 %7.1f ms  wake/sig %.3f  bus B/sig %6.1f  batches %.0f (max %.0f)\n",
            ph->policy, ph->threads, ph->sigs, ph->failures, rate, rate / limit, ph->p50_ms,
            ph->p99_ms, per_sig(ph->c.wake_pulses, ph), per_sig(ph->c.bus_bytes, ph),
            ph->c.batches, ph->c.batch_max);
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
            "\"linger_hits\":%.0f,\"chip_busy_ms_per_sig\":%.2f}%s\n",
            ph->policy, ph->threads, ph->sigs, ph->failures, ph->seconds, rate, rate / limit,
            ph->p50_ms, ph->p99_ms, ph->max_ms, per_sig(ph->c.wake_pulses, ph),
            per_sig(ph->c.idles, ph), per_sig(ph->c.bus_bytes, ph), per_sig(ph->c.polls, ph),
            ph->c.retries, ph->c.watchdog_avoided, ph->c.batches, ph->c.batch_max,
            ph->c.batches > 0 ? ph->c.batch_sum / ph->c.batches : 0, ph->c.linger_hits,
            per_sig(ph->c.chip_busy_us, ph) / 1e3, last ? "" : ",");
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

static const char *verdict(bool met)
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

            if (run_phase(b, policy, b->threads[ti], per, &run->ph[run->n]) != 0) {
                fprintf(stderr, "trustlink-bench: phase %s x%u failed\n", policy, b->threads[ti]);
                goto cleanup;
            }
            print_phase(stdout, &run->ph[run->n], limit);
            fflush(stdout);
            run->n++;
        }
    }
    if (!run->long_watchdog && b->verify_cost && run_verify_cost(b, sock, run->bus_hz, limit) != 0) {
        fprintf(stderr, "trustlink-bench: verify-after-sign phases failed\n");
        goto cleanup;
    }
    rc = 0;
cleanup:
    stop_emu(emu);
    return rc;
}

/* The issue-6 targets, each on its own line, from this run's phases. */
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
            "\"response_framing_ms\":%.3f,\"wake_pulses_per_sig_at_max_callers\":%.4f,"
            "\"phases\":[\n",
            run->bus_hz, run->long_watchdog ? "true" : "false", cms, limit, rate_of(t4) / limit,
            rate_of(n4) > 0 ? rate_of(t4) / rate_of(n4) : 0, t1 ? t1->p50_ms - cms : 0,
            t1 != NULL && t1->p50_ms - cms <= TARGET_OVERHEAD_MS ? "true" : "false",
            framing_ms(run->bus_hz), wake_per_sig(t4));
    for (unsigned i = 0; i < run->n; i++)
        json_phase(f, &run->ph[i], limit, i + 1 == run->n);
    fprintf(f, "    ]}");
}

static int usage(void)
{
    fprintf(stderr, "usage: trustlink-bench --module LIBTRUSTLINK_PKCS11 --emu ATECC608_EMU "
                    "[--out FILE.json] [--bus 100000,400000] [--threads 1,4] [--sigs M] "
                    "[--naive-sigs M] [--long-watchdog on|off] [--verify-cost on|off]\n");
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
        else if (strcmp(argv[i], "--long-watchdog") == 0 && strcmp(v, "on") == 0)
            b.long_watchdog = true;
        else if (strcmp(argv[i], "--long-watchdog") == 0 && strcmp(v, "off") == 0)
            b.long_watchdog = false;
        else if (strcmp(argv[i], "--bus") != 0 && strcmp(argv[i], "--threads") != 0)
            return usage();
        i++;
    }
    if (b.module == NULL || b.emu == NULL || b.sigs == 0 || b.naive_sigs == 0)
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
        double exec = TYPICAL_FACTOR * (emu_exec_max_ms(ATECC_OP_NONCE, 0) +
                                        emu_exec_max_ms(ATECC_OP_SIGN, 0));

        printf("bus %u Hz: chip limit %.2f sig/s (%.2f ms per signature: Nonce+Sign %.1f ms "
               "at typical factor %.2f + bus %.2f ms)\n",
               b.bus[bi], limit, cms, exec, TYPICAL_FACTOR, cms - exec);
        fflush(stdout);
        run.bus_hz = b.bus[bi];
        run.long_watchdog = false;
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
