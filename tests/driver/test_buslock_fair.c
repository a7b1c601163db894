/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fair sharing of the bus lock (buslock.h, "hand-over"): a device signing
 * back to back hands the bus to a device of another open file description
 * (another process, for the lock) that announced itself, between wake
 * windows, instead of holding it across its whole stream; and on a part
 * whose windows are long (the ~13 s watchdog) once it has held the bus
 * for the shortest wake window, 0.7 s of chip time.
 *
 * Deterministic, no wall-clock assertion: a logging bus records which
 * thread sent which command and wake pulse, on the harness's virtual
 * clock (datasheet timing). Signer A is held inside its first Sign write
 * until waiter B has announced itself in the lock file (seen with
 * F_OFD_GETLK on the waiting-room byte); then A goes on. B's command must
 * reach the chip before A opens a second wake window.
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

enum { A_SIGNATURES = 40, LOG_MAX = 4096 };

struct bus_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t signer;
    bool gate_closed;        /* A waits in its first Sign until opened */
    bool signer_gated;       /* A reached the gate */
    size_t n;
    uint8_t opcode[LOG_MAX];
    bool wake[LOG_MAX];      /* a wake pulse (write to address 0x00) */
    bool by_signer[LOG_MAX];
};

static struct bus_log g_log;

static enum atecc_bus_result log_write(void *ctx, uint8_t addr7, const uint8_t *data, size_t len,
                                       unsigned flags)
{
    if (addr7 == 0x00) {
        pthread_mutex_lock(&g_log.mu);
        if (g_log.n < LOG_MAX) {
            g_log.wake[g_log.n] = true;
            g_log.by_signer[g_log.n] = pthread_equal(pthread_self(), g_log.signer);
            g_log.n++;
        }
        pthread_mutex_unlock(&g_log.mu);
    }
    /* A command: word address 0x03, count, opcode, ... */
    if (len >= 3 && data[0] == ATECC_WORD_COMMAND) {
        bool mine;

        pthread_mutex_lock(&g_log.mu);
        mine = pthread_equal(pthread_self(), g_log.signer);
        if (mine && data[2] == ATECC_OP_SIGN && g_log.gate_closed) {
            g_log.signer_gated = true;
            pthread_cond_broadcast(&g_log.cv);
            while (g_log.gate_closed)
                pthread_cond_wait(&g_log.cv, &g_log.mu);
        }
        if (g_log.n < LOG_MAX) {
            g_log.opcode[g_log.n] = data[2];
            g_log.by_signer[g_log.n] = mine;
            g_log.n++;
        }
        pthread_mutex_unlock(&g_log.mu);
    }
    return harness_ops.write(ctx, addr7, data, len, flags);
}

static enum atecc_bus_result log_read(void *ctx, uint8_t addr7, uint8_t *buf, size_t len)
{
    return harness_ops.read(ctx, addr7, buf, len);
}

static void log_bus_info(void *ctx, uint32_t *bus_hz, double *time_scale)
{
    harness_ops.bus_info(ctx, bus_hz, time_scale);
}

static const struct atecc_transport_ops log_ops = {
    .write = log_write,
    .read = log_read,
    .bus_info = log_bus_info,
};

static struct atecc_device *open_logged(struct harness *h, enum atecc_sign_policy policy)
{
    struct atecc_options o = harness_options(h);
    struct atecc_device *dev = NULL;
    char detail[512] = "";

    o.inproc_ops = &log_ops;  /* same ctx (h): same lock file */
    o.sign_policy = policy;
    if (atecc_open("inproc:@0x35", &o, &dev, detail, sizeof(detail)) != ATECC_OK)
        fail_msg("open: %s", detail);
    return dev;
}

struct signer_arg {
    struct atecc_device *dev;
    bool batch;
    atecc_err rc;
};

static void *signer_main(void *p)
{
    struct signer_arg *a = p;
    static uint8_t digests[A_SIGNATURES][32];
    static uint8_t sigs[A_SIGNATURES][64];

    for (unsigned i = 0; i < A_SIGNATURES; i++)
        memset(digests[i], (int)i + 1, 32);
    if (a->batch) {
        a->rc = atecc_sign_batch(a->dev, 0, A_SIGNATURES, (const uint8_t(*)[32])digests, sigs,
                                 NULL);
        return NULL;
    }
    for (unsigned i = 0; i < A_SIGNATURES && a->rc == ATECC_OK; i++)
        a->rc = atecc_sign(a->dev, 0, digests[i], sigs[i]);
    return NULL;
}

