/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sign engine (TUNED policy) and the NAIVE baseline against the
 * in-process emulator. Time scale 1 runs the datasheet timing and the
 * watchdog on the virtual clock shared by driver and emulator; time scale
 * 0 makes the chip instant (no watchdog). One signer at a time advances
 * the virtual clock (the worker, or a caller signing in its own thread
 * while nothing else is queued; the others block on a condition
 * variable), so counts are deterministic; the linger is host time, so
 * tests that count wakes set it long enough that no scheduler delay can
 * expire it mid-test. Nothing here asserts on wall-clock time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "device.h"
#include "harness.h"
#include "sign_engine.h"

enum {
    /* Long enough that a loaded CI machine never lets it expire between
     * two submissions of the same test; close ends it at once. */
    LONG_LINGER_US = 2000000,
    MAX_THREADS = 8,
};

struct caller {
    struct atecc_device *dev;
    const uint8_t *pub;
    unsigned id;
    unsigned count;
    unsigned good;
    unsigned bad_sig;
    unsigned failed;
    atecc_err last_failure;
};

static void digest_of(unsigned id, unsigned n, uint8_t d[32])
{
    for (unsigned i = 0; i < 32; i++)
        d[i] = (uint8_t)(id * 97 + n * 31 + i * 7 + 1);
}

static void *sign_loop(void *arg)
{
    struct caller *c = arg;

    for (unsigned n = 0; n < c->count; n++) {
        uint8_t d[32];
        uint8_t sig[64];
        atecc_err rc;

        digest_of(c->id, n, d);
        rc = atecc_sign(c->dev, 0, d, sig);
        if (rc != ATECC_OK) {
            c->failed++;
            c->last_failure = rc;
        } else if (harness_p256_verify(c->pub, d, sig)) {
            c->good++;
        } else {
            c->bad_sig++;
        }
    }
    return NULL;
}

static struct atecc_device *open_with(struct harness *h, enum atecc_sign_policy policy,
                                      unsigned linger_us)
{
    struct atecc_options o = harness_options(h);
    struct atecc_device *dev = NULL;
    char detail[512] = "";
    atecc_err rc;

    o.sign_policy = policy;
    o.sign_linger_us = linger_us;
    o.retries = 3;
    rc = atecc_open("inproc:@0x35", &o, &dev, detail, sizeof(detail));
    if (rc != ATECC_OK)
        fail_msg("atecc_open: %s: %s", atecc_strerror(rc), detail);
    return dev;
}

static void run_callers(struct caller *c, unsigned n)
{
    pthread_t t[MAX_THREADS];

    assert_true(n <= MAX_THREADS);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sign_loop, &c[i]), 0);
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static void real_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };

    nanosleep(&ts, NULL);
}

/* Bounded: the worker takes requests within microseconds; 20 s is only
 * there so a broken engine fails the test instead of hanging it. */
static void wait_pending(struct atecc_device *dev, size_t want)
{
    for (unsigned i = 0; i < 20000 && atecc_engine_pending(dev) != want; i++)
        real_sleep_ms(1);
    assert_int_equal(atecc_engine_pending(dev), want);
}

/* Waits until the worker holds `taken` requests in total (ever popped). */
static void wait_taken(struct atecc_device *dev, uint64_t taken)
{
    for (unsigned i = 0; i < 20000 && atecc_engine_taken(dev) != taken; i++)
        real_sleep_ms(1);
    assert_int_equal(atecc_engine_taken(dev), taken);
}

static void wait_idle(struct atecc_device *dev)
{
    for (unsigned i = 0; i < 20000 && atecc_wake_state(dev, NULL) == ATECC_AWAKE; i++)
        real_sleep_ms(1);
    assert_int_equal(atecc_wake_state(dev, NULL), ATECC_IDLE);
}

/*
 * Holds the device mutex so the worker, having taken the first request,
 * waits; the other callers queue behind it. Released, the worker signs
 * them all back to back: one batch of n.
 */
