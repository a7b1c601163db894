/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bounded publish queue: messages accepted while the connection is
 * down, delivered in order after reconnect.
 *
 * Owns: copies of topic and payload of each queued message, and the
 * limits (messages and bytes, counting topic + payload).
 * Must never: drop a message silently: a push over a limit fails with a
 * message for the publisher and leaves the queue as it was.
 */
#ifndef TRUSTLINK_AGENT_QUEUE_H
#define TRUSTLINK_AGENT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_queue_item {
    char *topic;
    void *payload;
    size_t payload_len;
    int qos;
    bool retain;
    int mid;                     /* message id while in flight (agent/inflight.h) */
    uint64_t spool_seq;          /* its record in the delivery queue file; 0: none */
    uint64_t accepted_unix_ms;   /* when a publisher handed it over (status: oldest age) */
    struct agent_queue_item *next;
};

struct agent_queue {
    struct agent_queue_item *head;
    struct agent_queue_item *tail;
    size_t count;
    size_t bytes;
    size_t max_messages;
    size_t max_bytes;
};

void agent_queue_init(struct agent_queue *q, size_t max_messages, size_t max_bytes);
/* Limits may shrink below the current content: nothing is dropped, new
 * pushes fail until it drains. */
void agent_queue_set_limits(struct agent_queue *q, size_t max_messages, size_t max_bytes);
/* 0, or -1 with err set (full, or out of memory). */
int agent_queue_push(struct agent_queue *q, const char *topic, const void *payload,
                     size_t payload_len, int qos, bool retain, char *err, size_t err_len);
const struct agent_queue_item *agent_queue_peek(const struct agent_queue *q);
void agent_queue_pop(struct agent_queue *q);
/* Detaches the oldest item: the caller owns it (agent_queue_item_free). */
struct agent_queue_item *agent_queue_take(struct agent_queue *q);
void agent_queue_item_free(struct agent_queue_item *item);
/* A detached item with copies of topic and payload; NULL when out of memory. */
struct agent_queue_item *agent_queue_item_new(const char *topic, const void *payload,
                                              size_t payload_len, int qos, bool retain);
/* Puts a chain of items (linked by next, oldest first) back in front of
 * the queue, whatever the limits: they were accepted already and must
 * not be dropped. Takes ownership. */
void agent_queue_prepend(struct agent_queue *q, struct agent_queue_item *first);
void agent_queue_clear(struct agent_queue *q);

#endif