struct waiter_arg {
    struct atecc_device *dev;
    atecc_err rc;
};

static void *waiter_main(void *p)
{
    struct waiter_arg *a = p;
    uint8_t r[32];

    a->rc = atecc_random(a->dev, r);
    return NULL;
}

/* True once another open file description holds the waiting-room byte. */
static bool waiter_announced(const char *dir)
{
    char cmd[256];
    char name[256] = "";
    char path[512];
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1, .l_len = 1 };
    FILE *p = NULL;
    int fd;
    bool announced;

    snprintf(cmd, sizeof(cmd), "ls '%s' | grep '^trustlink-atecc608-'", dir);
    p = popen(cmd, "r");
    if (p == NULL)
        return false;
    if (fgets(name, sizeof(name), p) == NULL)
        name[0] = '\0';
    pclose(p);
    name[strcspn(name, "\n")] = '\0';
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    announced = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return announced;
}

/* Where B's command and A's wake pulses and Signs came, in bus order. */
struct handover_log {
    size_t b_at;             /* B's command */
    size_t a_second_wake;    /* A's second wake pulse: its second window */
    unsigned a_signs_before_b;
};

static void run_handover(struct harness *h, bool batch, struct handover_log *out)
{
    struct atecc_device *a_dev = NULL;
    struct atecc_device *b_dev = NULL;
    struct signer_arg sa = { 0 };
    struct waiter_arg wa = { 0 };
    pthread_t ta;
    pthread_t tb;
    unsigned a_wakes = 0;
    struct timespec tick = { 0, 1000000 };

    memset(&g_log, 0, sizeof(g_log));
    pthread_mutex_init(&g_log.mu, NULL);
    pthread_cond_init(&g_log.cv, NULL);
    a_dev = open_logged(h, ATECC_SIGN_POLICY_TUNED);
    b_dev = open_logged(h, ATECC_SIGN_POLICY_TUNED);
    g_log.gate_closed = true;
    sa.dev = a_dev;
    sa.batch = batch;
    pthread_mutex_lock(&g_log.mu);
    assert_int_equal(pthread_create(&ta, NULL, signer_main, &sa), 0);
    g_log.signer = ta;
    /* A is in its first Sign, holding the bus. */
    while (!g_log.signer_gated)
        pthread_cond_wait(&g_log.cv, &g_log.mu);
    pthread_mutex_unlock(&g_log.mu);
    wa.dev = b_dev;
    assert_int_equal(pthread_create(&tb, NULL, waiter_main, &wa), 0);
    /* Wait (bounded; not an assertion on time) for B's announcement. */
    for (unsigned i = 0; i < 3000 && !waiter_announced(h->lock_dir); i++)
        nanosleep(&tick, NULL);
    pthread_mutex_lock(&g_log.mu);
    g_log.gate_closed = false;
    pthread_cond_broadcast(&g_log.cv);
    pthread_mutex_unlock(&g_log.mu);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(sa.rc, ATECC_OK);
    assert_int_equal(wa.rc, ATECC_OK);
    out->b_at = SIZE_MAX;
    out->a_second_wake = SIZE_MAX;
    out->a_signs_before_b = 0;
    for (size_t i = 0; i < g_log.n; i++) {
        if (!g_log.by_signer[i] && !g_log.wake[i] && g_log.opcode[i] == ATECC_OP_RANDOM &&
            out->b_at == SIZE_MAX)
            out->b_at = i;
        if (g_log.by_signer[i] && g_log.wake[i] && ++a_wakes == 2)
            out->a_second_wake = i;
        if (g_log.by_signer[i] && !g_log.wake[i] && g_log.opcode[i] == ATECC_OP_SIGN &&
            out->b_at == SIZE_MAX)
            out->a_signs_before_b++;
    }
    assert_true(out->b_at != SIZE_MAX);
    atecc_close(a_dev);
    atecc_close(b_dev);
    pthread_cond_destroy(&g_log.cv);
    pthread_mutex_destroy(&g_log.mu);
}