static void submit_blocked_batch(struct atecc_device *dev, struct caller *c, unsigned n,
                                 pthread_t *t)
{
    uint64_t taken = atecc_engine_taken(dev);

    pthread_mutex_lock(&dev->mutex);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sign_loop, &c[i]), 0);
    /* Both: n-1 queued could also mean the worker has not woken yet, and
     * it would then take a first batch without the last caller. */
    wait_taken(dev, taken + 1);
    wait_pending(dev, n - 1);
    pthread_mutex_unlock(&dev->mutex);
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* n callers with one signature each, queued as one blocked batch; every
 * signature must verify. */
static void sign_one_each_in_one_batch(struct atecc_device *dev, const uint8_t *pub,
                                       struct caller *c, pthread_t *t, unsigned n)
{
    memset(c, 0, n * sizeof(*c));
    for (unsigned i = 0; i < n; i++)
        c[i] = (struct caller){ .dev = dev, .pub = pub, .id = i, .count = 1 };
    submit_blocked_batch(dev, c, n, t);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(c[i].good, 1);
}

static void test_concurrent_callers_are_signed_in_one_batch(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, LONG_LINGER_US);
    struct caller c[6];
    pthread_t t[6];
    struct atecc_stats st;
    struct emu_stats before;
    struct emu_stats es;
    uint8_t pub[64];

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    before = harness_emu_stats(h);
    sign_one_each_in_one_batch(dev, pub, c, t, 6);
    atecc_stats_get(dev, &st);
    assert_int_equal(st.signatures, 6);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.batch_max, 6);
    assert_int_equal(st.batch_sum, 6);
    assert_int_equal(st.batch_hist[2], 1);  /* sizes 4..7 */
    es = harness_emu_stats(h);
    /* One window for all six signatures. */
    assert_int_equal(es.wakes - before.wakes, 1);
    assert_int_equal(es.ignored_wakes, 0);
    atecc_close(dev);
    harness_free(h);
}

static void test_steady_load_batches_and_never_crosses_the_watchdog(void **state)
{
    enum { THREADS = 4, PER_THREAD = 15 };
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, LONG_LINGER_US);
    struct caller c[THREADS];
    pthread_t t[THREADS];
    struct atecc_stats before;
    struct atecc_stats st;
    struct emu_stats es;
    uint8_t pub[64];
    uint64_t t0;

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    atecc_stats_get(dev, &before);
    t0 = h->clock.now_us(h);
    memset(c, 0, sizeof(c));
    for (unsigned i = 0; i < THREADS; i++)
        c[i] = (struct caller){ .dev = dev, .pub = pub, .id = i, .count = PER_THREAD };
    /* Starts as one batch (all four queue behind the first); on the
     * virtual clock a signature takes microseconds of host time, so later
     * ones overlap only by chance. */
    submit_blocked_batch(dev, c, THREADS, t);
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(c[i].failed, 0);
        assert_int_equal(c[i].bad_sig, 0);
        assert_int_equal(c[i].good, PER_THREAD);
    }
    atecc_stats_get(dev, &st);
    es = harness_emu_stats(h);
    /* 60 signatures of ~90 ms each span several 0.7 s watchdog windows. */
    assert_true(h->clock.now_us(h) - t0 > 3 * 700000);
    assert_int_equal(es.watchdog_expiries, 0);
    assert_int_equal(es.ignored_wakes, 0);
    /* No 0xEE and no fault: not a single retry was needed. */
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.sign_failures, 0);
    assert_true(st.watchdog_avoided >= 3);
    /* Every wake after the first one of the burst was forced by the
     * watchdog: none was paid for a burst the linger could carry. */
    assert_int_equal(st.wake_pulses - before.wake_pulses, 1 + st.watchdog_avoided);
    assert_int_equal(st.wake_pulses, es.wakes);
    assert_true(st.batch_max > 1);
    assert_int_equal(st.batch_sum, THREADS * PER_THREAD);
    assert_int_equal(st.signatures, THREADS * PER_THREAD);
    atecc_close(dev);
    harness_free(h);
}

