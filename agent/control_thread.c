/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket's thread and its hand-over to the loop thread (see
 * control_thread.h).
 */
#include "control_thread.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <json-c/json.h>

#include "clock.h"
#include "log.h"
#include "publish_commit.h"

#define MAX_CONTROL_FDS 64
#define MAILBOX_ERR_LEN 512

enum mailbox_cmd { MAILBOX_NONE = 0, MAILBOX_PUBLISH, MAILBOX_RECONNECT, MAILBOX_ROTATE };

struct agent_control_thread {
    struct agent_control *control;
    struct agent_control_handlers loop;   /* run on the loop thread */
    pthread_t thread;
    bool thread_started;
    int stop_fd;                          /* control thread polls it */
    int wake_fd;                          /* loop thread polls it */
    struct agent_commit *commit;          /* NULL: publishes wait for nothing more */
    uint64_t ticket;                      /* control thread only: the last publish's seq */

    pthread_mutex_t mu;                   /* guards everything below */
    pthread_cond_t done_cond;
    char *snapshot;                       /* status object text */
    uint64_t snapshot_ms;
    bool stopping;
    enum mailbox_cmd cmd;
    bool done;
    const char *topic;                    /* publish: the control thread's */
    const void *payload;                  /* buffers, valid while it waits */
    size_t payload_len;
    int qos;
    bool retain;
    int result;
    char err[MAILBOX_ERR_LEN];
};

static void signal_fd(int fd)
{
    uint64_t one = 1;

    /* An eventfd only fails to take 1 when its counter is at the limit:
     * it is readable then anyway. */
    if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        agent_warn("control: eventfd write: %s", strerror(errno));
}

static void drain_fd(int fd)
{
    uint64_t count;

    while (read(fd, &count, sizeof(count)) == (ssize_t)sizeof(count))
        ;
}

/* ---- control-thread handlers ---------------------------------------- */

static int thread_status(void *ctx, struct json_object *out, char *err, size_t err_len)
{
    struct agent_control_thread *t = ctx;
    struct json_object *snap = NULL;
    uint64_t taken_ms;

    pthread_mutex_lock(&t->mu);
    if (t->snapshot)
        snap = json_tokener_parse(t->snapshot);
    taken_ms = t->snapshot_ms;
    pthread_mutex_unlock(&t->mu);
    if (!snap || !json_object_is_type(snap, json_type_object)) {
        json_object_put(snap);
        snprintf(err, err_len, "the agent is starting: no status yet");
        return -1;
    }
    json_object_object_foreach(snap, key, value) {
        json_object_object_add(out, key, json_object_get(value));
    }
    json_object_object_add(out, "status_age_ms", json_object_new_int64((int64_t)(agent_monotonic_ms() - taken_ms)));
    json_object_put(snap);
    return 0;
}

/* Hands the filled-in mailbox to the loop thread and waits for it. */
static int call_loop(struct agent_control_thread *t, enum mailbox_cmd cmd, char *err,
                     size_t err_len)
{
    int result;

    pthread_mutex_lock(&t->mu);
    if (t->stopping) {
        pthread_mutex_unlock(&t->mu);
        snprintf(err, err_len, "the agent is stopping");
        return -1;
    }
    t->cmd = cmd;
    t->done = false;
    t->err[0] = '\0';
    signal_fd(t->wake_fd);
    while (!t->done && !t->stopping)
        pthread_cond_wait(&t->done_cond, &t->mu);
    if (t->done) {
        result = t->result;
        snprintf(err, err_len, "%s", t->err);
    } else {
        result = -1;
        snprintf(err, err_len, "the agent is stopping");
    }
    t->cmd = MAILBOX_NONE;
    pthread_mutex_unlock(&t->mu);
    return result;
}

static struct agent_commit *current_commit(struct agent_control_thread *t)
{
    struct agent_commit *commit;

