/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_publish (the control socket's publish) refuses the agent's own
 * topics and everything below them, level by level: an app must not post
 * a CSR on the CA request topic, nor a status or heartbeat for the agent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "topic_guard.h"

static const char config_json[] =
    "{\"device_id\":\"dev-1\","
    "\"identity\":{\"key\":\"pkcs11:token=t;object=device;type=private\","
    "\"certificate\":\"pkcs11:token=t;object=device;type=cert\"},"
    "\"broker\":{\"host\":\"mqtt.example.com\",\"ca_file\":\"/etc/ca.pem\"},"
    "\"telemetry\":{\"queue_durability\":\"memory\"},"
    "\"rotation\":{\"issuing_ca_file\":\"/ca.pem\",\"state_dir\":\"/tmp/none\"}}";

static int setup(void **state)
{
    char path[] = "/tmp/trustlink-publish-guard-XXXXXX";
    int fd = mkstemp(path);
    struct agent *a = calloc(1, sizeof(*a));

    assert_true(fd >= 0);
    assert_non_null(a);
    assert_int_equal(write(fd, config_json, sizeof(config_json) - 1),
                     (ssize_t)(sizeof(config_json) - 1));
    close(fd);
    assert_int_equal(agent_init(a, path), 0);
    unlink(path);
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    struct agent *a = *state;

    agent_destroy(a);
    free(a);
    return 0;
}

static int publish(struct agent *a, const char *topic, char *err, size_t err_len)
{
    return agent_publish(a, topic, "x", 1, 1, false, err, err_len);
}

static void test_own_topics_are_refused(void **state)
{
    struct agent *a = *state;
    const char *refused[] = {"status", "status/x", "heartbeat", "heartbeat/a/b", "csr",
                             "csr/accepted", "csr/rejected", "csr/anything/below"};
    char err[512];

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        err[0] = '\0';
        if (publish(a, refused[i], err, sizeof(err)) == 0)
            fail_msg("publish on %s was accepted", refused[i]);
        assert_non_null(strstr(err, "reserved"));
    }
}

static void test_other_topics_are_accepted(void **state)
{
    struct agent *a = *state;
    const char *accepted[] = {"telemetry", "statusx", "status-report", "data/status",
                              "heartbeats", "csrx", "app/csr"};
    char err[512];

    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        err[0] = '\0';
        if (publish(a, accepted[i], err, sizeof(err)) != 0)
            fail_msg("publish on %s was refused: %s", accepted[i], err);
    }
}

static void test_within_compares_levels(void **state)
{
    (void)state;
    assert_true(agent_topic_within("a/b", "a/b"));
    assert_true(agent_topic_within("a/b/c", "a/b"));
    assert_true(agent_topic_within("a/b/c", "a/b/"));
    assert_false(agent_topic_within("a/bc", "a/b"));
    assert_false(agent_topic_within("a", "a/b"));
    assert_false(agent_topic_within("a/b", NULL));
    assert_false(agent_topic_within("a/b", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_own_topics_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_topics_are_accepted, setup, teardown),
        cmocka_unit_test(test_within_compares_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
