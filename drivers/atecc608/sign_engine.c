/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sign engine: queue, worker, linger (see sign_engine.h).
 */
#include "sign_engine.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "exec.h"
#include "ops_internal.h"

enum {
    /* A caller gives up on a request still queued after the bus-lock
     * timeout plus this much: the worker is wedged behind another process
     * or a chip that never answers, and the caller deserves an error. A
     * request already being signed is waited for: exec.c bounds it. */
    ATECC_ENGINE_WAIT_EXTRA_MS = 60000,
    /* Spins while another thread of a forked child re-creates the lock. */
    ATECC_ENGINE_FORK_SPINS = 1000000,
    /* The worker's timer slack (see worker()). */
    ATECC_ENGINE_TIMER_SLACK_NS = 1000,
};

enum req_state {
    REQ_QUEUED,
    REQ_RUNNING,
    REQ_DONE,
};

/* Lives on the submitting caller's stack until it is DONE or unlinked. */
struct sign_req {
    uint8_t slot;
    const uint8_t *digest;
    uint8_t *signature;
    atecc_err rc;
    /* The failure's detail, copied from the device by whoever signed (the
     * worker, maybe) and handed to the caller's thread (atecc_error_detail). */
    char detail[ATECC_DETAIL_MAX];
    enum req_state state;
    pthread_cond_t done;
    struct sign_req *next;
};

struct atecc_sign_engine {
    struct atecc_device *dev;
    pthread_mutex_t mu;            /* guards everything below */
    pthread_cond_t work;           /* worker: a request came, or stop */
    pthread_condattr_t mono;       /* CLOCK_MONOTONIC for every condvar */
    struct sign_req *head;
    struct sign_req *tail;
    size_t pending;
    uint64_t taken;                /* requests taken by a signer, ever */
    bool running;                  /* worker thread exists in this process */
    bool stopping;
    /* A request is being signed, by the worker or by a caller in its own
     * thread (atecc_engine_sign): everyone else queues. */
    bool busy;
    /* The window was left open after the last batch, until linger_end;
     * linger_gen is dev->window_gen at that moment. */
    bool lingering;
    uint64_t linger_gen;
    struct timespec linger_end;
    uint64_t batch;                /* requests signed in the current batch */
    pthread_t thread;
    _Atomic pid_t pid;             /* process that initialised mu and thread */
};

static void mono_deadline(struct timespec *ts, uint64_t us_from_now)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(us_from_now / 1000000u);
    ts->tv_nsec += (long)(us_from_now % 1000000u) * 1000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static bool mono_passed(const struct timespec *ts)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

static unsigned hist_bucket(uint64_t size)
{
    unsigned b = 0;

    while (size > 1 && b + 1 < ATECC_BATCH_HIST_BUCKETS) {
        size >>= 1;
        b++;
    }
    return b;
}

/* Device mutex held. */
static void record_batch(struct atecc_device *dev, uint64_t size)
{
    dev->stats.batches++;
    dev->stats.batch_sum += size;
    if (size > dev->stats.batch_max)
        dev->stats.batch_max = size;
    dev->stats.batch_hist[hist_bucket(size)]++;
}

/* Device mutex held: is the window the worker left open still its own? */
static bool owns_window(struct atecc_device *dev, uint64_t gen)
{
    return dev->window_gen == gen && atecc_buslock_held(&dev->lock);
}

/* Engine mutex held. */
static struct sign_req *pop(struct atecc_sign_engine *eng)
{
    struct sign_req *req = eng->head;

    if (req == NULL)
        return NULL;
    eng->head = req->next;
    if (eng->head == NULL)
        eng->tail = NULL;
    req->next = NULL;
    eng->pending--;
    eng->taken++;
    return req;
}

/* Engine mutex held. */
/* Device mutex held (dev->last_error is this request's detail). */
static void complete(struct atecc_device *dev, struct sign_req *req, atecc_err rc)
{
    req->rc = rc;
    if (rc != ATECC_OK)
        snprintf(req->detail, sizeof(req->detail), "%s", dev->last_error);
    req->state = REQ_DONE;
    pthread_cond_signal(&req->done);
}

/* The linger ran out: idle the chip and let other processes have the bus,
 * unless a signer re-armed the linger or is at work, or another call took
 * the window over in the meantime (it then ended it itself, or keeps it on
 * purpose after a Nonce). */
static void end_linger(struct atecc_sign_engine *eng, uint64_t gen)
{
    struct atecc_device *dev = eng->dev;
    bool still_ours;

    pthread_mutex_lock(&dev->mutex);
    pthread_mutex_lock(&eng->mu);
    still_ours = !eng->busy && !eng->lingering;
    pthread_mutex_unlock(&eng->mu);
    if (still_ours && owns_window(dev, gen)) {
        if (dev->state == ATECC_AWAKE)
            dev->stats.linger_idles++;
        atecc_window_end(dev);
    }
    pthread_mutex_unlock(&dev->mutex);
}

