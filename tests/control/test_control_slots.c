/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Slow and flooding control clients (agent/control.c): a request line has
 * a deadline from its first byte (the first line: from connect()), so
 * trickling bytes never holds a slot; and some slots are kept for root
 * and the agent's user, so a flood of other users cannot lock the
 * administrator out. Runs without root: peers of any uid come from the
 * peer_cred seam, and time from a hand-moved clock (no sleeping).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control_test_util.h"

enum {
    OTHER_UID = 4321,       /* neither root nor the agent's user */
    LINE_TIMEOUT_MS = 5000, /* the default */
    IDLE_TIMEOUT_MS = 30000,
};

struct slots_fixture {
    struct ctl_fixture fx;
    struct ctlt_clock clock;
};

static int setup(void **state)
{
    struct slots_fixture *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return -1;
    ctlt_fixture_init(&s->fx, true);
    ctlt_use_fake_peers(&s->fx);
    ctlt_clock_install(&s->clock);
    ctlt_open(&s->fx);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct slots_fixture *s = *state;

    ctlt_fixture_free(&s->fx);
    ctlt_clock_uninstall();
    free(s);
    return 0;
}

/* Runs a few server rounds so that what the clients sent is taken in. */
static void settle(struct ctl_fixture *fx)
{
    int i;

    for (i = 0; i < 4; i++)
        ctlt_pump(fx->control, 5);
}

/* True if fd is still open from the server's side (no EOF within a few
 * rounds). */
static bool still_open(struct ctl_fixture *fx, int fd)
{
    return !ctlt_wait_eof(fx->control, fd, 50);
}

static void assert_status_ok(struct ctl_fixture *fx, int fd)
{
    const char *reply = ctlt_request(fx, fd, "{\"cmd\":\"status\"}\n");

    if (strstr(reply, "\"ok\":true") == NULL)
        fail_msg("expected a status reply, got %s", reply);
}

static void test_trickling_client_is_closed_at_its_line_deadline(void **state)
{
    struct slots_fixture *s = *state;
    int fd = ctlt_connect_as(&s->fx, OTHER_UID);
    int i;

    ctlt_send(fd, "{\"cmd\":");
    settle(&s->fx);
    /* One byte every second keeps an idle deadline from firing, but the
     * line is still not complete after the line timeout. */
    for (i = 0; i < LINE_TIMEOUT_MS / 1000 - 1; i++) {
        ctlt_clock_advance(&s->clock, 1000);
        ctlt_send(fd, " ");
        settle(&s->fx);
        assert_true(still_open(&s->fx, fd));
    }
    ctlt_clock_advance(&s->clock, 1001);
    ctlt_send(fd, " ");
    assert_true(ctlt_wait_eof(s->fx.control, fd, 5000));
    close(fd);
}

static void test_first_line_is_due_within_the_line_timeout_of_connect(void **state)
{
    struct slots_fixture *s = *state;
    int fd = ctlt_connect_as(&s->fx, OTHER_UID);

    settle(&s->fx);
    ctlt_clock_advance(&s->clock, LINE_TIMEOUT_MS - 1);
    assert_true(still_open(&s->fx, fd));
    ctlt_clock_advance(&s->clock, 2);
    assert_true(ctlt_wait_eof(s->fx.control, fd, 5000));
    close(fd);
}

static void test_client_quiet_between_requests_keeps_the_idle_timeout(void **state)
{
    struct slots_fixture *s = *state;
    int fd = ctlt_connect_as(&s->fx, OTHER_UID);

    assert_status_ok(&s->fx, fd);
    ctlt_clock_advance(&s->clock, IDLE_TIMEOUT_MS - 1000);
    assert_true(still_open(&s->fx, fd));
    assert_status_ok(&s->fx, fd);
    ctlt_clock_advance(&s->clock, IDLE_TIMEOUT_MS + 1);
    assert_true(ctlt_wait_eof(s->fx.control, fd, 5000));
    close(fd);
}

/* The scenario: every slot held by other users' slow clients. */
static void test_flood_of_other_users_leaves_slots_for_root_and_the_agent_user(void **state)
{
    struct slots_fixture *s = *state;
    int flood[16];
    int accepted = 0;
    int refused = 0;
    int root_fd, agent_fd, late_fd;
    char buf[512];
    int i;

    for (i = 0; i < 16; i++) {
        flood[i] = ctlt_connect_as(&s->fx, OTHER_UID);
        ctlt_send(flood[i], "{");
        settle(&s->fx);
    }
    for (i = 0; i < 16; i++) {
        if (still_open(&s->fx, flood[i])) {
            accepted++;
            continue;
        }
        refused++;
        close(flood[i]);
        flood[i] = -1;
    }
    assert_int_equal(accepted, 12);
    assert_int_equal(refused, 4);
    /* The refusal says why. */
    late_fd = ctlt_connect_as(&s->fx, OTHER_UID);
    assert_true(ctlt_read_line(s->fx.control, late_fd, buf, sizeof(buf), 5000) > 0);
    assert_non_null(strstr(buf, "kept for root and the agent's user"));
    close(late_fd);

    root_fd = ctlt_connect_as(&s->fx, 0);
    assert_status_ok(&s->fx, root_fd);
    assert_non_null(strstr(ctlt_request(&s->fx, root_fd, "{\"cmd\":\"reconnect\"}\n"),
                           "\"ok\":true"));
    assert_int_equal(s->fx.fake.reconnect_calls, 1);
    agent_fd = ctlt_connect_as(&s->fx, geteuid() == 0 ? 999 : geteuid());
    if (geteuid() == 0) {
        /* Running as root, the agent's user is root: 999 is just another
         * user and finds no shared slot. */
        assert_true(ctlt_wait_eof(s->fx.control, agent_fd, 5000));
    } else {
        assert_status_ok(&s->fx, agent_fd);
    }
    close(agent_fd);

    /* The slow ones lose their slots at the line deadline; then everyone
     * gets status again. */
    ctlt_clock_advance(&s->clock, LINE_TIMEOUT_MS + 1);
    for (i = 0; i < 16; i++) {
        if (flood[i] < 0)
            continue;
        assert_true(ctlt_wait_eof(s->fx.control, flood[i], 5000));
        close(flood[i]);
    }
    late_fd = ctlt_connect_as(&s->fx, OTHER_UID);
    assert_status_ok(&s->fx, late_fd);
    close(late_fd);
    close(root_fd);
}

static void test_agent_user_may_take_a_reserved_slot(void **state)
{
    struct slots_fixture *s = *state;
    uid_t agent_uid = geteuid();
    int flood[12];
    int fd;
    int i;

    for (i = 0; i < 12; i++) {
        flood[i] = ctlt_connect_as(&s->fx, OTHER_UID);
        assert_status_ok(&s->fx, flood[i]);
    }
    fd = ctlt_connect_as(&s->fx, agent_uid);
    assert_status_ok(&s->fx, fd);
    close(fd);
    for (i = 0; i < 12; i++)
        close(flood[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trickling_client_is_closed_at_its_line_deadline,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_line_is_due_within_the_line_timeout_of_connect,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_quiet_between_requests_keeps_the_idle_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_flood_of_other_users_leaves_slots_for_root_and_the_agent_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_user_may_take_a_reserved_slot, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
