/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Group commit (agent/publish_commit.c) and the "ok after sync" rule of
 * the fsync mode through the real control thread
 * (agent/control_thread.c): an injected sync that the test holds shut
 * shows that no reply leaves before the sync has returned, that one sync
 * covers every record appended before it began, and that a failed sync
 * is an error for the publishers it covered. No wall-clock assertion: a
 * bounded wait only turns a hang into a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control.h"
#include "control_thread.h"
#include "publish_commit.h"

/* ---- an injected sync the test can hold and observe ------------------- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;            /* syncs may complete */
    int entered;          /* syncs started */
    int finished;         /* syncs returned */
    bool fail;            /* the next syncs fail */
    char events[256];     /* "S" sync started, "F" finished, "O" ok seen */
};

static void gate_init(struct gate *g, bool open)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = open;
}

static void gate_free(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_event(struct gate *g, char e)
{
    size_t n;

    pthread_mutex_lock(&g->mu);
    n = strlen(g->events);
    if (n + 1 < sizeof(g->events))
        g->events[n] = e;
    pthread_mutex_unlock(&g->mu);
}

static int held_sync(void *ctx, int fd, char *err, size_t err_len)
{
    struct gate *g = ctx;
    bool fail;

    (void)fd;
    gate_event(g, 'S');
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    fail = g->fail;
    g->finished++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    gate_event(g, 'F');
    if (fail) {
        snprintf(err, err_len, "injected I/O error");
        return -1;
    }
    return 0;
}

static void gate_set_open(struct gate *g, bool open)
{
    pthread_mutex_lock(&g->mu);
    g->open = open;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Waits (bounded: a hang fails the test) until n syncs have started. */
static void gate_wait_entered(struct gate *g, int n)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&g->mu);
    while (g->entered < n) {
        if (pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&g->mu);
            fail_msg("sync %d never started", n);
        }
    }
    pthread_mutex_unlock(&g->mu);
}

static char *gate_events(struct gate *g, char *buf, size_t len)
{
    pthread_mutex_lock(&g->mu);
    snprintf(buf, len, "%s", g->events);
    pthread_mutex_unlock(&g->mu);
    return buf;
}

/* ---- waiters on their own threads ------------------------------------- */

struct waiter {
    struct agent_commit *c;
    struct gate *g;
    uint64_t seq;
    int rc;
    char err[256];
    pthread_t thread;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;

    w->rc = agent_commit_wait(w->c, w->seq, w->err, sizeof(w->err));
    if (w->rc == 0)
        gate_event(w->g, 'O');
    return NULL;
}

static void waiter_start(struct waiter *w, struct agent_commit *c, struct gate *g, uint64_t seq)
{
    memset(w, 0, sizeof(*w));
    w->c = c;
    w->g = g;
    w->seq = seq;
    assert_int_equal(pthread_create(&w->thread, NULL, wait_main, w), 0);
}

static struct agent_commit *start_fsync(struct gate *g)
{
    char err[256];
    struct agent_commit *c =
        agent_commit_start(AGENT_DURABILITY_FSYNC, 200, -1, 0, held_sync, g, err, sizeof(err));

    if (!c)
        fail_msg("agent_commit_start: %s", err);
    return c;
}

static void test_wait_returns_only_after_the_sync_returned(void **state)
{
    struct gate g;
    struct agent_commit *c;
    struct waiter w;
    char ev[256];

    (void)state;
    gate_init(&g, false);
    c = start_fsync(&g);
    agent_commit_appended(c, 1);
    waiter_start(&w, c, &g, 1);
    gate_wait_entered(&g, 1);
    /* The sync is held: the publisher must still be waiting. */
    assert_string_equal(gate_events(&g, ev, sizeof(ev)), "S");
    gate_set_open(&g, true);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, 0);
    assert_string_equal(gate_events(&g, ev, sizeof(ev)), "SFO");
    agent_commit_stop(c);
    gate_free(&g);
}

