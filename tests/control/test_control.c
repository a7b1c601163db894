/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the control socket server (agent/control.c) with fake
 * handlers, over a real unix socket in a temp dir. Runs as root (the
 * privilege tests fork and drop to nobody).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "control_test_util.h"

enum { NOBODY = 65534 };

static int setup(void **state)
{
    struct ctl_fixture *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    ctlt_fixture_init(fx, true);
    *state = fx;
    return 0;
}

static int setup_open(void **state)
{
    if (setup(state) < 0)
        return -1;
    ctlt_open(*state);
    return 0;
}

static int teardown(void **state)
{
    struct ctl_fixture *fx = *state;

    ctlt_fixture_free(fx);
    free(fx);
    return 0;
}

/* Parses a reply line; the test owns the object. */
static struct json_object *parse_reply(const char *line)
{
    struct json_object *obj = json_tokener_parse(line);

    if (obj == NULL || !json_object_is_type(obj, json_type_object))
        fail_msg("reply is not a JSON object: %s", line);
    return obj;
}

static void assert_reply_ok(const char *line)
{
    struct json_object *obj = parse_reply(line);
    struct json_object *ok = NULL;

    if (!json_object_object_get_ex(obj, "ok", &ok) || !json_object_get_boolean(ok))
        fail_msg("expected ok:true, got %s", line);
    json_object_put(obj);
}

/* Asserts ok:false and that the error contains needle. */
static void assert_reply_error(const char *line, const char *needle)
{
    struct json_object *obj = parse_reply(line);
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(obj, "ok", &v) || json_object_get_boolean(v))
        fail_msg("expected ok:false, got %s", line);
    if (!json_object_object_get_ex(obj, "error", &v) || !json_object_is_type(v, json_type_string))
        fail_msg("no error string in %s", line);
    if (strstr(json_object_get_string(v), needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", json_object_get_string(v), needle);
    json_object_put(obj);
}

static const char *reply_string(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return json_object_get_string(v);
}

/* ---- commands ------------------------------------------------------- */

static void test_status_reply_carries_handler_fields(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);
    struct json_object *obj = parse_reply(ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n"));

    assert_string_equal(reply_string(obj, "ok"), "true");
    assert_string_equal(reply_string(obj, "state"), "connected");
    assert_string_equal(reply_string(obj, "client_id"), "dev-1");
    assert_int_equal(fx->fake.status_calls, 1);
    json_object_put(obj);
    close(fd);
}

static void test_status_handler_failure_is_an_error_reply(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    fx->fake.fail_next = true;
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n"), "status unavailable");
    assert_reply_ok(ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n"));
    close(fd);
}

static void test_publish_passes_every_field_to_the_handler(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    assert_reply_ok(ctlt_request(fx, fd,
                                 "{\"cmd\":\"publish\",\"topic\":\"sensors/t\","
                                 "\"payload\":\"a\\u0000b\",\"qos\":2,\"retain\":true}\n"));
    assert_int_equal(fx->fake.publish_calls, 1);
    assert_string_equal(fx->fake.topic, "sensors/t");
    assert_int_equal(fx->fake.payload_len, 3);
    assert_memory_equal(fx->fake.payload, "a\0b", 3);
    assert_int_equal(fx->fake.qos, 2);
    assert_true(fx->fake.retain);
    close(fd);
}

static void test_publish_defaults_to_qos0_not_retained(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    assert_reply_ok(
        ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"topic\":\"x\",\"payload\":\"\"}\n"));
    assert_int_equal(fx->fake.qos, 0);
    assert_false(fx->fake.retain);
    assert_int_equal(fx->fake.payload_len, 0);
    close(fd);
}

static void test_publish_handler_error_is_reported(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    fx->fake.fail_next = true;
    assert_reply_error(
        ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"topic\":\"x\",\"payload\":\"p\"}\n"),
        "queue full");
    close(fd);
}

static void test_publish_rejects_missing_and_wrong_typed_fields(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"payload\":\"p\"}\n"),
                       "\"topic\" must be a string");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"topic\":7,\"payload\":\"p\"}\n"),
                       "\"topic\" must be a string");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"topic\":\"t\"}\n"),
                       "\"payload\" must be a string");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":"
                                            "\"p\",\"qos\":\"1\"}\n"),
                       "\"qos\" must be an integer");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":"
                                            "\"p\",\"qos\":99999999999}\n"),
                       "\"qos\" must be 0, 1 or 2");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":"
                                            "\"p\",\"retain\":1}\n"),
                       "\"retain\" must be true or false");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":"
                                            "\"p\",\"retian\":true}\n"),
                       "unknown field \"retian\"");
    assert_int_equal(fx->fake.publish_calls, 0);
    close(fd);
}

