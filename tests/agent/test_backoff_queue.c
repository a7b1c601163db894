/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of agent/backoff.c and agent/queue.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backoff.h"
#include "queue.h"

static void test_backoff_doubles_up_to_maximum_without_jitter(void **state)
{
    struct agent_backoff b;
    const unsigned expected[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 120000, 120000};

    (void)state;
    agent_backoff_init(&b, 1000, 120000, false);
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        assert_int_equal(agent_backoff_next(&b, 0, 12345), expected[i]);
}

static void test_backoff_full_jitter_stays_between_floor_and_ceiling(void **state)
{
    struct agent_backoff b;

    (void)state;
    agent_backoff_init(&b, 1000, 120000, true);
    for (unsigned i = 0; i < 20; i++) {
        unsigned ceiling = agent_backoff_ceiling(&b, 0);
        unsigned d = agent_backoff_next(&b, 0, 0xffffffffu - i * 7919u);
        assert_true(d >= AGENT_BACKOFF_FLOOR_MS);
        assert_true(d <= ceiling);
    }
    /* random 0 gives the floor: never 0 ms, never a busy loop */
    agent_backoff_reset(&b);
    assert_int_equal(agent_backoff_next(&b, 0, 0), AGENT_BACKOFF_FLOOR_MS);
}

static void test_backoff_penalty_starts_refusals_higher(void **state)
{
    struct agent_backoff b;

    (void)state;
    agent_backoff_init(&b, 1000, 120000, false);
    assert_int_equal(agent_backoff_next(&b, 3, 0), 8000);
    assert_int_equal(agent_backoff_next(&b, 3, 0), 16000);
}

static void test_backoff_reset_restarts_from_initial(void **state)
{
    struct agent_backoff b;

    (void)state;
    agent_backoff_init(&b, 500, 4000, false);
    for (int i = 0; i < 10; i++)
        agent_backoff_next(&b, 0, 0);
    assert_int_equal(agent_backoff_ceiling(&b, 0), 4000);
    agent_backoff_reset(&b);
    assert_int_equal(agent_backoff_next(&b, 0, 0), 500);
}

static void test_backoff_many_failures_do_not_overflow(void **state)
{
    struct agent_backoff b;

    (void)state;
    agent_backoff_init(&b, 1, 86400000, false);
    for (int i = 0; i < 200; i++)
        assert_true(agent_backoff_next(&b, 3, 0) <= 86400000);
}

static void test_queue_keeps_order_and_counts_bytes(void **state)
{
    struct agent_queue q;
    char err[256];

    (void)state;
    agent_queue_init(&q, 10, 1000);
    assert_int_equal(agent_queue_push(&q, "a/b", "one", 3, 1, false, err, sizeof(err)), 0);
    assert_int_equal(agent_queue_push(&q, "a/c", "two!", 4, 0, true, err, sizeof(err)), 0);
    assert_int_equal(q.count, 2);
    assert_int_equal(q.bytes, 3 + 3 + 3 + 4);
    assert_string_equal(agent_queue_peek(&q)->topic, "a/b");
    agent_queue_pop(&q);
    assert_string_equal(agent_queue_peek(&q)->topic, "a/c");
    assert_true(agent_queue_peek(&q)->retain);
    assert_memory_equal(agent_queue_peek(&q)->payload, "two!", 4);
    agent_queue_pop(&q);
    assert_null(agent_queue_peek(&q));
    assert_int_equal(q.bytes, 0);
}

static void test_queue_full_by_count_refuses_with_message(void **state)
{
    struct agent_queue q;
    char err[256] = "";

    (void)state;
    agent_queue_init(&q, 2, 1000);
    assert_int_equal(agent_queue_push(&q, "t", "1", 1, 0, false, err, sizeof(err)), 0);
    assert_int_equal(agent_queue_push(&q, "t", "2", 1, 0, false, err, sizeof(err)), 0);
    assert_int_equal(agent_queue_push(&q, "t", "3", 1, 0, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "queue full (2 messages"));
    assert_int_equal(q.count, 2);
    agent_queue_clear(&q);
}

static void test_queue_full_by_bytes_refuses_and_keeps_content(void **state)
{
    struct agent_queue q;
    char err[256] = "";
    char big[600];

    (void)state;
    memset(big, 'x', sizeof(big));
    agent_queue_init(&q, 100, 1024);
    assert_int_equal(agent_queue_push(&q, "t", big, sizeof(big), 0, false, err, sizeof(err)), 0);
    assert_int_equal(agent_queue_push(&q, "t", big, sizeof(big), 0, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bytes used"));
    assert_int_equal(q.count, 1);
    agent_queue_pop(&q);
    assert_int_equal(agent_queue_push(&q, "t", big, sizeof(big), 0, false, err, sizeof(err)), 0);
    agent_queue_clear(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_up_to_maximum_without_jitter),
        cmocka_unit_test(test_backoff_full_jitter_stays_between_floor_and_ceiling),
        cmocka_unit_test(test_backoff_penalty_starts_refusals_higher),
        cmocka_unit_test(test_backoff_reset_restarts_from_initial),
        cmocka_unit_test(test_backoff_many_failures_do_not_overflow),
        cmocka_unit_test(test_queue_keeps_order_and_counts_bytes),
        cmocka_unit_test(test_queue_full_by_count_refuses_with_message),
        cmocka_unit_test(test_queue_full_by_bytes_refuses_and_keeps_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