static void test_one_sync_covers_every_record_appended_before_it(void **state)
{
    struct gate g;
    struct agent_commit *c;
    struct waiter w1, w2, w3;
    struct agent_commit_stats st;

    (void)state;
    gate_init(&g, false);
    c = start_fsync(&g);
    agent_commit_appended(c, 1);
    waiter_start(&w1, c, &g, 1);
    gate_wait_entered(&g, 1);
    /* While sync 1 runs, two more publishes arrive: the next sync covers both. */
    agent_commit_appended(c, 2);
    agent_commit_appended(c, 3);
    waiter_start(&w2, c, &g, 2);
    waiter_start(&w3, c, &g, 3);
    gate_set_open(&g, true);
    pthread_join(w1.thread, NULL);
    pthread_join(w2.thread, NULL);
    pthread_join(w3.thread, NULL);
    assert_int_equal(w1.rc, 0);
    assert_int_equal(w2.rc, 0);
    assert_int_equal(w3.rc, 0);
    agent_commit_get_stats(c, &st);
    assert_int_equal(st.syncs, 2);
    assert_int_equal(st.durable_seq, 3);
    agent_commit_stop(c);
    gate_free(&g);
}

static void test_a_failed_sync_is_an_error_for_the_publishers_it_covered(void **state)
{
    struct gate g;
    struct agent_commit *c;
    struct waiter w;
    struct agent_commit_stats st;

    (void)state;
    gate_init(&g, true);
    g.fail = true;
    c = start_fsync(&g);
    agent_commit_appended(c, 1);
    waiter_start(&w, c, &g, 1);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, -1);
    assert_non_null(strstr(w.err, "not confirmed on disk"));
    assert_non_null(strstr(w.err, "injected I/O error"));
    /* A later publish gets a sync of its own (which now succeeds). */
    pthread_mutex_lock(&g.mu);
    g.fail = false;
    pthread_mutex_unlock(&g.mu);
    agent_commit_appended(c, 2);
    waiter_start(&w, c, &g, 2);
    pthread_join(w.thread, NULL);
    assert_int_equal(w.rc, 0);
    agent_commit_get_stats(c, &st);
    assert_int_equal(st.sync_failures, 1);
    assert_int_equal(st.syncs, 1);
    agent_commit_stop(c);
    gate_free(&g);
}

static void test_batch_mode_syncs_without_being_asked(void **state)
{
    struct gate g;
    struct agent_commit *c;
    char err[256];

    (void)state;
    gate_init(&g, true);
    c = agent_commit_start(AGENT_DURABILITY_BATCH, 5, -1, 0, held_sync, &g, err, sizeof(err));
    assert_non_null(c);
    agent_commit_appended(c, 1);
    gate_wait_entered(&g, 1);
    agent_commit_stop(c);
    gate_free(&g);
}

static void test_stop_syncs_what_was_appended(void **state)
{
    struct gate g;
    struct agent_commit *c;

    (void)state;
    gate_init(&g, true);
    c = start_fsync(&g);
    agent_commit_appended(c, 7);
    agent_commit_stop(c);
    assert_int_equal(g.finished, 1);
    gate_free(&g);
}

/* ---- through the control thread: the reply waits for the sync --------- */

struct loop_fixture {
    struct agent_commit *commit;
    uint64_t next_seq;
    int publishes;
    bool refuse_next;     /* the next publish is refused (queue full) */
};

static int fx_status(void *ctx, struct json_object *out, char *err, size_t err_len)
{
    (void)ctx;
    (void)err;
    (void)err_len;
    json_object_object_add(out, "state", json_object_new_string("connected"));
    return 0;
}

/* Runs on the "loop" (the test's main thread), as agent_publish does:
 * append, then name the seq the reply must wait for. */
static int fx_publish(void *ctx, const char *topic, const void *payload, size_t payload_len,
                      int qos, bool retain, char *err, size_t err_len)
{
    struct loop_fixture *lf = ctx;

    (void)topic;
    (void)payload;
    (void)payload_len;
    (void)retain;
    lf->publishes++;
    agent_commit_set_request(lf->commit, 0);
    if (lf->refuse_next) {
        lf->refuse_next = false;
        snprintf(err, err_len, "queue full (test)");
        return -1;
    }
    if (qos > 0) {
        uint64_t seq = ++lf->next_seq;

        agent_commit_appended(lf->commit, seq);
        agent_commit_set_request(lf->commit, seq);
    }
    return 0;
}