    pthread_mutex_lock(&t->mu);
    commit = t->commit;
    pthread_mutex_unlock(&t->mu);
    return commit;
}

static int thread_publish(void *ctx, const char *topic, const void *payload, size_t payload_len,
                          int qos, bool retain, char *err, size_t err_len)
{
    struct agent_control_thread *t = ctx;
    struct agent_commit *commit;

    t->ticket = 0;
    pthread_mutex_lock(&t->mu);
    t->topic = topic;
    t->payload = payload;
    t->payload_len = payload_len;
    t->qos = qos;
    t->retain = retain;
    pthread_mutex_unlock(&t->mu);
    if (call_loop(t, MAILBOX_PUBLISH, err, err_len) != 0)
        return -1;
    /* Accepted: in fsync mode the reply waits for the sync that makes the
     * message durable. It is held (agent/control_reply.c) while this
     * thread serves the other clients, whose records the same sync, or
     * the next one, covers. */
    commit = current_commit(t);
    if (commit)
        t->ticket = agent_commit_take_request(commit);
    return 0;
}

static uint64_t thread_reply_ticket(void *ctx)
{
    struct agent_control_thread *t = ctx;
    uint64_t ticket = t->ticket;

    t->ticket = 0;
    return ticket;
}

static int thread_ticket_state(void *ctx, uint64_t ticket, char *err, size_t err_len)
{
    struct agent_commit *commit = current_commit(ctx);

    return commit ? agent_commit_check(commit, ticket, err, err_len) : 0;
}

void agent_control_thread_set_commit(struct agent_control_thread *t, struct agent_commit *commit)
{
    pthread_mutex_lock(&t->mu);
    t->commit = commit;
    pthread_mutex_unlock(&t->mu);
}

static int thread_reconnect(void *ctx, char *err, size_t err_len)
{
    return call_loop(ctx, MAILBOX_RECONNECT, err, err_len);
}

static int thread_rotate(void *ctx, char *err, size_t err_len)
{
    return call_loop(ctx, MAILBOX_ROTATE, err, err_len);
}

static void thread_log(void *ctx, int priority, const char *msg)
{
    (void)ctx;
    if (priority < AGENT_LOG_ERR)
        priority = AGENT_LOG_ERR;
    agent_log((enum agent_log_level)priority, "%s", msg);
}