static void test_reconnect_calls_the_handler(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    assert_reply_ok(ctlt_request(fx, fd, "{\"cmd\":\"reconnect\"}\n"));
    assert_int_equal(fx->fake.reconnect_calls, 1);
    fx->fake.fail_next = true;
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"reconnect\"}\n"), "reconnect refused");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"reconnect\",\"now\":true}\n"),
                       "unknown field \"now\"");
    close(fd);
}

static void test_rotate_calls_the_handler(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    assert_reply_ok(ctlt_request(fx, fd, "{\"cmd\":\"rotate\"}\n"));
    assert_int_equal(fx->fake.rotate_calls, 1);
    close(fd);
}

static void test_rotate_without_handler_is_not_supported(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd;

    fx->handlers.rotate = NULL;
    ctlt_open(fx);
    fd = ctlt_connect(fx->path);
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"rotate\"}\n"), "not supported");
    close(fd);
}

static void test_id_is_echoed(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);
    struct json_object *obj = parse_reply(ctlt_request(fx, fd, "{\"cmd\":\"status\",\"id\":42}\n"));

    assert_string_equal(reply_string(obj, "id"), "42");
    json_object_put(obj);
    obj = parse_reply(ctlt_request(fx, fd, "{\"cmd\":\"nope\",\"id\":\"req-7\"}\n"));
    assert_string_equal(reply_string(obj, "id"), "req-7");
    json_object_put(obj);
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"status\",\"id\":[1]}\n"),
                       "\"id\" must be");
    close(fd);
}

/* ---- malformed input ------------------------------------------------ */

static void test_malformed_input_gets_errors_and_connection_stays_usable(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);

    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\n"), "malformed JSON");
    assert_reply_error(ctlt_request(fx, fd, "not json at all\n"), "malformed JSON");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"status\"} {}\n"), "trailing data");
    assert_reply_error(ctlt_request(fx, fd, "[1,2,3]\n"), "must be a JSON object");
    assert_reply_error(ctlt_request(fx, fd, "\"status\"\n"), "must be a JSON object");
    assert_reply_error(ctlt_request(fx, fd, "{}\n"), "\"cmd\"");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":5}\n"), "\"cmd\"");
    assert_reply_error(ctlt_request(fx, fd, "{\"cmd\":\"launch\"}\n"), "unknown command");
    assert_reply_error(ctlt_request(fx, fd,
                                    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]"
                                    "]]]]]]]]]]]]]]]]]]]]]\n"),
                       "malformed JSON");
    /* Still usable, and a blank line or CRLF is fine. */
    assert_reply_ok(ctlt_request(fx, fd, "\n  \n{\"cmd\":\"status\"}\r\n"));
    assert_int_equal(fx->fake.status_calls, 1);
    close(fd);
}

static void test_partial_line_across_writes_is_reassembled(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);
    char buf[256];

    ctlt_send(fd, "{\"cmd\":\"st");
    assert_int_equal(ctlt_read_line(fx->control, fd, buf, sizeof(buf), 50), -1);
    ctlt_send(fd, "atus\"");
    assert_int_equal(ctlt_read_line(fx->control, fd, buf, sizeof(buf), 50), -1);
    assert_reply_ok(ctlt_request(fx, fd, "}\n"));
    close(fd);
}

static void test_pipelined_lines_get_replies_in_order(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);
    char buf[512];
    struct json_object *obj;
    int i;

    ctlt_send(fd, "{\"cmd\":\"status\",\"id\":1}\n{\"cmd\":\"reconnect\",\"id\":2}\n"
                  "{\"cmd\":\"bogus\",\"id\":3}\n{\"cmd\":\"status\",\"id\":4}\n");
    for (i = 1; i <= 4; i++) {
        char want[8];

        assert_true(ctlt_read_line(fx->control, fd, buf, sizeof(buf), 5000) > 0);
        obj = parse_reply(buf);
        snprintf(want, sizeof(want), "%d", i);
        assert_string_equal(reply_string(obj, "id"), want);
        assert_string_equal(reply_string(obj, "ok"), i == 3 ? "false" : "true");
        json_object_put(obj);
    }
    assert_int_equal(fx->fake.reconnect_calls, 1);
    close(fd);
}