static int fx_reconnect(void *ctx, char *err, size_t err_len)
{
    (void)ctx;
    (void)err;
    (void)err_len;
    return 0;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sun;
    struct timeval tv = {.tv_sec = 20, .tv_usec = 0};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_true(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    return fd;
}

/* Plays the loop until the mailbox request was run once. */
static void run_loop_once(struct agent_control_thread *t, struct loop_fixture *lf, int before)
{
    for (int i = 0; i < 2000 && lf->publishes == before; i++) {
        struct pollfd p = {.fd = agent_control_thread_fd(t), .events = POLLIN};

        if (poll(&p, 1, 10) > 0)
            agent_control_thread_run_pending(t);
    }
    assert_int_equal(lf->publishes, before + 1);
}

static void read_line(int fd, char *buf, size_t len)
{
    size_t used = 0;

    while (used + 1 < len) {
        ssize_t n = read(fd, buf + used, 1);

        if (n <= 0)
            fail_msg("no reply line (read %zd, errno %d)", n, errno);
        if (buf[used] == '\n')
            break;
        used++;
    }
    buf[used] = '\0';
}

static void test_control_reply_ok_comes_after_the_sync(void **state)
{
    char dir[] = "/tmp/trustlink-commit-XXXXXX";
    char path[128], err[256], line[512], ev[256];
    struct loop_fixture lf = {0};
    struct agent_control_config cc;
    struct agent_control_handlers h;
    struct agent_control_thread *t;
    struct gate g;
    struct pollfd p;
    int fd;
    static const char req[] = "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\",\"qos\":1}\n";

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/control.sock", dir);
    gate_init(&g, false);
    lf.commit = start_fsync(&g);
    memset(&cc, 0, sizeof(cc));
    cc.path = path;
    cc.mode = 0600;
    memset(&h, 0, sizeof(h));
    h.status = fx_status;
    h.publish = fx_publish;
    h.reconnect = fx_reconnect;
    h.ctx = &lf;
    t = agent_control_thread_start(&cc, &h, err, sizeof(err));
    if (!t)
        fail_msg("agent_control_thread_start: %s", err);
    agent_control_thread_set_commit(t, lf.commit);

    fd = connect_to(path);
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    run_loop_once(t, &lf, 0);
    gate_wait_entered(&g, 1);
    /* The loop has accepted the message and moved on; the sync is held:
     * no reply may be readable (it cannot come while the gate is shut). */
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    assert_int_equal(poll(&p, 1, 200), 0);
    gate_set_open(&g, true);
    read_line(fd, line, sizeof(line));
    gate_event(&g, 'O');
    assert_non_null(strstr(line, "\"ok\":true"));
    assert_string_equal(gate_events(&g, ev, sizeof(ev)), "SFO");

    /* QoS 0 waits for nothing: no further sync. */
    {
        static const char req0[] = "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\"}\n";
        struct agent_commit_stats st;

        assert_int_equal(write(fd, req0, sizeof(req0) - 1), (ssize_t)(sizeof(req0) - 1));
        run_loop_once(t, &lf, 1);
        read_line(fd, line, sizeof(line));
        assert_non_null(strstr(line, "\"ok\":true"));
        agent_commit_get_stats(lf.commit, &st);
        assert_int_equal(st.syncs, 1);
    }
    close(fd);
    agent_control_thread_stop(t);
    agent_commit_stop(lf.commit);
    gate_free(&g);
    unlink(path);
    rmdir(dir);
}

/* ---- group commit across control clients ------------------------------ */

struct server {
    char dir[64];
    char path[128];
    struct loop_fixture lf;
    struct agent_control_thread *t;
};

static void server_start(struct server *sv, struct gate *g)
{
    struct agent_control_config cc;
    struct agent_control_handlers h;
    char err[256];

    memset(sv, 0, sizeof(*sv));
    snprintf(sv->dir, sizeof(sv->dir), "/tmp/trustlink-gcommit-XXXXXX");
    assert_non_null(mkdtemp(sv->dir));
    snprintf(sv->path, sizeof(sv->path), "%s/control.sock", sv->dir);
    sv->lf.commit = start_fsync(g);
    memset(&cc, 0, sizeof(cc));
    cc.path = sv->path;
    cc.mode = 0600;
    memset(&h, 0, sizeof(h));
    h.status = fx_status;
    h.publish = fx_publish;
    h.reconnect = fx_reconnect;
    h.ctx = &sv->lf;
    sv->t = agent_control_thread_start(&cc, &h, err, sizeof(err));
    if (!sv->t)
        fail_msg("agent_control_thread_start: %s", err);
    agent_control_thread_set_commit(sv->t, sv->lf.commit);
    agent_control_thread_refresh(sv->t);
}

static void server_stop(struct server *sv)
{
    agent_control_thread_stop(sv->t);
    agent_commit_stop(sv->lf.commit);
    unlink(sv->path);
    rmdir(sv->dir);
}

/* Plays the loop until it has run `until` publishes in all, or gives up
 * after ~10 s (a bound on a hang, not a timing). Returns how many ran. */
static int play_loop_until(struct server *sv, int until)
{
    for (int i = 0; i < 1000 && sv->lf.publishes < until; i++) {
        struct pollfd p = {.fd = agent_control_thread_fd(sv->t), .events = POLLIN};

        if (poll(&p, 1, 10) > 0)
            agent_control_thread_run_pending(sv->t);
    }
    return sv->lf.publishes;
}

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) > 0;
}