/* Without a watchdog (time scale 0) the only wakes are bursts': one. */
static void test_steady_load_wake_pulses_per_signature_below_5_percent(void **state)
{
    enum { THREADS = 4, PER_THREAD = 25 };
    struct harness *h = harness_new_scaled(EMU_PROFILE_TRUSTANDGO, 0, 0.0, 42);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, LONG_LINGER_US);
    struct caller c[THREADS];
    struct atecc_stats before;
    struct atecc_stats st;
    struct emu_stats es;
    uint8_t pub[64];
    uint64_t pulses;

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    atecc_stats_get(dev, &before);
    memset(c, 0, sizeof(c));
    for (unsigned i = 0; i < THREADS; i++)
        c[i] = (struct caller){ .dev = dev, .pub = pub, .id = i, .count = PER_THREAD };
    run_callers(c, THREADS);
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(c[i].good, PER_THREAD);
    atecc_stats_get(dev, &st);
    es = harness_emu_stats(h);
    pulses = st.wake_pulses - before.wake_pulses;
    assert_true(pulses * 100 < 5 * (uint64_t)(THREADS * PER_THREAD));
    assert_int_equal(pulses, 1);
    assert_int_equal(es.ignored_wakes, 0);
    assert_true(st.linger_hits + st.batches >= 1);
    atecc_close(dev);
    harness_free(h);
}

static void test_fault_in_middle_of_batch_fails_only_that_request(void **state)
{
    enum { N = 5 };
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, LONG_LINGER_US);
    struct caller c[N];
    pthread_t t[N];
    struct atecc_stats st;
    uint8_t pub[64];
    unsigned failed = 0;
    unsigned good = 0;

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    memset(c, 0, sizeof(c));
    for (unsigned i = 0; i < N; i++)
        c[i] = (struct caller){ .dev = dev, .pub = pub, .id = i, .count = 1 };
    /* Commands from now: 1-2 are the first request's Nonce and Sign; the
     * second request's four tries (retries 3) each die on their Nonce. */
    harness_fault(h, "ecc@3,ecc@4,ecc@5,ecc@6");
    submit_blocked_batch(dev, c, N, t);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(c[i].bad_sig, 0);
        good += c[i].good;
        if (c[i].failed) {
            failed++;
            assert_int_equal(c[i].last_failure, ATECC_E_ECC_FAULT);
        }
    }
    assert_int_equal(failed, 1);
    assert_int_equal(good, N - 1);
    atecc_stats_get(dev, &st);
    assert_int_equal(st.batch_max, N);
    assert_int_equal(st.sign_failures, 1);
    assert_int_equal(st.signatures, N - 1);
    atecc_close(dev);
    harness_free(h);
}

static void test_random_crc_faults_in_batches_are_retried_and_all_verify(void **state)
{
    enum { THREADS = 4, PER_THREAD = 10 };
    struct harness *h = harness_new_scaled(EMU_PROFILE_TRUSTANDGO, 0, 1.0, 7);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, LONG_LINGER_US);
    struct caller c[THREADS];
    struct atecc_stats st;
    struct emu_stats es;
    uint8_t pub[64];
    unsigned good = 0;

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    harness_fault(h, "crc:p=0.15");
    memset(c, 0, sizeof(c));
    for (unsigned i = 0; i < THREADS; i++)
        c[i] = (struct caller){ .dev = dev, .pub = pub, .id = i, .count = PER_THREAD };
    run_callers(c, THREADS);
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(c[i].bad_sig, 0);
        good += c[i].good;
    }
    atecc_stats_get(dev, &st);
    es = harness_emu_stats(h);
    assert_true(es.faults_injected > 0);
    assert_true(st.retries > 0);
    /* 4 tries at p = 0.15 per command: a request rarely loses them all. */
    assert_true(good >= THREADS * PER_THREAD - 2);
    assert_int_equal(st.signatures, good);
    assert_int_equal(es.watchdog_expiries, 0);
    atecc_close(dev);
    harness_free(h);
}