static void test_overlong_line_gets_error_then_close(void **state)
{
    struct ctl_fixture *fx = *state;
    char line[300];
    char buf[512];
    int fd;

    fx->config.max_line = 64;
    ctlt_open(fx);
    fd = ctlt_connect(fx->path);
    memset(line, 'a', 200);
    line[200] = '\0'; /* no newline: the limit must trigger anyway */
    ctlt_send(fd, line);
    assert_true(ctlt_read_line(fx->control, fd, buf, sizeof(buf), 5000) > 0);
    assert_reply_error(buf, "longer than 64 bytes");
    assert_true(ctlt_wait_eof(fx->control, fd, 5000));
    close(fd);

    /* A line just under the limit is fine. */
    fd = ctlt_connect(fx->path);
    assert_reply_ok(ctlt_request(fx, fd, "{\"cmd\":\"status\",\"id\":\"0123456789012345678901234567\"}\n"));
    close(fd);
}

/* ---- limits --------------------------------------------------------- */

static void test_extra_client_gets_error_and_is_closed(void **state)
{
    struct ctl_fixture *fx = *state;
    int a, b, c;
    char buf[256];

    fx->config.max_clients = 2;
    ctlt_open(fx);
    a = ctlt_connect(fx->path);
    b = ctlt_connect(fx->path);
    ctlt_pump(fx->control, 20);
    c = ctlt_connect(fx->path);
    assert_true(ctlt_read_line(fx->control, c, buf, sizeof(buf), 5000) > 0);
    assert_reply_error(buf, "too many control clients (limit 2)");
    assert_true(ctlt_wait_eof(fx->control, c, 5000));
    close(c);
    assert_reply_ok(ctlt_request(fx, a, "{\"cmd\":\"status\"}\n"));
    assert_reply_ok(ctlt_request(fx, b, "{\"cmd\":\"status\"}\n"));
    /* A freed slot is reusable. */
    close(a);
    ctlt_pump(fx->control, 20);
    c = ctlt_connect(fx->path);
    assert_reply_ok(ctlt_request(fx, c, "{\"cmd\":\"status\"}\n"));
    close(b);
    close(c);
}

static void test_silent_client_is_closed_after_idle_timeout(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd;

    fx->config.idle_timeout_ms = 50;
    ctlt_open(fx);
    assert_int_equal(agent_control_next_timeout_ms(fx->control), -1);
    fd = ctlt_connect(fx->path);
    ctlt_pump(fx->control, 20);
    assert_in_range(agent_control_next_timeout_ms(fx->control), 0, 50);
    assert_true(ctlt_wait_eof(fx->control, fd, 5000));
    assert_int_equal(agent_control_next_timeout_ms(fx->control), -1);
    close(fd);
}

/* Pumps the server until the peer's end of fd is hung up, without
 * reading anything from fd. */
static bool wait_hangup_unread(struct agent_control *control, int fd, int timeout_ms)
{
    int i;

    for (i = 0; i < timeout_ms / 5; i++) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        ctlt_pump(control, 5);
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP))
            return true;
    }
    return false;
}

static void test_client_that_never_reads_is_closed(void **state)
{
    struct ctl_fixture *fx = *state;
    char req[64 * 20 + 1] = "";
    int fd;
    int i;

    fx->fake.status_padding = 100000;
    fx->config.idle_timeout_ms = 100;
    ctlt_open(fx);
    fd = ctlt_connect(fx->path);
    for (i = 0; i < 20; i++)
        strcat(req, "{\"cmd\":\"status\"}\n");
    ctlt_send(fd, req);
    assert_true(wait_hangup_unread(fx->control, fd, 5000));
    /* Backpressure: the server stopped taking requests instead of
     * buffering 2 MB of replies for a reader that never reads. */
    assert_in_range(fx->fake.status_calls, 1, 10);
    close(fd);
}