/* Device mutex held. The bus lock could not be had: every request queued
 * now would wait for the same lock, so they share the error instead of
 * timing out in turn. */
static void fail_queued(struct atecc_sign_engine *eng, struct sign_req *first, atecc_err rc)
{
    struct sign_req *req = NULL;
    uint64_t failed = 1;
    uint64_t batch;

    pthread_mutex_lock(&eng->mu);
    complete(eng->dev, first, rc);
    while ((req = pop(eng)) != NULL) {
        complete(eng->dev, req, rc);
        failed++;
    }
    batch = eng->batch;
    eng->batch = 0;
    pthread_mutex_unlock(&eng->mu);
    eng->dev->stats.sign_failures += failed;
    if (batch > 0)
        record_batch(eng->dev, batch);
}

/*
 * Signs req in the engine's window; the caller set eng->busy for it and
 * clears it afterwards. On return req is complete. When the queue is then
 * empty the batch ends: the window stays open for the linger (the worker
 * ends it), or is ended at once without one.
 */
static void sign_claimed(struct atecc_sign_engine *eng, struct sign_req *req)
{
    struct atecc_device *dev = eng->dev;
    bool linger_hit;
    bool empty;
    uint64_t gen;
    uint64_t batch = 0;
    atecc_err rc;

    pthread_mutex_lock(&dev->mutex);
    pthread_mutex_lock(&eng->mu);
    linger_hit = eng->batch == 0 && eng->lingering;
    gen = eng->linger_gen;
    eng->lingering = false;
    pthread_mutex_unlock(&eng->mu);
    if (linger_hit && owns_window(dev, gen) && dev->state == ATECC_AWAKE)
        dev->stats.linger_hits++;
    rc = atecc_window_begin(dev);
    if (rc != ATECC_OK) {
        fail_queued(eng, req, rc);
        pthread_mutex_unlock(&dev->mutex);
        return;
    }
    rc = atecc_sign_in_window(dev, req->slot, req->digest, req->signature);

    pthread_mutex_lock(&eng->mu);
    eng->batch++;
    complete(dev, req, rc);  /* a queued req may vanish from here on */
    empty = eng->head == NULL;
    if (empty) {
        batch = eng->batch;
        eng->batch = 0;
        if (dev->linger_us != 0) {
            eng->lingering = true;
            eng->linger_gen = dev->window_gen;
            mono_deadline(&eng->linger_end, dev->linger_us);
        }
    }
    pthread_mutex_unlock(&eng->mu);
    if (empty) {
        record_batch(dev, batch);
        if (dev->linger_us == 0)
            atecc_window_end(dev);
    }
    /* Released between signatures so other operations interleave; the
     * window (bus lock, awake chip) stays open. */
    pthread_mutex_unlock(&dev->mutex);
}

/* Engine mutex held: the signer that set busy is done. The worker may
 * have queued requests to take, a linger to time, or a stop to obey. */
static void release_busy(struct atecc_sign_engine *eng)
{
    eng->busy = false;
    if (eng->head != NULL || eng->lingering || eng->stopping)
        pthread_cond_signal(&eng->work);
}

static void *worker(void *arg)
{
    struct atecc_sign_engine *eng = arg;

#ifdef __linux__
    /* Signing queued requests, this thread makes the precise waits of the
     * tuned path (clock.h): with the default 50 us timer slack the kernel
     * wakes it later, and more of each wait is spun. The slack is per
     * thread, and this one is ours (a caller signing in its own thread
     * keeps whatever slack its application chose). */
    (void)prctl(PR_SET_TIMERSLACK, ATECC_ENGINE_TIMER_SLACK_NS, 0, 0, 0);
#endif
    pthread_mutex_lock(&eng->mu);
    for (;;) {
        struct sign_req *req = NULL;

        while (eng->head == NULL || eng->busy) {
            uint64_t gen;

            if (eng->stopping && !eng->busy)
                goto out;
            if (eng->busy || !eng->lingering) {
                /* Nothing to do, or a caller signs: wait to be told. */
                pthread_cond_wait(&eng->work, &eng->mu);
                continue;
            }
            if (!mono_passed(&eng->linger_end)) {
                (void)pthread_cond_timedwait(&eng->work, &eng->mu, &eng->linger_end);
                continue;
            }
            gen = eng->linger_gen;
            eng->lingering = false;
            pthread_mutex_unlock(&eng->mu);
            end_linger(eng, gen);
            pthread_mutex_lock(&eng->mu);
        }
        req = pop(eng);
        req->state = REQ_RUNNING;
        eng->busy = true;
        pthread_mutex_unlock(&eng->mu);
        sign_claimed(eng, req);
        pthread_mutex_lock(&eng->mu);
        release_busy(eng);
    }
out:
    if (eng->lingering) {
        uint64_t gen = eng->linger_gen;

        eng->lingering = false;
        pthread_mutex_unlock(&eng->mu);
        end_linger(eng, gen);
        return NULL;
    }
    pthread_mutex_unlock(&eng->mu);
    return NULL;
}