static void test_naive_policy_signs_with_a_wake_per_command_and_full_waits(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_NAIVE, 0);
    struct atecc_stats before;
    struct atecc_stats st;
    struct emu_stats es;
    uint8_t pub[64];
    uint64_t t0;

    (void)state;
    assert_int_equal(atecc_sign_policy_of(dev), ATECC_SIGN_POLICY_NAIVE);
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    atecc_stats_get(dev, &before);
    t0 = h->clock.now_us(h);
    for (unsigned n = 0; n < 3; n++) {
        uint8_t d[32];
        uint8_t sig[64];

        digest_of(9, n, d);
        assert_int_equal(atecc_sign(dev, 0, d, sig), ATECC_OK);
        assert_true(harness_p256_verify(pub, d, sig));
        /* Idled after every command, nothing lingers. */
        assert_int_equal(atecc_wake_state(dev, NULL), ATECC_IDLE);
    }
    atecc_stats_get(dev, &st);
    es = harness_emu_stats(h);
    assert_int_equal(st.wake_pulses - before.wake_pulses, 6);
    assert_true(st.idles - before.idles >= 6);
    assert_int_equal(st.polls, before.polls);
    assert_int_equal(st.signatures, 3);
    assert_int_equal(st.batches, 0);
    /* Full maximum waits: 20 ms Nonce + 115 ms Sign per signature. */
    assert_true(h->clock.now_us(h) - t0 >= 3 * (20000 + 115000));
    assert_int_equal(es.ignored_wakes, 0);
    atecc_close(dev);
    harness_free(h);
}

/*
 * One caller signing back to back at datasheet timing: once both response
 * times are learned, each command is polled exactly once, no earlier than
 * ready and within the learning resolution of it (exec.c
 * ATECC_READY_RESOLUTION_US), and the linger carries every signature to
 * the next, so the only wakes are the watchdog's.
 */
static void test_single_caller_polls_once_per_command_just_after_ready(void **state)
{
    enum {
        WARMUP = 8,
        MEASURED = 6,
        RESOLUTION_US = 50,
        /* The chip answers a poll with the ACK of its address byte:
         * 9 bits at 100 kHz. */
        POLL_SEEN_AFTER_US = 90,
    };
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, LONG_LINGER_US);
    struct caller c;
    struct atecc_stats before;
    struct atecc_stats st;
    struct emu_stats es0;
    struct emu_stats es;
    uint8_t pub[64];
    uint64_t driver_busy;
    uint64_t chip_busy;
    uint64_t commands;

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    c = (struct caller){ .dev = dev, .pub = pub, .id = 3, .count = WARMUP };
    sign_loop(&c);
    assert_int_equal(c.good, WARMUP);
    atecc_stats_get(dev, &before);
    es0 = harness_emu_stats(h);
    c = (struct caller){ .dev = dev, .pub = pub, .id = 4, .count = MEASURED };
    sign_loop(&c);
    assert_int_equal(c.good, MEASURED);
    atecc_stats_get(dev, &st);
    es = harness_emu_stats(h);
    commands = st.commands - before.commands;
    assert_int_equal(commands, 2 * MEASURED);
    /* No probe and no miss: the one poll of each command found it. */
    assert_int_equal(st.polls - before.polls, 0);
    driver_busy = st.chip_busy_us - before.chip_busy_us + commands * POLL_SEEN_AFTER_US;
    chip_busy = es.busy_us - es0.busy_us;
    assert_true(driver_busy >= chip_busy);
    assert_true(driver_busy - chip_busy < commands * RESOLUTION_US);
    assert_int_equal(st.wake_pulses - before.wake_pulses,
                     st.watchdog_avoided - before.watchdog_avoided);
    assert_int_equal(st.linger_hits - before.linger_hits, MEASURED);
    assert_int_equal(es.watchdog_expiries, 0);
    atecc_close(dev);
    harness_free(h);
}

/* Nothing queued and nobody signing: the caller signs in its own thread
 * (no handoff to the worker and back); requests that arrive while it
 * signs queue for the worker, which goes on with them. */
