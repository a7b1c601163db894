/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control socket on its own thread (agent/control_thread.c): status
 * from the loop's snapshot without the loop running, privileged commands
 * through the mailbox only when the loop side runs them, and a stop while
 * a command waits. The test's main thread plays the loop; clients use
 * blocking sockets with a receive timeout (no wall-clock assertions: the
 * timeout only bounds a hang).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control_test_util.h"
#include "control_thread.h"

struct thread_fixture {
    struct ctl_fixture fx;
    struct agent_control_thread *t;
};

static int setup(void **state)
{
    struct thread_fixture *f = calloc(1, sizeof(*f));
    char err[256];

    assert_non_null(f);
    ctlt_fixture_init(&f->fx, true);
    f->t = agent_control_thread_start(&f->fx.config, &f->fx.handlers, err, sizeof(err));
    if (!f->t)
        fail_msg("agent_control_thread_start: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct thread_fixture *f = *state;

    agent_control_thread_stop(f->t);
    ctlt_fixture_free(&f->fx);
    free(f);
    return 0;
}

/* A blocking client whose reads give up after 10 s (a hang, not a timing). */
static int client(const char *path)
{
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
    int fd = ctlt_connect(path);

    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
    return fd;
}

/* Sends line, reads one reply line into buf; returns its length or -1. */
static int ask(int fd, const char *line, char *buf, size_t len)
{
    size_t used = 0;

    ctlt_send(fd, line);
    ctlt_send(fd, "\n");
    while (used + 1 < len) {
        ssize_t n = read(fd, buf + used, 1);

        if (n <= 0)
            return used ? (int)used : -1;
        if (buf[used] == '\n')
            break;
        used++;
    }
    buf[used] = '\0';
    return (int)used;
}

static struct json_object *reply_of(const char *line)
{
    struct json_object *o = json_tokener_parse(line);

    if (!o)
        fail_msg("reply is not JSON: %s", line);
    return o;
}

static bool reply_ok(struct json_object *o)
{
    struct json_object *ok;

    return json_object_object_get_ex(o, "ok", &ok) && json_object_get_boolean(ok);
}

static void test_status_before_a_snapshot_is_an_error(void **state)
{
    struct thread_fixture *f = *state;
    char line[4096];
    int fd = client(f->fx.path);
    struct json_object *o;

    assert_true(ask(fd, "{\"cmd\":\"status\"}", line, sizeof(line)) > 0);
    o = reply_of(line);
    assert_false(reply_ok(o));
    assert_non_null(strstr(line, "starting"));
    json_object_put(o);
    close(fd);
}

/* The loop side never runs here: status still answers, from the snapshot,
 * without calling the loop's handler again. */
static void test_status_is_answered_without_the_loop(void **state)
{
    struct thread_fixture *f = *state;
    struct json_object *o, *v;
    char line[4096];
    int fd;

    agent_control_thread_refresh(f->t);
    assert_int_equal(f->fx.fake.status_calls, 1);
    fd = client(f->fx.path);
    for (int i = 0; i < 3; i++) {
        assert_true(ask(fd, "{\"cmd\":\"status\"}", line, sizeof(line)) > 0);
        o = reply_of(line);
        assert_true(reply_ok(o));
        assert_true(json_object_object_get_ex(o, "state", &v));
        assert_string_equal(json_object_get_string(v), "connected");
        assert_true(json_object_object_get_ex(o, "status_age_ms", &v));
        json_object_put(o);
    }
    assert_int_equal(f->fx.fake.status_calls, 1);
    close(fd);
}

struct asker {
    const char *path;
    const char *request;
    char reply[4096];
    int len;
};

static void *ask_thread(void *arg)
{
    struct asker *a = arg;
    int fd = client(a->path);

    a->len = ask(fd, a->request, a->reply, sizeof(a->reply));
    close(fd);
    return NULL;
}

/* Plays the loop: waits for the mailbox fd, runs the command. */
static void run_loop_once(struct agent_control_thread *t)
{
    struct pollfd p = {.fd = agent_control_thread_fd(t), .events = POLLIN};

    assert_int_equal(poll(&p, 1, 10000), 1);
    agent_control_thread_run_pending(t);
}

static void test_publish_runs_on_the_loop_side_only(void **state)
{
    struct thread_fixture *f = *state;
    struct asker a = {.path = f->fx.path,
                      .request = "{\"cmd\":\"publish\",\"topic\":\"t/1\",\"payload\":\"hello\","
                                 "\"qos\":1,\"retain\":true}"};
    struct json_object *o;
    pthread_t th;

    agent_control_thread_refresh(f->t);
    assert_int_equal(pthread_create(&th, NULL, ask_thread, &a), 0);
    run_loop_once(f->t);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(a.len > 0);
    o = reply_of(a.reply);
    assert_true(reply_ok(o));
    json_object_put(o);
    assert_int_equal(f->fx.fake.publish_calls, 1);
    assert_string_equal(f->fx.fake.topic, "t/1");
    assert_int_equal(f->fx.fake.payload_len, 5);
    assert_memory_equal(f->fx.fake.payload, "hello", 5);
    assert_int_equal(f->fx.fake.qos, 1);
    assert_true(f->fx.fake.retain);
    /* The snapshot was rebuilt after the command, before the reply. */
    assert_int_equal(f->fx.fake.status_calls, 2);
}

static void test_handler_errors_come_back(void **state)
{
    struct thread_fixture *f = *state;
    struct asker a = {.path = f->fx.path, .request = "{\"cmd\":\"reconnect\"}"};
    struct json_object *o;
    pthread_t th;

    f->fx.fake.fail_next = true;
    assert_int_equal(pthread_create(&th, NULL, ask_thread, &a), 0);
    run_loop_once(f->t);
    assert_int_equal(pthread_join(th, NULL), 0);
    o = reply_of(a.reply);
    assert_false(reply_ok(o));
    json_object_put(o);
    assert_int_equal(f->fx.fake.reconnect_calls, 1);
}

/* A command waits for a loop that stops instead: the stop must not hang,
 * the client gets an error or the connection closes, and the loop's
 * handler never ran. */
static void test_stop_while_a_command_waits(void **state)
{
    struct thread_fixture *f = *state;
    struct asker a = {.path = f->fx.path, .request = "{\"cmd\":\"reconnect\"}"};
    struct pollfd p;
    pthread_t th;

    assert_int_equal(pthread_create(&th, NULL, ask_thread, &a), 0);
    p.fd = agent_control_thread_fd(f->t);
    p.events = POLLIN;
    assert_int_equal(poll(&p, 1, 10000), 1);   /* the command is in the mailbox */
    agent_control_thread_stop(f->t);
    f->t = NULL;
    assert_int_equal(pthread_join(th, NULL), 0);
    if (a.len > 0) {
        struct json_object *o = reply_of(a.reply);
        assert_false(reply_ok(o));
        assert_non_null(strstr(a.reply, "stopping"));
        json_object_put(o);
    }
    assert_int_equal(f->fx.fake.reconnect_calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_before_a_snapshot_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_is_answered_without_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_runs_on_the_loop_side_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_errors_come_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_while_a_command_waits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
