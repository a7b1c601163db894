/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Control socket test helpers (see control_test_util.h).
 */
#include "control_test_util.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

static int fake_status(void *ctx, struct json_object *out, char *err, size_t err_len)
{
    struct fake_agent *fake = ctx;

    fake->status_calls++;
    if (fake->fail_next) {
        fake->fail_next = false;
        snprintf(err, err_len, "status unavailable");
        return -1;
    }
    json_object_object_add(out, "state", json_object_new_string("connected"));
    json_object_object_add(out, "client_id", json_object_new_string("dev-1"));
    if (fake->status_padding > 0) {
        char *pad = malloc(fake->status_padding + 1);

        assert_non_null(pad);
        memset(pad, 'x', fake->status_padding);
        pad[fake->status_padding] = '\0';
        json_object_object_add(out, "padding", json_object_new_string(pad));
        free(pad);
    }
    return 0;
}

static int fake_publish(void *ctx, const char *topic, const void *payload, size_t payload_len,
                        int qos, bool retain, char *err, size_t err_len)
{
    struct fake_agent *fake = ctx;

    fake->publish_calls++;
    if (fake->fail_next) {
        fake->fail_next = false;
        snprintf(err, err_len, "queue full");
        return -1;
    }
    snprintf(fake->topic, sizeof(fake->topic), "%s", topic);
    fake->payload_len = payload_len < sizeof(fake->payload) ? payload_len : sizeof(fake->payload);
    memcpy(fake->payload, payload, fake->payload_len);
    fake->qos = qos;
    fake->retain = retain;
    return 0;
}

static int fake_reconnect(void *ctx, char *err, size_t err_len)
{
    struct fake_agent *fake = ctx;

    fake->reconnect_calls++;
    if (fake->fail_next) {
        fake->fail_next = false;
        snprintf(err, err_len, "reconnect refused");
        return -1;
    }
    return 0;
}

static int fake_rotate(void *ctx, char *err, size_t err_len)
{
    struct fake_agent *fake = ctx;

    (void)err;
    (void)err_len;
    fake->rotate_calls++;
    return 0;
}

void ctlt_fixture_init(struct ctl_fixture *fx, bool with_rotate)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[512];

    memset(fx, 0, sizeof(*fx));
    snprintf(tmpl, sizeof(tmpl), "%s/ctltest.XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(tmpl));
    assert_int_equal(chmod(tmpl, 0755), 0);
    fx->dir = strdup(tmpl);
    assert_non_null(fx->dir);
    fx->path = malloc(strlen(tmpl) + 32);
    assert_non_null(fx->path);
    sprintf(fx->path, "%s/control.sock", tmpl);
    fx->handlers.status = fake_status;
    fx->handlers.publish = fake_publish;
    fx->handlers.reconnect = fake_reconnect;
    fx->handlers.rotate = with_rotate ? fake_rotate : NULL;
    fx->handlers.ctx = &fx->fake;
    fx->config.path = fx->path;
    fx->config.mode = 0666;
}

void ctlt_open(struct ctl_fixture *fx)
{
    char err[256] = "";

    fx->control = agent_control_open(&fx->config, &fx->handlers, err, sizeof(err));
    if (fx->control == NULL)
        fail_msg("agent_control_open: %s", err);
}

void ctlt_fixture_free(struct ctl_fixture *fx)
{
    char cmd[600];

    agent_control_close(fx->control);
    fx->control = NULL;
    if (fx->dir != NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", fx->dir);
    }
    free(fx->path);
    free(fx->dir);
    fx->path = NULL;
    fx->dir = NULL;
}

void ctlt_pump(struct agent_control *control, int ms)
{
    struct pollfd fds[64];
    size_t n = agent_control_pollfds(control, fds, 64);
    int timeout = agent_control_next_timeout_ms(control);

    if (timeout < 0 || timeout > ms)
        timeout = ms;
    if (poll(fds, n, timeout) < 0 && errno != EINTR)
        fail_msg("poll: %s", strerror(errno));
    agent_control_dispatch(control, fds, n);
}