static void *control_main(void *arg)
{
    struct agent_control_thread *t = arg;
    struct pollfd fds[MAX_CONTROL_FDS];

    for (;;) {
        struct agent_commit *commit = current_commit(t);
        size_t n = 2;
        int timeout = agent_control_next_timeout_ms(t->control);

        fds[0].fd = t->stop_fd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        /* A sync ended: held publish replies may go (-1: ignored by poll). */
        fds[1].fd = commit ? agent_commit_notify_fd(commit) : -1;
        fds[1].events = POLLIN;
        fds[1].revents = 0;
        n += agent_control_pollfds(t->control, fds + 2, MAX_CONTROL_FDS - 2);
        if (poll(fds, n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            agent_err("control: poll: %s", strerror(errno));
            break;
        }
        if (fds[0].revents & POLLIN)
            break;
        if (fds[1].revents & POLLIN)
            drain_fd(fds[1].fd);
        agent_control_dispatch(t->control, fds + 2, n - 2);
        /* After the dispatch too: a ticket may be durable already when its
         * reply was held (a compaction made everything durable). */
        agent_control_settle(t->control);
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------- */

struct agent_control_thread *agent_control_thread_start(const struct agent_control_config *config,
                                                        const struct agent_control_handlers *loop_handlers,
                                                        char *err, size_t err_len)
{
    struct agent_control_thread *t = calloc(1, sizeof(*t));
    struct agent_control_handlers mine;
    struct agent_control_thread *result = NULL;
    int rc;

    if (!t) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    t->stop_fd = t->wake_fd = -1;
    t->loop = *loop_handlers;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->done_cond, NULL);
    t->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->stop_fd < 0 || t->wake_fd < 0) {
        snprintf(err, err_len, "eventfd: %s", strerror(errno));
        goto cleanup;
    }
    memset(&mine, 0, sizeof(mine));
    mine.status = thread_status;
    mine.publish = thread_publish;
    mine.reconnect = thread_reconnect;
    mine.rotate = loop_handlers->rotate ? thread_rotate : NULL;
    mine.reply_ticket = thread_reply_ticket;
    mine.ticket_state = thread_ticket_state;
    mine.log = thread_log;
    mine.ctx = t;
    t->control = agent_control_open(config, &mine, err, err_len);
    if (!t->control)
        goto cleanup;
    rc = pthread_create(&t->thread, NULL, control_main, t);
    if (rc != 0) {
        snprintf(err, err_len, "cannot start the control thread: %s", strerror(rc));
        goto cleanup;
    }
    t->thread_started = true;
    result = t;
    t = NULL;
cleanup:
    agent_control_thread_stop(t);
    return result;
}

void agent_control_thread_stop(struct agent_control_thread *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    pthread_cond_broadcast(&t->done_cond);
    pthread_mutex_unlock(&t->mu);
    if (t->thread_started) {
        signal_fd(t->stop_fd);
        pthread_join(t->thread, NULL);
    }
    if (t->control)
        agent_control_close(t->control);
    if (t->stop_fd >= 0)
        close(t->stop_fd);
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    pthread_cond_destroy(&t->done_cond);
    pthread_mutex_destroy(&t->mu);
    free(t->snapshot);
    free(t);
}

/* ---- loop side -------------------------------------------------------- */

void agent_control_thread_refresh(struct agent_control_thread *t)
{
    struct json_object *o = json_object_new_object();
    char err[256];
    const char *text;
    char *copy = NULL;

    if (!o)
        return;
    if (t->loop.status(t->loop.ctx, o, err, sizeof(err)) == 0 &&
        (text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) != NULL)
        copy = strdup(text);
    json_object_put(o);
    if (!copy)
        return;
    pthread_mutex_lock(&t->mu);
    free(t->snapshot);
    t->snapshot = copy;
    t->snapshot_ms = agent_monotonic_ms();
    pthread_mutex_unlock(&t->mu);
}

int agent_control_thread_fd(const struct agent_control_thread *t)
{
    return t->wake_fd;
}

void agent_control_thread_run_pending(struct agent_control_thread *t)
{
    enum mailbox_cmd cmd;
    const char *topic;
    const void *payload;
    size_t payload_len;
    int qos;
    bool retain;
    char err[MAILBOX_ERR_LEN] = "";
    int result = -1;

    drain_fd(t->wake_fd);
    pthread_mutex_lock(&t->mu);
    cmd = t->done ? MAILBOX_NONE : t->cmd;
    topic = t->topic;
    payload = t->payload;
    payload_len = t->payload_len;
    qos = t->qos;
    retain = t->retain;
    pthread_mutex_unlock(&t->mu);
    if (cmd == MAILBOX_NONE)
        return;
    /* Outside the mutex: a rotation start talks to the token. */
    switch (cmd) {
    case MAILBOX_PUBLISH:
        result = t->loop.publish(t->loop.ctx, topic, payload, payload_len, qos, retain, err,
                                 sizeof(err));
        break;
    case MAILBOX_RECONNECT:
        result = t->loop.reconnect(t->loop.ctx, err, sizeof(err));
        break;
    case MAILBOX_ROTATE:
        result = t->loop.rotate(t->loop.ctx, err, sizeof(err));
        break;
    case MAILBOX_NONE:
        break;
    }
    agent_control_thread_refresh(t);
    pthread_mutex_lock(&t->mu);
    t->result = result;
    snprintf(t->err, sizeof(t->err), "%s", err);
    t->done = true;
    pthread_cond_broadcast(&t->done_cond);
    pthread_mutex_unlock(&t->mu);
}
