/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service manager notification protocol spoken without libsystemd:
 * datagrams to $NOTIFY_SOCKET (path and abstract names), refusal of names
 * the protocol does not define, and the watchdog variables.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

struct listener {
    int fd;
    char dir[64];
    char name[128];  /* the value for NOTIFY_SOCKET */
};

/* A datagram socket the test reads what the agent sent from. */
static void listen_at(struct listener *l, int abstract)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    socklen_t len;

    snprintf(l->dir, sizeof(l->dir), "/tmp/tl-notify-XXXXXX");
    assert_non_null(mkdtemp(l->dir));
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    if (abstract) {
        int n = snprintf(l->name, sizeof(l->name), "@trustlink-test-%ld", (long)getpid());

        memcpy(sa.sun_path, l->name, (size_t)n);
        sa.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n);
    } else {
        snprintf(l->name, sizeof(l->name), "%s/notify", l->dir);
        assert_true(strlen(l->name) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, l->name, strlen(l->name) + 1);
        len = sizeof(sa);
    }
    assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", l->name, 1), 0);
}

static void listener_close(struct listener *l)
{
    char path[160];

    close(l->fd);
    snprintf(path, sizeof(path), "%s/notify", l->dir);
    unlink(path);
    rmdir(l->dir);
    unsetenv("NOTIFY_SOCKET");
}

static void expect_datagram(struct listener *l, const char *expected)
{
    char buf[512];
    ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, expected);
}

static void test_path_socket_gets_each_message_whole(void **state)
{
    struct listener l;

    (void)state;
    listen_at(&l, 0);
    assert_int_equal(agent_notify("READY=1"), 1);
    assert_int_equal(agent_notify("STATUS=connected to 127.0.0.1:8883"), 1);
    expect_datagram(&l, "READY=1");
    expect_datagram(&l, "STATUS=connected to 127.0.0.1:8883");
    listener_close(&l);
}

static void test_abstract_socket(void **state)
{
    struct listener l;

    (void)state;
    listen_at(&l, 1);
    assert_int_equal(agent_notify("WATCHDOG=1"), 1);
    expect_datagram(&l, "WATCHDOG=1");
    listener_close(&l);
}

static void test_no_manager_is_not_an_error(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(agent_notify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(agent_notify("READY=1"), 0);
    unsetenv("NOTIFY_SOCKET");
}

static void test_names_outside_the_protocol_are_refused(void **state)
{
    char too_long[200];

    (void)state;
    setenv("NOTIFY_SOCKET", "relative/notify", 1);
    assert_int_equal(agent_notify("READY=1"), -EINVAL);
    setenv("NOTIFY_SOCKET", "@", 1);
    assert_int_equal(agent_notify("READY=1"), -EINVAL);
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[0] = '/';
    too_long[sizeof(too_long) - 1] = '\0';
    setenv("NOTIFY_SOCKET", too_long, 1);
    assert_int_equal(agent_notify("READY=1"), -EINVAL);
    unsetenv("NOTIFY_SOCKET");
}

static void test_nobody_listening_is_reported(void **state)
{
    (void)state;
    setenv("NOTIFY_SOCKET", "/nonexistent-trustlink-dir/notify", 1);
    assert_int_equal(agent_notify("READY=1"), -ENOENT);
    unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_variables(void **state)
{
    char own_pid[32];
    uint64_t usec = 7;

    (void)state;
    snprintf(own_pid, sizeof(own_pid), "%ld", (long)getpid());
    unsetenv("WATCHDOG_PID");
    unsetenv("WATCHDOG_USEC");
    assert_int_equal(agent_watchdog_usec(&usec), 0);
    assert_int_equal(usec, 7);

    setenv("WATCHDOG_USEC", "30000000", 1);
    assert_int_equal(agent_watchdog_usec(&usec), 1);
    assert_int_equal(usec, 30000000);

    setenv("WATCHDOG_PID", own_pid, 1);
    usec = 0;
    assert_int_equal(agent_watchdog_usec(&usec), 1);
    assert_int_equal(usec, 30000000);

    /* Inherited by a child of the watched process: not ours. */
    setenv("WATCHDOG_PID", "1", 1);
    usec = 0;
    assert_int_equal(agent_watchdog_usec(&usec), 0);
    assert_int_equal(usec, 0);

    setenv("WATCHDOG_PID", "12x", 1);
    assert_int_equal(agent_watchdog_usec(&usec), -EINVAL);
    unsetenv("WATCHDOG_PID");

    static const char *const malformed[] = { "", "0", "-5", "abc", "10s", " 10",
                                             "99999999999999999999999" };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        setenv("WATCHDOG_USEC", malformed[i], 1);
        usec = 0;
        assert_int_equal(agent_watchdog_usec(&usec), -EINVAL);
        assert_int_equal(usec, 0);
    }
    unsetenv("WATCHDOG_USEC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_socket_gets_each_message_whole),
        cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_no_manager_is_not_an_error),
        cmocka_unit_test(test_names_outside_the_protocol_are_refused),
        cmocka_unit_test(test_nobody_listening_is_reported),
        cmocka_unit_test(test_watchdog_variables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
