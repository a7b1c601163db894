/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of agent/inflight.c (the in-flight ledger) with agent/queue.c:
 * acknowledged messages are freed, open ones go back to the head of the
 * queue in send order when the client goes away, the window bounds what
 * is handed to the client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inflight.h"
#include "queue.h"

static void push_numbered(struct agent_queue *q, int from, int to)
{
    char err[200], payload[16];

    for (int i = from; i <= to; i++) {
        int n = snprintf(payload, sizeof(payload), "%d", i);
        assert_int_equal(agent_queue_push(q, "t/seq", payload, (size_t)n, 1, false, err,
                                          sizeof(err)), 0);
    }
}

static int payload_number(const struct agent_queue_item *item)
{
    char buf[16];

    assert_true(item->payload_len < sizeof(buf));
    memcpy(buf, item->payload, item->payload_len);
    buf[item->payload_len] = '\0';
    return atoi(buf);
}

/* "Sends" from the queue into the ledger while the window has room, with
 * message ids starting at first_mid. */
static int send_while_room(struct agent_queue *q, struct agent_inflight *l, int first_mid)
{
    int mid = first_mid;

    while (agent_queue_peek(q) && agent_inflight_has_room(l))
        agent_inflight_add(l, agent_queue_take(q), mid++);
    return mid;
}

static void test_window_bounds_what_is_sent(void **state)
{
    struct agent_queue q;
    struct agent_inflight l;

    (void)state;
    agent_queue_init(&q, 100, 100000);
    agent_inflight_init(&l, 4);
    push_numbered(&q, 1, 10);
    send_while_room(&q, &l, 1);
    assert_int_equal(l.count, 4);
    assert_int_equal(q.count, 6);
    assert_false(agent_inflight_has_room(&l));
    assert_true(agent_inflight_ack(&l, 2));
    assert_true(agent_inflight_has_room(&l));
    send_while_room(&q, &l, 5);
    assert_int_equal(l.count, 4);
    assert_int_equal(q.count, 5);
    agent_inflight_clear(&l);
    agent_queue_clear(&q);
}

static void test_unknown_and_repeated_acks_are_ignored(void **state)
{
    struct agent_queue q;
    struct agent_inflight l;

    (void)state;
    agent_queue_init(&q, 100, 100000);
    agent_inflight_init(&l, 8);
    push_numbered(&q, 1, 3);
    send_while_room(&q, &l, 10);
    /* A QoS 0 message's id (never recorded) and a repeated PUBACK do not
     * touch the count: no skew either way. */
    assert_false(agent_inflight_ack(&l, 9));
    assert_true(agent_inflight_ack(&l, 11));
    assert_false(agent_inflight_ack(&l, 11));
    assert_int_equal(l.count, 2);
    assert_true(agent_inflight_ack(&l, 12));
    assert_true(agent_inflight_ack(&l, 10));
    assert_int_equal(l.count, 0);
    assert_null(l.head);
    assert_null(l.tail);
    /* Still usable after running empty. */
    push_numbered(&q, 4, 4);
    send_while_room(&q, &l, 13);
    assert_int_equal(l.count, 1);
    agent_inflight_clear(&l);
    agent_queue_clear(&q);
}

static void test_requeue_puts_open_messages_first_in_order(void **state)
{
    struct agent_queue q;
    struct agent_inflight l;
    const int expected[] = {1, 3, 5, 6, 7, 8, 9, 10};
    size_t i = 0;

    (void)state;
    agent_queue_init(&q, 100, 100000);
    agent_inflight_init(&l, 6);
    push_numbered(&q, 1, 10);
    send_while_room(&q, &l, 100);       /* 1..6 in flight, 7..10 queued */
    assert_true(agent_inflight_ack(&l, 101));   /* 2 */
    assert_true(agent_inflight_ack(&l, 103));   /* 4 */
    assert_int_equal(agent_inflight_requeue(&l, &q), 4);
    assert_int_equal(l.count, 0);
    assert_int_equal(q.count, 8);
    assert_int_equal(q.bytes, 8 * strlen("t/seq") + 7 + 2);
    while (agent_queue_peek(&q)) {
        assert_true(i < sizeof(expected) / sizeof(expected[0]));
        assert_int_equal(payload_number(agent_queue_peek(&q)), expected[i++]);
        agent_queue_pop(&q);
    }
    assert_int_equal(i, sizeof(expected) / sizeof(expected[0]));
    assert_null(q.tail);
}

static void test_requeue_into_empty_queue_sets_tail(void **state)
{
    struct agent_queue q;
    struct agent_inflight l;
    char err[200];

    (void)state;
    agent_queue_init(&q, 100, 100000);
    agent_inflight_init(&l, 4);
    push_numbered(&q, 1, 2);
    send_while_room(&q, &l, 1);
    assert_int_equal(q.count, 0);
    assert_int_equal(agent_inflight_requeue(&l, &q), 2);
    /* A push after the requeue lands behind them. */
    assert_int_equal(agent_queue_push(&q, "t/seq", "3", 1, 1, false, err, sizeof(err)), 0);
    for (int n = 1; n <= 3; n++) {
        assert_int_equal(payload_number(agent_queue_peek(&q)), n);
        agent_queue_pop(&q);
    }
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
}

static void test_requeue_ignores_limits_and_push_then_refuses(void **state)
{
    struct agent_queue q;
    struct agent_inflight l;
    char err[200];

    (void)state;
    agent_queue_init(&q, 3, 100000);
    agent_inflight_init(&l, 3);
    push_numbered(&q, 1, 3);
    send_while_room(&q, &l, 1);
    push_numbered(&q, 4, 6);            /* queue full again */
    /* Accepted messages are never dropped: the queue goes over its limit. */
    assert_int_equal(agent_inflight_requeue(&l, &q), 3);
    assert_int_equal(q.count, 6);
    assert_int_equal(agent_queue_push(&q, "t/seq", "7", 1, 1, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "queue full"));
    for (int n = 1; n <= 6; n++) {
        assert_int_equal(payload_number(agent_queue_peek(&q)), n);
        agent_queue_pop(&q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_bounds_what_is_sent),
        cmocka_unit_test(test_unknown_and_repeated_acks_are_ignored),
        cmocka_unit_test(test_requeue_puts_open_messages_first_in_order),
        cmocka_unit_test(test_requeue_into_empty_queue_sets_tail),
        cmocka_unit_test(test_requeue_ignores_limits_and_push_then_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
