/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sign benchmark's sharing measurements (see sign_bench.h):
 *
 * Fairness between processes. Two separate processes (forked, each
 * dlopen-ing the module and calling C_Initialize with the same config,
 * so the same lock_dir and bus lock) sign on one emulated chip:
 *  1. A signs flat out (one session, back to back). After 1 s B starts
 *     from nothing: dlopen, C_Initialize, login, first C_Sign. B's first
 *     signature is timed, and counted in wake windows from the chip's
 *     side: the wakes the chip saw during the call, plus one for the
 *     window A had open when B asked (A is never idle, so there is one;
 *     counting it can only overstate). Target: <= 2 windows, i.e. B signs
 *     in the first window after A's.
 *  2. Both then sign flat out; over the same interval each one's rate is
 *     taken as a share of the chip's limit. Target: each within 10 % of
 *     an equal share (0.45-0.55 of the limit for two processes).
 *
 * Verify-after-sign cost: the tuned policy at the most callers with the
 * module's verify_signatures off and on, alternated round by round (the
 * order flips each round) on the same emulator, so load from elsewhere
 * hits both alike. The cost comes from the totals; the per-round paired
 * costs give the spread, printed so the noise is in plain sight.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sign_bench.h"

enum {
    FAIR_READY_TIMEOUT_MS = 60000,
    VERIFY_ROUNDS_MAX = 32,
};

#define FAIR_B_AFTER_S 1.0      /* A alone before B starts */
#define FAIR_SETTLE_S 3.0       /* B's start-up, before the shared interval */

struct fair_times {
    double b_start, share_start, share_end;
};