static void test_many_pipelined_requests_to_a_reading_client_all_answered(void **state)
{
    struct ctl_fixture *fx = *state;
    enum { N = 2000 };
    char *req = malloc(N * 20 + 1);
    char buf[4096];
    int fd;
    int i;

    assert_non_null(req);
    req[0] = '\0';
    fx->fake.status_padding = 200; /* 2000 x ~250 B: well past the 64 KiB backpressure mark */
    ctlt_open(fx);
    fd = ctlt_connect(fx->path);
    for (i = 0; i < N; i++)
        strcat(req + (size_t)i * 17, "{\"cmd\":\"status\"}\n");
    ctlt_send(fd, req);
    for (i = 0; i < N; i++) {
        if (ctlt_read_line(fx->control, fd, buf, sizeof(buf), 5000) <= 0)
            fail_msg("reply %d of %d missing (%d status calls)", i + 1, N, fx->fake.status_calls);
        assert_non_null(strstr(buf, "\"ok\":true"));
    }
    assert_int_equal(fx->fake.status_calls, N);
    free(req);
    close(fd);
}

static void test_peer_closing_after_request_still_gets_reply(void **state)
{
    struct ctl_fixture *fx = *state;
    int fd = ctlt_connect(fx->path);
    char buf[256];

    ctlt_send(fd, "{\"cmd\":\"reconnect\"}\n");
    shutdown(fd, SHUT_WR);
    assert_true(ctlt_read_line(fx->control, fd, buf, sizeof(buf), 5000) > 0);
    assert_reply_ok(buf);
    assert_true(ctlt_wait_eof(fx->control, fd, 5000));
    close(fd);
}

/* ---- privileges ----------------------------------------------------- */

/* Forks a child that drops to nobody, sends line and exits 0 if the reply
 * contains expect. The parent pumps the server meanwhile. */
static int run_as_nobody(struct ctl_fixture *fx, const char *line, const char *expect)
{
    pid_t pid;
    int status = 0;

    if (geteuid() != 0) {
        /* Denial itself is covered without root by test_control_privileges. */
        print_message("SKIP: dropping to nobody needs root (running as uid %u); the denial "
                      "itself is not exercised in this run\n", (unsigned)geteuid());
        skip();
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct timeval tv = { .tv_sec = 5 };
        char buf[1024];
        ssize_t n;
        size_t used = 0;
        int fd;

        if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
            _exit(10);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx->path);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
            _exit(11);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
            _exit(12);
        while (used + 1 < sizeof(buf) && (n = read(fd, buf + used, 1)) == 1 && buf[used] != '\n')
            used++;
        buf[used] = '\0';
        _exit(strstr(buf, expect) != NULL ? 0 : 13);
    }
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid)
            break;
        assert_true(r == 0);
        ctlt_pump(fx->control, 10);
    }
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_privileged_commands_refused_for_other_users(void **state)
{
    struct ctl_fixture *fx = *state;

    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\"}\n",
                                   "permission denied: publish"),
                     0);
    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"reconnect\"}\n", "permission denied"), 0);
    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"rotate\"}\n", "uid 65534 gid 65534"), 0);
    /* status is open to anyone who can connect. */
    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"status\"}\n", "\"ok\":true"), 0);
    assert_int_equal(fx->fake.publish_calls, 0);
    assert_int_equal(fx->fake.reconnect_calls, 0);
    assert_int_equal(fx->fake.rotate_calls, 0);
}

static void test_admin_uid_may_run_privileged_commands(void **state)
{
    struct ctl_fixture *fx = *state;
    static const uid_t uids[] = { 1234, NOBODY };

    fx->config.admin_uids = uids;
    fx->config.n_admin_uids = 2;
    ctlt_open(fx);
    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"reconnect\"}\n", "\"ok\":true"), 0);
    assert_int_equal(fx->fake.reconnect_calls, 1);
}

static void test_admin_primary_gid_may_run_privileged_commands(void **state)
{
    struct ctl_fixture *fx = *state;
    static const gid_t gids[] = { NOBODY };

    fx->config.admin_gids = gids;
    fx->config.n_admin_gids = 1;
    ctlt_open(fx);
    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\"}\n",
                                   "\"ok\":true"),
                     0);
    assert_int_equal(fx->fake.publish_calls, 1);
}

/* The socket server hands the peer's rights to control_request_run: a
 * publish-only uid publishes, but may not rotate or reconnect. */