static void send_line(int fd, const char *line)
{
    size_t len = strlen(line);

    assert_int_equal(write(fd, line, len), (ssize_t)len);
}

/* Reads one line per client while playing the loop (a control thread
 * that serves clients one at a time needs the loop for each of them). */
static void collect_replies(struct server *sv, const int *fds, int n, char replies[][256])
{
    bool got[16] = {false};
    int left = n;

    assert_true(n <= 16);
    for (int round = 0; left > 0 && round < 2000; round++) {
        struct pollfd p[17];

        for (int i = 0; i < n; i++) {
            p[i].fd = got[i] ? -1 : fds[i];
            p[i].events = POLLIN;
            p[i].revents = 0;
        }
        p[n].fd = agent_control_thread_fd(sv->t);
        p[n].events = POLLIN;
        p[n].revents = 0;
        if (poll(p, (nfds_t)n + 1, 10) <= 0)
            continue;
        if (p[n].revents & POLLIN)
            agent_control_thread_run_pending(sv->t);
        for (int i = 0; i < n; i++) {
            if (got[i] || !(p[i].revents & POLLIN))
                continue;
            read_line(fds[i], replies[i], 256);
            got[i] = true;
            left--;
        }
    }
    if (left > 0)
        fail_msg("%d client(s) got no reply", left);
}

#define CONCURRENT_CLIENTS 8

/* K clients publish at the same time while the first sync is held: the
 * control thread must hand every publish to the loop and hold the
 * replies, so that the next sync covers all of them (fsyncs < messages,
 * the status counter queue.fsyncs counts the same syncs). A control
 * thread that waits for each client's sync before reading the next one
 * makes one sync per message. */
static void test_concurrent_clients_share_syncs(void **state)
{
    struct server sv;
    struct gate g;
    struct agent_commit_stats st;
    int fds[CONCURRENT_CLIENTS];
    char replies[CONCURRENT_CLIENTS][256];
    int accepted_while_held;
    bool replied_while_held = false;

    (void)state;
    gate_init(&g, false);
    server_start(&sv, &g);
    for (int i = 0; i < CONCURRENT_CLIENTS; i++) {
        char req[160];

        fds[i] = connect_to(sv.path);
        snprintf(req, sizeof(req),
                 "{\"cmd\":\"publish\",\"id\":%d,\"topic\":\"t\",\"payload\":\"m%d\",\"qos\":1}\n",
                 i, i);
        send_line(fds[i], req);
    }
    accepted_while_held = play_loop_until(&sv, CONCURRENT_CLIENTS);
    gate_wait_entered(&g, 1);
    /* Nothing is on disk yet: no client may have its "ok". */
    for (int i = 0; i < CONCURRENT_CLIENTS; i++)
        replied_while_held |= readable(fds[i]);
    gate_set_open(&g, true);
    collect_replies(&sv, fds, CONCURRENT_CLIENTS, replies);
    for (int i = 0; i < CONCURRENT_CLIENTS; i++) {
        char id[32];

        snprintf(id, sizeof(id), "\"id\":%d", i);
        if (!strstr(replies[i], "\"ok\":true") || !strstr(replies[i], id))
            fail_msg("client %d: %s", i, replies[i]);
        close(fds[i]);
    }
    agent_commit_get_stats(sv.lf.commit, &st);
    server_stop(&sv);
    gate_free(&g);
    assert_false(replied_while_held);
    if (accepted_while_held != CONCURRENT_CLIENTS)
        fail_msg("only %d of %d concurrent publishes reached the loop while the first sync ran",
                 accepted_while_held, CONCURRENT_CLIENTS);
    if (st.syncs >= CONCURRENT_CLIENTS)
        fail_msg("%llu syncs for %d messages: no group commit across clients",
                 (unsigned long long)st.syncs, CONCURRENT_CLIENTS);
    /* The held first sync covered what was appended when it began, the
     * next one everything else. */
    assert_true(st.syncs <= 2);
    assert_int_equal(st.durable_seq, CONCURRENT_CLIENTS);
}

