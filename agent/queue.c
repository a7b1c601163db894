/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded FIFO of messages waiting for a connection (see queue.h).
 * Must never: hold a pointer into caller memory.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void agent_queue_init(struct agent_queue *q, size_t max_messages, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->max_messages = max_messages;
    q->max_bytes = max_bytes;
}

void agent_queue_set_limits(struct agent_queue *q, size_t max_messages, size_t max_bytes)
{
    q->max_messages = max_messages;
    q->max_bytes = max_bytes;
}

struct agent_queue_item *agent_queue_item_new(const char *topic, const void *payload,
                                              size_t payload_len, int qos, bool retain)
{
    struct agent_queue_item *item = calloc(1, sizeof(*item));

    if (item) {
        item->topic = strdup(topic);
        item->payload = malloc(payload_len ? payload_len : 1);
    }
    if (!item || !item->topic || !item->payload) {
        agent_queue_item_free(item);
        return NULL;
    }
    if (payload_len)
        memcpy(item->payload, payload, payload_len);
    item->payload_len = payload_len;
    item->qos = qos;
    item->retain = retain;
    return item;
}

int agent_queue_push(struct agent_queue *q, const char *topic, const void *payload,
                     size_t payload_len, int qos, bool retain, char *err, size_t err_len)
{
    struct agent_queue_item *item = NULL;
    size_t size = strlen(topic) + payload_len;

    if (q->count >= q->max_messages) {
        snprintf(err, err_len, "queue full (%zu messages, the limit): message not accepted",
                 q->count);
        return -1;
    }
    if (size > q->max_bytes || q->bytes + size > q->max_bytes) {
        snprintf(err, err_len,
                 "queue full (%zu of %zu bytes used, message needs %zu): message not accepted",
                 q->bytes, q->max_bytes, size);
        return -1;
    }
    item = agent_queue_item_new(topic, payload, payload_len, qos, retain);
    if (!item) {
        snprintf(err, err_len, "out of memory: message not accepted");
        return -1;
    }
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    q->count++;
    q->bytes += size;
    return 0;
}

const struct agent_queue_item *agent_queue_peek(const struct agent_queue *q)
{
    return q->head;
}

void agent_queue_item_free(struct agent_queue_item *item)
{
    if (!item)
        return;
    free(item->topic);
    free(item->payload);
    free(item);
}

struct agent_queue_item *agent_queue_take(struct agent_queue *q)
{
    struct agent_queue_item *item = q->head;

    if (!item)
        return NULL;
    q->head = item->next;
    if (!q->head)
        q->tail = NULL;
    q->count--;
    q->bytes -= strlen(item->topic) + item->payload_len;
    item->next = NULL;
    return item;
}

void agent_queue_pop(struct agent_queue *q)
{
    agent_queue_item_free(agent_queue_take(q));
}

void agent_queue_prepend(struct agent_queue *q, struct agent_queue_item *first)
{
    struct agent_queue_item *last = NULL;

    if (!first)
        return;
    for (struct agent_queue_item *it = first; it; it = it->next) {
        q->count++;
        q->bytes += strlen(it->topic) + it->payload_len;
        last = it;
    }
    last->next = q->head;
    q->head = first;
    if (!q->tail)
        q->tail = last;
}

void agent_queue_clear(struct agent_queue *q)
{
    while (q->head)
        agent_queue_pop(q);
}
