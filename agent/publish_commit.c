/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The group-commit thread of the delivery queue (see publish_commit.h).
 */
#include "publish_commit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define COMMIT_ERR_LEN 256

struct agent_commit {
    enum agent_queue_durability mode;
    unsigned batch_ms;
    agent_commit_sync_fn sync;
    void *sync_ctx;
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mu;        /* guards everything below */
    pthread_cond_t kick;       /* commit thread: a sync is wanted, or stop */
    pthread_cond_t done;       /* waiters: a sync finished */
    int fd;                    /* our duplicate of the spool's descriptor */
    int notify_fd;             /* eventfd: the watermarks moved (set at start, then constant) */
    uint64_t appended;         /* highest seq written to the file */
    uint64_t durable;          /* highest seq known on disk */
    uint64_t wanted;           /* highest seq a waiter asked for */
    uint64_t failed_upto;      /* the last failed sync covered up to here */
    uint64_t request_seq;      /* the current publish request's seq */
    char failure[COMMIT_ERR_LEN];
    uint64_t syncs;
    uint64_t sync_failures;
    bool stopping;
};

static int fdatasync_fd(void *ctx, int fd, char *err, size_t err_len)
{
    (void)ctx;
    if (fdatasync(fd) != 0) {
        snprintf(err, err_len, "fdatasync of the delivery queue file: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* With mu held: wakes the waiters on the condition and the poller of
 * notify_fd (the control thread). */
static void announce_progress(struct agent_commit *c)
{
    uint64_t one = 1;

    pthread_cond_broadcast(&c->done);
    /* Fails only when the counter is at its limit: readable anyway. */
    if (c->notify_fd >= 0 && write(c->notify_fd, &one, sizeof(one)) < 0)
        (void)0;
}

/* With mu held: one sync of everything appended so far (mu released
 * around the sync itself). */
static void sync_once(struct agent_commit *c)
{
    uint64_t target = c->appended;
    char err[COMMIT_ERR_LEN] = "";
    int fd = -1;
    int rc;

    if (c->fd >= 0) {
        fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(c->failure, sizeof(c->failure), "cannot duplicate the queue file: %s",
                     strerror(errno));
            c->sync_failures++;
            c->failed_upto = target;
            announce_progress(c);
            return;
        }
    }
    pthread_mutex_unlock(&c->mu);
    rc = c->sync(c->sync_ctx, fd, err, sizeof(err));
    if (fd >= 0)
        close(fd);
    pthread_mutex_lock(&c->mu);
    if (rc == 0) {
        c->syncs++;
        if (target > c->durable)
            c->durable = target;
    } else {
        c->sync_failures++;
        if (target > c->failed_upto)
            c->failed_upto = target;
        snprintf(c->failure, sizeof(c->failure), "%s", err[0] ? err : "sync failed");
    }
    announce_progress(c);
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000u;
    ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *commit_main(void *arg)
{
    struct agent_commit *c = arg;
    struct timespec next;

    pthread_mutex_lock(&c->mu);
    deadline_after(&next, c->batch_ms);
    while (!c->stopping) {
        if (c->wanted > c->durable && c->wanted > c->failed_upto && c->appended > c->durable) {
            sync_once(c);
            continue;
        }
        if (c->mode == AGENT_DURABILITY_BATCH) {
            if (pthread_cond_timedwait(&c->kick, &c->mu, &next) == ETIMEDOUT) {
                if (c->appended > c->durable)
                    sync_once(c);
                deadline_after(&next, c->batch_ms);
            }
        } else {
            pthread_cond_wait(&c->kick, &c->mu);
        }
    }
    if (c->appended > c->durable)
        sync_once(c);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

struct agent_commit *agent_commit_start(enum agent_queue_durability mode, unsigned batch_ms,
                                        int fd, uint64_t durable_seq, agent_commit_sync_fn sync,
                                        void *sync_ctx, char *err, size_t err_len)
{
    struct agent_commit *c = NULL;
    pthread_condattr_t attr;
    int rc;

    if (mode != AGENT_DURABILITY_FSYNC && mode != AGENT_DURABILITY_BATCH) {
        snprintf(err, err_len, "group commit needs the fsync or batch mode");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    c->mode = mode;
    c->batch_ms = batch_ms ? batch_ms : 1;
    c->sync = sync ? sync : fdatasync_fd;
    c->sync_ctx = sync_ctx;
    c->appended = c->durable = durable_seq;
    c->fd = -1;
    c->notify_fd = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->kick, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&c->done, NULL);
    if (fd >= 0 && (c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
        snprintf(err, err_len, "cannot duplicate the queue file descriptor: %s", strerror(errno));
        goto fail;
    }
    c->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->notify_fd < 0) {
        snprintf(err, err_len, "eventfd for the queue's commit thread: %s", strerror(errno));
        goto fail;
    }
    rc = pthread_create(&c->thread, NULL, commit_main, c);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the queue's commit thread: %s", strerror(rc));
        goto fail;
    }
    c->thread_started = true;
    return c;
fail:
    agent_commit_stop(c);
    return NULL;
}

void agent_commit_stop(struct agent_commit *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->kick);
    announce_progress(c);
    pthread_mutex_unlock(&c->mu);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    if (c->fd >= 0)
        close(c->fd);
    if (c->notify_fd >= 0)
        close(c->notify_fd);
    pthread_cond_destroy(&c->kick);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void agent_commit_appended(struct agent_commit *c, uint64_t seq)
{
    pthread_mutex_lock(&c->mu);
    if (seq > c->appended)
        c->appended = seq;
    pthread_mutex_unlock(&c->mu);
}

void agent_commit_set_request(struct agent_commit *c, uint64_t seq)
{
    pthread_mutex_lock(&c->mu);
    c->request_seq = seq;
    pthread_mutex_unlock(&c->mu);
}

void agent_commit_file_replaced(struct agent_commit *c, int fd)
{
    int dup_fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;

    pthread_mutex_lock(&c->mu);
    /* The rewritten file holds every pending record and was fsynced
     * before it took the name. */
    c->durable = c->appended;
    if (dup_fd >= 0 || fd < 0) {
        if (c->fd >= 0)
            close(c->fd);
        c->fd = dup_fd;
    }
    /* else: keep syncing the old descriptor; the next compaction or a
     * restart fixes it, and each sync of the old file still fails loudly
     * only if the disk does. */
    announce_progress(c);
    pthread_mutex_unlock(&c->mu);
}

int agent_commit_wait(struct agent_commit *c, uint64_t seq, char *err, size_t err_len)
{
    int rc = 0;

    pthread_mutex_lock(&c->mu);
    if (seq > c->appended) {
        pthread_mutex_unlock(&c->mu);
        snprintf(err, err_len, "the message was not written to the queue file");
        return -1;
    }
    if (seq > c->wanted)
        c->wanted = seq;
    pthread_cond_signal(&c->kick);
    while (c->durable < seq && c->failed_upto < seq && !c->stopping)
        pthread_cond_wait(&c->done, &c->mu);
    if (c->durable < seq) {
        snprintf(err, err_len, "the message is queued but not confirmed on disk (%s)",
                 c->stopping ? "the agent is stopping" : c->failure);
        rc = -1;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

uint64_t agent_commit_take_request(struct agent_commit *c)
{
    uint64_t seq;

    pthread_mutex_lock(&c->mu);
    seq = c->request_seq;
    c->request_seq = 0;
    if (seq > c->wanted && seq <= c->appended) {
        c->wanted = seq;
        pthread_cond_signal(&c->kick);
    }
    pthread_mutex_unlock(&c->mu);
    return seq;
}

int agent_commit_check(struct agent_commit *c, uint64_t seq, char *err, size_t err_len)
{
    int rc = 1;

    pthread_mutex_lock(&c->mu);
    if (c->durable >= seq) {
        rc = 0;
    } else if (seq > c->appended) {
        snprintf(err, err_len, "the message was not written to the queue file");
        rc = -1;
    } else if (c->failed_upto >= seq || c->stopping) {
        snprintf(err, err_len, "the message is queued but not confirmed on disk (%s)",
                 c->stopping ? "the agent is stopping" : c->failure);
        rc = -1;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int agent_commit_notify_fd(const struct agent_commit *c)
{
    return c->notify_fd;
}

void agent_commit_get_stats(struct agent_commit *c, struct agent_commit_stats *out)
{
    pthread_mutex_lock(&c->mu);
    out->syncs = c->syncs;
    out->sync_failures = c->sync_failures;
    out->appended_seq = c->appended;
    out->durable_seq = c->durable;
    pthread_mutex_unlock(&c->mu);
}
