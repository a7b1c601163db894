/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The privilege split, decided by control_request_run from the peer it is
 * given (no root needed, nothing skipped): status for anyone; publish for
 * publish and admin peers; reconnect and rotate for admin peers only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "control_request.h"
#include "control_test_util.h"

static int run(struct ctl_fixture *fx, const struct control_peer *peer, const char *line,
               char *err, size_t err_len)
{
    struct json_object *req = NULL, *id = NULL, *reply = json_object_new_object();
    int rc;

    assert_int_equal(control_request_parse(line, strlen(line), &req, &id, err, err_len), 0);
    err[0] = '\0';
    rc = control_request_run(&fx->handlers, peer, req, reply, err, err_len);
    json_object_put(req);
    json_object_put(reply);
    return rc;
}

static const char publish_line[] = "{\"cmd\":\"publish\",\"topic\":\"t\",\"payload\":\"p\"}";

static int setup(void **state)
{
    static struct ctl_fixture fx;

    memset(&fx, 0, sizeof(fx));
    ctlt_fixture_init(&fx, true);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    ctlt_fixture_free(*state);
    return 0;
}

static void test_nobody_gets_status_only(void **state)
{
    struct ctl_fixture *fx = *state;
    const struct control_peer peer = {.uid = 4321, .gid = 4321};
    char err[512];

    assert_int_equal(run(fx, &peer, "{\"cmd\":\"status\"}", err, sizeof(err)), 0);
    assert_int_equal(run(fx, &peer, publish_line, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "permission denied: publish"));
    assert_int_equal(run(fx, &peer, "{\"cmd\":\"reconnect\"}", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "permission denied: reconnect"));
    assert_int_equal(run(fx, &peer, "{\"cmd\":\"rotate\"}", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "uid 4321 gid 4321"));
    assert_int_equal(fx->fake.status_calls, 1);
    assert_int_equal(fx->fake.publish_calls + fx->fake.reconnect_calls + fx->fake.rotate_calls, 0);
}

static void test_publisher_may_publish_but_not_rotate_or_reconnect(void **state)
{
    struct ctl_fixture *fx = *state;
    const struct control_peer peer = {.may_publish = true, .uid = 1000, .gid = 1000};
    char err[512];

    assert_int_equal(run(fx, &peer, publish_line, err, sizeof(err)), 0);
    assert_int_equal(fx->fake.publish_calls, 1);
    assert_int_equal(run(fx, &peer, "{\"cmd\":\"rotate\"}", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "admin_uids"));
    assert_int_equal(run(fx, &peer, "{\"cmd\":\"reconnect\"}", err, sizeof(err)), -1);
    assert_int_equal(fx->fake.rotate_calls + fx->fake.reconnect_calls, 0);
}

static void test_admin_may_do_everything(void **state)
{
    struct ctl_fixture *fx = *state;
    const struct control_peer peer = {.may_admin = true, .uid = 0, .gid = 0};
    char err[512];

    assert_int_equal(run(fx, &peer, publish_line, err, sizeof(err)), 0);
    assert_int_equal(run(fx, &peer, "{\"cmd\":\"rotate\"}", err, sizeof(err)), 0);
    assert_int_equal(run(fx, &peer, "{\"cmd\":\"reconnect\"}", err, sizeof(err)), 0);
    assert_int_equal(fx->fake.publish_calls, 1);
    assert_int_equal(fx->fake.rotate_calls, 1);
    assert_int_equal(fx->fake.reconnect_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nobody_gets_status_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publisher_may_publish_but_not_rotate_or_reconnect,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_may_do_everything, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
