/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_publish refuses, with an error reply, what the broker or
 * libmosquitto could never take (invalid UTF-8, U+0000, wildcards, empty
 * levels), instead of answering ok and queueing a message that would
 * block the queue; valid messages are accepted (queued while offline).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"

static struct agent agent_offline;
static char prefix[] = "trustlink/device-001";

static int setup(void **state)
{
    (void)state;
    memset(&agent_offline, 0, sizeof(agent_offline));
    agent_offline.state = AGENT_STATE_WAITING;
    agent_offline.config.telemetry.topic_prefix = prefix;
    agent_queue_init(&agent_offline.queue, 100, 1u << 20);
    agent_inflight_init(&agent_offline.inflight, AGENT_INFLIGHT_WINDOW);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    agent_queue_clear(&agent_offline.queue);
    return 0;
}

static int publish(const char *topic, char *err, size_t err_len)
{
    return agent_publish(&agent_offline, topic, "x", 1, 1, false, err, err_len);
}

static void test_invalid_topics_are_refused_not_queued(void **state)
{
    static const char *const bad[] = {
        "bad\xff",                  /* not UTF-8 */
        "half\xc3",                 /* a cut two-byte sequence */
        "over\xc0\xaflong",         /* overlong encoding of '/' */
        "sur\xed\xa0\x80rogate",    /* UTF-16 surrogate */
        "a/+/b", "a/#", "a//b", "/a", "a/", "",
        "ctl\x01x",
    };
    char err[300];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(publish(bad[i], err, sizeof(err)), -1);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(agent_offline.queue.count, 0);
    assert_int_equal(agent_offline.counters.rejected, sizeof(bad) / sizeof(bad[0]));
}

static void test_valid_topics_are_queued_while_offline(void **state)
{
    char err[300];

    (void)state;
    assert_int_equal(publish("events", err, sizeof(err)), 0);
    assert_int_equal(publish("caf\xc3\xa9/temp\xc3\xa9rature", err, sizeof(err)), 0);
    assert_int_equal(agent_offline.queue.count, 2);
    assert_string_equal(agent_queue_peek(&agent_offline.queue)->topic,
                        "trustlink/device-001/events");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invalid_topics_are_refused_not_queued, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_valid_topics_are_queued_while_offline, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