int ctlt_connect(const char *path)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        fail_msg("connect %s: %s", path, strerror(errno));
    return fd;
}

void ctlt_send(int fd, const char *text)
{
    size_t len = strlen(text);
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail_msg("send: %s", strerror(errno));
        off += (size_t)n;
    }
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctlt_read_line(struct agent_control *control, int fd, char *buf, size_t len, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    size_t used = 0;

    for (;;) {
        char ch;
        ssize_t n;

        /* Take what is there first; pump the server only when waiting. */
        for (;;) {
            n = recv(fd, &ch, 1, MSG_DONTWAIT);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (ch == '\n') {
                buf[used] = '\0';
                return (int)used;
            }
            if (used + 1 < len)
                buf[used++] = ch;
        }
        if (n == 0) {
            buf[used] = '\0';
            return 0;
        }
        if (now_ms() >= deadline)
            return -1;
        if (control != NULL) {
            ctlt_pump(control, 5);
        } else {
            struct pollfd p = { .fd = fd, .events = POLLIN };

            poll(&p, 1, 5);
        }
    }
}

bool ctlt_wait_eof(struct agent_control *control, int fd, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    while (now_ms() < deadline) {
        char buf[4096];
        ssize_t n;

        ctlt_pump(control, 5);
        for (;;) {
            n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0)
                continue;
            break;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}

const char *ctlt_request(struct ctl_fixture *fx, int fd, const char *line)
{
    ctlt_send(fd, line);
    if (ctlt_read_line(fx->control, fd, fx->reply, sizeof(fx->reply), 5000) <= 0)
        fail_msg("no reply to %s", line);
    return fx->reply;
}

static uint64_t ctlt_clock_now(void *ctx)
{
    const struct ctlt_clock *clock = ctx;

    return clock->now_ms;
}

void ctlt_clock_install(struct ctlt_clock *clock)
{
    clock->now_ms = 1000000;
    clock->source.now_ms = ctlt_clock_now;
    clock->source.ctx = clock;
    agent_clock_set_source(&clock->source);
}

void ctlt_clock_advance(struct ctlt_clock *clock, uint64_t ms)
{
    clock->now_ms += ms;
}

void ctlt_clock_uninstall(void)
{
    agent_clock_set_source(NULL);
}

/* The server's side of the seam: "<dir>/peer-<uid>-<n>" names the uid. */
static int fake_peer_cred(void *ctx, int fd, struct agent_control_cred *out)
{
    (void)ctx;
    struct sockaddr_un sun;
    socklen_t len = sizeof(sun);
    const char *base;
    unsigned long uid;

    memset(&sun, 0, sizeof(sun));
    if (getpeername(fd, (struct sockaddr *)&sun, &len) != 0 || len <= sizeof(sa_family_t))
        return -1;
    base = strrchr(sun.sun_path, '/');
    if (base == NULL || sscanf(base, "/peer-%lu-", &uid) != 1)
        return -1;
    out->pid = getpid();
    out->uid = (uid_t)uid;
    out->gid = (gid_t)uid;
    return 0;
}

void ctlt_use_fake_peers(struct ctl_fixture *fx)
{
    fx->config.peer_cred = fake_peer_cred;
    fx->config.peer_cred_ctx = fx;
}

int ctlt_connect_as(struct ctl_fixture *fx, uid_t uid)
{
    struct sockaddr_un me;
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&me, 0, sizeof(me));
    me.sun_family = AF_UNIX;
    snprintf(me.sun_path, sizeof(me.sun_path), "%s/peer-%lu-%u", fx->dir, (unsigned long)uid,
             fx->peers_made++);
    if (bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0)
        fail_msg("bind %s: %s", me.sun_path, strerror(errno));
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx->path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        fail_msg("connect %s: %s", fx->path, strerror(errno));
    return fd;
}