static void test_publish_uid_may_publish_only(void **state)
{
    struct ctl_fixture *fx = *state;
    static const uid_t uids[] = { NOBODY };

    fx->config.publish_uids = uids;
    fx->config.n_publish_uids = 1;
    ctlt_open(fx);
    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\"}\n",
                                   "\"ok\":true"),
                     0);
    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"rotate\"}\n", "permission denied: rotate"), 0);
    assert_int_equal(run_as_nobody(fx, "{\"cmd\":\"reconnect\"}\n", "permission denied"), 0);
    assert_int_equal(fx->fake.publish_calls, 1);
    assert_int_equal(fx->fake.rotate_calls + fx->fake.reconnect_calls, 0);
}

/* ---- socket file ---------------------------------------------------- */

static void test_socket_file_gets_configured_mode(void **state)
{
    struct ctl_fixture *fx = *state;
    struct stat st;

    fx->config.mode = 0660;
    ctlt_open(fx);
    assert_int_equal(lstat(fx->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0660);
}

static void test_stale_socket_is_replaced(void **state)
{
    struct ctl_fixture *fx = *state;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int old = socket(AF_UNIX, SOCK_STREAM, 0);
    int fd;

    /* A socket file nobody listens on, as a crashed agent leaves it. */
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fx->path);
    assert_int_equal(bind(old, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(old);
    ctlt_open(fx);
    fd = ctlt_connect(fx->path);
    assert_reply_ok(ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n"));
    close(fd);
}

static void test_live_socket_is_not_stolen(void **state)
{
    struct ctl_fixture *fx = *state;
    struct agent_control *second;
    char err[256] = "";
    int fd;

    ctlt_open(fx);
    second = agent_control_open(&fx->config, &fx->handlers, err, sizeof(err));
    assert_null(second);
    assert_non_null(strstr(err, "another process is listening"));
    fd = ctlt_connect(fx->path);
    assert_reply_ok(ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n"));
    close(fd);
}

static void test_non_socket_file_is_not_replaced(void **state)
{
    struct ctl_fixture *fx = *state;
    char err[256] = "";
    struct stat st;
    FILE *f = fopen(fx->path, "w");

    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_null(agent_control_open(&fx->config, &fx->handlers, err, sizeof(err)));
    assert_non_null(strstr(err, "is not a socket"));
    assert_int_equal(lstat(fx->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
}

static void test_missing_directory_error_says_what_to_do(void **state)
{
    struct ctl_fixture *fx = *state;
    char path[600];
    char err[256] = "";

    snprintf(path, sizeof(path), "%s/missing/control.sock", fx->dir);
    fx->config.path = path;
    assert_null(agent_control_open(&fx->config, &fx->handlers, err, sizeof(err)));
    assert_non_null(strstr(err, "RuntimeDirectory"));
}

static void test_close_removes_only_its_own_socket_file(void **state)
{
    struct ctl_fixture *fx = *state;
    struct agent_control *newer;
    char err[256] = "";
    struct stat st;

    ctlt_open(fx);
    agent_control_close(fx->control);
    fx->control = NULL;
    assert_int_equal(lstat(fx->path, &st), -1);

    /* Old instance still open while a newer one took over the path. */
    ctlt_open(fx);
    assert_int_equal(unlink(fx->path), 0);
    newer = agent_control_open(&fx->config, &fx->handlers, err, sizeof(err));
    assert_non_null(newer);
    agent_control_close(fx->control);
    fx->control = newer;
    assert_int_equal(lstat(fx->path, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_reply_carries_handler_fields, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_status_handler_failure_is_an_error_reply, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_publish_passes_every_field_to_the_handler, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_publish_defaults_to_qos0_not_retained, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_publish_handler_error_is_reported, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_publish_rejects_missing_and_wrong_typed_fields, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_calls_the_handler, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_calls_the_handler, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_without_handler_is_not_supported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_is_echoed, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_input_gets_errors_and_connection_stays_usable, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_partial_line_across_writes_is_reassembled, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_lines_get_replies_in_order, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_line_gets_error_then_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extra_client_gets_error_and_is_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_client_is_closed_after_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_that_never_reads_is_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_pipelined_requests_to_a_reading_client_all_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_closing_after_request_still_gets_reply, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_privileged_commands_refused_for_other_users, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_admin_uid_may_run_privileged_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_primary_gid_may_run_privileged_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_uid_may_publish_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_file_gets_configured_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_socket_is_not_stolen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_socket_file_is_not_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory_error_says_what_to_do, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_removes_only_its_own_socket_file, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