static void sleep_until(double t)
{
    double left = t - now_s();

    if (left > 0) {
        struct timespec ts = { .tv_sec = (time_t)left,
                               .tv_nsec = (long)((left - (double)(time_t)left) * 1e9) };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}

/* Signs until share_end; counts the signatures that completed inside
 * [share_start, share_end]. */
static void sign_until(struct p11 *p, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, unsigned id,
                       const struct fair_times *t, unsigned *count, unsigned *failures)
{
    for (unsigned n = 0; now_s() < t->share_end; n++) {
        CK_RV rv = sign_once(p, h, key, id, n);
        double done = now_s();

        if (rv != CKR_OK)
            (*failures)++;
        else if (done >= t->share_start && done <= t->share_end)
            (*count)++;
    }
}

static void fair_child_end(struct p11 *p, CK_SESSION_HANDLE h, CK_SESSION_HANDLE login)
{
    if (p->f != NULL && h != CK_INVALID_HANDLE)
        p->f->C_CloseSession(h);
    if (p->f != NULL && login != CK_INVALID_HANDLE)
        p->f->C_CloseSession(login);
    p11_unload(p);
}

/* Process A: warm up, say ready, learn the times, sign flat out. */
static int fair_child_a(const char *module, int ready_fd, int times_fd, int result_fd)
{
    struct p11 p;
    struct fair_times t;
    CK_SESSION_HANDLE login = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key;
    unsigned count = 0;
    unsigned failures = 0;
    int rc = 1;

    if (p11_load(&p, module) != 0 || p11_login(&p, &login) != CKR_OK ||
        p11_session_key(&p, &h, &key) != CKR_OK || sign_once(&p, h, key, 0, 999999) != CKR_OK) {
        fprintf(stderr, "trustlink-bench: fairness: process A could not start signing\n");
        goto cleanup;
    }
    if (write(ready_fd, "R", 1) != 1 || read(times_fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
        goto cleanup;
    sign_until(&p, h, key, 0, &t, &count, &failures);
    if (dprintf(result_fd, "%u %u\n", count, failures) > 0)
        rc = 0;
cleanup:
    fair_child_end(&p, h, login);
    return rc;
}

/* Process B: from nothing to its first signature while A signs, timed
 * and counted in chip-side wakes; then flat out like A. */
static int fair_child_b(const char *module, const char *sock, const struct fair_times *t,
                        int result_fd)
{
    struct p11 p;
    struct emu_stats at_start;
    struct emu_stats at_sign;
    struct emu_stats at_done;
    CK_SESSION_HANDLE login = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key;
    double t0, t1, t2;
    unsigned count = 0;
    unsigned failures = 0;
    int rc = 1;

    memset(&p, 0, sizeof(p));
    sleep_until(t->b_start);
    if (chip_stats(sock, &at_start) != 0)
        return 1;
    t0 = now_s();
    if (p11_load(&p, module) != 0 || p11_login(&p, &login) != CKR_OK ||
        p11_session_key(&p, &h, &key) != CKR_OK) {
        fprintf(stderr, "trustlink-bench: fairness: process B could not open the token while A "
                        "signs\n");
        goto cleanup;
    }
    if (chip_stats(sock, &at_sign) != 0)
        goto cleanup;
    t1 = now_s();
    if (sign_once(&p, h, key, 1, 999999) != CKR_OK) {
        fprintf(stderr, "trustlink-bench: fairness: process B's first signature failed\n");
        goto cleanup;
    }
    t2 = now_s();
    if (chip_stats(sock, &at_done) != 0)
        goto cleanup;
    sign_until(&p, h, key, 1, t, &count, &failures);
    if (dprintf(result_fd, "%u %u %.3f %.0f %.3f %.0f\n", count, failures, (t2 - t1) * 1e3,
                (double)(at_done.wakes - at_sign.wakes) + 1.0, (t2 - t0) * 1e3,
                (double)(at_done.wakes - at_start.wakes) + 1.0) > 0)
        rc = 0;
cleanup:
    fair_child_end(&p, h, login);
    return rc;
}

static bool wait_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, timeout_ms) == 1;
}

static ssize_t read_line(int fd, char *buf, size_t cap)
{
    size_t len = 0;

    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

static void reap(pid_t pid, int *ok)
{
    int status = 0;

    if (pid <= 0)
        return;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        *ok = 0;
}

int run_fairness(const struct bench *b, const char *sock, double limit, double alone,
                 struct fair_result *out)
{
    int ready[2] = { -1, -1 }, times[2] = { -1, -1 }, res_a[2] = { -1, -1 }, res_b[2] = { -1, -1 };
    struct fair_times t;
    struct emu_stats s0;
    struct emu_stats s1;
    pid_t a = -1;
    pid_t pb = -1;
    char line_a[128];
    char line_b[256];
    char r;
    int ok = 1;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (pipe(ready) != 0 || pipe(times) != 0 || pipe(res_a) != 0 || pipe(res_b) != 0)
        goto cleanup;
    fflush(stdout);
    fflush(stderr);
    a = fork();
    if (a == 0) {
        setenv("TRUSTLINK_SIGN_POLICY", "tuned", 1);
        unsetenv("TRUSTLINK_ATECC_STATS");
        _exit(fair_child_a(b->module, ready[1], times[0], res_a[1]));
    }
    if (a < 0 || !wait_readable(ready[0], FAIR_READY_TIMEOUT_MS) || read(ready[0], &r, 1) != 1) {
        fprintf(stderr, "trustlink-bench: fairness: process A did not start\n");
        goto cleanup;
    }
    t.b_start = now_s() + FAIR_B_AFTER_S;
    t.share_start = t.b_start + FAIR_SETTLE_S;
    t.share_end = t.share_start + b->fair_seconds;
    if (write(times[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
        goto cleanup;
    pb = fork();
    if (pb == 0) {
        setenv("TRUSTLINK_SIGN_POLICY", "tuned", 1);
        unsetenv("TRUSTLINK_ATECC_STATS");
        _exit(fair_child_b(b->module, sock, &t, res_b[1]));
    }
    if (pb < 0)
        goto cleanup;
    close(res_a[1]);
    close(res_b[1]);
    res_a[1] = res_b[1] = -1;
    sleep_until(t.share_start);
    if (chip_stats(sock, &s0) != 0)
        goto cleanup;
    sleep_until(t.share_end);
    if (chip_stats(sock, &s1) != 0)
        goto cleanup;
    read_line(res_a[0], line_a, sizeof(line_a));
    read_line(res_b[0], line_b, sizeof(line_b));
    reap(a, &ok);
    reap(pb, &ok);
    a = pb = -1;
    if (!ok || sscanf(line_a, "%u %u", &out->sigs[0], &out->failures) != 2) {
        fprintf(stderr, "trustlink-bench: fairness: process A failed\n");
        goto cleanup;
    }
    {
        unsigned fb = 0;

        if (sscanf(line_b, "%u %u %lf %lf %lf %lf", &out->sigs[1], &fb, &out->first_ms,
                   &out->first_windows, &out->startup_ms, &out->startup_windows) != 6) {
            fprintf(stderr, "trustlink-bench: fairness: process B failed\n");
            goto cleanup;
        }
        out->failures += fb;
    }
    out->seconds = b->fair_seconds;
    out->alone = alone;
    for (unsigned i = 0; i < 2; i++)
        out->share[i] = out->sigs[i] / out->seconds / limit;
    out->wake_pulses_per_sig = out->sigs[0] + out->sigs[1] > 0
                                   ? (double)(s1.wake_pulses - s0.wake_pulses) /
                                         (out->sigs[0] + out->sigs[1])
                                   : 0;
    out->ran = true;
    printf("  fairness, 2 processes (tuned, 1 session each, same lock_dir), %u failures:\n",
           out->failures);
    printf("    B's first signature while A signs flat out: %.1f ms, %.0f wake windows "
           "(target <= %.0f: %s); from B's dlopen to it: %.1f ms, %.0f windows\n",
           out->first_ms, out->first_windows, TARGET_FIRST_SIGN_WINDOWS,
           verdict(out->first_windows <= TARGET_FIRST_SIGN_WINDOWS), out->startup_ms,
           out->startup_windows);
    for (unsigned i = 0; i < 2; i++) {
        double dev = fabs(out->share[i] / 0.5 - 1.0);

        printf("    process %c: %u signatures in %.0f s, %.3f of the chip limit (equal share 0.5; "
               "off by %.1f %%, target <= %.0f %%: %s)\n",
               i == 0 ? 'A' : 'B', out->sigs[i], out->seconds, out->share[i], dev * 100,
               TARGET_SHARE_DEVIATION * 100, verdict(dev <= TARGET_SHARE_DEVIATION));
    }
    printf("    together %.3f of the limit (one process alone, 1 caller, this run: %.3f); of what "
           "both made A had %.1f %%, B %.1f %%; chip side %.3f wake pulses per signature (a "
           "hand-over costs the taker a wake)\n",
           out->share[0] + out->share[1], out->alone,
           out->sigs[0] + out->sigs[1] ? 100.0 * out->sigs[0] / (out->sigs[0] + out->sigs[1]) : 0,
           out->sigs[0] + out->sigs[1] ? 100.0 * out->sigs[1] / (out->sigs[0] + out->sigs[1]) : 0,
           out->wake_pulses_per_sig);
    rc = out->failures == 0 ? 0 : -1;
cleanup:
    if (a > 0) {
        kill(a, SIGTERM);
        waitpid(a, NULL, 0);
    }
    if (pb > 0) {
        kill(pb, SIGTERM);
        waitpid(pb, NULL, 0);
    }
    for (unsigned i = 0; i < 2; i++) {
        int *fds[] = { ready, times, res_a, res_b };
        for (unsigned j = 0; j < 4; j++)
            if (fds[j][i] >= 0)
                close(fds[j][i]);
    }
    return rc;
}

void json_fairness(FILE *f, const struct fair_result *r)
{
    if (!r->ran)
        return;
    fprintf(f,
            ",\"fairness\":{\"first_sign_ms\":%.2f,\"first_sign_windows\":%.0f,"
            "\"first_sign_windows_max\":%.0f,\"startup_ms\":%.2f,\"startup_windows\":%.0f,"
            "\"seconds\":%.1f,\"signatures\":[%u,%u],\"share_of_limit\":[%.4f,%.4f],"
            "\"share_deviation_max\":%.2f,\"alone_share_of_limit\":%.4f,"
            "\"wake_pulses_per_sig\":%.4f,\"failures\":%u}",
            r->first_ms, r->first_windows, TARGET_FIRST_SIGN_WINDOWS, r->startup_ms,
            r->startup_windows, r->seconds, r->sigs[0], r->sigs[1], r->share[0], r->share[1],
            TARGET_SHARE_DEVIATION, r->alone, r->wake_pulses_per_sig, r->failures);
}

static void min_max(const double *v, unsigned n, double *lo, double *hi)
{
    *lo = *hi = v[0];
    for (unsigned i = 1; i < n; i++) {
        if (v[i] < *lo)
            *lo = v[i];
        if (v[i] > *hi)
            *hi = v[i];
    }
}

int run_verify_cost(const struct bench *b, const char *sock, unsigned bus_hz, double limit,
                    struct verify_result *out)
{
    unsigned tmax = b->threads[b->n_threads - 1];
    unsigned rounds = b->verify_rounds;
    double rate[2][VERIFY_ROUNDS_MAX];  /* [verify off/on][round] */
    double cost[VERIFY_ROUNDS_MAX];
    double sigs[2] = { 0, 0 }, secs[2] = { 0, 0 };
    double mean = 0;
    double var = 0;
    char conf[2][160];

    memset(out, 0, sizeof(*out));
    if (rounds == 0 || rounds > VERIFY_ROUNDS_MAX ||
        write_config(b, sock, bus_hz, false, false, conf[0], sizeof(conf[0])) != 0 ||
        write_config(b, sock, bus_hz, false, true, conf[1], sizeof(conf[1])) != 0)
        return -1;
    for (unsigned round = 0; round < rounds; round++) {
        for (unsigned k = 0; k < 2; k++) {
            unsigned verify = (round + k) % 2; /* off-on, on-off, ... */
            struct phase ph;

            setenv("TRUSTLINK_PKCS11_CONF", conf[verify], 1);
            if (run_phase(b, sock, "tuned", tmax, b->sigs, &ph) != 0 || ph.failures > 0 ||
                ph.seconds <= 0)
                return -1;
            sigs[verify] += ph.sigs;
            secs[verify] += ph.seconds;
            rate[verify][round] = ph.sigs / ph.seconds;
        }
        cost[round] = 1.0 - rate[1][round] / rate[0][round];
        mean += cost[round] / rounds;
    }
    setenv("TRUSTLINK_PKCS11_CONF", conf[1], 1);
    for (unsigned round = 0; round < rounds; round++)
        var += (cost[round] - mean) * (cost[round] - mean) / (rounds > 1 ? rounds - 1 : 1);
    out->ran = true;
    out->rounds = rounds;
    out->threads = tmax;
    out->rate_off = sigs[0] / secs[0];
    out->rate_on = sigs[1] / secs[1];
    out->cost = 1.0 - out->rate_on / out->rate_off;
    min_max(rate[0], rounds, &out->off_min, &out->off_max);
    min_max(rate[1], rounds, &out->on_min, &out->on_max);
    min_max(cost, rounds, &out->cost_min, &out->cost_max);
    out->cost_sd = sqrt(var);
    printf("  verify-after-sign, tuned, %u callers, %u rounds alternated: on %.3f sig/s (%.3f x "
           "limit), off %.3f sig/s (%.3f x limit): cost %.2f %% (target < %.0f %%: %s)\n",
           tmax, rounds, out->rate_on, out->rate_on / limit, out->rate_off, out->rate_off / limit,
           out->cost * 100, TARGET_VERIFY_COST * 100, verdict(out->cost < TARGET_VERIFY_COST));
    printf("    spread over rounds: on %.3f-%.3f sig/s, off %.3f-%.3f sig/s; paired cost per round "
           "%+.2f..%+.2f %% (sd %.2f %%)%s\n",
           out->on_min, out->on_max, out->off_min, out->off_max, out->cost_min * 100,
           out->cost_max * 100, out->cost_sd * 100,
           out->cost_sd > TARGET_VERIFY_COST ? ": the noise is larger than the target" : "");
    return 0;
}

void json_verify(FILE *f, const struct verify_result *r)
{
    if (!r->ran)
        return;
    fprintf(f,
            ",\"verify_after_sign\":{\"threads\":%u,\"rounds\":%u,\"on_sig_per_s\":%.3f,"
            "\"off_sig_per_s\":%.3f,\"cost\":%.5f,\"cost_max_target\":%.2f,\"on_min\":%.3f,"
            "\"on_max\":%.3f,\"off_min\":%.3f,\"off_max\":%.3f,\"round_cost_min\":%.5f,"
            "\"round_cost_max\":%.5f,\"round_cost_sd\":%.5f}",
            r->threads, r->rounds, r->rate_on, r->rate_off, r->cost, TARGET_VERIFY_COST, r->on_min,
            r->on_max, r->off_min, r->off_max, r->cost_min, r->cost_max, r->cost_sd);
}