/* One client pipelines a durable publish, a status and a QoS 0 publish:
 * the later replies are ready first but must not overtake the held one. */
static void test_replies_keep_request_order_per_client(void **state)
{
    struct server sv;
    struct gate g;
    char line[256];
    int fd;
    int accepted_while_held;
    bool replied_while_held;

    (void)state;
    gate_init(&g, false);
    server_start(&sv, &g);
    fd = connect_to(sv.path);
    send_line(fd, "{\"cmd\":\"publish\",\"id\":1,\"topic\":\"t\",\"payload\":\"a\",\"qos\":1}\n"
                  "{\"cmd\":\"status\",\"id\":2}\n"
                  "{\"cmd\":\"publish\",\"id\":3,\"topic\":\"t\",\"payload\":\"b\"}\n");
    accepted_while_held = play_loop_until(&sv, 2);
    gate_wait_entered(&g, 1);
    replied_while_held = readable(fd);
    gate_set_open(&g, true);
    for (int id = 1; id <= 3; id++) {
        char want[16];

        read_line(fd, line, sizeof(line));
        snprintf(want, sizeof(want), "\"id\":%d", id);
        if (!strstr(line, want) || !strstr(line, "\"ok\":true"))
            fail_msg("reply %d out of order or failed: %s", id, line);
    }
    close(fd);
    server_stop(&sv);
    gate_free(&g);
    assert_false(replied_while_held);
    assert_int_equal(accepted_while_held, 2);
}

/* While a sync is held: a refusal is answered at once, and a client that
 * hangs up before its reply leaves nothing behind (its message was
 * appended and becomes durable with the next sync anyway). */
static void test_refusal_is_immediate_and_a_gone_client_is_harmless(void **state)
{
    static const char durable[] = "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\",\"qos\":1}\n";
    struct server sv;
    struct gate g;
    struct agent_commit_stats st;
    char line[256];
    int gone, other;

    (void)state;
    gate_init(&g, false);
    server_start(&sv, &g);
    gone = connect_to(sv.path);
    send_line(gone, durable);
    assert_int_equal(play_loop_until(&sv, 1), 1);
    gate_wait_entered(&g, 1);
    close(gone);

    other = connect_to(sv.path);
    sv.lf.refuse_next = true;
    send_line(other, durable);
    if (play_loop_until(&sv, 2) != 2)
        fail_msg("a second client's publish did not reach the loop while a sync was held");
    read_line(other, line, sizeof(line));
    assert_non_null(strstr(line, "\"ok\":false"));
    assert_non_null(strstr(line, "queue full"));

    gate_set_open(&g, true);
    send_line(other, durable);
    assert_int_equal(play_loop_until(&sv, 3), 3);
    read_line(other, line, sizeof(line));
    assert_non_null(strstr(line, "\"ok\":true"));
    agent_commit_get_stats(sv.lf.commit, &st);
    assert_int_equal(st.durable_seq, 2);
    close(other);
    server_stop(&sv);
    gate_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_returns_only_after_the_sync_returned),
        cmocka_unit_test(test_one_sync_covers_every_record_appended_before_it),
        cmocka_unit_test(test_a_failed_sync_is_an_error_for_the_publishers_it_covered),
        cmocka_unit_test(test_batch_mode_syncs_without_being_asked),
        cmocka_unit_test(test_stop_syncs_what_was_appended),
        cmocka_unit_test(test_control_reply_ok_comes_after_the_sync),
        cmocka_unit_test(test_concurrent_clients_share_syncs),
        cmocka_unit_test(test_replies_keep_request_order_per_client),
        cmocka_unit_test(test_refusal_is_immediate_and_a_gone_client_is_harmless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