/* Engine mutex held. */
static int start_worker(struct atecc_sign_engine *eng)
{
    sigset_t all;
    sigset_t old;
    int err;

    /* The worker must never run the application's signal handlers. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&eng->thread, NULL, worker, eng);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err == 0) {
        eng->running = true;
        eng->stopping = false;
    }
    return err;
}

static bool engine_init_sync(struct atecc_sign_engine *eng)
{
    if (pthread_mutex_init(&eng->mu, NULL) != 0)
        return false;
    if (pthread_cond_init(&eng->work, &eng->mono) != 0) {
        pthread_mutex_destroy(&eng->mu);
        return false;
    }
    return true;
}

/*
 * In a forked child the worker thread is gone and the engine mutex may be
 * a copy locked by a thread that does not exist here: the first submitter
 * of the new process builds both anew (never destroying the copies, whose
 * state is unknown). The pid is claimed with a compare-and-swap, so two
 * threads of the child cannot both rebuild.
 */
static atecc_err engine_fork_check(struct atecc_sign_engine *eng)
{
    pid_t me = getpid();

    for (unsigned spins = 0; spins < ATECC_ENGINE_FORK_SPINS; spins++) {
        pid_t owner = atomic_load(&eng->pid);

        if (owner == me)
            return ATECC_OK;
        if (owner != 0 && atomic_compare_exchange_strong(&eng->pid, &owner, 0)) {
            eng->head = NULL;
            eng->tail = NULL;
            eng->pending = 0;
            eng->running = false;
            eng->stopping = false;
            eng->busy = false;
            eng->lingering = false;
            eng->batch = 0;
            if (!engine_init_sync(eng)) {
                atomic_store(&eng->pid, owner);
                return ATECC_E_NOMEM;
            }
            atomic_store(&eng->pid, me);
            return ATECC_OK;
        }
        sched_yield();
    }
    return ATECC_E_NOMEM;
}

atecc_err atecc_engine_create(struct atecc_device *dev)
{
    struct atecc_sign_engine *eng = calloc(1, sizeof(*eng));

    if (eng == NULL)
        return ATECC_E_NOMEM;
    eng->dev = dev;
    if (pthread_condattr_init(&eng->mono) != 0) {
        free(eng);
        return ATECC_E_NOMEM;
    }
    pthread_condattr_setclock(&eng->mono, CLOCK_MONOTONIC);
    if (!engine_init_sync(eng)) {
        pthread_condattr_destroy(&eng->mono);
        free(eng);
        return ATECC_E_NOMEM;
    }
    atomic_store(&eng->pid, getpid());
    dev->engine = eng;
    return ATECC_OK;
}

void atecc_engine_destroy(struct atecc_device *dev)
{
    struct atecc_sign_engine *eng = dev->engine;

    if (eng == NULL)
        return;
    dev->engine = NULL;
    if (atomic_load(&eng->pid) != getpid()) {
        /* Forked child that never signed: the thread and lock are the
         * parent's; only the memory is ours. */
        free(eng);
        return;
    }
    pthread_mutex_lock(&eng->mu);
    eng->stopping = true;
    pthread_cond_broadcast(&eng->work);
    pthread_mutex_unlock(&eng->mu);
    if (eng->running)
        pthread_join(eng->thread, NULL);
    pthread_cond_destroy(&eng->work);
    pthread_mutex_destroy(&eng->mu);
    pthread_condattr_destroy(&eng->mono);
    free(eng);
}

/* Without a worker (thread creation failed): sign in the caller's thread. */
static atecc_err sign_direct(struct atecc_device *dev, uint8_t slot,
                             const uint8_t digest[ATECC_DIGEST_SIZE],
                             uint8_t signature[ATECC_P256_SIGNATURE_SIZE])
{
    atecc_err rc = atecc_call_begin(dev);

    if (rc != ATECC_OK)
        return rc;
    rc = atecc_sign_in_window(dev, slot, digest, signature);
    atecc_call_end(dev);
    return rc;
}

atecc_err atecc_engine_sign(struct atecc_device *dev, uint8_t slot,
                            const uint8_t digest[ATECC_DIGEST_SIZE],
                            uint8_t signature[ATECC_P256_SIGNATURE_SIZE])
{
    struct atecc_sign_engine *eng = dev->engine;
    struct sign_req req;
    struct timespec deadline;
    uint64_t bound_us;
    bool timed_out = false;
    atecc_err rc;

    if (eng == NULL)
        return sign_direct(dev, slot, digest, signature);
    rc = engine_fork_check(eng);
    if (rc != ATECC_OK)
        return sign_direct(dev, slot, digest, signature);
    memset(&req, 0, sizeof(req));
    req.slot = slot;
    req.digest = digest;
    req.signature = signature;
    req.state = REQ_QUEUED;
    if (pthread_cond_init(&req.done, &eng->mono) != 0)
        return sign_direct(dev, slot, digest, signature);

    pthread_mutex_lock(&eng->mu);
    if (!eng->running && start_worker(eng) != 0) {
        pthread_mutex_unlock(&eng->mu);
        pthread_cond_destroy(&req.done);
        return sign_direct(dev, slot, digest, signature);
    }
    if (!eng->busy && eng->head == NULL) {
        /* Nobody signs and nobody waits: sign in this thread, inside the
         * engine's window. Handing the request to the worker and back
         * costs two thread wake-ups, 0.05-0.3 ms on a loaded 2-core host;
         * whoever arrives meanwhile queues, and the worker goes on. */
        eng->busy = true;
        eng->taken++;
        req.state = REQ_RUNNING;
        pthread_mutex_unlock(&eng->mu);
        sign_claimed(eng, &req);
        pthread_mutex_lock(&eng->mu);
        release_busy(eng);
        rc = req.rc;
        if (rc != ATECC_OK)
            atecc_detail_set("%s", req.detail);
        pthread_mutex_unlock(&eng->mu);
        pthread_cond_destroy(&req.done);
        return rc;
    }
    if (eng->tail != NULL)
        eng->tail->next = &req;
    else
        eng->head = &req;
    eng->tail = &req;
    eng->pending++;
    pthread_cond_signal(&eng->work);

    bound_us = ((uint64_t)dev->lock.timeout_ms + ATECC_ENGINE_WAIT_EXTRA_MS) * 1000u;
    mono_deadline(&deadline, bound_us);
    while (req.state != REQ_DONE) {
        if (pthread_cond_timedwait(&req.done, &eng->mu, &deadline) != ETIMEDOUT)
            continue;
        if (req.state == REQ_QUEUED) {
            /* Still queued: unlink it, so the worker never sees it. */
            struct sign_req **pp = &eng->head;
            struct sign_req *prev = NULL;

            while (*pp != &req) {
                prev = *pp;
                pp = &(*pp)->next;
            }
            *pp = req.next;
            if (eng->tail == &req)
                eng->tail = prev;
            eng->pending--;
            timed_out = true;
            break;
        }
        /* Being signed: exec.c bounds that; wait for it. */
        mono_deadline(&deadline, bound_us);
    }
    rc = timed_out ? ATECC_E_TIMEOUT : req.rc;
    if (!timed_out && rc != ATECC_OK)
        atecc_detail_set("%s", req.detail);
    pthread_mutex_unlock(&eng->mu);
    pthread_cond_destroy(&req.done);
    if (timed_out) {
        pthread_mutex_lock(&dev->mutex);
        dev->stats.sign_failures++;
        atecc_fail(dev, rc, "sign request waited %llu ms in the queue of %s without being "
                   "served (bus lock held elsewhere, or the chip stopped answering)",
                   (unsigned long long)(bound_us / 1000u), dev->interface);
        pthread_mutex_unlock(&dev->mutex);
    }
    return rc;
}

uint64_t atecc_engine_taken(struct atecc_device *dev)
{
    struct atecc_sign_engine *eng = dev != NULL ? dev->engine : NULL;
    uint64_t n;

    if (eng == NULL || engine_fork_check(eng) != ATECC_OK)
        return 0;
    pthread_mutex_lock(&eng->mu);
    n = eng->taken;
    pthread_mutex_unlock(&eng->mu);
    return n;
}

size_t atecc_engine_pending(struct atecc_device *dev)
{
    struct atecc_sign_engine *eng = dev != NULL ? dev->engine : NULL;
    size_t n;

    if (eng == NULL || engine_fork_check(eng) != ATECC_OK)
        return 0;
    pthread_mutex_lock(&eng->mu);
    n = eng->pending;
    pthread_mutex_unlock(&eng->mu);
    return n;
}