/* B's command before A's second wake pulse: A did not open another wake
 * window while B waited (40 signatures need ~6 windows of the short
 * watchdog, so A does open more). */
static void check_no_second_window_before_waiter(bool batch)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct handover_log log;

    run_handover(h, batch, &log);
    assert_true(log.a_second_wake != SIZE_MAX);
    if (log.b_at > log.a_second_wake)
        fail_msg("waiter's command came at position %zu, after the signer's second wake pulse "
                 "(%zu): the holder kept the bus across a wake window boundary", log.b_at,
                 log.a_second_wake);
    harness_free(h);
}

static void test_signer_hands_over_to_an_announced_waiter(void **state)
{
    (void)state;
    check_no_second_window_before_waiter(false);
}

static void test_batch_signer_hands_over_between_windows(void **state)
{
    (void)state;
    check_no_second_window_before_waiter(true);
}

/*
 * A part with the ~13 s watchdog fits all 40 signatures (~3.7 s) in one
 * window, so the window boundary alone would keep B out until A is done.
 * The hold cap: 0.7 s of chip time, i.e. at most 8 more Signs of at least
 * 81 ms each after the one A was in when B announced (the first), plus
 * the one in progress at the cap: B comes before A's 11th Sign.
 */
static void test_long_window_holder_yields_after_the_shortest_window(void **state)
{
    struct harness *h = harness_new_long_watchdog();
    struct handover_log log;

    (void)state;
    run_handover(h, false, &log);
    if (log.a_signs_before_b > 10)
        fail_msg("the signer made %u signatures before the waiter's command: it held the bus "
                 "past 0.7 s of chip time while another process waited", log.a_signs_before_b);
    harness_free(h);
}

struct stream_arg {
    struct atecc_device *dev;
    unsigned id;
    atecc_err rc;
};

static void *stream_main(void *p)
{
    struct stream_arg *a = p;
    uint8_t digest[32];
    uint8_t sig[64];

    for (unsigned i = 0; i < A_SIGNATURES / 2 && a->rc == ATECC_OK; i++) {
        memset(digest, (int)(a->id * 64 + i), sizeof(digest));
        a->rc = atecc_sign(a->dev, 0, digest, sig);
    }
    return NULL;
}

/*
 * Both sign flat out, 20 signatures each. A hand-over costs the taker a
 * wake (an idle, tWHI, the wake response), so the bus changes hands
 * between wake windows, never per signature: the chip sees about as many
 * wakes as the watchdog needs anyway (~6 signatures per window), at most
 * one per three signatures, where hand-overs per signature would cost
 * one per signature.
 */
static void test_two_streams_share_by_windows_not_by_signatures(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev[2];
    struct stream_arg arg[2];
    pthread_t t[2];
    struct emu_stats before;
    struct emu_stats after;

    (void)state;
    memset(&g_log, 0, sizeof(g_log));
    pthread_mutex_init(&g_log.mu, NULL);
    pthread_cond_init(&g_log.cv, NULL);
    for (unsigned i = 0; i < 2; i++) {
        dev[i] = open_logged(h, ATECC_SIGN_POLICY_TUNED);
        arg[i] = (struct stream_arg){ .dev = dev[i], .id = i };
    }
    before = harness_emu_stats(h);
    for (unsigned i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, stream_main, &arg[i]), 0);
    for (unsigned i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(arg[i].rc, ATECC_OK);
    }
    after = harness_emu_stats(h);
    if ((after.wakes - before.wakes) * 3 > A_SIGNATURES)
        fail_msg("%llu wakes for %d signatures: the bus changed hands per signature, not per wake "
                 "window", (unsigned long long)(after.wakes - before.wakes), A_SIGNATURES);
    for (unsigned i = 0; i < 2; i++)
        atecc_close(dev[i]);
    pthread_cond_destroy(&g_log.cv);
    pthread_mutex_destroy(&g_log.mu);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signer_hands_over_to_an_announced_waiter),
        cmocka_unit_test(test_batch_signer_hands_over_between_windows),
        cmocka_unit_test(test_long_window_holder_yields_after_the_shortest_window),
        cmocka_unit_test(test_two_streams_share_by_windows_not_by_signatures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