static void test_uncontended_caller_signs_in_its_own_thread(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, LONG_LINGER_US);
    struct caller c[3];
    pthread_t t[3];
    struct atecc_stats st;
    uint8_t pub[64];
    uint8_t d[32] = { 7 };
    uint8_t sig[64];

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    for (unsigned n = 0; n < 3; n++) {
        harness_forget_clock_user(h);
        assert_int_equal(atecc_sign(dev, 0, d, sig), ATECC_OK);
        assert_true(harness_clock_used_only_by_this_thread(h));
        assert_true(harness_p256_verify(pub, d, sig));
    }
    assert_int_equal(atecc_engine_taken(dev), 3);
    /* Contended: one signer took the first, the worker the queued two. */
    sign_one_each_in_one_batch(dev, pub, c, t, 3);
    atecc_stats_get(dev, &st);
    assert_int_equal(st.signatures, 6);
    assert_int_equal(st.batch_max, 3);
    assert_int_equal(atecc_engine_taken(dev), 6);
    atecc_close(dev);
    harness_free(h);
}

static void test_policy_comes_from_options_then_environment(void **state)
{
    struct harness *h = harness_new_scaled(EMU_PROFILE_TRUSTANDGO, 0, 0.0, 42);
    struct atecc_device *dev = NULL;

    (void)state;
    assert_int_equal(setenv("TRUSTLINK_SIGN_POLICY", "naive", 1), 0);
    assert_int_equal(setenv("TRUSTLINK_SIGN_LINGER_US", "15000", 1), 0);
    dev = open_with(h, ATECC_SIGN_POLICY_DEFAULT, 0);
    assert_int_equal(atecc_sign_policy_of(dev), ATECC_SIGN_POLICY_NAIVE);
    assert_int_equal(atecc_sign_linger_us(dev), 15000);
    atecc_close(dev);
    dev = open_with(h, ATECC_SIGN_POLICY_TUNED, ATECC_SIGN_LINGER_NONE);
    assert_int_equal(atecc_sign_policy_of(dev), ATECC_SIGN_POLICY_TUNED);
    assert_int_equal(atecc_sign_linger_us(dev), 0);
    atecc_close(dev);
    assert_int_equal(unsetenv("TRUSTLINK_SIGN_POLICY"), 0);
    assert_int_equal(unsetenv("TRUSTLINK_SIGN_LINGER_US"), 0);
    dev = open_with(h, ATECC_SIGN_POLICY_DEFAULT, 0);
    assert_int_equal(atecc_sign_policy_of(dev), ATECC_SIGN_POLICY_TUNED);
    assert_int_equal(atecc_sign_linger_us(dev), ATECC_SIGN_LINGER_DEFAULT_US);
    assert_string_equal(atecc_sign_policy_name(atecc_sign_policy_of(dev)), "tuned");
    atecc_close(dev);
    harness_free(h);
}

static void test_linger_keeps_chip_awake_then_idles_it(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, 20000);
    struct atecc_stats st;
    struct emu_stats es;
    uint8_t d[32] = { 1 };
    uint8_t sig[64];

    (void)state;
    assert_int_equal(atecc_sign(dev, 0, d, sig), ATECC_OK);
    wait_idle(dev);
    atecc_stats_get(dev, &st);
    assert_int_equal(st.linger_idles, 1);
    es = harness_emu_stats(h);
    assert_int_equal(es.idles, 2);  /* after open, after the linger */
    /* The bus lock went with the idle: another device on the chip signs. */
    {
        struct atecc_device *other = open_with(h, ATECC_SIGN_POLICY_NAIVE, 0);

        assert_int_equal(atecc_sign(other, 0, d, sig), ATECC_OK);
        atecc_close(other);
    }
    atecc_close(dev);
    harness_free(h);
}

static void test_other_calls_interleave_and_take_over_the_linger_window(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, LONG_LINGER_US);
    struct emu_stats es;
    uint8_t pub[64];
    uint8_t d[32] = { 2 };
    uint8_t sig[64];
    uint8_t r[32];

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    assert_int_equal(atecc_sign(dev, 0, d, sig), ATECC_OK);
    /* Random runs in the open window and ends it (idle, lock released). */
    assert_int_equal(atecc_random(dev, r), ATECC_OK);
    assert_int_equal(atecc_wake_state(dev, NULL), ATECC_IDLE);
    assert_int_equal(atecc_sign(dev, 0, d, sig), ATECC_OK);
    assert_true(harness_p256_verify(pub, d, sig));
    atecc_close(dev);
    es = harness_emu_stats(h);
    assert_int_equal(es.ignored_wakes, 0);
    assert_int_equal(es.watchdog_expiries, 0);
    harness_free(h);
}

/* ThreadSanitizer cannot follow a child of a multi-threaded process that
 * starts threads (it dies: "starting new threads after multi-threaded fork
 * is not supported", or with die_after_fork=0 "dup thread with used id"):
 * a limit of the tool, not a race. */
#if defined(__SANITIZE_THREAD__)
#define SIGN_ENGINE_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIGN_ENGINE_TEST_UNDER_TSAN 1
#endif
#endif

static void test_forked_child_gets_a_new_worker(void **state)
{
#ifdef SIGN_ENGINE_TEST_UNDER_TSAN
    print_message("SKIP: ThreadSanitizer cannot follow threads started in a forked child of "
                  "a multi-threaded process; the normal and ASan+UBSan passes run this test\n");
    skip();
#endif
    struct harness *h = harness_new_scaled(EMU_PROFILE_TRUSTANDGO, 0, 0.0, 42);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, 5000);
    uint8_t pub[64];
    uint8_t d[32] = { 3 };
    uint8_t sig[64];
    int status = -1;
    pid_t pid;

    (void)state;
    assert_int_equal(atecc_pubkey(dev, 0, pub), ATECC_OK);
    assert_int_equal(atecc_sign(dev, 0, d, sig), ATECC_OK);  /* worker running */
    wait_idle(dev);                                           /* nothing in flight */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child has its own copy of the in-process chip and no worker:
         * the engine must build one, sign, and shut it down. */
        int code = 0;

        for (unsigned n = 0; n < 3 && code == 0; n++) {
            digest_of(42, n, d);
            if (atecc_sign(dev, 0, d, sig) != ATECC_OK)
                code = 1;
            else if (!harness_p256_verify(pub, d, sig))
                code = 2;
        }
        atecc_close(dev);
        _exit(code);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's engine still works. */
    assert_int_equal(atecc_sign(dev, 0, d, sig), ATECC_OK);
    assert_true(harness_p256_verify(pub, d, sig));
    atecc_close(dev);
    harness_free(h);
}

static void test_close_while_lingering_idles_and_joins(void **state)
{
    struct harness *h = harness_new(EMU_PROFILE_TRUSTANDGO, 0);
    struct atecc_device *dev = open_with(h, ATECC_SIGN_POLICY_TUNED, ATECC_SIGN_LINGER_MAX_US);
    struct emu_stats es;
    uint8_t d[32] = { 4 };
    uint8_t sig[64];

    (void)state;
    assert_int_equal(atecc_sign(dev, 0, d, sig), ATECC_OK);
    atecc_close(dev);
    es = harness_emu_stats(h);
    assert_int_equal(es.idles, 2);  /* open, close */
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_callers_are_signed_in_one_batch),
        cmocka_unit_test(test_steady_load_batches_and_never_crosses_the_watchdog),
        cmocka_unit_test(test_steady_load_wake_pulses_per_signature_below_5_percent),
        cmocka_unit_test(test_fault_in_middle_of_batch_fails_only_that_request),
        cmocka_unit_test(test_random_crc_faults_in_batches_are_retried_and_all_verify),
        cmocka_unit_test(test_naive_policy_signs_with_a_wake_per_command_and_full_waits),
        cmocka_unit_test(test_single_caller_polls_once_per_command_just_after_ready),
        cmocka_unit_test(test_uncontended_caller_signs_in_its_own_thread),
        cmocka_unit_test(test_policy_comes_from_options_then_environment),
        cmocka_unit_test(test_linger_keeps_chip_awake_then_idles_it),
        cmocka_unit_test(test_other_calls_interleave_and_take_over_the_linger_window),
        cmocka_unit_test(test_forked_child_gets_a_new_worker),
        cmocka_unit_test(test_close_while_lingering_idles_and_joins),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
